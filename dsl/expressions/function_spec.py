"""How a built-in function is described, and how functions check their arguments."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import Any, NamedTuple

from wfdsl.errors import ExpressionError

from .data import BOOL, LIST, MAP, NUMBER, STRING, describe, kind_of

__all__ = [
    "FunctionSpec",
    "expect_bool",
    "expect_integer",
    "expect_list",
    "expect_map",
    "expect_number",
    "expect_string",
    "preview",
]


class FunctionSpec(NamedTuple):
    """One built-in function.

    A named tuple rather than a dataclass so that callers may unpack
    ``min_args, max_args, *_ = BUILTIN_FUNCTIONS[name]``.
    """

    #: The fewest arguments a call may pass.
    min_args: int
    #: The most arguments a call may pass; None for any number.
    max_args: int | None
    #: How the call is written in the reference, e.g. ``get(map, key, default=null)``.
    signature: str
    #: One line saying what the function returns.
    summary: str
    #: The Python function; it receives the Hooks first when ``uses_hooks``.
    implementation: Callable[..., Any]
    #: Whether the implementation takes the evaluation's Hooks as its first argument.
    uses_hooks: bool = False
    #: False for now(), today(), uuid() and secret(): their value comes from outside.
    deterministic: bool = True

    def accepts(self, count: int) -> bool:
        """Whether a call with ``count`` arguments is allowed."""
        return count >= self.min_args and (self.max_args is None or count <= self.max_args)

    def arity(self) -> str:
        """The allowed argument counts in words: 'exactly 1 argument', '1 to 3 arguments'."""
        if self.max_args is None:
            count, last = f"at least {self.min_args}", self.min_args
        elif self.min_args == self.max_args:
            count, last = f"exactly {self.min_args}", self.min_args
        else:
            count, last = f"{self.min_args} to {self.max_args}", self.max_args
        return f"{count} argument{'' if last == 1 else 's'}"


_ORDINALS = ("first", "second", "third", "fourth", "fifth")


def _wrong(function: str, expected: str, value: Any, position: int) -> ExpressionError:
    ordinal = _ORDINALS[position] if position < len(_ORDINALS) else f"#{position + 1}"
    return ExpressionError(
        f"{function}() expects {expected} as its {ordinal} argument, got {describe(value)}"
    )


def expect_string(function: str, value: Any, position: int = 0) -> str:
    """``value`` as a str, or an ExpressionError naming the function and argument."""
    if type(value) is str:
        return str(value)
    if kind_of(value) == STRING:
        return str(value)
    raise _wrong(function, "a string", value, position)


def expect_number(function: str, value: Any, position: int = 0) -> int | float:
    """``value`` as an int or float (a bool is not a number)."""
    if type(value) is int or type(value) is float:
        return value
    if kind_of(value) == NUMBER:
        return float(value) if isinstance(value, float) else int(value)
    raise _wrong(function, "a number", value, position)


def expect_integer(function: str, value: Any, position: int = 0) -> int:
    """``value`` as an int; a float is refused even when whole."""
    if type(value) is int:
        return int(value)
    if kind_of(value) == NUMBER and not isinstance(value, float):
        return int(value)
    raise _wrong(function, "an integer", value, position)


def expect_bool(function: str, value: Any, position: int = 0) -> bool:
    """``value`` as a bool."""
    if type(value) is bool or kind_of(value) == BOOL:
        return bool(value)
    raise _wrong(function, "true or false", value, position)


def expect_list(function: str, value: Any, position: int = 0) -> Sequence[Any]:
    """``value`` as a list (or tuple)."""
    if type(value) is list or kind_of(value) == LIST:
        return value  # type: ignore[no-any-return]
    raise _wrong(function, "a list", value, position)


def expect_map(function: str, value: Any, position: int = 0) -> Mapping[str, Any]:
    """``value`` as a map."""
    if type(value) is dict or kind_of(value) == MAP:
        return value  # type: ignore[no-any-return]
    raise _wrong(function, "a map", value, position)


def preview(text: str, limit: int = 40) -> str:
    """A short quoted excerpt of text for an error message."""
    return repr(text if len(text) <= limit else text[: limit - 3] + "...")
