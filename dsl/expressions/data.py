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

# Item types for which Python's own list operations (==, <, tuple keys) agree
# with the language: no bool (True == 1 in Python, not here), no containers.
_PLAIN_EQUALITY_TYPES: frozenset[type] = frozenset({type(None), int, float, str})
_NUMBER_TYPE_SET: frozenset[type] = frozenset({int, float})
_STRING_TYPE_SET: frozenset[type] = frozenset({str})

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

_ARTICLES = {
    NULL: "null",
    BOOL: "a bool",
    NUMBER: "a number",
    STRING: "a string",
    LIST: "a list",
    MAP: "a map",
}


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
    left_kind, right_kind = kind_of(left), kind_of(right)
    if left_kind != right_kind:
        return False
    if left_kind == LIST:
        if len(left) != len(right):
            return False
        if depth >= MAX_DEPTH:
            raise too_deep("a compared value")
        # Spent before the walk: the whole comparison is paid for up front.
        budget.spend(len(left) + 1)
        if (
            type(left) is type(right)
            and set(map(type, left)) | set(map(type, right)) <= _PLAIN_EQUALITY_TYPES
        ):
            return bool(left == right)  # at C speed
        for a, b in zip(left, right, strict=True):
            item_type = type(a)
            if item_type is type(b) and item_type in SCALAR_TYPES:
                if a != b:
                    return False
            elif not _equal(a, b, budget, depth + 1):
                return False
        return True
    if left_kind == MAP:
        if len(left) != len(right):
            return False
        if depth >= MAX_DEPTH:
            raise too_deep("a compared value")
        budget.spend(len(left) + 1)
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
    if (
        left_type is right_type and (left_type is str or left_type is int or left_type is float)
    ) or ((left_type is int or left_type is float) and (right_type is int or right_type is float)):
        return int(left > right) - int(left < right)
    return _compare(left, right, operator, budget or Budget(operator), 0)


_NUMBER_TYPES = frozenset({int, float})
_ORDERED_TYPES = frozenset({int, float, str})


def _compare(left: Any, right: Any, operator: str, budget: Budget, depth: int) -> int:
    left_kind, right_kind = kind_of(left), kind_of(right)
    if left_kind == right_kind and left_kind in (NUMBER, STRING):
        a, b = _plain_scalar(left, left_kind), _plain_scalar(right, right_kind)
        return int(a > b) - int(a < b)
    if left_kind == right_kind == LIST:
        if depth >= MAX_DEPTH:
            raise too_deep("a compared value")
        budget.spend(min(len(left), len(right)) + 1)
        item_types = set(map(type, left)) | set(map(type, right))
        if type(left) is type(right) and (
            item_types <= _NUMBER_TYPE_SET or item_types <= _STRING_TYPE_SET
        ):
            return int(left > right) - int(left < right)  # at C speed
        for a, b in zip(left, right, strict=False):
            a_type, b_type = type(a), type(b)
            if (a_type is b_type and a_type in _ORDERED_TYPES) or (
                a_type in _NUMBER_TYPES and b_type in _NUMBER_TYPES
            ):
                if a != b:
                    return -1 if a < b else 1
                continue
            order = _compare(a, b, operator, budget, depth + 1)
            if order:
                return order
        return int(len(left) > len(right)) - int(len(left) < len(right))
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
    kind = kind_of(value)
    if kind == LIST:
        if depth >= MAX_DEPTH:
            raise too_deep("the value")
        budget.spend(len(value) + 1)
        if set(map(type, value)) <= SCALAR_TYPES:
            return list(value)  # at C speed
        return [
            item if type(item) in SCALAR_TYPES else _export(item, budget, depth + 1)
            for item in value
        ]
    if kind == MAP:
        if depth >= MAX_DEPTH:
            raise too_deep("the value")
        budget.spend(len(value) + 1)
        return {
            str(key): item if type(item) in SCALAR_TYPES else _export(item, budget, depth + 1)
            for key, item in _items(value, kind)
        }
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
    kind = kind_of(value)
    if kind == LIST:
        if depth >= MAX_DEPTH:
            raise too_deep("the value")
        budget.spend(len(value) + 1)
        if set(map(type, value)) <= _PLAIN_EQUALITY_TYPES:
            return (LIST, tuple(value))  # Python's tuple equality is ours here
        return (LIST, tuple(canonical_key(item, budget, depth + 1) for item in value))
    if kind == MAP:
        if depth >= MAX_DEPTH:
            raise too_deep("the value")
        budget.spend(len(value) + 1)
        return (
            MAP,
            frozenset(
                (str(key), canonical_key(item, budget, depth + 1))
                for key, item in _items(value, kind)
            ),
        )
    return (kind, _plain_scalar(value, kind))
