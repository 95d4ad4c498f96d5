"""Document values compiled once: constants, expressions, templates, maps and lists.

``compile_value`` turns a value from a document (``args``, ``set``,
``vars``, ``output``...) into a tree of nodes whose ``evaluate`` returns a
fresh plain JSON value each time. Parts without expressions fold into one
:class:`Constant`, so evaluating ``{to: "${ input.email }", template: verify}``
builds one dict and evaluates one expression.
"""

from __future__ import annotations

import math
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any, Protocol, runtime_checkable

from wfdsl.errors import ExpressionError

from .data import SCALAR_TYPES, export
from .expression import Expression, PathKey
from .hooks import NO_HOOKS, Hooks
from .limits import MAX_DEPTH, MAX_INTEGER, too_deep
from .template import ExpressionSpan, Template, parse_span, split_template

__all__ = [
    "CompiledValue",
    "Constant",
    "ListValue",
    "MappingValue",
    "compile_string",
    "compile_value",
]

_BLANK = " \t\n\r\f"


@runtime_checkable
class CompiledValue(Protocol):
    """What every compiled value offers (Constant, Expression, Template, MappingValue, ListValue)."""

    @property
    def is_constant(self) -> bool:
        """True when evaluate gives the same value whatever the scope."""
        ...

    def evaluate(self, scope: Mapping[str, Any], hooks: Hooks = ...) -> Any:
        """A fresh plain JSON value; the caller may change it freely."""
        ...

    def expressions(self) -> Iterator[tuple[tuple[PathKey, ...], int, Expression]]:
        """(path within the value, offset of the source in its string, expression) for each."""
        ...


@dataclass(frozen=True, slots=True)
class Constant:
    """A value without expressions; lists and maps are copied on each evaluate."""

    value: Any

    @property
    def is_constant(self) -> bool:
        """True."""
        return True

    def evaluate(self, scope: Mapping[str, Any] | None = None, hooks: Hooks = NO_HOOKS) -> Any:
        """The value; a copy when it is a list or a map, so callers cannot change this one."""
        value = self.value
        if type(value) in SCALAR_TYPES:
            return value
        return _copy_constant(value)

    def expressions(self) -> Iterator[tuple[tuple[PathKey, ...], int, Expression]]:
        """None."""
        return iter(())


def _copy_constant(value: Any) -> Any:
    """A copy of a constant's plain dicts and lists (checked once, when the
    document was compiled, so the size and depth budget of :func:`export`
    need not be paid again on every evaluation); anything else is exported."""
    kind = type(value)
    if kind is dict:
        return {
            key: item if type(item) in SCALAR_TYPES else _copy_constant(item)
            for key, item in value.items()
        }
    if kind is list:
        return [item if type(item) in SCALAR_TYPES else _copy_constant(item) for item in value]
    return export(value)


@dataclass(frozen=True, slots=True)
class MappingValue:
    """A map with at least one expression among its values (keys are literal)."""

    entries: tuple[tuple[str, CompiledValue], ...]

    @property
    def is_constant(self) -> bool:
        """False."""
        return False

    def evaluate(self, scope: Mapping[str, Any], hooks: Hooks = NO_HOOKS) -> dict[str, Any]:
        """A new dict with every value evaluated."""
        return {key: value.evaluate(scope, hooks) for key, value in self.entries}

    def expressions(self) -> Iterator[tuple[tuple[PathKey, ...], int, Expression]]:
        """Each expression, its path starting with the key it sits under."""
        for key, value in self.entries:
            for path, offset, expression in value.expressions():
                yield ((key, *path), offset, expression)


@dataclass(frozen=True, slots=True)
class ListValue:
    """A list with at least one expression among its items."""

    items: tuple[CompiledValue, ...]

    @property
    def is_constant(self) -> bool:
        """False."""
        return False

    def evaluate(self, scope: Mapping[str, Any], hooks: Hooks = NO_HOOKS) -> list[Any]:
        """A new list with every item evaluated."""
        return [item.evaluate(scope, hooks) for item in self.items]

    def expressions(self) -> Iterator[tuple[tuple[PathKey, ...], int, Expression]]:
        """Each expression, its path starting with the index it sits at."""
        for index, item in enumerate(self.items):
            for path, offset, expression in item.expressions():
                yield ((index, *path), offset, expression)


def compile_string(text: str) -> CompiledValue:
    """A string from a document: a Constant, one Expression, or a Template.

    Exactly one ``${ ... }`` with only whitespace around it gives the
    Expression (its value keeps its type); text mixed with expressions gives
    a Template (it renders to text); anything else is a Constant, with
    ``$${`` escapes resolved. Raises ExpressionError whose ``expression`` is
    ``text`` and whose ``column`` is 1-based within it.
    """
    text = str(text)
    if "${" not in text:
        return Constant(text)
    parts = split_template(text)
    spans = [part for part in parts if isinstance(part, ExpressionSpan)]
    if not spans:
        return Constant("".join(part for part in parts if isinstance(part, str)))
    if len(spans) == 1 and all(
        isinstance(part, ExpressionSpan) or not part.strip(_BLANK) for part in parts
    ):
        # Only whitespace may surround it: the text before the first span and
        # after the last is plain (escapes would leave a non-blank '$' or '{').
        return parse_span(text, spans[0])
    return Template(
        text, tuple(part if isinstance(part, str) else parse_span(text, part) for part in parts)
    )


def compile_value(raw: Any) -> CompiledValue:
    """Compile a value from a document: strings may hold expressions, maps and lists nest.

    Values must be JSON-like: None, bool, int, float, str, Mapping, list or
    tuple (ruamel.yaml's subclasses included); dates and datetimes become
    ISO 8601 text. Map keys are taken literally, as text. Raises
    ExpressionError for other values, non-finite floats, integers beyond
    2**63, nesting deeper than MAX_DEPTH, and malformed expressions.
    """
    return _compile(raw, 0)


def _compile(raw: Any, depth: int) -> CompiledValue:
    raw_type = type(raw)
    if raw is None or raw_type is bool:
        return Constant(raw)
    if isinstance(raw, str):
        return compile_string(raw)
    if isinstance(raw, int):
        return Constant(_integer(raw))
    if isinstance(raw, float):
        if not math.isfinite(raw):
            raise ExpressionError(
                f"the number {raw!r} cannot be stored: JSON has no infinity or NaN"
            )
        return Constant(float(raw))
    if isinstance(raw, Mapping):
        if depth >= MAX_DEPTH:
            raise too_deep("the value")
        entries = tuple((_key_text(key), _compile(value, depth + 1)) for key, value in raw.items())
        if all(isinstance(value, Constant) for _, value in entries):
            return Constant({key: value.value for key, value in entries})  # type: ignore[attr-defined]
        return MappingValue(entries)
    if isinstance(raw, (list, tuple)):
        if depth >= MAX_DEPTH:
            raise too_deep("the value")
        items = tuple(_compile(item, depth + 1) for item in raw)
        if all(isinstance(item, Constant) for item in items):
            return Constant([item.value for item in items])  # type: ignore[attr-defined]
        return ListValue(items)
    if isinstance(raw, (datetime, date)):
        return Constant(raw.isoformat())
    raise ExpressionError(
        f"a value of Python type {raw_type.__name__} cannot be used: values are JSON "
        "(null, bool, number, string, list or map)"
    )


def _integer(raw: int) -> int | bool:
    # ruamel.yaml loads an anchored `true` as ScalarBoolean, an int subclass.
    if type(raw).__name__ == "ScalarBoolean":
        return bool(raw)
    value = int(raw)
    if -MAX_INTEGER <= value <= MAX_INTEGER:
        return value
    raise ExpressionError(
        "an integer in the document is out of range (more than 2**63 in magnitude)"
    )


def _key_text(key: Any) -> str:
    """A map key as text, the way JSON writes non-string keys (200 -> '200')."""
    if isinstance(key, str):
        return str(key)
    if key is None:
        return "null"
    if isinstance(key, bool) or type(key).__name__ == "ScalarBoolean":
        return "true" if key else "false"
    if isinstance(key, int):
        return str(int(key))
    if isinstance(key, float):
        return repr(float(key))
    raise ExpressionError(
        f"a map key of Python type {type(key).__name__} cannot be used: keys are text"
    )
