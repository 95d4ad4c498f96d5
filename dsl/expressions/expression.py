"""One parsed ``${ ... }`` body: what it reads, what it calls, and how to evaluate it."""

from __future__ import annotations

import functools
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field, replace
from typing import Any

from wfdsl.errors import ExpressionError, WfdslError

from .data import SCALAR_TYPES, export
from .evaluator import Evaluator, unexpected_error
from .hooks import NO_HOOKS, Hooks
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

__all__ = ["Call", "Expression", "NameUse", "explain", "parse_expression"]

PathKey = str | int


@dataclass(frozen=True, slots=True)
class NameUse:
    """A read of a name: ``vars.payment.id`` is NameUse('vars', ('vars', 'payment', 'id'), 1).

    ``path`` is the longest prefix whose keys are written literally; a
    computed key ends it (``vars[k].x`` gives ``('vars',)``). ``column`` is
    1-based within the expression's source.
    """

    name: str
    path: tuple[PathKey, ...]
    column: int
    #: Whether the expression itself copes with the value being missing: the
    #: read is an argument of ``coalesce`` (all but the last), ``has`` or
    #: ``is_null``, or under a ``has(...)`` of its path anywhere in the same
    #: expression (``vars.code if has(vars, 'code') else ''``).
    guarded: bool = False


@dataclass(frozen=True, slots=True)
class Call:
    """A call of a function by name, with its argument count and 1-based column."""

    name: str
    arg_count: int
    column: int


@dataclass(frozen=True, slots=True)
class _Program:
    """Everything derived from the text once: shared by all Expressions with that text."""

    tree: Node
    evaluator: Evaluator
    name_uses: tuple[NameUse, ...]
    calls: tuple[Call, ...]


@dataclass(frozen=True, slots=True)
class Expression:
    """One parsed ``${ ... }`` body. Create it with :func:`parse_expression`.

    ``source`` is the body without ``${`` and ``}`` and without surrounding
    whitespace; ``offset`` is where ``source`` starts in the string the
    expression was found in (0 when parsed on its own). Columns in errors,
    :class:`NameUse` and :class:`Call` are 1-based within ``source``.

    An Expression is also a compiled value (see ``CompiledValue``): it is
    what :func:`compile_string` returns for a string that is exactly one
    ``${ ... }``.
    """

    source: str
    program: _Program = field(repr=False, compare=False)
    offset: int = 0

    @property
    def name_uses(self) -> tuple[NameUse, ...]:
        """Every name read, in source order."""
        return self.program.name_uses

    @property
    def references(self) -> frozenset[tuple[PathKey, ...]]:
        """The static paths read: ``vars.items[0]`` gives ('vars', 'items', 0)."""
        return frozenset(use.path for use in self.program.name_uses)

    @property
    def root_names(self) -> frozenset[str]:
        """The names read: a subset of SCOPE_NAMES plus any names callers add."""
        return frozenset(use.name for use in self.program.name_uses)

    @property
    def calls(self) -> tuple[Call, ...]:
        """Every function call, in source order (unknown names included)."""
        return self.program.calls

    @property
    def is_constant(self) -> bool:
        """False: an expression is evaluated each time (even ``${ 1 }``)."""
        return False

    def at(self, offset: int) -> Expression:
        """The same expression, found at ``offset`` in its string."""
        return replace(self, offset=offset)

    def evaluate(self, scope: Mapping[str, Any], hooks: Hooks = NO_HOOKS) -> Any:
        """The value of the expression in ``scope``, as a fresh plain JSON value.

        Lists and maps in the result are new objects that share nothing with
        the scope, so the caller may keep or change them. Raises
        ExpressionError (with ``expression`` and ``column`` set) on any
        failure; a WfdslError raised by a hook passes through unchanged.
        """
        value = self.value_in(scope, hooks)
        if type(value) in SCALAR_TYPES:
            return value
        try:
            return export(value)
        except ExpressionError as error:
            error.expression = self.source
            raise
        except Exception as error:  # pragma: no cover - export raises ExpressionError only
            failure = unexpected_error(error, "copying the result")
            failure.expression = self.source
            raise failure from error

    def value_in(self, scope: Mapping[str, Any], hooks: Hooks = NO_HOOKS) -> Any:
        """Like :meth:`evaluate`, but the value may share lists and maps with
        the scope and with constants of the expression: read it, never change it.

        Cheaper for conditions and for rendering templates.
        """
        try:
            return self.program.evaluator(scope, hooks)
        except ExpressionError as error:
            if error.expression is None:
                error.expression = self.source
            raise
        except WfdslError:
            raise
        except Exception as error:
            failure = unexpected_error(error, "evaluation")
            failure.expression = self.source
            raise failure from error

    def expressions(self) -> Iterator[tuple[tuple[PathKey, ...], int, Expression]]:
        """This expression itself, at the root of its value."""
        yield ((), self.offset, self)


def parse_expression(text: str) -> Expression:
    """Parse and compile the body of a ``${ ... }`` (without ``${`` and ``}``).

    Cached by text: the same text always gives an equal Expression, parsed
    once per process. Raises ExpressionError for syntax errors, bad literals
    and text nested deeper than the bounds; unknown functions and wrong
    argument counts are reported when evaluated (and by the validator, from
    :attr:`Expression.calls`).
    """
    if not isinstance(text, str):
        raise ExpressionError(f"an expression must be text, not {type(text).__name__}")
    return Expression(text, _compile(text))


@functools.lru_cache(maxsize=4096)
def _compile(text: str) -> _Program:
    # The parser (Lark and the grammar) and the compiler (with the function
    # library) load with the first expression parsed: a process that has not
    # compiled a workflow yet, such as an engine serving parked runs, needs
    # neither.
    from .compiler import compile_tree
    from .parser import parse_tree

    tree = parse_tree(text)
    name_uses: list[NameUse] = []
    calls: list[Call] = []
    presence: list[tuple[PathKey, ...]] = []
    _collect(tree, name_uses, calls, presence, guarded=False)
    if presence:
        name_uses = [
            use
            if use.guarded or not any(use.path[: len(p)] == p for p in presence)
            else replace(use, guarded=True)
            for use in name_uses
        ]
    return _Program(tree, compile_tree(tree), tuple(name_uses), tuple(calls))


def _static_path(node: Node) -> tuple[PathKey, ...] | None:
    """``vars.a`` as ('vars', 'a'); None when a key is computed or the root is not a name."""
    if isinstance(node, Name):
        return (node.name,)
    if isinstance(node, Path) and isinstance(node.root, Name):
        path: list[PathKey] = [node.root.name]
        for accessor in node.accessors:
            key = accessor.static_key
            if key is None:
                return None
            path.append(key)
        return tuple(path)
    return None


def _collect(
    node: Node,
    name_uses: list[NameUse],
    calls: list[Call],
    presence: list[tuple[PathKey, ...]],
    *,
    guarded: bool,
) -> None:
    """Gather name reads and calls in source order (the tree is at most 64 deep),
    and in ``presence`` the paths a ``has(container, 'key')`` tests."""
    if isinstance(node, Name):
        name_uses.append(NameUse(node.name, (node.name,), node.start + 1, guarded))
    elif isinstance(node, Path):
        if isinstance(node.root, Name):
            path: list[PathKey] = [node.root.name]
            for accessor in node.accessors:
                key = accessor.static_key
                if key is None:
                    break
                path.append(key)
            name_uses.append(NameUse(node.root.name, tuple(path), node.root.start + 1, guarded))
        else:
            _collect(node.root, name_uses, calls, presence, guarded=guarded)
        for accessor in node.accessors:
            if accessor.static_key is None:
                _collect(accessor.key, name_uses, calls, presence, guarded=guarded)
    elif isinstance(node, Comprehension):
        _collect(node.iterable, name_uses, calls, presence, guarded=guarded)
        # The loop name is bound inside: reads of it are not reads of the scope.
        inner: list[NameUse] = []
        for part in (node.element, node.condition):
            if part is not None:
                _collect(part, inner, calls, presence, guarded=guarded)
        name_uses.extend(use for use in inner if use.name != node.name)
    elif isinstance(node, FunctionCall):
        calls.append(Call(node.name, len(node.arguments), node.start + 1))
        last = len(node.arguments) - 1
        for position, argument in enumerate(node.arguments):
            tolerant = (
                (node.name == "coalesce" and position < last)
                or (node.name == "has" and position == 0)
                or node.name == "is_null"
            )
            _collect(argument, name_uses, calls, presence, guarded=guarded or tolerant)
        if node.name == "has" and len(node.arguments) == 2:
            container = _static_path(node.arguments[0])
            tested = node.arguments[1]
            if (
                container is not None
                and isinstance(tested, Literal)
                and (type(tested.value) is str or type(tested.value) is int)
            ):
                presence.append((*container, tested.value))
    else:
        for child in _children(node):
            _collect(child, name_uses, calls, presence, guarded=guarded)


def _children(node: Node) -> tuple[Node, ...]:
    if isinstance(node, Unary):
        return (node.operand,)
    if isinstance(node, (Arithmetic, Comparison)):
        return (node.first, *(operation.operand for operation in node.rest))
    if isinstance(node, Power):
        return (node.base, node.exponent)
    if isinstance(node, Logical):
        return node.operands
    if isinstance(node, Conditional):
        return (node.then, node.condition, node.otherwise)
    if isinstance(node, ListLiteral):
        return node.items
    if isinstance(node, MapLiteral):
        return tuple(part for entry in node.entries for part in entry)
    assert isinstance(node, Literal), node
    return ()


def explain(error: ExpressionError) -> str:
    """The error's message with its expression and a caret under the column.

    ::

        cannot apply '+' to a string and a number
          vars.name + 1
                    ^
    """
    if error.expression is None or error.column is None:
        return error.message
    text = error.expression
    column = min(max(error.column, 1), len(text) + 1)
    line_start = text.rfind("\n", 0, column - 1) + 1
    line_end = text.find("\n", column - 1)
    line = text[line_start : line_end if line_end != -1 else len(text)]
    caret = " " * (column - 1 - line_start) + "^"
    return f"{error.message}\n  {line}\n  {caret}"
