"""What the operators do: arithmetic, comparison and membership on JSON values.

Each function takes evaluated operands and either returns the result or
raises ExpressionError naming the operation and the kinds involved. The
common case (two ints, two floats, two strings) is tested first, on exact
types; everything else goes through :func:`kind_of`. Sizes are checked before
a string or list is built, and integer results must stay within ±2**63.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping
from typing import Any

from wfdsl.errors import ExpressionError

from .data import LIST, MAP, NUMBER, STRING, compare, describe, equal, kind_of
from .limits import Budget, check_finite, check_integer, check_length

__all__ = [
    "ARITHMETIC",
    "ORDERINGS",
    "add",
    "divide",
    "floor_divide",
    "is_member",
    "modulo",
    "multiply",
    "negate",
    "power",
    "subtract",
]

Binary = Callable[[Any, Any], Any]


def _type_error(operator: str, left: Any, right: Any) -> ExpressionError:
    return ExpressionError(f"cannot apply '{operator}' to {describe(left)} and {describe(right)}")


def _numbers(left: Any, right: Any) -> tuple[Any, Any] | None:
    """Both operands as plain int/float, or None when either is not a number."""
    if kind_of(left) == NUMBER and kind_of(right) == NUMBER:
        return (
            float(left) if isinstance(left, float) else int(left),
            float(right) if isinstance(right, float) else int(right),
        )
    return None


def _float_result(operation: Callable[[], float], operator: str) -> float:
    try:
        return check_finite(operation(), f"'{operator}'")
    except OverflowError:
        raise ExpressionError(
            f"'{operator}': the result is out of range (not a finite number)"
        ) from None


def add(left: Any, right: Any) -> Any:
    """``+``: numbers add; strings and lists concatenate; maps merge (right wins)."""
    left_type, right_type = type(left), type(right)
    if left_type is int and right_type is int:
        return check_integer(left + right, "'+'")
    if (left_type is float or left_type is int) and (right_type is float or right_type is int):
        return check_finite(left + right, "'+'")
    if left_type is str and right_type is str:
        check_length(len(left) + len(right), "the string")
        return left + right
    left_kind, right_kind = kind_of(left), kind_of(right)
    if left_kind != right_kind:
        raise _type_error("+", left, right)
    if left_kind == NUMBER:
        plain = _numbers(left, right)
        assert plain is not None
        return add(*plain)
    if left_kind == STRING:
        return add(str(left), str(right))
    if left_kind == LIST:
        check_length(len(left) + len(right), "the list")
        return [*left, *right]
    if left_kind == MAP:
        merged = dict(left)
        merged.update(right)
        return merged
    raise _type_error("+", left, right)


def subtract(left: Any, right: Any) -> Any:
    """``-`` on numbers."""
    left_type, right_type = type(left), type(right)
    if left_type is int and right_type is int:
        return check_integer(left - right, "'-'")
    if (left_type is float or left_type is int) and (right_type is float or right_type is int):
        return check_finite(left - right, "'-'")
    plain = _numbers(left, right)
    if plain is None:
        raise _type_error("-", left, right)
    return subtract(*plain)


def multiply(left: Any, right: Any) -> Any:
    """``*``: numbers multiply; a string or list times an integer repeats it."""
    left_type, right_type = type(left), type(right)
    if left_type is int and right_type is int:
        return check_integer(left * right, "'*'")
    if (left_type is float or left_type is int) and (right_type is float or right_type is int):
        return check_finite(left * right, "'*'")
    plain = _numbers(left, right)
    if plain is not None:
        return multiply(*plain)
    left_kind, right_kind = kind_of(left), kind_of(right)
    if left_kind in (STRING, LIST) and right_kind == NUMBER:
        return _repeat(left, left_kind, right)
    if right_kind in (STRING, LIST) and left_kind == NUMBER:
        return _repeat(right, right_kind, left)
    raise _type_error("*", left, right)


def _repeat(sequence: Any, kind: str, count: Any) -> Any:
    if not isinstance(count, int):
        raise ExpressionError(
            f"'*': a {kind} can only be repeated a whole number of times, not {count!r}"
        )
    count = max(int(count), 0)
    # Checked before building: 'a' * 10**9 must fail at once, not after
    # allocating a gigabyte.
    check_length(len(sequence) * count, f"the repeated {kind}")
    if kind == STRING:
        return str(sequence) * count
    return list(sequence) * count


def divide(left: Any, right: Any) -> float:
    """``/``: true division; the result is always a float."""
    plain = _numbers(left, right)
    if plain is None:
        raise _type_error("/", left, right)
    a, b = plain
    if b == 0:
        raise ExpressionError("'/': division by zero")
    return _float_result(lambda: a / b, "/")


def floor_divide(left: Any, right: Any) -> Any:
    """``//``: division rounded down (toward negative infinity), as in Python."""
    plain = _numbers(left, right)
    if plain is None:
        raise _type_error("//", left, right)
    a, b = plain
    if b == 0:
        raise ExpressionError("'//': division by zero")
    if type(a) is int and type(b) is int:
        return check_integer(a // b, "'//'")
    return _float_result(lambda: a // b, "//")


def modulo(left: Any, right: Any) -> Any:
    """``%``: the remainder, with the sign of the divisor, as in Python (numbers only)."""
    plain = _numbers(left, right)
    if plain is None:
        raise _type_error("%", left, right)
    a, b = plain
    if b == 0:
        raise ExpressionError("'%': division by zero")
    if type(a) is int and type(b) is int:
        return a % b
    return _float_result(lambda: a % b, "%")


def power(left: Any, right: Any) -> Any:
    """``**``: ints stay ints while the exponent is a non-negative int."""
    plain = _numbers(left, right)
    if plain is None:
        raise _type_error("**", left, right)
    base, exponent = plain
    if type(base) is int and type(exponent) is int and exponent >= 0:
        # Any |base| >= 2 to a power above 63 exceeds 2**63: refuse before
        # Python starts on 9 ** 387420489.
        if abs(base) >= 2 and exponent > 63:
            raise ExpressionError(
                "'**': the integer result is out of range (more than 2**63 in magnitude)"
            )
        return check_integer(base**exponent, "'**'")
    if base == 0 and exponent < 0:
        raise ExpressionError("'**': zero cannot be raised to a negative power (division by zero)")
    try:
        # math.pow raises where Python's ** would return a complex number.
        return check_finite(math.pow(base, exponent), "'**'")
    except ValueError:
        raise ExpressionError(
            "'**': a negative number cannot be raised to a fractional power"
        ) from None
    except OverflowError:
        raise ExpressionError("'**': the result is out of range (not a finite number)") from None


def negate(operand: Any) -> Any:
    """Unary ``-`` on a number."""
    operand_type = type(operand)
    if operand_type is int or operand_type is float:
        return -operand
    if kind_of(operand) == NUMBER:
        return -(float(operand) if isinstance(operand, float) else int(operand))
    raise ExpressionError(f"cannot apply unary '-' to {describe(operand)}")


def is_member(item: Any, container: Any, budget: Budget | None = None) -> bool:
    """``item in container``: an item of a list, a key of a map, a substring of a string.

    Anything is "not in" null, so optional lists need no guard.
    """
    container_type = type(container)
    if container_type is list or container_type is tuple:
        item_type = type(item)
        if item_type is str or item is None:
            # Python's own `in` is exact here: a string only equals a string.
            return item in container
        shared = budget or Budget("'in'")
        return any(equal(item, element, shared) for element in container)
    if container_type is dict:
        return type(item) is str and item in container
    if container_type is str:
        if type(item) is str:
            return item in container
        if kind_of(item) == STRING:
            return str(item) in container
        raise ExpressionError(
            f"'in': looking for {describe(item)} in a string; only a string can be part of a string"
        )
    if container is None:
        return False
    kind = kind_of(container)
    if kind == LIST:
        return is_member(item, list(container), budget)
    if kind == MAP:
        assert isinstance(container, Mapping)
        return kind_of(item) == STRING and str(item) in container
    if kind == STRING:
        return is_member(item, str(container), budget)
    raise ExpressionError(
        f"'in' needs a list, map or string on its right, not {describe(container)}"
    )


def _ordering(operator: str, test: Callable[[int], bool]) -> Binary:
    def ordered(left: Any, right: Any) -> bool:
        return test(compare(left, right, operator))

    ordered.__name__ = f"ordering_{operator}"
    return ordered


#: The arithmetic operators by their symbol.
ARITHMETIC: Mapping[str, Binary] = {
    "+": add,
    "-": subtract,
    "*": multiply,
    "/": divide,
    "//": floor_divide,
    "%": modulo,
    "**": power,
}

#: The ordering comparisons by their symbol.
ORDERINGS: Mapping[str, Binary] = {
    "<": _ordering("<", lambda order: order < 0),
    "<=": _ordering("<=", lambda order: order <= 0),
    ">": _ordering(">", lambda order: order > 0),
    ">=": _ordering(">=", lambda order: order >= 0),
}
