"""Calls of built-in functions, compiled into closures.

Arguments arrive already compiled; ``coalesce`` evaluates them lazily, every
other function gets all of them, left to right. Errors are located at the
call, and Python exceptions escaping a function (or a hook) become
ExpressionError, except a hook's own WfdslError, which passes through.
"""

from __future__ import annotations

import difflib
from typing import Any

from wfdsl.errors import ExpressionError, WfdslError

from .evaluator import Evaluator, Scope, located, unexpected_error
from .function_spec import FunctionSpec
from .functions import BUILTIN_FUNCTIONS
from .hooks import Hooks

__all__ = ["compile_call"]


def compile_call(name: str, arguments: tuple[Evaluator, ...], column: int) -> Evaluator:
    """The evaluator of ``name(arguments)``, a call starting at ``column``.

    An unknown function or a wrong argument count compiles to an evaluator
    that raises: parsing succeeds, so the validator can report the call as a
    finding of its own, with the column from ``Expression.calls``.
    """
    spec = BUILTIN_FUNCTIONS.get(name)
    if spec is None:
        return _failing(_unknown_function(name), column)
    if not spec.accepts(len(arguments)):
        return _failing(
            ExpressionError(
                f"{name}() takes {spec.arity()}, got {len(arguments)}: {spec.signature}"
            ),
            column,
        )
    if name == "coalesce":
        return _coalesce(arguments)
    return _guarded(_invoke(spec, arguments), f"{name}()", column)


def _unknown_function(name: str) -> ExpressionError:
    close = difflib.get_close_matches(name, list(BUILTIN_FUNCTIONS), n=1)
    hint = f"; did you mean {close[0]}()?" if close else ""
    return ExpressionError(
        f"unknown function '{name}'{hint} (only built-in functions can be called)"
    )


def _failing(error: ExpressionError, column: int) -> Evaluator:
    """An evaluator that always raises ``error`` (a fresh copy each time)."""
    message = error.message

    def fail(scope: Scope, hooks: Hooks) -> Any:
        raise ExpressionError(message, column=column)

    return fail


def _coalesce(arguments: tuple[Evaluator, ...]) -> Evaluator:
    def first_present(scope: Scope, hooks: Hooks) -> Any:
        for argument in arguments:
            value = argument(scope, hooks)
            if value is not None:
                return value
        return None

    return first_present


def _invoke(spec: FunctionSpec, arguments: tuple[Evaluator, ...]) -> Evaluator:
    function = spec.implementation
    if spec.uses_hooks:

        def call_with_hooks(scope: Scope, hooks: Hooks) -> Any:
            return function(hooks, *[argument(scope, hooks) for argument in arguments])

        return call_with_hooks
    if len(arguments) == 1:
        (only,) = arguments

        def call_one(scope: Scope, hooks: Hooks) -> Any:
            return function(only(scope, hooks))

        return call_one
    if len(arguments) == 2:
        first, second = arguments

        def call_two(scope: Scope, hooks: Hooks) -> Any:
            return function(first(scope, hooks), second(scope, hooks))

        return call_two

    def call_many(scope: Scope, hooks: Hooks) -> Any:
        return function(*[argument(scope, hooks) for argument in arguments])

    return call_many


def _guarded(evaluator: Evaluator, operation: str, column: int) -> Evaluator:
    """Locate errors at the call and turn stray Python exceptions into ExpressionError."""

    def guarded(scope: Scope, hooks: Hooks) -> Any:
        try:
            return evaluator(scope, hooks)
        except ExpressionError as error:
            raise located(error, column) from None
        except WfdslError:
            raise  # a hook's own error, e.g. from the interpreter: not ours to reword
        except Exception as error:
            raise unexpected_error(error, operation, column) from error

    return guarded
