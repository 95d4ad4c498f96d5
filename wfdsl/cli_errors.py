"""The command line's exit codes and the one error type commands raise.

A command that refuses raises :class:`CliError`; the group (``cli.py``)
prints it as one line on stderr, and under ``--json`` also as the one JSON
document on stdout: ``{"error": {"code": "not_found", "message": ...,
"exit": 4}}``. Codes and exit statuses are documented in docs/cli.md.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

__all__ = [
    "EXIT_FAILED",
    "EXIT_INTERNAL",
    "EXIT_INTERRUPTED",
    "EXIT_INVALID",
    "EXIT_NOT_FOUND",
    "EXIT_REJECTED",
    "EXIT_STORE",
    "EXIT_USAGE",
    "CliError",
    "invalid_document",
]

EXIT_FAILED = 1  # the run failed or was cancelled; validate: the document has errors
EXIT_USAGE = 2  # a mistake in the command line itself
EXIT_INVALID = 2  # an invalid document or input
EXIT_NOT_FOUND = 4  # no such run (or no store at all)
EXIT_REJECTED = 5  # the run cannot do what was asked
EXIT_INTERNAL = 70  # EX_SOFTWARE in sysexits.h: a bug in wfdsl
EXIT_STORE = 74  # EX_IOERR: the store could not read or write its file
EXIT_INTERRUPTED = 130  # Ctrl-C or SIGTERM stopped `wfdsl run`


class CliError(Exception):
    """A refusal with a stable ``code`` (``not_found``, ``rejected``,
    ``invalid``, ``usage``, ``no_store``, ...) and exit status. ``prefix``:
    print ``wfdsl: `` before the message (not before a list of findings)."""

    def __init__(
        self,
        code: str,
        message: str,
        exit_code: int,
        details: Mapping[str, Any] | None = None,
        *,
        prefix: bool = True,
    ) -> None:
        super().__init__(message)
        self.prefix = prefix
        self.code = code
        self.message = message
        self.exit_code = exit_code
        self.details = dict(details or {})

    def to_json(self) -> dict[str, Any]:
        return {
            "error": {"code": self.code, "message": self.message, "exit": self.exit_code}
            | self.details
        }


def invalid_document(exc: Any) -> CliError:
    """An invalid document or input (a ``ValidationError``): every error
    finding on stderr (``file:line:col: error[...]``), and the findings in
    the ``--json`` error document."""
    findings = [f for f in exc.findings if f.severity == "error"] or list(exc.findings)
    message = "\n".join(f.format() for f in findings) if findings else str(exc)
    findings_json = {"findings": [f.to_json() for f in exc.findings]}
    return CliError("invalid", message, EXIT_INVALID, findings_json, prefix=not findings)
