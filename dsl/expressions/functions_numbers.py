"""Built-in functions on numbers: abs, min, max, sum, round, range."""

from __future__ import annotations

from collections.abc import Sequence
from decimal import ROUND_HALF_UP, Context, Decimal, InvalidOperation
from typing import Any

from wfdsl.errors import ExpressionError

from .data import NUMBER, STRING, compare, kind_of
from .function_spec import FunctionSpec, expect_integer, expect_list, expect_number
from .limits import Budget, check_finite, check_integer, check_length

__all__ = ["NUMBER_FUNCTIONS"]

# Enough digits for any float rounded to any allowed number of places.
_DECIMAL = Context(prec=800)
_MAX_ROUND_DIGITS = 340


def _abs(value: Any) -> int | float:
    return abs(expect_number("abs", value))


def _candidates(function: str, values: tuple[Any, ...]) -> Sequence[Any]:
    if len(values) == 1:
        items = expect_list(function, values[0])
        if not items:
            raise ExpressionError(f"{function}() of an empty list; use coalesce() or a default")
        return items
    return values


def _extreme(function: str, values: tuple[Any, ...], pick_larger: bool) -> Any:
    items = _candidates(function, values)
    kinds = {kind_of(item) for item in items}
    if kinds == {NUMBER} or kinds == {STRING}:
        # Homogeneous numbers or strings: Python's own min/max agree with ours.
        return max(items) if pick_larger else min(items)
    budget = Budget(f"{function}()")
    best = items[0]
    for item in items[1:]:
        order = compare(item, best, function, budget)
        if (order > 0) if pick_larger else (order < 0):
            best = item
    return best


def _min(*values: Any) -> Any:
    return _extreme("min", values, pick_larger=False)


def _max(*values: Any) -> Any:
    return _extreme("max", values, pick_larger=True)


def _sum(values: Any, start: Any = 0) -> int | float:
    items = expect_list("sum", values)
    total = expect_number("sum", start, 1)
    for position, item in enumerate(items):
        if type(item) is not int and type(item) is not float and kind_of(item) != NUMBER:
            raise ExpressionError(
                f"sum() expects a list of numbers; item {position} is not a number"
            )
        total += item
    if isinstance(total, float):
        return check_finite(total, "sum()")
    return check_integer(total, "sum()")


def _round(value: Any, digits: Any = None) -> int | float:
    number = expect_number("round", value)
    places = 0 if digits is None else expect_integer("round", digits, 1)
    if not -_MAX_ROUND_DIGITS <= places <= _MAX_ROUND_DIGITS:
        raise ExpressionError(
            f"round() digits must be between -{_MAX_ROUND_DIGITS} and {_MAX_ROUND_DIGITS}"
        )
    # Decimal on the shortest repr rounds what the user sees: round(2.675, 2)
    # is 2.68, and halves go away from zero (round(2.5) == 3, round(-2.5) == -3).
    exact = Decimal(repr(number)) if isinstance(number, float) else Decimal(number)
    try:
        rounded = exact.quantize(
            Decimal(1).scaleb(-places), rounding=ROUND_HALF_UP, context=_DECIMAL
        )
    except InvalidOperation:  # pragma: no cover - prec is large enough for every float
        raise ExpressionError("round(): the number cannot be rounded to that many digits") from None
    if digits is None or not isinstance(number, float):
        return check_integer(int(rounded), "round()")
    return check_finite(float(rounded), "round()")


def _range(*bounds: Any) -> list[int]:
    numbers = [expect_integer("range", bound, position) for position, bound in enumerate(bounds)]
    if len(numbers) == 3 and numbers[2] == 0:
        raise ExpressionError("range() step must not be zero")
    span = range(*numbers)
    # len() of a range is computed, not counted: range(10**9) fails here at once.
    check_length(len(span), "the range")
    return list(span)


NUMBER_FUNCTIONS: dict[str, FunctionSpec] = {
    "abs": FunctionSpec(1, 1, "abs(x)", "the absolute value of a number", _abs),
    "min": FunctionSpec(
        1,
        None,
        "min(list) or min(a, b, ...)",
        "the smallest item (numbers, strings or lists)",
        _min,
    ),
    "max": FunctionSpec(
        1, None, "max(list) or max(a, b, ...)", "the largest item (numbers, strings or lists)", _max
    ),
    "sum": FunctionSpec(1, 2, "sum(list, start=0)", "the total of a list of numbers", _sum),
    "round": FunctionSpec(
        1,
        2,
        "round(x, digits=null)",
        "x rounded half away from zero; an integer when digits is omitted",
        _round,
    ),
    "range": FunctionSpec(
        1,
        3,
        "range(stop) or range(start, stop, step=1)",
        "the list of integers from start (default 0) up to, not including, stop",
        _range,
    ),
}
