"""Built-in functions that ask what a value is: is_number ... is_null, and has.

Reading a missing key gives null (expressions.md §4), so ``vars.code == null``
cannot tell "never set" from "set to null"; ``has(vars, 'code')`` can.
"""

from __future__ import annotations

from typing import Any

from wfdsl.errors import ExpressionError

from .data import BOOL, LIST, MAP, NULL, NUMBER, STRING, describe, kind_of
from .function_spec import FunctionSpec

__all__ = ["TYPE_FUNCTIONS"]


def _is(kind: str) -> FunctionSpec:
    def test(value: Any) -> bool:
        return kind_of(value) == kind

    noun = {NULL: "null", BOOL: "a bool", NUMBER: "a number", STRING: "a string"}.get(
        kind, f"a {kind}"
    )
    detail = " (true and false are not numbers)" if kind == NUMBER else ""
    return FunctionSpec(1, 1, f"is_{kind}(x)", f"whether x is {noun}{detail}", test)


def _has(container: Any, key: Any) -> bool:
    kind = kind_of(container)
    if kind == NULL:
        return False
    if kind == MAP:
        if kind_of(key) != STRING:
            raise ExpressionError(f"has() of a map takes a string key, got {describe(key)}")
        return key in container
    if kind == LIST:
        if kind_of(key) != NUMBER or isinstance(key, float):
            raise ExpressionError(f"has() of a list takes an integer index, got {describe(key)}")
        return bool(-len(container) <= key < len(container))
    raise ExpressionError(f"has() takes a map or a list, got {describe(container)}")


TYPE_FUNCTIONS: dict[str, FunctionSpec] = {
    **{f"is_{kind}": _is(kind) for kind in (NUMBER, STRING, BOOL, LIST, MAP, NULL)},
    "has": FunctionSpec(
        2,
        2,
        "has(container, key)",
        "whether a map has the key (even with a null value) or a list the index; false for null",
        _has,
    ),
}
