"""The plain JSON copy and the source map, built from a composed node graph.

One walk over the composed nodes gives, for every JSON path, where its key
and value are (with end positions, which only the nodes carry), the plain
value (str keys; ints, floats, bools, None, str; no ruamel types), and the
findings a mapping walk can see: every duplicated key (WF003), keys that are
collections (WF104) and values JSON cannot hold (WF104). The loader has
already bounded the alias expansion, so walking shared nodes once per use is
affordable.

The nodes come in two flavours with the same shape (``id``, ``tag``,
``value``, ``start_mark``/``end_mark`` with 0-based ``line``, ``column``,
``index``): ruamel.yaml's, and PyYAML's composed by libyaml, which is ten
times faster. libyaml resolves scalars by YAML 1.1 (``yes`` a boolean,
``1:20`` a number), so its plain scalars arrive untyped (:data:`PLAIN`) and
are typed here by ruamel's YAML 1.2 resolver; values are always constructed
by ruamel, so both flavours give the same data. What the fast flavour cannot
reproduce exactly (merge keys, collection keys, explicit tags, values ruamel
refuses to construct) raises :class:`NeedsRuamel` and the loader composes the
text again with ruamel.
"""

from __future__ import annotations

import bisect
import datetime
import math
import re
from typing import Any

from ruamel.yaml import YAML
from ruamel.yaml.nodes import ScalarNode as RuamelScalar
from ruamel.yaml.resolver import VersionedResolver

from .findings import CODES, Finding
from .source import JsonPath, NodeSpan, Span
from .yaml_scan import line_starts

__all__ = ["PLAIN", "NeedsRuamel", "PlainBuilder", "resolve_plain"]

PLAIN = "wfdsl:plain"
"""The tag the fast composer gives a plain scalar, typed later by YAML 1.2 rules."""

_STR = "tag:yaml.org,2002:str"
_SEQ = "tag:yaml.org,2002:seq"
_MAP = "tag:yaml.org,2002:map"
_MERGE = "tag:yaml.org,2002:merge"
_TIMESTAMP = "tag:yaml.org,2002:timestamp"
# What the fast path constructs itself (through ruamel's constructor); any
# other tag there was written explicitly, and ruamel decides what it means.
_FAST_SCALAR_TAGS = frozenset(
    {
        "tag:yaml.org,2002:null",
        "tag:yaml.org,2002:bool",
        "tag:yaml.org,2002:int",
        "tag:yaml.org,2002:float",
        _TIMESTAMP,
    }
)


def _implicit_resolvers() -> dict[str, list[tuple[str, re.Pattern[str]]]]:
    """ruamel's YAML 1.2 implicit resolvers by first character (its own table, copied)."""
    table = VersionedResolver(version=(1, 2)).versioned_resolver
    wildcard = list(table.get(None, []))
    return {
        first: [(str(tag), regexp) for tag, regexp in [*entries, *wildcard]]
        for first, entries in table.items()
        if first is not None
    }


_IMPLICIT = _implicit_resolvers()


def resolve_plain(text: str) -> str:
    """The tag YAML 1.2 (as ruamel reads it) gives the plain scalar ``text``."""
    for tag, regexp in _IMPLICIT.get(text[:1], ()):
        if regexp.match(text):
            return tag
    return _STR


class NeedsRuamel(Exception):
    """The fast (libyaml) nodes hold something only ruamel's own path reproduces."""


class PlainBuilder:
    """Walks a composed document once; read ``nodes``, ``findings``, ``too_deep_at`` after.

    ``fast=True`` walks PyYAML nodes from libyaml: plain scalars are typed by
    YAML 1.2, and zero-length nodes and nodes at the end of the text get the
    positions ruamel would give them.
    """

    def __init__(
        self, yaml: YAML, text: str, file: str | None, max_depth: int, *, fast: bool = False
    ) -> None:
        self._yaml = yaml
        self._text = text
        self._file = file
        self._max_depth = max_depth
        self._fast = fast
        self._size = len(text)
        self._starts: list[int] | None = None
        self._constructed: dict[tuple[str, str], Any] = {}
        self.nodes: dict[JsonPath, NodeSpan] = {}
        self.findings: list[Finding] = []
        self.too_deep_at: tuple[int, int] | None = None

    def build(self, root: Any) -> Any:
        """The plain JSON value of ``root`` (a mapping node, normally)."""
        self.nodes[()] = NodeSpan(self._span(root))
        return self._value(root, (), 1)

    # ---- positions ---------------------------------------------------------------------------

    def _span(self, node: Any) -> Span:
        start, end = node.start_mark, node.end_mark
        if end is None:
            return Span(start.line + 1, start.column + 1)
        if self._fast:
            size = self._size
            if start.index == end.index:
                # An empty value: ruamel places it by rules of its own (after
                # the indicator, or at the next token, or after a comment).
                raise NeedsRuamel("an empty value")
            if end.index >= size:
                # libyaml counts a line break after text that lacks one.
                line, col = self._line_col(end.index)
                return Span(start.line + 1, start.column + 1, line, col)
        return Span(start.line + 1, start.column + 1, end.line + 1, end.column + 1)

    def _line_col(self, index: int) -> tuple[int, int]:
        if self._starts is None:
            self._starts = line_starts(self._text)
        line = bisect.bisect_right(self._starts, index) - 1
        return line + 1, index - self._starts[line] + 1

    def _empty_value_span(self, index: int) -> Span:
        """Where ruamel puts the empty value of ``key:`` in a block mapping.

        libyaml puts it right after the ``:``; ruamel at the token after it
        (the next key, or where the mapping ends), unless a comment follows
        the ``:``. Anything but blanks and line breaks in between, or a next
        token that is wider than nothing to ruamel (``?``, ``:``), is left to ruamel.
        """
        text, size = self._text, self._size
        if index == 0 or text[index - 1] != ":":
            raise NeedsRuamel("an empty value")
        while index < size and text[index] in " \r\n":
            index += 1
        if index < size and text[index] in "#?:":
            raise NeedsRuamel("an empty value")
        line, col = self._line_col(index)
        return Span(line, col, line, col)

    # ---- the walk ----------------------------------------------------------------------------

    def _report(
        self, code: str, message: str, node: Any, path: JsonPath, suggestion: str | None = None
    ) -> None:
        span = self._span(node)
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

    def _value(self, node: Any, path: JsonPath, depth: int) -> Any:
        if depth > self._max_depth:
            # Report the outermost node of the chain, the one below the root.
            if self.too_deep_at is None:
                outer = self.nodes.get(path[:1], self.nodes[()]).value
                self.too_deep_at = (outer.line, outer.col)
            return None
        kind = node.id
        if kind == "mapping":
            return self._mapping(node, path, depth)
        if kind == "sequence":
            if self._fast and node.tag != _SEQ:
                raise NeedsRuamel(node.tag)
            items = []
            for index, child in enumerate(node.value):
                child_path = (*path, index)
                self.nodes[child_path] = NodeSpan(self._span(child))
                items.append(self._value(child, child_path, depth + 1))
            return items
        return self._scalar(node, path)

    def _key(self, key: Any, path: JsonPath) -> str:
        if self._fast and key.id == "scalar" and key.tag != _STR:
            # ruamel constructs keys too, and refuses some (`2024-13-45:`).
            tag = key.tag
            if tag == PLAIN:
                tag = resolve_plain(key.value)
            if tag != _STR:
                if tag not in _FAST_SCALAR_TAGS:
                    raise NeedsRuamel(tag)
                self._construct(tag, key.value)
        if key.id == "scalar":
            # A non-string scalar key keeps its text: `1:` is "1", `true:` is
            # "true", as a user reading the document would name it.
            return str(key.value)
        if self._fast:
            raise NeedsRuamel("a collection as a key")
        text = self._text[key.start_mark.index : key.end_mark.index].strip() or "?"
        kind = "mapping" if key.id == "mapping" else "list"
        self._report(
            "WF104",
            f"a key must be a string, found a {kind} {text}",
            key,
            path,
            suggestion="quote the key",
        )
        return text

    def _is_merge(self, key: Any) -> bool:
        if not self._fast:
            return bool(key.tag == _MERGE)
        if key.tag == PLAIN and key.value == "<<":
            # ruamel refuses some merges only when constructing its tree.
            raise NeedsRuamel("a merge key")
        return False

    def _mapping(self, node: Any, path: JsonPath, depth: int) -> dict[str, Any]:
        if self._fast:
            return self._fast_mapping(node, path, depth)
        out: dict[str, Any] = {}
        merges: list[Any] = []
        nodes = self.nodes
        for key_node, value_node in node.value:
            if self._is_merge(key_node):
                merges.append(value_node)
                continue
            key = self._key(key_node, path)
            child_path = (*path, key)
            if key in out:
                first = nodes[child_path].key
                where = f" (first at line {first.line})" if first is not None else ""
                self._report(
                    "WF003",
                    f"the key '{key}' appears twice in this mapping{where}",
                    key_node,
                    child_path,
                    suggestion="remove or rename one of them",
                )
                continue
            nodes[child_path] = NodeSpan(self._span(value_node), self._span(key_node))
            out[key] = self._value(value_node, child_path, depth + 1)
        # `<<: *base` merge keys: keys written here win, then earlier merges.
        for merged in merges:
            sources = merged.value if merged.id == "sequence" else [merged]
            for source in sources:
                if source.id != "mapping":
                    continue
                for key_node, value_node in source.value:
                    if self._is_merge(key_node):
                        continue
                    key = self._key(key_node, path)
                    if key in out:
                        continue
                    child_path = (*path, key)
                    nodes[child_path] = NodeSpan(self._span(value_node), self._span(key_node))
                    out[key] = self._value(value_node, child_path, depth + 1)
        return out

    def _fast_mapping(self, node: Any, path: JsonPath, depth: int) -> dict[str, Any]:
        """:meth:`_mapping` for libyaml's nodes, which never hold a merge (see ``_is_merge``).

        The hot loop of the fast path: a 1,000-state document has 8,000 entries.
        """
        if node.tag != _MAP:
            raise NeedsRuamel(node.tag)
        out: dict[str, Any] = {}
        nodes = self.nodes
        span = self._span
        for key_node, value_node in node.value:
            key_tag = key_node.tag
            if key_node.id == "scalar" and (
                key_tag == _STR or (key_tag == PLAIN and key_node.value[:1] not in _IMPLICIT)
            ):
                key = key_node.value  # the common case: a name, typed str by YAML 1.2
            else:
                self._is_merge(key_node)
                key = self._key(key_node, path)
            child_path = (*path, key)
            if key in out:
                # ruamel still constructs the value it then drops, and may refuse it.
                raise NeedsRuamel("a duplicate key")
            start = value_node.start_mark
            if start.index == value_node.end_mark.index and not node.flow_style:
                value_span = self._empty_value_span(start.index)
            else:
                value_span = span(value_node)
            nodes[child_path] = NodeSpan(value_span, span(key_node))
            if value_node.id == "scalar":
                text = value_node.value
                if value_node.tag == _STR or (
                    value_node.tag == PLAIN and text[:1] not in _IMPLICIT
                ):
                    out[key] = text
                    continue
            out[key] = self._value(value_node, child_path, depth + 1)
        return out

    def _scalar(self, node: Any, path: JsonPath) -> Any:
        tag = node.tag
        if self._fast:
            if tag == PLAIN:
                tag = resolve_plain(node.value)
            if tag == _STR:
                return node.value
            if tag not in _FAST_SCALAR_TAGS:
                raise NeedsRuamel(tag)
            value = self._construct(tag, node.value)
            if tag == _TIMESTAMP:
                return str(node.value)
        else:
            if tag == _STR:
                if node.style == ">":
                    # ruamel marks where a folded scalar was folded with BEL
                    # characters (a raw BEL cannot occur in YAML text).
                    return str(node.value).replace("\a", "")
                return node.value if isinstance(node.value, str) else None
            if tag == _TIMESTAMP:
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
            f"a value tagged {tag} is not JSON (string, number, boolean, null, list or mapping)",
            node,
            path,
            suggestion="remove the tag",
        )
        return str(node.value)

    def _construct(self, tag: str, text: str) -> Any:
        """ruamel's value for a resolved scalar (as its own tree would hold it), memoised."""
        key = (tag, text)
        if key in self._constructed:
            return self._constructed[key]
        try:
            value = self._yaml.constructor.construct_object(RuamelScalar(tag, text), deep=True)
        except MemoryError:
            raise
        except Exception as exc:  # ruamel refuses it (a 13th month): ruamel reports it
            raise NeedsRuamel(tag) from exc
        self._constructed[key] = value
        return value
