"""The bounds every expression respects (DSL.md §3).

An expression comes from a document that may not be trusted, so evaluation
must never exhaust memory, time or the stack. Each operation that builds a
value checks the size of what it is about to build *before* building it; each
operation that walks a value spends from a :class:`Budget`, so values that
share structure (``[[1] * 1000] * 1000``) cannot make a walk explode.
"""

from __future__ import annotations

import math

from wfdsl.errors import ExpressionError

__all__ = [
    "MAX_DEPTH",
    "MAX_INTEGER",
    "MAX_LENGTH",
    "MAX_SOURCE_LENGTH",
    "Budget",
    "check_finite",
    "check_integer",
    "check_length",
    "too_deep",
]

#: Integers may be at most this large in magnitude (SQLite and most JSON
#: consumers hold 64-bit integers).
MAX_INTEGER = 2**63

#: Strings hold at most this many characters, lists at most this many items;
#: a walk over a value (copying it, rendering it as JSON, comparing it) visits
#: at most this many items at all levels.
MAX_LENGTH = 1_048_576

#: Expressions and values nest at most this deep.
MAX_DEPTH = 64

#: The text of one expression is at most this long; parsing is linear, but a
#: document has no business holding a 64 KiB expression.
MAX_SOURCE_LENGTH = 65_536


def check_integer(value: int, operation: str) -> int:
    """Return ``value`` when it is within ±2**63, else raise ExpressionError."""
    if -MAX_INTEGER <= value <= MAX_INTEGER:
        return value
    raise ExpressionError(
        f"{operation}: the integer result is out of range (more than 2**63 in magnitude)"
    )


def check_finite(value: float, operation: str) -> float:
    """Return ``value`` when it is a finite float (JSON cannot hold inf or NaN)."""
    if math.isfinite(value):
        return value
    raise ExpressionError(f"{operation}: the result is out of range (not a finite number)")


def check_length(length: int, what: str) -> None:
    """Refuse to build a string or list of ``length`` characters or items."""
    if length > MAX_LENGTH:
        raise ExpressionError(
            f"{what} would be {length:,} long, more than the limit of {MAX_LENGTH:,}"
        )


def too_deep(what: str) -> ExpressionError:
    """The error for a value or an expression nested deeper than MAX_DEPTH."""
    return ExpressionError(f"{what} is nested deeper than {MAX_DEPTH} levels")


class Budget:
    """How many more items one walk over a value may visit.

    Shared by every step of one operation, so the operation as a whole is
    bounded, however much structure its operands share.
    """

    __slots__ = ("operation", "remaining")

    def __init__(self, operation: str, limit: int = MAX_LENGTH) -> None:
        self.operation = operation
        self.remaining = limit

    def spend(self, items: int = 1) -> None:
        """Account for ``items`` more visited items; raise once over the limit."""
        self.remaining -= items
        if self.remaining < 0:
            raise ExpressionError(
                f"{self.operation}: the value is too large "
                f"(more than {MAX_LENGTH:,} items or characters at all levels)"
            )
