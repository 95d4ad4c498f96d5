"""Syntax tree to Python closures, compiled once per expression text.

Each node becomes a function ``(scope, hooks) -> value`` that calls its
children's functions directly: no tree walking, no dispatch at evaluation
time. Common shapes get their own closures (a path of one key, a comparison
with a constant, ``x in ['a', 'b']``), so a typical condition costs a handful
of Python calls. Constant lists and maps are built once and shared: no
operator mutates an operand, and results are copied before they leave the
expression.

Errors raised below a node get the node's column when they have none yet, so
the innermost failing operation is the one reported.
"""

from __future__ import annotations

import difflib
from collections.abc import Callable, Mapping
from typing import Any

from wfdsl.errors import ExpressionError, WfdslError

from .data import LIST, MAP, NUMBER, STRING, describe, equal, kind_of
from .function_spec import FunctionSpec, preview
from .functions import BUILTIN_FUNCTIONS
from .hooks import Hooks
from .nodes import (
    Arithmetic,
    Comparison,
    Conditional,
    FunctionCall,
    ListLiteral,
    Literal,
    Logical,
    MapLiteral,
    Name,
    Node,
    Path,
    Power,
    Unary,
)
from .operators import ARITHMETIC, ORDERINGS, is_member, negate, power

__all__ = ["Evaluator", "compile_tree", "unexpected_error"]

Scope = Mapping[str, Any]
Evaluator = Callable[[Scope, Hooks], Any]

_NOT_FOUND = object()


def compile_tree(node: Node) -> Evaluator:
    """The evaluator for a syntax tree (already checked for depth by the parser)."""
    return _COMPILERS[type(node)](node)


# -- errors ---------------------------------------------------------------------

def _located(error: ExpressionError, column: int) -> ExpressionError:
    if error.column is None:
        error.column = column
    return error


def unexpected_error(error: Exception, operation: str, column: int | None = None) -> ExpressionError:
    """An ExpressionError standing for a Python exception escaping an operation."""
    if isinstance(error, RecursionError):
        return ExpressionError(f"{operation}: the value is nested too deeply", column=column)
    if isinstance(error, MemoryError):
        return ExpressionError(f"{operation}: the value is too large", column=column)
    return ExpressionError(f"{operation} failed: {type(error).__name__}: {error}", column=column)


def _unknown_name(name: str, scope: Scope, column: int) -> ExpressionError:
    try:
        available = sorted(str(key) for key in scope)
    except Exception:  # pragma: no cover - a scope that cannot list its names
        available = []
    close = difflib.get_close_matches(name, available, n=1)
    hint = f"; did you mean '{close[0]}'?" if close else ""
    shown = ", ".join(available[:12]) + (", ..." if len(available) > 12 else "")
    where = f" (names here: {shown})" if available else ""
    return ExpressionError(f"unknown name '{name}'{hint}{where}", column=column)


# -- constants and names ------------------------------------------------------------

def _constant(value: Any) -> Evaluator:
    def constant(scope: Scope, hooks: Hooks) -> Any:
        return value

    return constant


def _folded(node: Node) -> Any:
    """The value of a node made only of literals (built once, then shared), or _NOT_FOUND."""
    if isinstance(node, Literal):
        return node.value
    if isinstance(node, ListLiteral):
        items = [_folded(item) for item in node.items]
        return _NOT_FOUND if any(item is _NOT_FOUND for item in items) else items
    if isinstance(node, MapLiteral):
        keys = [_folded(key) for key, _ in node.entries]
        values = [_folded(value) for _, value in node.entries]
        if all(type(key) is str for key in keys) and all(value is not _NOT_FOUND for value in values):
            return dict(zip(keys, values, strict=True))
    return _NOT_FOUND


def _literal(node: Literal) -> Evaluator:
    return _constant(node.value)


def _name(node: Name) -> Evaluator:
    name, column = node.name, node.start + 1

    def read_name(scope: Scope, hooks: Hooks) -> Any:
        try:
            return scope[name]
        except KeyError:
            raise _unknown_name(name, scope, column) from None

    return read_name


# -- paths ------------------------------------------------------------------------

def _step(container: Any, key: Any, column: int) -> Any:
    """container[key] by the language's rules: missing or null gives null."""
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
    return _step_slowly(container, key, column)


def _step_slowly(container: Any, key: Any, column: int) -> Any:
    kind, key_kind = kind_of(container), kind_of(key)
    if kind == MAP:
        if key_kind == STRING:
            return container.get(str(key))
        raise ExpressionError(f"map keys are strings; cannot look up {describe(key)} in a map",
                              column=column)
    if kind == LIST:
        if key_kind == NUMBER and not isinstance(key, float):
            index, size = int(key), len(container)
            return container[index] if -size <= index < size else None
        hint = "; use len(x) for its length" if key in ("length", "size", "count") else ""
        shown = f"key {preview(str(key))}" if key_kind == STRING else describe(key)
        raise ExpressionError(f"list items are numbered; cannot look up {shown} in a list{hint}",
                              column=column)
    shown = f"key {preview(str(key))}" if key_kind == STRING else f"item {describe(key)}"
    raise ExpressionError(
        f"cannot look up {shown} in {describe(container)}: only maps and lists have items",
        column=column)


def _path(node: Path) -> Evaluator:
    root = compile_tree(node.root)
    statics = [accessor.static_key for accessor in node.accessors]
    if isinstance(node.root, Name) and len(node.accessors) == 1 and type(statics[0]) is str:
        return _one_key_path(node.root, statics[0], node.accessors[0].start + 1)
    steps: tuple[tuple[bool, Any, int], ...] = tuple(
        (static is not None, static if static is not None else compile_tree(accessor.key),
         accessor.start + 1)
        for accessor, static in zip(node.accessors, statics, strict=True)
    )

    def read_path(scope: Scope, hooks: Hooks) -> Any:
        value = root(scope, hooks)
        for is_static, key, column in steps:
            if value is None:
                return None
            value = _step(value, key if is_static else key(scope, hooks), column)
        return value

    return read_path


def _one_key_path(root: Name, key: str, column: int) -> Evaluator:
    """``vars.total``: the most common expression of all, without a loop."""
    name, root_column = root.name, root.start + 1

    def read_key(scope: Scope, hooks: Hooks) -> Any:
        try:
            value = scope[name]
        except KeyError:
            raise _unknown_name(name, scope, root_column) from None
        if type(value) is dict:
            return value.get(key)
        return _step(value, key, column)

    return read_key


# -- operators --------------------------------------------------------------------

def _unary(node: Unary) -> Evaluator:
    operand, column = compile_tree(node.operand), node.start + 1
    if node.operator == "not":
        def logical_not(scope: Scope, hooks: Hooks) -> bool:
            return not operand(scope, hooks)

        return logical_not

    def negative(scope: Scope, hooks: Hooks) -> Any:
        value = operand(scope, hooks)
        try:
            return negate(value)
        except ExpressionError as error:
            raise _located(error, column) from None

    return negative


def _binary(operation: Callable[[Any, Any], Any], left: Evaluator, right: Evaluator,
            column: int) -> Evaluator:
    def binary(scope: Scope, hooks: Hooks) -> Any:
        a = left(scope, hooks)
        b = right(scope, hooks)
        try:
            return operation(a, b)
        except ExpressionError as error:
            raise _located(error, column) from None

    return binary


def _arithmetic(node: Arithmetic) -> Evaluator:
    first = compile_tree(node.first)
    steps = tuple((ARITHMETIC[op.operator], compile_tree(op.operand), op.start + 1) for op in node.rest)
    if len(steps) == 1:
        operation, operand, column = steps[0]
        return _binary(operation, first, operand, column)

    def chain(scope: Scope, hooks: Hooks) -> Any:
        total = first(scope, hooks)
        for operation, operand, column in steps:
            value = operand(scope, hooks)
            try:
                total = operation(total, value)
            except ExpressionError as error:
                raise _located(error, column) from None
        return total

    return chain


def _power(node: Power) -> Evaluator:
    return _binary(power, compile_tree(node.base), compile_tree(node.exponent), node.operator_start + 1)


def _not_equal(a: Any, b: Any) -> bool:
    return not equal(a, b)


def _in(a: Any, b: Any) -> bool:
    return is_member(a, b)


def _not_in(a: Any, b: Any) -> bool:
    return not is_member(a, b)


_TESTS: dict[str, Callable[[Any, Any], bool]] = {
    "==": equal, "!=": _not_equal, "in": _in, "not in": _not_in, **ORDERINGS,
}


def _comparison(node: Comparison) -> Evaluator:
    first = compile_tree(node.first)
    steps = tuple((op.operator, compile_tree(op.operand), op.start + 1) for op in node.rest)
    if len(steps) == 1:
        operator, right, column = steps[0]
        return _single_comparison(operator, first, right, _folded(node.rest[0].operand), column)
    tests = tuple((_TESTS[operator], operand, column) for operator, operand, column in steps)

    def chain(scope: Scope, hooks: Hooks) -> bool:
        # a < b < c means a < b and b < c, with b evaluated once.
        left = first(scope, hooks)
        for test, operand, column in tests:
            right = operand(scope, hooks)
            try:
                if not test(left, right):
                    return False
            except ExpressionError as error:
                raise _located(error, column) from None
            left = right
        return True

    return chain


def _single_comparison(operator: str, left: Evaluator, right: Evaluator, constant: Any,
                       column: int) -> Evaluator:
    if operator in ("==", "!=") and type(constant) in (str, int, float, bool, type(None)):
        return _equals_constant(left, constant, operator == "!=")
    if operator in ORDERINGS and type(constant) in (int, float):
        return _order_constant(operator, left, constant, column)
    if operator in ("in", "not in") and type(constant) is list and constant and all(
        type(item) is str for item in constant
    ):
        return _in_strings(left, frozenset(constant), operator == "not in", column)
    return _binary(_TESTS[operator], left, right, column)


def _equals_constant(left: Evaluator, constant: Any, negated: bool) -> Evaluator:
    constant_type = type(constant)

    def equals(scope: Scope, hooks: Hooks) -> bool:
        value = left(scope, hooks)
        same = value == constant if type(value) is constant_type else equal(value, constant)
        return same is not negated

    return equals


def _order_constant(operator: str, left: Evaluator, constant: int | float, column: int) -> Evaluator:
    # One closure per operator: the number-number case is a single Python
    # comparison, the rest goes through the language's ordering rules.
    ordering = ORDERINGS[operator]

    if operator == ">":
        def greater(scope: Scope, hooks: Hooks) -> bool:
            value = left(scope, hooks)
            if type(value) is int or type(value) is float:
                return bool(value > constant)
            return _ordered(ordering, value, constant, column)

        return greater
    if operator == ">=":
        def greater_equal(scope: Scope, hooks: Hooks) -> bool:
            value = left(scope, hooks)
            if type(value) is int or type(value) is float:
                return bool(value >= constant)
            return _ordered(ordering, value, constant, column)

        return greater_equal
    if operator == "<":
        def less(scope: Scope, hooks: Hooks) -> bool:
            value = left(scope, hooks)
            if type(value) is int or type(value) is float:
                return bool(value < constant)
            return _ordered(ordering, value, constant, column)

        return less

    def less_equal(scope: Scope, hooks: Hooks) -> bool:
        value = left(scope, hooks)
        if type(value) is int or type(value) is float:
            return bool(value <= constant)
        return _ordered(ordering, value, constant, column)

    return less_equal


def _ordered(ordering: Callable[[Any, Any], Any], value: Any, constant: Any, column: int) -> bool:
    try:
        return bool(ordering(value, constant))
    except ExpressionError as error:
        raise _located(error, column) from None


def _in_strings(left: Evaluator, options: frozenset[str], negated: bool, column: int) -> Evaluator:
    """``x in ['DE', 'FR']``: a set lookup when x is a string."""
    as_list = list(options)

    def member(scope: Scope, hooks: Hooks) -> bool:
        value = left(scope, hooks)
        if type(value) is str:
            return (value in options) is not negated
        try:
            return is_member(value, as_list) is not negated
        except ExpressionError as error:
            raise _located(error, column) from None

    return member


def _logical(node: Logical) -> Evaluator:
    operands = tuple(compile_tree(operand) for operand in node.operands)
    # Like Python, `and` and `or` give one of their operands, not a bool:
    # vars.name or 'anonymous'.
    if len(operands) == 2:
        first, second = operands
        if node.operator == "and":
            def both(scope: Scope, hooks: Hooks) -> Any:
                return first(scope, hooks) and second(scope, hooks)

            return both

        def either(scope: Scope, hooks: Hooks) -> Any:
            return first(scope, hooks) or second(scope, hooks)

        return either
    stop_when_true = node.operator == "or"

    def chain(scope: Scope, hooks: Hooks) -> Any:
        value = None
        for operand in operands:
            value = operand(scope, hooks)
            if bool(value) is stop_when_true:
                return value
        return value

    return chain


def _conditional(node: Conditional) -> Evaluator:
    then, condition, otherwise = (compile_tree(node.then), compile_tree(node.condition),
                                  compile_tree(node.otherwise))

    def choose(scope: Scope, hooks: Hooks) -> Any:
        return then(scope, hooks) if condition(scope, hooks) else otherwise(scope, hooks)

    return choose


# -- collections --------------------------------------------------------------------

def _list(node: ListLiteral) -> Evaluator:
    constant = _folded(node)
    if constant is not _NOT_FOUND:
        return _constant(constant)
    items = tuple(compile_tree(item) for item in node.items)

    def build_list(scope: Scope, hooks: Hooks) -> list[Any]:
        return [item(scope, hooks) for item in items]

    return build_list


def _map_key(key: Any, column: int) -> str:
    if kind_of(key) == STRING:
        return str(key)
    raise ExpressionError(f"map keys must be strings, not {describe(key)}", column=column)


def _map(node: MapLiteral) -> Evaluator:
    constant = _folded(node)
    if constant is not _NOT_FOUND:
        return _constant(constant)
    entries = tuple(
        (compile_tree(key), compile_tree(value), key.start + 1) for key, value in node.entries
    )

    def build_map(scope: Scope, hooks: Hooks) -> dict[str, Any]:
        result = {}
        for key_of, value_of, column in entries:
            key = key_of(scope, hooks)
            if type(key) is not str:
                key = _map_key(key, column)
            result[key] = value_of(scope, hooks)
        return result

    return build_map


# -- calls --------------------------------------------------------------------------

def _call(node: FunctionCall) -> Evaluator:
    column = node.start + 1
    spec = BUILTIN_FUNCTIONS.get(node.name)
    if spec is None:
        return _failing(_unknown_function(node.name), column)
    if not spec.accepts(len(node.arguments)):
        return _failing(ExpressionError(
            f"{node.name}() takes {spec.arity()}, got {len(node.arguments)}: "
            f"{spec.signature}"), column)
    arguments = tuple(compile_tree(argument) for argument in node.arguments)
    if node.name == "coalesce":
        return _coalesce(arguments)
    return _guarded(_invoke(spec, arguments), f"{node.name}()", column)


def _unknown_function(name: str) -> ExpressionError:
    close = difflib.get_close_matches(name, list(BUILTIN_FUNCTIONS), n=1)
    hint = f"; did you mean {close[0]}()?" if close else ""
    return ExpressionError(f"unknown function '{name}'{hint} (only built-in functions can be called)")


def _failing(error: ExpressionError, column: int) -> Evaluator:
    """An evaluator that always raises: parse succeeds, so the validator can
    report an unknown function as a finding with its own code."""
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
            raise _located(error, column) from None
        except WfdslError:
            raise  # a hook's own error, e.g. from the interpreter: not ours to reword
        except Exception as error:
            raise unexpected_error(error, operation, column) from error

    return guarded


_COMPILERS: dict[type[Node], Callable[[Any], Evaluator]] = {
    Literal: _literal,
    Name: _name,
    Path: _path,
    Unary: _unary,
    Arithmetic: _arithmetic,
    Power: _power,
    Comparison: _comparison,
    Logical: _logical,
    Conditional: _conditional,
    ListLiteral: _list,
    MapLiteral: _map,
    FunctionCall: _call,
}
