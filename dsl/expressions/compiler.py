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

from collections.abc import Callable, Iterator, Mapping
from typing import Any

from wfdsl.errors import ExpressionError

from .access import read_item, unknown_name
from .calls import compile_call
from .data import STRING, describe, equal, kind_of
from .evaluator import Evaluator, Scope, located
from .hooks import Hooks
from .nodes import (
    Arithmetic,
    Comparison,
    Comprehension,
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

__all__ = ["compile_tree"]

_NOT_FOUND = object()


def compile_tree(node: Node) -> Evaluator:
    """The evaluator for a syntax tree (already checked for depth by the parser)."""
    return _COMPILERS[type(node)](node)


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
        if all(type(key) is str for key in keys) and all(
            value is not _NOT_FOUND for value in values
        ):
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
            raise unknown_name(name, scope, column) from None

    return read_name


# -- paths ------------------------------------------------------------------------


def _path(node: Path) -> Evaluator:
    root = compile_tree(node.root)
    statics = [accessor.static_key for accessor in node.accessors]
    if isinstance(node.root, Name) and len(node.accessors) == 1 and type(statics[0]) is str:
        return _one_key_path(node.root, statics[0], node.accessors[0].start + 1)
    steps: tuple[tuple[bool, Any, int], ...] = tuple(
        (
            static is not None,
            static if static is not None else compile_tree(accessor.key),
            accessor.start + 1,
        )
        for accessor, static in zip(node.accessors, statics, strict=True)
    )

    def read_path(scope: Scope, hooks: Hooks) -> Any:
        value = root(scope, hooks)
        for is_static, key, column in steps:
            if value is None:
                return None
            value = read_item(value, key if is_static else key(scope, hooks), column)
        return value

    return read_path


def _one_key_path(root: Name, key: str, column: int) -> Evaluator:
    """``vars.total``: the most common expression of all, without a loop."""
    name, root_column = root.name, root.start + 1

    def read_key(scope: Scope, hooks: Hooks) -> Any:
        try:
            value = scope[name]
        except KeyError:
            raise unknown_name(name, scope, root_column) from None
        if type(value) is dict:
            return value.get(key)
        return read_item(value, key, column)

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
            raise located(error, column) from None

    return negative


def _binary(
    operation: Callable[[Any, Any], Any], left: Evaluator, right: Evaluator, column: int
) -> Evaluator:
    def binary(scope: Scope, hooks: Hooks) -> Any:
        a = left(scope, hooks)
        b = right(scope, hooks)
        try:
            return operation(a, b)
        except ExpressionError as error:
            raise located(error, column) from None

    return binary


def _arithmetic(node: Arithmetic) -> Evaluator:
    first = compile_tree(node.first)
    steps = tuple(
        (ARITHMETIC[op.operator], compile_tree(op.operand), op.start + 1) for op in node.rest
    )
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
                raise located(error, column) from None
        return total

    return chain


def _power(node: Power) -> Evaluator:
    return _binary(
        power, compile_tree(node.base), compile_tree(node.exponent), node.operator_start + 1
    )


def _not_equal(a: Any, b: Any) -> bool:
    return not equal(a, b)


def _in(a: Any, b: Any) -> bool:
    return is_member(a, b)


def _not_in(a: Any, b: Any) -> bool:
    return not is_member(a, b)


_TESTS: dict[str, Callable[[Any, Any], bool]] = {
    "==": equal,
    "!=": _not_equal,
    "in": _in,
    "not in": _not_in,
    **ORDERINGS,
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
                raise located(error, column) from None
            left = right
        return True

    return chain


def _single_comparison(
    operator: str, left: Evaluator, right: Evaluator, constant: Any, column: int
) -> Evaluator:
    if operator in ("==", "!=") and type(constant) in (str, int, float, bool, type(None)):
        return _equals_constant(left, constant, operator == "!=")
    if operator in ORDERINGS and type(constant) in (int, float):
        return _order_constant(operator, left, constant, column)
    if (
        operator in ("in", "not in")
        and type(constant) is list
        and constant
        and all(type(item) is str for item in constant)
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


def _order_constant(
    operator: str, left: Evaluator, constant: int | float, column: int
) -> Evaluator:
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
        raise located(error, column) from None


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
            raise located(error, column) from None

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
    then, condition, otherwise = (
        compile_tree(node.then),
        compile_tree(node.condition),
        compile_tree(node.otherwise),
    )

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


#: The scope key under which nested comprehensions share one step budget; no
#: name the grammar accepts can read it.
_STEPS = "\0comprehension steps"

#: Steps one comprehension (with the ones nested in it) may take: an item
#: visited costs 1, plus the length of what its element built. A step is a
#: few Python calls, so this keeps one evaluation well under a second, while
#: a payload (at most 1 MiB) rarely holds more items than this.
MAX_COMPREHENSION_STEPS = 262_144


class _Bound(Mapping[str, Any]):
    """The scope with a comprehension's loop name bound, without copying it."""

    __slots__ = ("_name", "_scope", "_value")

    def __init__(self, scope: Scope, name: str, value: Any) -> None:
        self._scope, self._name, self._value = scope, name, value

    def __getitem__(self, key: str) -> Any:
        if key == self._name:
            return self._value
        return self._scope[key]

    def __iter__(self) -> Iterator[str]:
        yield self._name
        yield from (key for key in self._scope if key != self._name and key != _STEPS)

    def __len__(self) -> int:
        return sum(1 for _ in self)


def _size(value: Any) -> int:
    """What one produced item costs: its length for text and collections."""
    return len(value) if isinstance(value, str | list | dict) else 0


def _comprehension(node: Comprehension) -> Evaluator:
    """``[e for x in xs if c]``. Nested comprehensions share one budget of
    MAX_COMPREHENSION_STEPS (an item visited, plus the size of what it
    produced), so ``[[y for y in xs] for x in xs]`` cannot go quadratic."""
    element = compile_tree(node.element)
    iterable = compile_tree(node.iterable)
    condition = compile_tree(node.condition) if node.condition is not None else None
    name, column = node.name, node.start + 1

    def comprehend(scope: Scope, hooks: Hooks) -> list[Any]:
        items = iterable(scope, hooks)
        if items is None:
            return []
        if type(items) is not list:
            raise ExpressionError(
                f"a comprehension goes over a list, not {describe(items)}; "
                "use keys(m) or values(m) for a map",
                column=node.iterable.start + 1,
            )
        steps = scope.get(_STEPS) if isinstance(scope, _Bound) else None
        if steps is None:
            steps = [MAX_COMPREHENSION_STEPS]
        result = []
        for item in items:
            inner = _Bound(_Bound(scope, _STEPS, steps), name, item)
            steps[0] -= 1
            if condition is None or condition(inner, hooks):
                value = element(inner, hooks)
                steps[0] -= _size(value)
                result.append(value)
            if steps[0] < 0:
                raise ExpressionError(
                    f"the comprehension would take more than {MAX_COMPREHENSION_STEPS:,} steps "
                    "(items visited plus the size of what it built)",
                    column=column,
                )
        return result

    return comprehend


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


def _call(node: FunctionCall) -> Evaluator:
    arguments = tuple(compile_tree(argument) for argument in node.arguments)
    return compile_call(node.name, arguments, node.start + 1)


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
    Comprehension: _comprehension,
    MapLiteral: _map,
    FunctionCall: _call,
}
