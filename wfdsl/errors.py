"""The error classes every layer of wfdsl raises.

This module is the bottom of the dependency graph: it imports nothing from
wfdsl, so dsl/, interpreter/, designer/ and the CLI can all raise and catch
the same classes.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:  # pragma: no cover - typing only
    from wfdsl.dsl.findings import Finding

__all__ = [
    "ActionError",
    "AmbiguousRunId",
    "CallbackNotFound",
    "CallbackRefused",
    "ExpressionError",
    "HandlerRejected",
    "RunAlreadyExists",
    "RunEnded",
    "RunNotFound",
    "ValidationError",
    "WfdslError",
]


class WfdslError(Exception):
    """Base class of every error wfdsl raises on purpose."""


class ValidationError(WfdslError):
    """A document or an input failed validation; carries every finding."""

    def __init__(self, findings: Iterable[Finding], summary: str | None = None) -> None:
        self.findings: Sequence[Finding] = tuple(findings)
        errors = [f for f in self.findings if f.severity == "error"]
        if summary is None:
            shown = "\n".join(f.format() for f in (errors or self.findings)[:20])
            more = len(errors or self.findings) - 20
            summary = f"{len(errors)} error(s) in the document" + (f":\n{shown}" if shown else "")
            if more > 0:
                summary += f"\n... and {more} more"
        super().__init__(summary)


class ExpressionError(WfdslError):
    """An expression could not be parsed or evaluated.

    ``column`` is 1-based within the expression text when known.
    """

    def __init__(
        self, message: str, *, expression: str | None = None, column: int | None = None
    ) -> None:
        self.message = message
        self.expression = expression
        self.column = column
        super().__init__(message)

    # The name under which the interpreter reports this error in runs.
    error_name = "ExpressionError"


class HandlerRejected(WfdslError):
    """A handler's ``when`` guard did not hold, or its arguments were invalid."""

    def __init__(self, message: str, *, details: Any = None) -> None:
        self.details = details
        super().__init__(message)


class RunNotFound(WfdslError):
    """No run with that id exists in the store."""


class AmbiguousRunId(RunNotFound):
    """A run id prefix that begins several run ids: which run it names is
    not known. ``candidates`` are (some of) the ids it begins, in order."""

    def __init__(self, message: str, *, prefix: str, candidates: Sequence[str]) -> None:
        self.prefix = prefix
        self.candidates: tuple[str, ...] = tuple(candidates)
        super().__init__(message)


class RunEnded(WfdslError):
    """A control (cancel, pause, resume, step) was asked of a run that has
    already ended; nothing was changed. ``status`` is how it ended."""

    def __init__(self, message: str, *, run_id: str = "", status: str = "") -> None:
        self.run_id = run_id
        self.status = status
        super().__init__(message)


class CallbackNotFound(WfdslError):
    """A callback token that names no token ever issued (mistyped, cut short,
    or of another store); ``wfdsl complete`` exits 4."""


class CallbackRefused(WfdslError):
    """A callback token that was issued but is not waited on any more: already
    completed, or stale (its attempt timed out, was retried or cancelled, or
    the run ended); nothing was sent. ``wfdsl complete`` exits 5."""


class RunAlreadyExists(WfdslError):
    """A submit named a run id that ``id_reuse`` does not allow to be reused."""


class ActionError(WfdslError):
    """Raise from an action to fail with a chosen error name, message and data.

    ``raise wfdsl.ActionError("CardDeclined", "insufficient funds",
    details={"code": "51"})`` fails the attempt as ``CardDeclined``; ``catch``
    entries match the name and may test ``error.details`` in their ``when``,
    the caught value under ``as`` holds the details, and history shows them.
    ``details`` must be JSON (a map), at most 16 KiB once encoded.
    """

    def __init__(
        self, error: str, message: str = "", *, details: Mapping[str, Any] | None = None
    ) -> None:
        if not isinstance(error, str) or not error:
            raise TypeError("ActionError needs an error name, e.g. ActionError('CardDeclined')")
        self.error = error
        self.details = dict(details) if details is not None else None
        super().__init__(message)
