"""How the command line shows findings: ``file:line:col: severity[CODE]: ...``,
the source line, and a caret under the column (as lark and rustc do).

Colour only on a terminal: rich decides from the stream and honours
``NO_COLOR`` and ``FORCE_COLOR``. Text built from a document is passed as
:class:`rich.text.Text`, never as markup, so ``[bold]`` in a state name
prints as it is.
"""

from __future__ import annotations

from collections.abc import Iterable

from rich.console import Console
from rich.text import Text

from wfdsl.dsl.findings import Finding

__all__ = ["console", "plural", "render_finding", "summary"]

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
