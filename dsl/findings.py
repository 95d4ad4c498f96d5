"""Findings: what the validator says about a document.

A finding is structured first (code, severity, position, JSON path,
suggestion); its text is derived. Every code lives in ``CODES`` with a one-line
title, and docs/findings.md documents each one (a test keeps them in step).
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING, Any, Literal

if TYPE_CHECKING:
    from .source import SourceMap

__all__ = [
    "CODES",
    "Code",
    "Finding",
    "JsonPath",
    "Severity",
    "finding_at",
    "format_path",
    "has_errors",
    "shown_value",
    "sort_findings",
]

Severity = Literal["error", "warning", "info"]
JsonPath = tuple[str | int, ...]


@dataclass(frozen=True, slots=True)
class Code:
    """One stable finding code."""

    code: str
    name: str
    severity: Severity
    title: str


def _codes(*codes: Code) -> dict[str, Code]:
    return {c.code: c for c in codes}


# Codes are stable: never renumber, only add. The hundreds group them:
# 0xx the YAML text, 1xx the schema, 2xx the state graph, 3xx expressions,
# 4xx dataflow, 5xx signals, time and schedules.
CODES: dict[str, Code] = _codes(
    Code("WF001", "yaml-syntax", "error", "the text is not valid YAML"),
    Code(
        "WF002",
        "unquoted-expression",
        "error",
        "a `${ ... }` inside a flow collection or next to `: `/` #` must be quoted",
    ),
    Code("WF003", "duplicate-key", "error", "a key appears twice in the same mapping"),
    Code(
        "WF004",
        "alias-expansion",
        "error",
        "anchors and aliases expand past the size bound (billion laughs)",
    ),
    Code("WF005", "document-too-large", "error", "the document is larger than the size limit"),
    Code("WF006", "not-a-mapping", "error", "the document is empty or not a mapping"),
    Code("WF007", "multiple-documents", "error", "the file holds more than one YAML document"),
    Code("WF008", "nesting-too-deep", "error", "the YAML nests deeper than the bound"),
    Code("WF009", "unreadable-file", "error", "the file cannot be read or is not UTF-8"),
    Code("WF101", "schema", "error", "the document does not match the language schema"),
    Code("WF102", "unknown-key", "error", "a key the language does not know"),
    Code("WF103", "missing-key", "error", "a required key is missing"),
    Code("WF104", "wrong-type", "error", "a value has the wrong type"),
    Code(
        "WF105",
        "invalid-value",
        "error",
        "a value is not one of the allowed ones or has the wrong form",
    ),
    Code("WF106", "unsupported-version", "error", 'the `wfdsl` language version is not "1"'),
    Code(
        "WF107",
        "invalid-json-schema",
        "error",
        "an `input`, signal or handler schema is not a valid JSON Schema",
    ),
    Code(
        "WF201",
        "unknown-target",
        "error",
        "`start`, `next`, `default` or a catch names a state that does not exist",
    ),
    Code("WF202", "unreachable-state", "warning", "no path from `start` reaches the state"),
    Code("WF203", "no-path-to-end", "error", "a state from which no end can ever be reached"),
    Code(
        "WF204",
        "next-or-end",
        "error",
        "a state needs exactly one of `next` and `end` (or has one it cannot have)",
    ),
    Code(
        "WF205",
        "next-leaves-branch",
        "error",
        "a `next` inside a branch or map body names a state outside it",
    ),
    Code(
        "WF206",
        "choice-without-default",
        "error",
        "a choice without `default` whose conditions do not always hold",
    ),
    Code(
        "WF207",
        "spin-cycle",
        "error",
        "a cycle made only of `choice`/`set` states would spin without waiting",
    ),
    Code("WF208", "undo-on-non-task", "error", "`undo` is only allowed on `task` states"),
    Code("WF209", "invalid-join", "error", "a parallel `join` count outside 1..number of branches"),
    Code(
        "WF210",
        "compensate-without-undo",
        "warning",
        "compensation is requested but no task of the scope has an `undo`",
    ),
    Code("WF211", "unused-catch", "warning", "a catch entry after a `*` entry can never match"),
    Code(
        "WF212",
        "invalid-var-path",
        "error",
        "a `set`, `result` or `as` path is not a valid var path",
    ),
    Code(
        "WF213",
        "retry-interval-capped",
        "warning",
        "a retry's `initial_interval` is above its `max_interval`, so every delay is the cap",
    ),
    Code("WF301", "expression-syntax", "error", "an expression does not parse"),
    Code(
        "WF302", "unknown-function", "error", "an expression calls a function that does not exist"
    ),
    Code("WF303", "unknown-name", "error", "an expression reads a name that is not in scope there"),
    Code(
        "WF304",
        "wrong-arguments",
        "error",
        "a built-in function is called with the wrong number of arguments",
    ),
    Code(
        "WF305",
        "constant-expression-error",
        "error",
        "an expression with no inputs fails whenever it is evaluated",
    ),
    Code(
        "WF401",
        "maybe-unassigned",
        "warning",
        "a var is read where some path from `start` has not assigned it (error under --strict)",
    ),
    Code(
        "WF402",
        "never-assigned",
        "warning",
        "a var is read but no state ever assigns it (error under --strict)",
    ),
    Code(
        "WF403",
        "undeclared-input",
        "warning",
        "an expression reads an input field the input schema does not declare "
        "(error under --strict)",
    ),
    Code(
        "WF501",
        "undeclared-signal",
        "error",
        "a wait, emit or handler uses a signal that `signals` does not declare",
    ),
    Code("WF502", "invalid-duration", "error", "a duration does not parse"),
    Code("WF503", "invalid-timestamp", "error", "a timestamp is not ISO 8601"),
    Code("WF504", "invalid-cron", "error", "a cron expression does not parse"),
    Code("WF505", "invalid-timezone", "error", "a schedule's timezone is not known"),
    Code("WF506", "unused-signal", "info", "a declared signal is never waited on"),
    # Data checked against the document's schemas at run time, not the document.
    Code("WF601", "invalid-input", "error", "a run's input fails the workflow's `input` schema"),
    Code(
        "WF602",
        "invalid-signal-data",
        "error",
        "a signal's payload fails the schema its channel declares",
    ),
    Code(
        "WF603",
        "invalid-handler-args",
        "error",
        "a handler call's args fail the handler's `input` schema",
    ),
    Code("WF604", "invalid-run-id", "error", "a run id chosen by the caller cannot be used"),
)


@dataclass(frozen=True, slots=True)
class Finding:
    """One thing the validator says about a document.

    ``line`` and ``col`` are 1-based and point at the YAML node concerned;
    ``path`` is the JSON path of that node from the document root.
    """

    code: str
    severity: Severity
    message: str
    file: str | None = None
    line: int | None = None
    col: int | None = None
    path: JsonPath = ()
    suggestion: str | None = None
    end_line: int | None = None
    end_col: int | None = None
    extra: tuple[tuple[str, str], ...] = field(default=())

    @property
    def name(self) -> str:
        """The code's readable name, e.g. ``unknown-target``."""
        return CODES[self.code].name if self.code in CODES else self.code

    @property
    def text(self) -> str:
        """The message with its suggestion, as one sentence."""
        return f"{self.message}; {self.suggestion}" if self.suggestion else self.message

    @property
    def location(self) -> str:
        """``file:line:col`` (parts that are unknown are left out)."""
        parts = [self.file or "<document>"]
        if self.line is not None:
            parts.append(str(self.line))
            if self.col is not None:
                parts.append(str(self.col))
        return ":".join(parts)

    def format(self) -> str:
        """``file:line:col: severity[CODE]: message; suggestion``."""
        return f"{self.location}: {self.severity}[{self.code}]: {self.text}"

    def with_file(self, file: str | None) -> Finding:
        return replace(self, file=file)

    def as_error(self) -> Finding:
        return replace(self, severity="error")

    def to_json(self) -> dict[str, object]:
        """A plain mapping for ``--json`` output and the HTTP API."""
        return {
            "code": self.code,
            "name": self.name,
            "severity": self.severity,
            "message": self.message,
            "suggestion": self.suggestion,
            "file": self.file,
            "line": self.line,
            "col": self.col,
            "end_line": self.end_line,
            "end_col": self.end_col,
            "path": format_path(self.path),
        }


_SEVERITY_ORDER = {"error": 0, "warning": 1, "info": 2}


def _sort_key(f: Finding) -> tuple[str, int, int, int, str, str]:
    return (f.file or "", f.line or 0, f.col or 0, _SEVERITY_ORDER[f.severity], f.code, f.message)


def sort_findings(findings: Iterable[Finding]) -> list[Finding]:
    """Findings in reading order (file, line, column), duplicates removed."""
    seen: set[Finding] = set()
    unique = []
    for f in findings:
        if f not in seen:
            seen.add(f)
            unique.append(f)
    return sorted(unique, key=_sort_key)


def has_errors(findings: Iterable[Finding]) -> bool:
    return any(f.severity == "error" for f in findings)


def format_path(path: JsonPath) -> str:
    """A JSON path as users read it: ``$.states.charge.retry[0]``."""
    out = "$"
    for part in path:
        if isinstance(part, int):
            out += f"[{part}]"
        elif part.replace("_", "a").replace("-", "a").isalnum() and not part[:1].isdigit():
            out += f".{part}"
        else:
            out += f"[{json.dumps(part)}]"
    return out


def shown_value(value: Any) -> str:
    """A value as it reads in a message, with its JSON type: ``string 'abc'``."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return f"boolean {str(value).lower()}"
    if isinstance(value, int):
        return f"integer {value}"
    if isinstance(value, float):
        return f"number {value}"
    if isinstance(value, str):
        shown = value if len(value) <= 40 else value[:37] + "..."
        return f"string '{shown}'"
    return "a list" if isinstance(value, list) else "a mapping"


def finding_at(
    source_map: SourceMap,
    file: str | None,
    code: str,
    message: str,
    path: JsonPath,
    *,
    key: bool = False,
    suggestion: str | None = None,
) -> Finding:
    """A finding with the code's default severity at ``path`` (its key with ``key=True``).

    A path the source map does not hold (a missing key) points at its
    nearest existing ancestor, so the finding still lands on a line.
    """
    span = source_map.locate(path, key=key)
    return Finding(
        code,
        CODES[code].severity,
        message,
        file,
        span.line,
        span.col,
        path=tuple(path),
        suggestion=suggestion,
        end_line=span.end_line,
        end_col=span.end_col,
    )
