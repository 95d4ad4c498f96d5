"""Reading names, keys and items by the language's rules.

A missing key, an index past the end and anything read from null give null;
a key on a string, a string key on a list or a number key on a map is an
error, because it is almost always a mistake. Only dict keys and list items
are read: never an attribute, never a method of a Python object.
"""

from __future__ import annotations

import difflib
from typing import Any

from wfdsl.errors import ExpressionError

from .data import LIST, MAP, NUMBER, STRING, describe, kind_of
from .evaluator import Scope
from .function_spec import preview

__all__ = ["read_item", "unknown_name"]


def read_item(container: Any, key: Any, column: int) -> Any:
    """``container[key]``: null when missing, past the end, or read from null."""
    container_type = type(container)
    if container_type is dict:
        if type(key) is str:
            return container.get(key)
    elif container_type is list:
        if type(key) is int:
            size = len(container)
            return container[key] if -size <= key < size else None
    elif container is None:
        return None
    return _read_item_slowly(container, key, column)


def _read_item_slowly(container: Any, key: Any, column: int) -> Any:
    """Other Mapping and Sequence types, subclassed keys, and the errors."""
    kind, key_kind = kind_of(container), kind_of(key)
    if kind == MAP:
        if key_kind == STRING:
            return container.get(str(key))
        raise ExpressionError(
            f"map keys are strings; cannot look up {describe(key)} in a map", column=column
        )
    if kind == LIST:
        if key_kind == NUMBER and not isinstance(key, float):
            index, size = int(key), len(container)
            return container[index] if -size <= index < size else None
        hint = "; use len(x) for its length" if key in ("length", "size", "count") else ""
        shown = f"key {preview(str(key))}" if key_kind == STRING else describe(key)
        raise ExpressionError(
            f"list items are numbered; cannot look up {shown} in a list{hint}", column=column
        )
    shown = f"key {preview(str(key))}" if key_kind == STRING else f"item {describe(key)}"
    raise ExpressionError(
        f"cannot look up {shown} in {describe(container)}: only maps and lists have items",
        column=column,
    )


def unknown_name(name: str, scope: Scope, column: int) -> ExpressionError:
    """The error for a name the scope does not hold, with the names it does."""
    try:
        available = sorted(str(key) for key in scope)
    except Exception:  # pragma: no cover - a scope that cannot list its names
        available = []
    close = difflib.get_close_matches(name, available, n=1)
    hint = f"; did you mean '{close[0]}'?" if close else ""
    shown = ", ".join(available[:12]) + (", ..." if len(available) > 12 else "")
    where = f" (names here: {shown})" if available else ""
    return ExpressionError(f"unknown name '{name}'{hint}{where}", column=column)
