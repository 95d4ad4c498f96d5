"""The bounds every expression respects (docs/expressions.md).

An expression comes from a document that may not be trusted, so evaluation
must never exhaust memory, time or the stack. Each operation that builds a
value checks the size of what it is about to build *before* building it; each
operation that walks a value spends from a :class:`Budget`, so values that
share structure (``[[1] * 1000] * 1000``) cannot make a walk explode.
"""

from __future__ import annotations

import math
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar

from wfdsl.errors import ExpressionError

__all__ = [
    "MAX_DEPTH",
    "MAX_EVALUATION",
    "MAX_INTEGER",
    "MAX_LENGTH",
    "MAX_SOURCE_LENGTH",
    "Allowance",
    "Budget",
    "allowance",
    "charge",
    "check_finite",
    "check_integer",
    "check_length",
    "current_allowance",
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


#: One transition's expressions together may build and visit at most this
#: many characters and items (four of the largest single values): without
#: it, 200 expressions of 1 MB each took 200 MB before anything measured it.
MAX_EVALUATION = 4 * MAX_LENGTH


class Allowance:
    """What the expressions of one transition may still spend, in all.

    Every string, list or map an operation builds is charged (before it is
    built), every copy of a result, every item a walk visits. Once spent,
    every further charge fails too, so a transition that ran out stops
    doing work at once; :attr:`exceeded` tells the machine it happened,
    whatever caught the ExpressionError on the way.
    """

    __slots__ = ("exceeded", "limit", "remaining", "what", "where")

    def __init__(self, limit: int = MAX_EVALUATION) -> None:
        self.limit = limit
        self.remaining = limit
        self.exceeded = False
        self.what: str | None = None
        #: Where it ran out (a state path), for the caller's message.
        self.where: str | None = None

    def charge(self, amount: int, what: str) -> None:
        self.remaining -= amount
        if self.remaining < 0:
            if not self.exceeded:
                self.exceeded, self.what = True, what
            raise ExpressionError(
                f"{what}: the expressions of one transition may build and visit at most "
                f"{self.limit:,} characters and items in all"
            )


_current: ContextVar[Allowance | None] = ContextVar("wfdsl_allowance", default=None)


@contextmanager
def allowance(limit: int = MAX_EVALUATION) -> Iterator[Allowance]:
    """Evaluate under a fresh :class:`Allowance` (one per transition)."""
    spent = Allowance(limit)
    token = _current.set(spent)
    try:
        yield spent
    finally:
        _current.reset(token)


def current_allowance() -> Allowance | None:
    """The allowance evaluation spends from now (None outside a transition)."""
    return _current.get()


def charge(amount: int, what: str) -> None:
    """Spend from the current allowance, if any (outside a transition: none)."""
    current = _current.get()
    if current is not None:
        current.charge(amount, what)


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
    current = _current.get()
    if current is not None:
        current.charge(length, what)


def too_deep(what: str) -> ExpressionError:
    """The error for a value or an expression nested deeper than MAX_DEPTH."""
    return ExpressionError(f"{what} is nested deeper than {MAX_DEPTH} levels")


class Budget:
    """How many more items one walk over a value may visit.

    Shared by every step of one operation, so the operation as a whole is
    bounded, however much structure its operands share.
    """

    __slots__ = ("allowance", "operation", "remaining")

    def __init__(self, operation: str, limit: int = MAX_LENGTH) -> None:
        self.operation = operation
        self.remaining = limit
        self.allowance = _current.get()

    def spend(self, items: int = 1) -> None:
        """Account for ``items`` more visited items; raise once over the limit
        (this operation's, or the transition's allowance)."""
        allowance = self.allowance
        if allowance is not None:
            allowance.charge(items, self.operation)
        self.remaining -= items
        if self.remaining < 0:
            raise ExpressionError(
                f"{self.operation}: the value is too large "
                f"(more than {MAX_LENGTH:,} items or characters at all levels)"
            )
