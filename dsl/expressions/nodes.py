"""The syntax tree of one expression: frozen records with positions.

``start`` and ``end`` are 0-based character offsets into the expression's
text (``end`` exclusive); ``depth`` is how deeply the node nests (a leaf is 0,
every other node is one more than its deepest child), checked against
MAX_DEPTH while the tree is built.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

__all__ = [
    "Accessor",
    "Arithmetic",
    "Comparison",
    "Comprehension",
    "Conditional",
    "FunctionCall",
    "ListLiteral",
    "Literal",
    "Logical",
    "MapLiteral",
    "Name",
    "Node",
    "Operation",
    "Path",
    "Power",
    "Unary",
]


@dataclass(frozen=True, slots=True)
class Node:
    """Base of every syntax node."""

    start: int
    end: int
    depth: int


@dataclass(frozen=True, slots=True)
class Literal(Node):
    """A constant: a number, string, bool or null written in the source."""

    value: Any


@dataclass(frozen=True, slots=True)
class Name(Node):
    """A root name such as ``vars`` or ``input``."""

    name: str


@dataclass(frozen=True, slots=True)
class Accessor:
    """One step of a path: ``.key`` or ``[expression]``.

    ``.key`` is stored as a Literal string, so both forms read the same way.
    """

    start: int
    key: Node

    @property
    def static_key(self) -> str | int | None:
        """The key when it is a string or integer literal, else None."""
        if isinstance(self.key, Literal):
            value = self.key.value
            if type(value) is str or type(value) is int:
                return value
        return None


@dataclass(frozen=True, slots=True)
class Path(Node):
    """A value followed by keys and indexes: ``vars.items[0].name``."""

    root: Node
    accessors: tuple[Accessor, ...]


@dataclass(frozen=True, slots=True)
class Unary(Node):
    """``-x`` or ``not x``."""

    operator: str
    operand: Node


@dataclass(frozen=True, slots=True)
class Operation:
    """One ``<operator> <operand>`` step of a chain; ``start`` is the operator's."""

    operator: str
    operand: Node
    start: int


@dataclass(frozen=True, slots=True)
class Arithmetic(Node):
    """A left-associative chain of ``+ -`` or of ``* / // %``."""

    first: Node
    rest: tuple[Operation, ...]


@dataclass(frozen=True, slots=True)
class Power(Node):
    """``base ** exponent`` (right-associative)."""

    base: Node
    exponent: Node
    operator_start: int


@dataclass(frozen=True, slots=True)
class Comparison(Node):
    """A chain of comparisons, ``a < b <= c``, meaning ``a < b and b <= c``."""

    first: Node
    rest: tuple[Operation, ...]


@dataclass(frozen=True, slots=True)
class Logical(Node):
    """``a and b and c`` or ``a or b or c``."""

    operator: str
    operands: tuple[Node, ...]


@dataclass(frozen=True, slots=True)
class Conditional(Node):
    """``then if condition else otherwise``."""

    then: Node
    condition: Node
    otherwise: Node


@dataclass(frozen=True, slots=True)
class ListLiteral(Node):
    """``[a, b, c]``."""

    items: tuple[Node, ...]


@dataclass(frozen=True, slots=True)
class MapLiteral(Node):
    """``{'k': v, ...}``; keys are expressions that must give strings."""

    entries: tuple[tuple[Node, Node], ...]


@dataclass(frozen=True, slots=True)
class FunctionCall(Node):
    """``name(arguments)``: only built-in functions exist."""

    name: str
    arguments: tuple[Node, ...]


@dataclass(frozen=True, slots=True)
class Comprehension(Node):
    """``[element for name in iterable if condition]``: one ``for``, an optional ``if``.

    ``name`` is bound in ``element`` and ``condition`` only; ``name_start``
    is where it is written.
    """

    element: Node
    name: str
    name_start: int
    iterable: Node
    condition: Node | None
