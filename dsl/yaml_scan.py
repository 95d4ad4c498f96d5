"""Cheap scans of YAML *text*, done before or instead of a real parse.

ruamel.yaml composes nodes recursively, so a document nested a few hundred
levels deep exhausts Python's stack before any node exists to point at.
:func:`too_deep` estimates the nesting from the text alone (indentation and
flow brackets) so the loader can refuse such a document first.
:func:`unquoted_expression` finds the ``${`` that made a line unparsable, so
the finding can show the quoted form. Both are heuristics over lines; the
loader still checks the composed tree, so an estimate that is off by a level
never lets a document through.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

__all__ = ["UnquotedExpression", "line_starts", "split_lines", "too_deep", "unquoted_expression"]

# The line breaks ruamel's reader counts in its marks (only these; NEL and
# U+2028 are ordinary characters to it), so line numbers here agree with it.
_BREAK = re.compile("\r\n|[\r\n]")
_BLOCK_SCALAR = re.compile(r"[|>][0-9+-]*\s*(#.*)?$")
_NODE_PROPERTY = re.compile(r"([&!][^\s]*\s+)+")


def split_lines(text: str) -> list[str]:
    """The lines of ``text`` as ruamel counts them (without their breaks)."""
    return _BREAK.split(text)


def line_starts(text: str) -> list[int]:
    """Offset of the first character of each line, for offset -> line:col."""
    return [0] + [m.end() for m in _BREAK.finditer(text)]


def _skip_quoted(line: str, i: int) -> int:
    """Index just past the quoted scalar starting at ``line[i]`` (or the line's end)."""
    quote = line[i]
    j = i + 1
    while j < len(line):
        ch = line[j]
        if quote == '"' and ch == "\\":
            j += 2
            continue
        if ch == quote:
            if quote == "'" and line[j + 1 : j + 2] == "'":  # '' is an escaped quote
                j += 2
                continue
            return j + 1
        j += 1
    return j


def _value_start(line: str, i: int) -> int | None:
    """Where the value of a ``key: value`` entry starting at ``i`` begins, if it does."""
    j = i
    if j < len(line) and line[j] in "\"'":
        j = _skip_quoted(line, j)
    while j < len(line):
        if line[j] == ":" and (j + 1 == len(line) or line[j + 1] in " \t"):
            j += 1
            while j < len(line) and line[j] in " \t":
                j += 1
            return j
        if line[j] == "#" and j > 0 and line[j - 1] in " \t":
            return None
        j += 1
    return None


def too_deep(text: str, limit: int) -> tuple[int, int] | None:
    """``(line, col)`` (1-based) of the outermost node of a chain nested past ``limit``.

    Block collections are counted by indentation (plus one per ``- `` on a
    line), flow collections by their brackets outside quotes and comments.
    The node reported is the second one of the chain (the first below the
    root), the one a user recognises as "this value is too deep"; it is the
    root when the chain has only one element.
    """
    block: list[tuple[int, int, int, str]] = []  # (indent, line, col, kind) of open blocks
    flow: list[tuple[int, int]] = []  # (line, col) of open brackets
    skip_indent: int | None = None  # inside a block scalar: lines indented past this are text

    def chain_start() -> tuple[int, int]:
        chain = [(ln, col) for _, ln, col, _ in block] + flow
        return chain[1] if len(chain) > 1 else chain[0]

    for number, line in enumerate(split_lines(text), start=1):
        stripped = line.lstrip(" ")
        indent = len(line) - len(stripped)
        if skip_indent is not None:
            if not stripped.strip() or indent > skip_indent:
                continue
            skip_indent = None
        i = 0
        if not flow:
            if not stripped.strip() or stripped.startswith("#"):
                continue
            if stripped.startswith(("---", "...")) and indent == 0:
                block.clear()
                continue
            while block and block[-1][0] > indent:
                block.pop()
            # A sequence may sit at its parent key's indent (`x:` then `- a`),
            # so a level is a (indent, kind) pair, not an indent alone.
            kind = "seq" if line[indent : indent + 2] == "- " or line[indent:] == "-" else "map"
            if block and block[-1][0] == indent and block[-1][3] != kind and kind == "map":
                block.pop()
            if not block or block[-1][0] < indent or block[-1][3] != kind:
                block.append((indent, number, indent + 1, kind))
            i = indent
            while line[i : i + 2] == "- " or line[i:] == "-":
                i += 1
                while i < len(line) and line[i] == " ":
                    i += 1
                if line[i : i + 2] == "- " or line[i:] == "-":
                    block.append((i, number, i + 1, "seq"))
                elif _value_start(line, i) is not None:
                    block.append((i, number, i + 1, "map"))
            if len(block) > limit:
                return chain_start()
            if i < len(line) and line[i] not in "[{":
                found = _value_start(line, i)
                if found is None:
                    continue
                i = found
            prop = _NODE_PROPERTY.match(line, i)
            if prop:
                i = prop.end()
            if _BLOCK_SCALAR.match(line, i):
                skip_indent = indent
                continue
            if i >= len(line) or line[i] not in "[{":
                continue
        while i < len(line):
            ch = line[i]
            if ch in "[{":
                flow.append((number, i + 1))
                if len(block) + len(flow) > limit:
                    return chain_start()
            elif ch in "]}":
                if flow:
                    flow.pop()
                if not flow:
                    break
            elif ch in "\"'":
                i = _skip_quoted(line, i)
                continue
            elif ch == "#" and (i == 0 or line[i - 1] in " \t"):
                break
            i += 1
    return None


@dataclass(frozen=True, slots=True)
class UnquotedExpression:
    """An unquoted ``${ ... }`` on a line, and the line as it should read."""

    col: int  # 1-based column of the `$`
    expression: str
    in_flow: bool
    quoted_line: str


def _expression_end(line: str, start: int) -> int:
    """Index just past the ``}`` closing the ``${`` at ``start`` (or the line's end)."""
    depth = 0
    i = start + 1
    while i < len(line):
        ch = line[i]
        if ch in "\"'":
            i = _skip_quoted(line, i)
            continue
        if ch == "{":
            depth += 1
        elif ch == "}":
            depth -= 1
            if depth == 0:
                return i + 1
        i += 1
    return len(line)


def _quote(expression: str) -> str:
    """The expression as a YAML double-quoted scalar."""
    return '"' + expression.replace("\\", "\\\\").replace('"', '\\"') + '"'


def unquoted_expression(line: str, near_col: int) -> UnquotedExpression | None:
    """The unquoted ``${`` on ``line`` a parse error at ``near_col`` (1-based) is about.

    An expression counts when it sits in a flow collection or holds ``: `` or
    `` #``, the two places docs/expressions.md says YAML needs quotes. Of several, the
    last one starting at or before the error wins, else the first.
    """
    candidates: list[tuple[int, int, bool]] = []
    flow_depth = 0
    i = 0
    while i < len(line):
        ch = line[i]
        if line.startswith("${", i):
            end = _expression_end(line, i)
            candidates.append((i, end, flow_depth > 0))
            i = end
            continue
        if ch in "\"'" and (i == 0 or line[i - 1] in " \t[{,:"):
            i = _skip_quoted(line, i)
            continue
        if ch == "#" and i > 0 and line[i - 1] in " \t":
            break
        if ch in "[{":
            flow_depth += 1
        elif ch in "]}":
            flow_depth = max(0, flow_depth - 1)
        i += 1
    fitting = [
        c for c in candidates if c[2] or ": " in line[c[0] : c[1]] or " #" in line[c[0] : c[1]]
    ]
    if not fitting:
        return None
    before = [c for c in fitting if c[0] < near_col]
    start, end, in_flow = before[-1] if before else fitting[0]
    expression = line[start:end]
    quoted = line[:start] + _quote(expression) + line[end:]
    return UnquotedExpression(start + 1, expression, in_flow, quoted.strip())
