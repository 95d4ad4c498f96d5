"""What compiled expressions are made of: evaluator functions, and how their errors are located."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from wfdsl.errors import ExpressionError

from .hooks import Hooks

__all__ = ["Evaluator", "Scope", "located", "unexpected_error"]

#: The names an expression can read, each bound to a JSON value.
Scope = Mapping[str, Any]

#: One compiled node: given the scope and the hooks, its value.
Evaluator = Callable[[Scope, Hooks], Any]


def located(error: ExpressionError, column: int) -> ExpressionError:
    """``error`` with ``column`` filled in, unless a node nested deeper already set it.

    Errors travel up through every enclosing node, so the innermost failing
    operation is the one that keeps its column.
    """
    if error.column is None:
        error.column = column
    return error


def unexpected_error(
    error: Exception, operation: str, column: int | None = None
) -> ExpressionError:
    """An ExpressionError standing for a Python exception escaping an operation."""
    if isinstance(error, RecursionError):
        return ExpressionError(f"{operation}: the value is nested too deeply", column=column)
    if isinstance(error, MemoryError):
        return ExpressionError(f"{operation}: the value is too large", column=column)
    return ExpressionError(f"{operation} failed: {type(error).__name__}: {error}", column=column)
