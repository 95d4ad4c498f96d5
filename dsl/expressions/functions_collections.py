"""Built-in functions on lists and maps: len, keys, values, get, contains, sorted, unique, coalesce.

Functions that only *read* a collection (len, keys, values, get, contains)
treat null as empty, so optional data needs no guard; functions that build a
new collection (sorted, unique) insist on a list.
"""

from __future__ import annotations

import functools
from typing import Any

from wfdsl.errors import ExpressionError

from .data import LIST, MAP, NUMBER, STRING, canonical_key, compare, describe, kind_of
from .function_spec import FunctionSpec, expect_bool, expect_list, expect_map, expect_string
from .limits import Budget
from .operators import is_member

__all__ = ["COLLECTION_FUNCTIONS", "coalesce"]


def _len(value: Any) -> int:
    if value is None:
        return 0
    if kind_of(value) in (STRING, LIST, MAP):
        return len(value)
    raise ExpressionError(f"len() expects a string, a list or a map, got {describe(value)}")


def _keys(value: Any) -> list[str]:
    return [] if value is None else [str(key) for key in expect_map("keys", value)]


def _values(value: Any) -> list[Any]:
    return [] if value is None else list(expect_map("values", value).values())


def _get(container: Any, key: Any, default: Any = None) -> Any:
    if container is None:
        return default
    kind = kind_of(container)
    if kind == MAP:
        name = expect_string("get", key, 1)
        return container.get(name, default)
    if kind == LIST:
        if type(key) is not int and not (kind_of(key) == NUMBER and not isinstance(key, float)):
            raise ExpressionError(f"get() on a list expects an integer index, got {describe(key)}")
        index = int(key)
        return container[index] if -len(container) <= index < len(container) else default
    raise ExpressionError(f"get() expects a map, a list or null, got {describe(container)}")


def _contains(container: Any, item: Any) -> bool:
    return is_member(item, container)


def _sorted(values: Any, key: Any = None, reverse: Any = False) -> list[Any]:
    items = list(expect_list("sorted", values))
    descending = expect_bool("sorted", reverse, 2)
    if key is None:
        sort_keys = items
    else:
        field = expect_string("sorted", key, 1)
        sort_keys = [_field(item, field, position) for position, item in enumerate(items)]
    kinds = {kind_of(sort_key) for sort_key in sort_keys}
    pairs = list(zip(sort_keys, range(len(items)), strict=True))
    if kinds == {NUMBER} or kinds == {STRING}:
        # Python's ordering agrees with ours on these; the index keeps it stable.
        pairs.sort(key=lambda pair: pair[0], reverse=descending)
    else:
        budget = Budget("sorted()")

        def order(a: tuple[Any, int], b: tuple[Any, int]) -> int:
            return compare(a[0], b[0], "sorted()", budget)

        pairs.sort(key=functools.cmp_to_key(order), reverse=descending)
    return [items[index] for _, index in pairs]


def _field(item: Any, field: str, position: int) -> Any:
    if kind_of(item) != MAP:
        raise ExpressionError(
            f"sorted() by {field!r} needs a list of maps; item {position} is {describe(item)}"
        )
    return item.get(field)


def _unique(values: Any) -> list[Any]:
    items = expect_list("unique", values)
    budget = Budget("unique()")
    seen: set[Any] = set()
    result = []
    for item in items:
        identity = canonical_key(item, budget)
        if identity not in seen:
            seen.add(identity)
            result.append(item)
    return result


def coalesce(*values: Any) -> Any:
    """The first argument that is not null (the evaluator calls it lazily)."""
    return next((value for value in values if value is not None), None)


COLLECTION_FUNCTIONS: dict[str, FunctionSpec] = {
    "len": FunctionSpec(
        1, 1, "len(x)", "the number of characters, items or keys; 0 for null", _len
    ),
    "keys": FunctionSpec(1, 1, "keys(map)", "the keys of a map, in order; [] for null", _keys),
    "values": FunctionSpec(
        1, 1, "values(map)", "the values of a map, in order; [] for null", _values
    ),
    "get": FunctionSpec(
        2,
        3,
        "get(container, key, default=null)",
        "the item at key (a map key or a list index), or default when there is none",
        _get,
    ),
    "contains": FunctionSpec(
        2,
        2,
        "contains(container, item)",
        "the same as item in container; false for null",
        _contains,
    ),
    "sorted": FunctionSpec(
        1,
        3,
        "sorted(list, key=null, reverse=false)",
        "the items in ascending order (of the map field key, when given)",
        _sorted,
    ),
    "unique": FunctionSpec(
        1, 1, "unique(list)", "the items without repeats, first occurrence kept", _unique
    ),
    "coalesce": FunctionSpec(
        1,
        None,
        "coalesce(a, b, ...)",
        "the first argument that is not null; later ones are not evaluated",
        coalesce,
    ),
}
