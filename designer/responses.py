"""The one error shape of the HTTP API (designer/API.md) and the exception that carries it."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from starlette.responses import JSONResponse

__all__ = ["ApiError", "error_response"]


class ApiError(Exception):
    """Raised by a route; the app turns it into :func:`error_response`."""

    def __init__(
        self,
        status: int,
        code: str,
        message: str,
        findings: Iterable[Mapping[str, Any]] = (),
    ) -> None:
        super().__init__(message)
        self.status = status
        self.code = code
        self.message = message
        self.findings = [dict(f) for f in findings]


def error_response(
    status: int,
    code: str,
    message: str,
    findings: Iterable[Mapping[str, Any]] = (),
    headers: Mapping[str, str] | None = None,
) -> JSONResponse:
    """``{"error": {"code", "message", "findings"}}`` with ``status``."""
    body = {"error": {"code": code, "message": message, "findings": [dict(f) for f in findings]}}
    return JSONResponse(body, status_code=status, headers=dict(headers or {}))
