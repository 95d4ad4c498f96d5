"""Where things are in a document: spans and the map from JSON path to span.

The loader builds a :class:`SourceMap` from the ruamel round-trip tree; the
compiler, the checks, the CLI and the designer only ever ask it "where is
``$.states.charge.next``?" and never touch ruamel themselves.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field

__all__ = ["JsonPath", "NodeSpan", "PathKey", "SourceMap", "Span"]

PathKey = str | int
JsonPath = tuple[PathKey, ...]


@dataclass(frozen=True, slots=True)
class Span:
    """A region of the source text; lines and columns are 1-based, end exclusive."""

    line: int
    col: int
    end_line: int | None = None
    end_col: int | None = None


@dataclass(frozen=True, slots=True)
class NodeSpan:
    """Where one node is: its key in the parent mapping (if any) and its value."""

    value: Span
    key: Span | None = None


@dataclass(frozen=True, slots=True)
class SourceMap:
    """JSON path -> :class:`NodeSpan` for every node of one document."""

    file: str | None = None
    nodes: Mapping[JsonPath, NodeSpan] = field(default_factory=dict)

    def node(self, path: JsonPath) -> NodeSpan | None:
        """The span of exactly this path, or ``None``."""
        return self.nodes.get(tuple(path))

    def locate(self, path: JsonPath, *, key: bool = False) -> Span:
        """The value's span (or the key's, with ``key=True``) of ``path``.

        A path that does not exist (a missing key) falls back to its nearest
        existing ancestor, so a finding about something absent still points
        at the mapping that lacks it. The document's root is line 1, col 1.
        """
        path = tuple(path)
        while True:
            found = self.nodes.get(path)
            if found is not None:
                if key and found.key is not None:
                    return found.key
                return found.value
            if not path:
                return Span(1, 1)
            path = path[:-1]

    def __iter__(self) -> Iterator[JsonPath]:
        return iter(self.nodes)

    def __len__(self) -> int:
        return len(self.nodes)
