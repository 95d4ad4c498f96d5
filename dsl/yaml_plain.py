"""The plain JSON copy and the source map, built from ruamel's node graph.

One walk over the composed nodes gives, for every JSON path, where its key
and value are (with end positions, which only the nodes carry), the plain
value (str keys; ints, floats, bools, None, str; no ruamel types), and the
findings a mapping walk can see: every duplicated key (WF003), keys that are
collections (WF104) and values JSON cannot hold (WF104). The loader has
already bounded the alias expansion, so walking shared nodes once per use is
affordable.
"""

from __future__ import annotations

import datetime
import math
from typing import Any

from ruamel.yaml import YAML
from ruamel.yaml.nodes import MappingNode, Node, ScalarNode, SequenceNode

from .findings import CODES, Finding
from .source import JsonPath, NodeSpan, Span

__all__ = ["PlainBuilder"]

_STR = "tag:yaml.org,2002:str"
_MERGE = "tag:yaml.org,2002:merge"
_TIMESTAMP = "tag:yaml.org,2002:timestamp"


def _span(node: Node) -> Span:
    start, end = node.start_mark, node.end_mark
    if end is None:
        return Span(start.line + 1, start.column + 1)
    return Span(start.line + 1, start.column + 1, end.line + 1, end.column + 1)


class PlainBuilder:
    """Walks a composed document once; read ``nodes``, ``findings``, ``too_deep_at`` after."""

    def __init__(self, yaml: YAML, text: str, file: str | None, max_depth: int) -> None:
        self._yaml = yaml
        self._text = text
        self._file = file
        self._max_depth = max_depth
        self.nodes: dict[JsonPath, NodeSpan] = {}
        self.findings: list[Finding] = []
        self.too_deep_at: tuple[int, int] | None = None

    def build(self, root: Node) -> Any:
        """The plain JSON value of ``root`` (a mapping node, normally)."""
        self.nodes[()] = NodeSpan(_span(root))
        return self._value(root, (), 1)

    def _report(
        self, code: str, message: str, node: Node, path: JsonPath, suggestion: str | None = None
    ) -> None:
        span = _span(node)
        self.findings.append(
            Finding(
                code,
                CODES[code].severity,
                message,
                self._file,
                span.line,
                span.col,
                path=path,
                suggestion=suggestion,
                end_line=span.end_line,
                end_col=span.end_col,
            )
        )

    def _value(self, node: Node, path: JsonPath, depth: int) -> Any:
        if depth > self._max_depth:
            # Report the outermost node of the chain, the one below the root.
            if self.too_deep_at is None:
                outer = self.nodes.get(path[:1], self.nodes[()]).value
                self.too_deep_at = (outer.line, outer.col)
            return None
        if isinstance(node, MappingNode):
            return self._mapping(node, path, depth)
        if isinstance(node, SequenceNode):
            items = []
            for index, child in enumerate(node.value):
                child_path = (*path, index)
                self.nodes[child_path] = NodeSpan(_span(child))
                items.append(self._value(child, child_path, depth + 1))
            return items
        return self._scalar(node, path)

    def _key(self, key: Node, path: JsonPath) -> str:
        if isinstance(key, ScalarNode):
            # A non-string scalar key keeps its text: `1:` is "1", `true:` is
            # "true", as a user reading the document would name it.
            return str(key.value)
        text = self._text[key.start_mark.index : key.end_mark.index].strip() or "?"
        kind = "mapping" if isinstance(key, MappingNode) else "list"
        self._report(
            "WF104",
            f"a key must be a string, found a {kind} {text}",
            key,
            path,
            suggestion="quote the key",
        )
        return text

    def _mapping(self, node: MappingNode, path: JsonPath, depth: int) -> dict[str, Any]:
        out: dict[str, Any] = {}
        merges: list[Node] = []
        for key_node, value_node in node.value:
            if key_node.tag == _MERGE:
                merges.append(value_node)
                continue
            key = self._key(key_node, path)
            child_path = (*path, key)
            if key in out:
                first = self.nodes[child_path].key
                where = f" (first at line {first.line})" if first is not None else ""
                self._report(
                    "WF003",
                    f"the key '{key}' appears twice in this mapping{where}",
                    key_node,
                    child_path,
                    suggestion="remove or rename one of them",
                )
                continue
            self.nodes[child_path] = NodeSpan(_span(value_node), _span(key_node))
            out[key] = self._value(value_node, child_path, depth + 1)
        # `<<: *base` merge keys: keys written here win, then earlier merges.
        for merged in merges:
            sources = merged.value if isinstance(merged, SequenceNode) else [merged]
            for source in sources:
                if not isinstance(source, MappingNode):
                    continue
                for key_node, value_node in source.value:
                    if key_node.tag == _MERGE:
                        continue
                    key = self._key(key_node, path)
                    if key in out:
                        continue
                    child_path = (*path, key)
                    self.nodes[child_path] = NodeSpan(_span(value_node), _span(key_node))
                    out[key] = self._value(value_node, child_path, depth + 1)
        return out

    def _scalar(self, node: Node, path: JsonPath) -> Any:
        if node.tag == _STR or not isinstance(node, ScalarNode):
            return node.value if isinstance(node.value, str) else None
        if node.tag == _TIMESTAMP:
            # Keep what was written: the validator parses timestamps itself,
            # and ruamel's datetime would lose the original offset spelling.
            return str(node.value)
        value = self._yaml.constructor.construct_object(node, deep=True)
        if value is None or isinstance(value, bool):
            return value
        if isinstance(value, int) and type(value).__name__ == "ScalarBoolean":
            return bool(value)
        if isinstance(value, int):
            return int(value)
        if isinstance(value, float):
            if math.isfinite(value):
                return float(value)
            self._report(
                "WF104",
                f"{node.value} is not a number JSON can hold",
                node,
                path,
                suggestion=f"quote it for the string '{node.value}'",
            )
            return str(node.value)
        if isinstance(value, str):
            return str(value)
        if isinstance(value, datetime.date):
            return value.isoformat()
        # `!!binary`, `!!set` as a scalar and other tags JSON has no type for.
        self._report(
            "WF104",
            f"a value tagged {node.tag} is not JSON (string, number, boolean, null, list or mapping)",
            node,
            path,
            suggestion="remove the tag",
        )
        return str(node.value)
