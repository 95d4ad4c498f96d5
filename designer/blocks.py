"""A state's block of lines in the document text: cut it out whole, or set a
new one apart with blank lines like its neighbours.

ruamel keeps a comment with the node *before* it, so the comment that
introduces state ``b`` (and the blank line above it) belongs to the last
value of state ``a``: deleting ``a`` in the tree took ``b``'s comment with
it. Here the text is cut instead: the state's key line, every line indented
under it, the comment lines right above it at its own indentation (its
introduction) and one blank separator. What follows it, comments included,
stays. Flow-style states (``states: {a: ..., b: ...}``) are left to the tree.
"""

from __future__ import annotations

from typing import Any

__all__ = ["cut_state", "insert_state", "space_state"]


def _indent(line: str) -> int:
    return len(line) - len(line.lstrip(" "))


def _block(lines: list[str], key_line: int, col: int) -> int:
    """The index after the last line of the state whose key is on ``key_line``."""
    last = key_line
    for i in range(key_line + 1, len(lines)):
        stripped = lines[i].strip()
        if not stripped or (stripped.startswith("#") and _indent(lines[i]) > col):
            continue
        if _indent(lines[i]) <= col:
            break
        last = i
    return last + 1


def _position(states: Any, name: str) -> tuple[int, int] | None:
    """(line, column) of ``name``'s key, 0-based; ``None`` for a flow-style
    mapping or a key that shares its line with another."""
    try:
        if states.fa.flow_style():
            return None
        line, col = states.lc.key(name)
        lines = [states.lc.key(k)[0] for k in states]
    except (AttributeError, KeyError, TypeError):
        return None
    return (line, col) if lines.count(line) == 1 else None


def cut_state(text: str, states: Any, name: str) -> str | None:
    """``text`` without the block of state ``name`` (a key of the round-trip
    mapping ``states`` loaded from ``text``); ``None`` when it cannot be cut
    as lines (flow style, the only state)."""
    if len(states) < 2:
        return None
    where = _position(states, name)
    if where is None:
        return None
    key_line, col = where
    lines = text.splitlines(keepends=True)
    end = _block(lines, key_line, col)
    start = key_line
    while start > 0 and lines[start - 1].strip().startswith("#"):
        if _indent(lines[start - 1]) != col:
            break
        start -= 1
    after = end
    while after < len(lines) and not lines[after].strip():
        after += 1
    before = start
    while before > 0 and not lines[before - 1].strip():
        before -= 1
    if after < len(lines) and _indent(lines[after]) == col:
        # A sibling follows: it takes the place of this block, and of the
        # blank lines that set this block apart from it.
        del lines[start:after]
    elif before < start:
        # The last state: its blank line above goes, the one below (before
        # the next top-level key) stays.
        del lines[before:end]
    else:
        del lines[start:end]
    return "".join(lines)


def space_state(text: str, states: Any, name: str) -> str:
    """``text`` with a blank line above and below the new state ``name`` when
    the other states are set apart by blank lines (the usual layout)."""
    where = _position(states, name)
    if where is None:
        return text
    key_line, col = where
    lines = text.splitlines(keepends=True)

    def spaced_above(line: int) -> bool:
        while line > 0 and lines[line - 1].strip().startswith("#"):
            line -= 1
        return line > 0 and not lines[line - 1].strip()

    others = [states.lc.key(k)[0] for k in list(states)[1:] if k != name]
    if not others or not all(spaced_above(line) for line in others):
        return text
    end = _block(lines, key_line, col)
    newline = "\r\n" if lines[key_line].endswith("\r\n") else "\n"
    if end < len(lines) and lines[end].strip() and _indent(lines[end]) == col:
        lines.insert(end, newline)
    if key_line > 0 and lines[key_line - 1].strip() and next(iter(states)) != name:
        lines.insert(key_line, newline)
    return "".join(lines)


def insert_state(
    text: str, states: Any, anchor: str, block: str, *, before: bool = False
) -> str | None:
    """``text`` with ``block`` (a state's lines, ``name:`` first, indented as
    a top-level mapping) put right after the block of state ``anchor`` (or
    right above it, above its introducing comments, with ``before``),
    indented like ``anchor`` and set apart by a blank line when the other
    states are. ``None`` when the states are written in flow style.

    Done as text because in ruamel's tree the comment (and blank line) that
    introduces the state after ``anchor`` belongs to ``anchor``'s last value:
    inserted in the tree, the new state would land between that comment and
    the state it is about, with no blank line of its own.
    """
    where = _position(states, anchor)
    if where is None:
        return None
    key_line, col = where
    lines = text.splitlines(keepends=True)
    newline = "\r\n" if lines[key_line].endswith("\r\n") else "\n"
    new = [(" " * col + line if line.strip() else "") + newline for line in block.splitlines()]

    def spaced_above(line: int) -> bool:
        while line > 0 and lines[line - 1].strip().startswith("#"):
            line -= 1
        return line > 0 and not lines[line - 1].strip()

    siblings = [states.lc.key(k)[0] for k in list(states)[1:]]
    spaced = bool(siblings) and all(spaced_above(line) for line in siblings)
    gap = [newline] if spaced else []
    if before:
        start = key_line
        while (
            start > 0
            and lines[start - 1].strip().startswith("#")
            and _indent(lines[start - 1]) == col
        ):
            start -= 1
        lines[start:start] = new + gap
    else:
        end = _block(lines, key_line, col)
        if end > 0 and not lines[end - 1].endswith("\n"):
            lines[end - 1] += newline
        lines[end:end] = gap + new
    return "".join(lines)
