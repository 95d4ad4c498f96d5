"""The data model of expressions: JSON values, and what can be done to any of them.

Six kinds of value exist: null, bool, number (int or float; a bool is *not* a
number), string, list and map (string keys). Values arrive from the scope as
plain Python objects; lists may be tuples and maps any Mapping, and scalars may
be subclasses (ruamel's ScalarFloat), so every fast path on exact types has a
slow path on ``isinstance``. Nothing here ever calls a method or reads an
attribute of a value that is not a container: no ``repr`` of foreign objects,
no ``getattr``.
"""

from __future__ import annotations

import json
from collections.abc import Hashable, Mapping, Sequence
from typing import Any

from wfdsl.errors import ExpressionError

from .limits import MAX_DEPTH, MAX_LENGTH, Budget, too_deep

__all__ = [
    "BOOL",
    "LIST",
    "MAP",
    "NULL",
    "NUMBER",
    "SCALAR_TYPES",
    "STRING",
    "canonical_key",
    "compare",
    "describe",
    "equal",
    "export",
    "kind_of",
    "render_text",
    "to_json",
    "to_str",
]

NULL = "null"
BOOL = "bool"
NUMBER = "number"
STRING = "string"
LIST = "list"
MAP = "map"

#: Exact types that are immutable JSON scalars; values of these types are
#: never copied.
SCALAR_TYPES: frozenset[type] = frozenset({type(None), bool, int, float, str})

_EXACT_KINDS: dict[type, str] = {
    type(None): NULL,
    bool: BOOL,
    int: NUMBER,
    float: NUMBER,
    str: STRING,
    list: LIST,
    tuple: LIST,
    dict: MAP,
}

_ARTICLES = {NULL: "null", BOOL: "a bool", NUMBER: "a number", STRING: "a string",
             LIST: "a list", MAP: "a map"}


def kind_of(value: Any) -> str:
    """The kind of a value: 'null', 'bool', 'number', 'string', 'list' or 'map'."""
    kind = _EXACT_KINDS.get(type(value))
    if kind is not None:
        return kind
    # Subclasses of the JSON types (ruamel's scalars, OrderedDict, ...).
    if isinstance(value, bool):  # pragma: no cover - bool cannot be subclassed
        return BOOL
    if isinstance(value, int):
        return BOOL if type(value).__name__ == "ScalarBoolean" else NUMBER
    if isinstance(value, float):
        return NUMBER
    if isinstance(value, str):
        return STRING
    if isinstance(value, Mapping):
        return MAP
    if isinstance(value, Sequence) and not isinstance(value, (bytes, bytearray)):
        return LIST
    raise ExpressionError(
        f"a value of Python type {type(value).__name__} is not JSON "
        "(null, bool, number, string, list or map)"
    )


def describe(value: Any) -> str:
    """The kind of ``value`` with an article, for messages: 'a string', 'null'."""
    return _ARTICLES[kind_of(value)]


def _plain_scalar(value: Any, kind: str) -> Any:
    """A subclass instance of a JSON scalar as the exact built-in type."""
    if kind == NUMBER:
        return float(value) if isinstance(value, float) else int(value)
    if kind == STRING:
        return str(value)
    if kind == BOOL:
        return bool(value)
    return None


def _items(value: Any, kind: str) -> Any:
    """The (key, item) pairs of a map, refusing keys JSON cannot hold."""
    pairs = value.items()
    for key, _ in pairs:
        if type(key) is not str and not isinstance(key, str):
            raise ExpressionError(f"a map key must be a string, not {describe(key)}")
    return pairs


# -- equality -----------------------------------------------------------------

def equal(left: Any, right: Any, budget: Budget | None = None) -> bool:
    """JSON equality: 1 == 1.0, true != 1, lists and maps compare item by item."""
    left_type = type(left)
    if left_type is type(right) and left_type in SCALAR_TYPES:
        return bool(left == right)
    return _equal(left, right, budget or Budget("=="), 0)


def _equal(left: Any, right: Any, budget: Budget, depth: int) -> bool:
    if left is right:
        return True
    budget.spend()
    left_kind, right_kind = kind_of(left), kind_of(right)
    if left_kind != right_kind:
        return False
    if left_kind == LIST:
        if depth >= MAX_DEPTH:
            raise too_deep("a compared value")
        return len(left) == len(right) and all(
            _equal(a, b, budget, depth + 1) for a, b in zip(left, right, strict=True)
        )
    if left_kind == MAP:
        if depth >= MAX_DEPTH:
            raise too_deep("a compared value")
        if len(left) != len(right):
            return False
        for key, item in _items(left, MAP):
            if key not in right or not _equal(item, right[key], budget, depth + 1):
                return False
        return True
    return bool(left == right)


# -- ordering -----------------------------------------------------------------

def compare(left: Any, right: Any, operator: str, budget: Budget | None = None) -> int:
    """-1, 0 or 1 as ``left`` sorts before, with or after ``right``.

    Numbers compare with numbers, strings with strings (by code point), lists
    with lists (item by item); any other pair raises ExpressionError naming
    ``operator``.
    """
    left_type, right_type = type(left), type(right)
    if (left_type is right_type and (left_type is str or left_type is int or left_type is float)) or (
        (left_type is int or left_type is float) and (right_type is int or right_type is float)
    ):
        return int(left > right) - int(left < right)
    return _compare(left, right, operator, budget or Budget(operator), 0)


def _compare(left: Any, right: Any, operator: str, budget: Budget, depth: int) -> int:
    budget.spend()
    left_kind, right_kind = kind_of(left), kind_of(right)
    if left_kind == right_kind and left_kind in (NUMBER, STRING):
        a, b = _plain_scalar(left, left_kind), _plain_scalar(right, right_kind)
        return int(a > b) - int(a < b)
    if left_kind == right_kind == LIST:
        if depth >= MAX_DEPTH:
            raise too_deep("a compared value")
        for a, b in zip(left, right, strict=False):
            order = _compare(a, b, operator, budget, depth + 1)
            if order:
                return order
        return (len(left) > len(right)) - (len(left) < len(right))
    raise ExpressionError(
        f"cannot compare {describe(left)} with {describe(right)} using '{operator}'"
        + _compare_hint(left_kind, right_kind)
    )


def _compare_hint(left_kind: str, right_kind: str) -> str:
    if NULL in (left_kind, right_kind):
        return "; use coalesce(x, default) when a value may be missing"
    if {left_kind, right_kind} == {NUMBER, STRING}:
        return "; convert with int(), float() or str() first"
    return ""


# -- copying ------------------------------------------------------------------

def export(value: Any) -> Any:
    """A fresh, plain copy of a value: dicts, lists and built-in scalars only.

    The result shares nothing mutable with ``value``, so a caller may change
    it freely. Raises ExpressionError for non-JSON values, values nested
    deeper than MAX_DEPTH and values with more than MAX_LENGTH items.
    """
    if type(value) in SCALAR_TYPES:
        return value
    return _export(value, Budget("the result"), 0)


def _export(value: Any, budget: Budget, depth: int) -> Any:
    value_type = type(value)
    if value_type in SCALAR_TYPES:
        return value
    budget.spend()
    kind = kind_of(value)
    if kind == LIST:
        if depth >= MAX_DEPTH:
            raise too_deep("the value")
        return [_export(item, budget, depth + 1) for item in value]
    if kind == MAP:
        if depth >= MAX_DEPTH:
            raise too_deep("the value")
        return {str(key): _export(item, budget, depth + 1) for key, item in _items(value, kind)}
    return _plain_scalar(value, kind)


# -- text ---------------------------------------------------------------------

def to_str(value: Any) -> str:
    """What ``str(x)`` gives: strings as they are, everything else as compact JSON."""
    value_type = type(value)
    if value_type is str:
        return str(value)
    if value is None:
        return "null"
    if value_type is bool:
        return "true" if value else "false"
    if value_type is int:
        return str(value)
    if value_type is float:
        return repr(value)
    kind = kind_of(value)
    if kind in (LIST, MAP):
        return to_json(value)
    return to_str(_plain_scalar(value, kind))


def render_text(value: Any) -> str:
    """How a value appears inside a template: like str(), but null is ''."""
    if value is None:
        return ""
    return to_str(value)


def to_json(value: Any) -> str:
    """Compact JSON text of a value (keys in their order, non-ASCII kept).

    The size of the output is estimated while the value is checked, before
    any text is produced, so ``json([big] * 1000000)`` fails fast.
    """
    budget = Budget("json()")
    plain = _json_ready(value, budget, 0)
    text = json.dumps(plain, ensure_ascii=False, separators=(",", ":"), allow_nan=False)
    if len(text) > MAX_LENGTH:
        raise ExpressionError(
            f"json(): the text would be {len(text):,} characters, more than the limit of {MAX_LENGTH:,}"
        )
    return text


def _json_ready(value: Any, budget: Budget, depth: int) -> Any:
    """Check a value for JSON output, spending one unit per output character."""
    value_type = type(value)
    if value_type is str:
        budget.spend(len(value) + 2)
        return value
    if value_type in SCALAR_TYPES:
        budget.spend(5)
        return value
    kind = kind_of(value)
    if kind == LIST:
        if depth >= MAX_DEPTH:
            raise too_deep("the value")
        budget.spend(2)
        return [_json_ready(item, budget, depth + 1) for item in value]
    if kind == MAP:
        if depth >= MAX_DEPTH:
            raise too_deep("the value")
        budget.spend(2)
        result = {}
        for key, item in _items(value, kind):
            budget.spend(len(key) + 3)
            result[str(key)] = _json_ready(item, budget, depth + 1)
        return result
    return _json_ready(_plain_scalar(value, kind), budget, depth)


# -- hashing ------------------------------------------------------------------

def canonical_key(value: Any, budget: Budget, depth: int = 0) -> Hashable:
    """A hashable key such that equal values (by :func:`equal`) get equal keys."""
    value_type = type(value)
    if value_type is str:
        return (STRING, value)
    if value_type is int or value_type is float:
        return (NUMBER, value)  # 1 and 1.0 hash alike, as they should
    budget.spend()
    kind = kind_of(value)
    if kind == LIST:
        if depth >= MAX_DEPTH:
            raise too_deep("the value")
        return (LIST, tuple(canonical_key(item, budget, depth + 1) for item in value))
    if kind == MAP:
        if depth >= MAX_DEPTH:
            raise too_deep("the value")
        return (MAP, frozenset(
            (str(key), canonical_key(item, budget, depth + 1)) for key, item in _items(value, kind)
        ))
    return (kind, _plain_scalar(value, kind))
