"""How the command line shows findings: ``file:line:col: severity[CODE]: ...``,
the source line, and a caret under the column (as lark and rustc do).

Colour only on a terminal: rich decides from the stream and honours
``NO_COLOR`` and ``FORCE_COLOR``. Text built from a document is passed as
:class:`rich.text.Text`, never as markup, so ``[bold]`` in a state name
prints as it is.
"""

from __future__ import annotations

import json
import os
import sys
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from typing import IO, Any

from rich.console import Console
from rich.text import Text

from wfdsl.dsl.findings import Finding

__all__ = [
    "console",
    "duration",
    "emit_json",
    "json_emitted",
    "json_stdout",
    "plural",
    "render_finding",
    "stamp",
    "summary",
]

_STYLE = {"error": "bold red", "warning": "bold yellow", "info": "bold cyan"}


def console(*, stderr: bool = False) -> Console:
    """A console on stdout (or stderr) that never wraps a finding's line."""
    return Console(stderr=stderr, soft_wrap=True, highlight=False)


def render_finding(finding: Finding, lines: list[str] | None) -> Text:
    """One finding with its source line and caret (when the line is known)."""
    style = _STYLE.get(finding.severity, "bold")
    out = Text()
    out.append(finding.location, style="bold")
    out.append(": ")
    out.append(f"{finding.severity}[{finding.code}]", style=style)
    out.append(f": {finding.text}")
    if lines is None or finding.line is None or not 1 <= finding.line <= len(lines):
        return out
    # Tabs become one space each so the caret lines up with the column count.
    source = lines[finding.line - 1].rstrip("\r\n").replace("\t", " ")
    gutter = str(finding.line)
    col = max(1, finding.col or 1)
    width = 1
    if finding.end_line == finding.line and finding.end_col and finding.end_col > col:
        width = finding.end_col - col
    width = max(1, min(width, len(source) - col + 1))
    out.append("\n")
    out.append(f" {gutter} | ", style="dim")
    out.append(source)
    out.append("\n")
    out.append(f" {' ' * len(gutter)} | ", style="dim")
    out.append(" " * (col - 1) + "^" * width, style=style)
    return out


def plural(count: int, word: str) -> str:
    return f"{count} {word}" + ("" if count == 1 else "s")


def summary(findings: Iterable[Finding], files: int) -> str:
    """``2 errors, 1 warning in 3 files`` (or ``no problems in 1 file``)."""
    counts = {"error": 0, "warning": 0, "info": 0}
    for f in findings:
        counts[f.severity] = counts.get(f.severity, 0) + 1
    parts = [plural(n, word) for word, n in counts.items() if n]
    return f"{', '.join(parts) or 'no problems'} in {plural(files, 'file')}"


# ------------------------------------------------------------------ --json


class _Json:
    out: IO[str] | None = None
    emitted = False


@contextmanager
def json_stdout(active: bool) -> Iterator[None]:
    """Under ``--json``, keep stdout for the one JSON document: whatever else
    writes to stdout meanwhile (an action's ``print()``, a child process a
    ``shell`` action starts, a human message) lands on stderr, both at the
    ``sys.stdout`` level and, when stdout is a real file, at file
    descriptor 1. :func:`emit_json` writes to the real stdout."""
    if not active:
        yield
        return
    real = sys.stdout
    try:
        fd: int | None = real.fileno()
        err_fd: int | None = sys.stderr.fileno()
    except (AttributeError, OSError, ValueError):
        fd = err_fd = None
    saved: int | None = None
    if fd is not None and err_fd is not None:
        real.flush()
        saved = os.dup(fd)
        os.dup2(err_fd, fd)
        _Json.out = os.fdopen(os.dup(saved), "w", encoding="utf-8")
    else:
        _Json.out = real
    _Json.emitted = False
    sys.stdout = sys.stderr
    try:
        yield
    finally:
        sys.stdout = real
        out, _Json.out = _Json.out, None
        if saved is not None and fd is not None:
            out.flush()
            out.close()
            os.dup2(saved, fd)
            os.close(saved)


def emit_json(doc: Any, *, indent: int | None = None) -> None:
    """Write the JSON document on stdout (the real one under ``--json``).
    Only the first document of a command is written: stdout holds one."""
    if _Json.out is not None and _Json.emitted:
        return
    out = _Json.out if _Json.out is not None else sys.stdout
    out.write(json.dumps(doc, default=str, indent=indent, ensure_ascii=False) + "\n")
    out.flush()
    _Json.emitted = _Json.out is not None


def json_emitted() -> bool:
    """Whether this ``--json`` command has written its document already."""
    return _Json.out is not None and _Json.emitted


# ------------------------------------------------------------------ times


def stamp(seconds: float, *, human: bool, clock: bool = True) -> str:
    """A time for people: ``Tue 8 Dec 10:00:00`` (``clock=False``, a due time:
    ``Tue 8 Dec 10:00 UTC``, seconds only when not zero; the year only when
    it is not this one); not ``human`` (a pipe): ISO 8601,
    ``2026-12-08T10:00:00Z``. Always UTC, so two machines print the same."""
    when = datetime.fromtimestamp(seconds, UTC)
    if not human:
        return when.strftime("%Y-%m-%dT%H:%M:%SZ")
    day = f"{when:%a} {when.day} {when:%b}"
    if when.year != datetime.now(UTC).year:
        day += f" {when.year}"
    if clock or when.second:
        return f"{day} {when:%H:%M:%S}" + ("" if clock else " UTC")
    return f"{day} {when:%H:%M} UTC"


_UNITS = (("d", 86400), ("h", 3600), ("m", 60))


def duration(seconds: float) -> str:
    """``1d``, ``2h30m``, ``1m30s``, ``0.5s``: the DSL's own duration words."""
    if seconds < 60 and seconds != int(seconds):
        return f"{seconds:g}s"
    rest = round(seconds)
    parts = []
    for unit, size in _UNITS:
        if rest >= size:
            parts.append(f"{rest // size}{unit}")
            rest %= size
    if rest or not parts:
        parts.append(f"{rest}s")
    return "".join(parts)
