"""Strings that hold ``${ ... }``: finding the expressions, and rendering templates.

A string that is exactly one ``${ ... }`` (whitespace around it allowed)
gives the expression's value with its type. Any other string with
expressions is a :class:`Template`: each expression is rendered as text
(strings as they are, null as nothing, everything else as compact JSON).
``$${`` writes a literal ``${``.

The closing ``}`` is found by a scanner that skips quoted strings and counts
nested braces, so ``${ {'a': 1}['a'] }`` and ``${ 'x}y' }`` work.
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from wfdsl.errors import ExpressionError

from .data import render_text
from .evaluator import unexpected_error
from .expression import Expression, PathKey, parse_expression
from .hooks import NO_HOOKS, Hooks
from .limits import MAX_LENGTH, charge

__all__ = [
    "ExpressionSpan",
    "Template",
    "contains_expression",
    "escape_text",
    "join_template",
    "split_template",
]

_OPEN = "${"
# A run of dollars right before "{": doubled dollars stand for one each, and
# an odd one out opens an expression.
_DOLLARS_BRACE = re.compile(r"(\$+)\{")
# What Lark ignores around tokens; str.strip() would also strip characters
# the grammar does not treat as space.
_BLANK = " \t\n\r\f"


@dataclass(frozen=True, slots=True)
class ExpressionSpan:
    """Where one ``${ ... }`` sits in a string.

    ``start`` is the index of ``$``, ``end`` the index just after ``}``;
    ``body`` is the raw text between ``${`` and ``}``, which starts at
    ``start + 2``.
    """

    start: int
    end: int
    body: str

    @property
    def source(self) -> str:
        """The body without surrounding whitespace: what gets parsed."""
        return self.body.strip(_BLANK)

    @property
    def source_offset(self) -> int:
        """The index in the string where :attr:`source` starts."""
        return self.start + 2 + (len(self.body) - len(self.body.lstrip(_BLANK)))


def contains_expression(text: str) -> bool:
    """Whether ``text`` holds an expression: a ``${`` not escaped as ``$${``.

    True for a malformed expression too (``"${ x"``), so that compiling it
    reports the problem instead of passing it on as plain text.
    """
    if _OPEN not in text:
        return False
    return any(len(match.group(1)) % 2 for match in _DOLLARS_BRACE.finditer(text))


def escape_text(text: str) -> str:
    """Text written so that it renders as itself: ``${`` becomes ``$${``.

    Every run of dollars right before a ``{`` is doubled, so ``$${`` itself
    survives too (it becomes ``$$$${``).
    """
    return _DOLLARS_BRACE.sub(lambda match: match.group(1) * 2 + "{", text)


def split_template(text: str) -> tuple[str | ExpressionSpan, ...]:
    """The pieces of a string: literal text (escapes resolved) and expression spans.

    A run of n dollars right before ``{`` stands for n // 2 dollars; when n
    is odd, its last dollar opens an expression. Adjacent literal text is
    merged and empty text left out. Raises ExpressionError (``expression`` =
    the whole string, 1-based ``column`` within it) for a ``${`` without its
    ``}``, or with an unterminated quote inside.
    """
    parts: list[str | ExpressionSpan] = []
    literal: list[str] = []
    position = 0
    while True:
        match = _DOLLARS_BRACE.search(text, position)
        if match is None:
            literal.append(text[position:])
            break
        dollars = len(match.group(1))
        literal.append(text[position : match.start()] + "$" * (dollars // 2))
        if dollars % 2 == 0:
            literal.append("{")
            position = match.end()
            continue
        opening = match.end() - 2
        if any(literal):
            parts.append("".join(literal))
        literal = []
        closing = _find_close(text, opening)
        parts.append(ExpressionSpan(opening, closing + 1, text[opening + 2 : closing]))
        position = closing + 1
    if any(literal):
        parts.append("".join(literal))
    return tuple(parts)


def _find_close(text: str, opening: int) -> int:
    """The index of the ``}`` that closes the ``${`` at ``opening``."""
    depth = 0
    position = opening + 2
    length = len(text)
    while position < length:
        char = text[position]
        if char == "'" or char == '"':
            end = _end_of_string(text, position)
            if end is None:
                raise ExpressionError(
                    f"unterminated string in ${{ ... }}: the {char} here has no closing {char}",
                    expression=text,
                    column=position + 1,
                )
            position = end
            continue
        if char == "{":
            depth += 1
        elif char == "}":
            if depth == 0:
                return position
            depth -= 1
        position += 1
    raise ExpressionError(
        "'${' is never closed: add '}' at the end of the expression, or write '$${' for a literal '${'",
        expression=text,
        column=opening + 1,
    )


def _end_of_string(text: str, quote_at: int) -> int | None:
    """The index just after the string literal starting at ``quote_at``."""
    quote = text[quote_at]
    position = quote_at + 1
    length = len(text)
    while position < length:
        char = text[position]
        if char == "\\":
            position += 2
        elif char == quote:
            return position + 1
        else:
            position += 1
    return None


def join_template(parts: Sequence[str | ExpressionSpan]) -> str:
    """The string :func:`split_template` took apart: literal text re-escaped."""
    out: list[str] = []
    for position, part in enumerate(parts):
        if isinstance(part, ExpressionSpan):
            out.append("${" + part.body + "}")
            continue
        escaped = escape_text(part)
        followed_by_expression = position + 1 < len(parts) and isinstance(
            parts[position + 1], ExpressionSpan
        )
        if followed_by_expression:
            # Dollars just before an expression's "${" are part of its run.
            trailing = len(escaped) - len(escaped.rstrip("$"))
            escaped += "$" * trailing
        out.append(escaped)
    return "".join(out)


def parse_span(text: str, span: ExpressionSpan) -> Expression:
    """Parse one span of ``text``; errors point into ``text``."""
    source = span.source
    offset = span.source_offset
    if not source:
        raise ExpressionError("empty expression '${ }'", expression=text, column=span.start + 1)
    try:
        return parse_expression(source).at(offset)
    except ExpressionError as error:
        column = offset + (error.column if error.column is not None else 1)
        raise ExpressionError(error.message, expression=text, column=column) from None


@dataclass(frozen=True, slots=True)
class Template:
    """A string mixing text and expressions; it evaluates to text.

    ``parts`` holds literal text (escapes already resolved) and Expressions
    in order; each Expression's ``offset`` is where its source starts in
    ``source``, the original string.
    """

    source: str
    parts: tuple[str | Expression, ...]

    @property
    def is_constant(self) -> bool:
        """False: a template holds at least one expression."""
        return False

    def evaluate(self, scope: Mapping[str, Any], hooks: Hooks = NO_HOOKS) -> str:
        """The rendered text: strings as they are, null as '', the rest as compact JSON."""
        pieces: list[str] = []
        total = 0
        for part in self.parts:
            piece = part if isinstance(part, str) else _rendered(part, scope, hooks)
            total += len(piece)
            if total > MAX_LENGTH:
                raise ExpressionError(
                    f"the rendered text would be more than {MAX_LENGTH:,} characters long",
                    expression=self.source,
                )
            pieces.append(piece)
        charge(total, "the rendered text")
        return "".join(pieces)

    def expressions(self) -> Iterator[tuple[tuple[PathKey, ...], int, Expression]]:
        """Each expression with its offset in :attr:`source`."""
        for part in self.parts:
            if isinstance(part, Expression):
                yield ((), part.offset, part)


def _rendered(expression: Expression, scope: Mapping[str, Any], hooks: Hooks) -> str:
    value = expression.value_in(scope, hooks)
    try:
        return render_text(value)
    except ExpressionError as error:
        if error.expression is None:
            error.expression, error.column = expression.source, 1
        raise
    except Exception as error:  # pragma: no cover - render_text raises ExpressionError only
        failure = unexpected_error(error, "rendering the template", 1)
        failure.expression = expression.source
        raise failure from error
