"""YAML text in, a positioned tree, a plain JSON copy and findings out.

The loader is the one place that talks to the YAML libraries. It composes the
text into a node graph and walks that graph itself, because the nodes still
hold what constructed objects lose: every key twice when a key is duplicated,
where each node ends, and which nodes an alias shares.

Two composers give the same graph: libyaml (through PyYAML), ten times
faster, for the validation path; and ruamel.yaml's round-trip composer, the
reference. Whenever libyaml fails or meets something only ruamel reproduces
exactly, the text is composed again with ruamel, so every finding's position
and wording is ruamel's. The round-trip tree the designer edits is built from
the text only when asked for (:attr:`LoadedDocument.tree`).

Everything that can go wrong with the text becomes a :class:`Finding`
(WF001-WF009); :func:`parse_document` never raises for any input.
"""

from __future__ import annotations

import json
import os
import re
import warnings
from collections.abc import Iterator
from dataclasses import dataclass
from functools import cached_property
from typing import Any

from ruamel.yaml import YAML
from ruamel.yaml.error import MarkedYAMLError, YAMLError
from ruamel.yaml.nodes import MappingNode, SequenceNode
from ruamel.yaml.reader import ReaderError

try:
    import yaml as pyyaml  # type: ignore[import-untyped]
    from yaml.cyaml import CParser  # type: ignore[import-untyped]
except ImportError:  # PyYAML without libyaml, or none at all: ruamel alone
    CParser = None

from .findings import CODES, Finding
from .source import JsonPath, SourceMap
from .yaml_plain import PLAIN, NeedsRuamel, PlainBuilder
from .yaml_scan import line_starts, split_lines, too_deep, unquoted_expression

__all__ = [
    "MAX_ALIAS_NODES",
    "MAX_DEPTH",
    "MAX_DOCUMENT_BYTES",
    "LoadedDocument",
    "parse_document",
    "read_source",
]

MAX_DOCUMENT_BYTES = 1_000_000
"""Largest document accepted, in UTF-8 bytes (WF005): far above any hand-written workflow."""

MAX_ALIAS_NODES = 100_000
"""Most nodes aliases may add once expanded (WF004). Counted, never expanded."""

MAX_DEPTH = 64
"""Deepest nesting of collections, the root counting as 1 (WF008); the same
bound as expressions. ruamel's composer recurses a few frames per level and
fails near 200 levels, so this also keeps it far from the stack limit."""


# No slots: `tree` is a cached property, kept in the instance's __dict__.
@dataclass(frozen=True)
class LoadedDocument:
    """One parsed document: its text, plain data, positions and findings.

    ``data`` is a plain JSON copy (dict/list/str/int/float/bool/None) the
    schema check and the compiler read; ``None`` when the text could not be
    read as one mapping. :attr:`tree` is the ruamel round-trip root the
    designer edits, built on first access.
    """

    text: str
    file: str | None
    data: Any
    source_map: SourceMap
    findings: tuple[Finding, ...]

    @property
    def ok(self) -> bool:
        """No error finding, and a mapping to work on."""
        return self.data is not None and not any(f.severity == "error" for f in self.findings)

    @cached_property
    def tree(self) -> Any:
        """The ruamel round-trip root (a ``CommentedMap``), or ``None`` without ``data``.

        Built from ``text`` on first access and kept: validation never needs
        it, and it costs as much as the rest of the loading together.
        """
        if self.data is None:
            return None
        body = self.text[1:] if self.text.startswith("\ufeff") else self.text
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            return _round_trip_yaml().load(body)


def _round_trip_yaml() -> YAML:
    yaml = YAML(typ="rt")
    # Duplicates are found in the node graph, where every occurrence is still
    # there, so all of them are reported instead of only the first.
    yaml.allow_duplicate_keys = True
    return yaml


def _finding(
    code: str,
    message: str,
    file: str | None,
    line: int,
    col: int,
    *,
    path: JsonPath = (),
    suggestion: str | None = None,
) -> Finding:
    return Finding(
        code, CODES[code].severity, message, file, line, col, path=path, suggestion=suggestion
    )


def read_source(path: str | os.PathLike[str]) -> tuple[str | None, Finding | None]:
    """Read a workflow file as UTF-8: ``(text, None)``, or ``(None, WF009 finding)``.

    This is the only function of ``wfdsl.dsl`` that touches the file system.
    A missing file, a directory, a permission problem or bytes that are not
    UTF-8 are findings, never exceptions, so ``wfdsl validate`` reports them
    like any other problem. The size is checked here too, before reading a
    huge file into memory.
    """
    name = os.fspath(path)
    try:
        with open(name, "rb") as handle:
            raw = handle.read(MAX_DOCUMENT_BYTES + 1)
    except FileNotFoundError:
        return None, _finding("WF009", "the file does not exist", name, 1, 1)
    except IsADirectoryError:
        return None, _finding("WF009", "this is a directory, not a file", name, 1, 1)
    except PermissionError:
        return None, _finding("WF009", "permission denied reading the file", name, 1, 1)
    except OSError as exc:
        return None, _finding("WF009", f"cannot read the file: {exc.strerror or exc}", name, 1, 1)
    if len(raw) > MAX_DOCUMENT_BYTES:
        return None, _too_large(name)
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        line = raw.count(b"\n", 0, exc.start) + 1
        col = exc.start - (raw.rfind(b"\n", 0, exc.start) + 1) + 1
        return None, _finding(
            "WF009",
            f"the file is not UTF-8 text (byte 0x{raw[exc.start]:02x} at offset {exc.start})",
            name,
            line,
            col,
            suggestion="save the file as UTF-8",
        )
    return text, None


def _too_large(file: str | None) -> Finding:
    return _finding(
        "WF005",
        f"the document is larger than {MAX_DOCUMENT_BYTES:,} bytes",
        file,
        1,
        1,
        suggestion="split it into subflows",
    )


def _failed(
    text: str, file: str | None, *findings: Finding, nodes: SourceMap | None = None
) -> LoadedDocument:
    return LoadedDocument(text, file, None, nodes or SourceMap(file), tuple(findings))


def parse_document(text: str, file: str | None = None) -> LoadedDocument:
    """Parse one workflow document; problems with the YAML itself become findings.

    Never raises for any ``text`` (only ``MemoryError``/``KeyboardInterrupt``
    escape). The order of checks is chosen so nothing expensive happens to a
    hostile document: the size before parsing, the nesting before composing,
    the alias expansion before copying.
    """
    if len(text.encode("utf-8", "surrogatepass")) > MAX_DOCUMENT_BYTES:
        return _failed(text, file, _too_large(file))
    # A byte-order mark is invisible in editors; columns count from after it.
    body = text[1:] if text.startswith("\ufeff") else text
    deep = too_deep(body, MAX_DEPTH)
    if deep is not None:
        return _failed(text, file, _nesting_finding(file, *deep))
    doc = None
    if CParser is not None:
        doc = _parse_fast(text, body, file)
    if doc is None:
        doc = _parse_ruamel(text, body, file)
    if doc.data is not None and _SURROGATE_ESCAPE.search(body):
        surrogate = _lone_surrogate(body, file)
        if surrogate is not None:
            return _failed(text, file, surrogate, nodes=doc.source_map)
    return doc


# A double-quoted escape of a UTF-16 surrogate: `"\ud800"` alone is a lone
# surrogate, which is not text (no file, database or response can encode it).
_SURROGATE_ESCAPE = re.compile(r"\\(?:u|U0000)[dD][89a-fA-F][0-9a-fA-F]{2}")


def _lone_surrogate(body: str, file: str | None) -> Finding | None:
    """WF001 at the first surrogate escape when the loaded values hold a lone surrogate."""
    loaded = _parse_ruamel(body, body, file)
    try:
        json.dumps(loaded.data, ensure_ascii=False).encode("utf-8")
    except UnicodeEncodeError:
        pass
    else:
        return None
    match = _SURROGATE_ESCAPE.search(body)
    assert match is not None
    line = body.count("\n", 0, match.start()) + 1
    col = match.start() - (body.rfind("\n", 0, match.start()) + 1) + 1
    return _finding(
        "WF001",
        f"the escape {match.group()} makes a lone surrogate (U+D800-U+DFFF), which is not text",
        file,
        line,
        col,
        suggestion="escape the whole character (\\U0001F600), or write it as it is",
    )


# Texts libyaml reads differently from ruamel go to ruamel directly: libyaml
# counts NEL, LS and PS as line breaks and a BOM inside the text as no column,
# accepts tabs where ruamel refuses them, and a directive may switch ruamel to
# YAML 1.1. None of these belongs in a workflow; they only cost speed.
_FAST_REFUSES = re.compile("[\t\x85\ufeff\u2028\u2029]|^%", re.MULTILINE)
# An anchor or alias name: libyaml ends it at the first character outside
# [0-9A-Za-z_-] (and fails if there is none), ruamel only at a blank or flow
# indicator. A name that continues past that run is read differently.
_ANCHOR_OR_ALIAS = re.compile(
    r"(?:^|[\s\[{,])[&*][0-9A-Za-z_-]+[^\s,\[\]{}0-9A-Za-z_-]", re.MULTILINE
)


def _fast_refuses(body: str) -> bool:
    if _FAST_REFUSES.search(body):
        return True
    return ("&" in body or "*" in body) and _ANCHOR_OR_ALIAS.search(body) is not None


class _Composer(CParser if CParser is not None else object):  # type: ignore[misc]
    """libyaml's composer, leaving plain scalars untyped (YAML 1.1 would type them)."""

    def descend_resolver(self, current_node: Any, current_index: Any) -> None:
        pass

    def ascend_resolver(self) -> None:
        pass

    def resolve(self, kind: Any, value: str, implicit: tuple[bool, bool]) -> str:
        if kind is pyyaml.ScalarNode:
            return PLAIN if implicit[0] else "tag:yaml.org,2002:str"
        return "tag:yaml.org,2002:seq" if kind is pyyaml.SequenceNode else "tag:yaml.org,2002:map"


def _parse_fast(text: str, body: str, file: str | None) -> LoadedDocument | None:
    """The document from libyaml's nodes, or ``None`` when ruamel must say it."""
    if _fast_refuses(body):
        return None
    try:
        composer = _Composer(body)
        try:
            root = composer.get_single_node()
        finally:
            composer.dispose()
    except MemoryError:
        raise
    except Exception:  # any parse error: ruamel's message and position are the finding
        return None
    if root is None or root.id != "mapping":
        return None
    if "&" in body and _alias_blowup(root) is not None:
        return None
    builder = PlainBuilder(_round_trip_yaml(), body, file, MAX_DEPTH, fast=True)
    try:
        data = builder.build(root)
    except (NeedsRuamel, RecursionError):
        return None
    if builder.too_deep_at is not None:
        return None
    return LoadedDocument(text, file, data, SourceMap(file, builder.nodes), tuple(builder.findings))


def _parse_ruamel(text: str, body: str, file: str | None) -> LoadedDocument:
    """The document from ruamel's nodes: the reference, and every finding's source."""
    yaml = _round_trip_yaml()
    try:
        with warnings.catch_warnings():
            # ruamel warns (ReusedAnchorWarning) where YAML allows a later
            # anchor to replace an earlier one; a warning must not escape as
            # an exception under `-W error`, and it changes nothing we report.
            warnings.simplefilter("ignore")
            root = yaml.compose(body)
    except RecursionError:
        return _failed(text, file, _nesting_finding(file, 1, 1))
    except MarkedYAMLError as exc:
        return _failed(text, file, _syntax_finding(body, file, exc))
    except ReaderError as exc:
        return _failed(text, file, _reader_finding(body, file, exc))
    except (YAMLError, ValueError, TypeError, AttributeError, IndexError, KeyError) as exc:
        # ruamel occasionally fails outside its error hierarchy on odd input;
        # a finding still beats a traceback.
        return _failed(text, file, _finding("WF001", f"not valid YAML: {exc}", file, 1, 1))
    if root is None:
        return _failed(
            text,
            file,
            _finding(
                "WF006",
                "the document is empty; a workflow is a mapping with `wfdsl`, `name`, "
                "`start` and `states`",
                file,
                1,
                1,
            ),
        )
    if not isinstance(root, MappingNode):
        kind = "a list" if isinstance(root, SequenceNode) else "a single value"
        line, col = root.start_mark.line + 1, root.start_mark.column + 1
        return _failed(
            text,
            file,
            _finding(
                "WF006",
                f"the document is {kind}, not a mapping; a workflow is a mapping with "
                "`wfdsl`, `name`, `start` and `states`",
                file,
                line,
                col,
            ),
        )
    alias = _alias_blowup(root)
    if alias is not None:
        node, path, added = alias
        return _failed(
            text,
            file,
            _finding(
                "WF004",
                f"anchors and aliases here expand to more than {MAX_ALIAS_NODES:,} extra "
                f"nodes ({added:,} counted)",
                file,
                node.start_mark.line + 1,
                node.start_mark.column + 1,
                path=path,
                suggestion="write the values out or use fewer nested aliases",
            ),
        )
    builder = PlainBuilder(yaml, body, file, MAX_DEPTH)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            data = builder.build(root)
            tree = yaml.constructor.construct_document(root)
    except RecursionError:
        return _failed(text, file, _nesting_finding(file, 1, 1))
    except MarkedYAMLError as exc:
        return _failed(text, file, _syntax_finding(body, file, exc))
    except (YAMLError, ValueError, TypeError, AttributeError, IndexError, KeyError) as exc:
        return _failed(text, file, _finding("WF001", f"not valid YAML: {exc}", file, 1, 1))
    source_map = SourceMap(file, builder.nodes)
    if builder.too_deep_at is not None:
        line, col = builder.too_deep_at
        return _failed(text, file, _nesting_finding(file, line, col), nodes=source_map)
    doc = LoadedDocument(text, file, data, source_map, tuple(builder.findings))
    # The tree was needed anyway (constructing it is what finds some errors).
    doc.__dict__["tree"] = tree
    return doc


def _nesting_finding(file: str | None, line: int, col: int) -> Finding:
    return _finding(
        "WF008",
        f"the YAML nests deeper than {MAX_DEPTH} levels",
        file,
        line,
        col,
        suggestion="flatten the structure",
    )


def _syntax_finding(text: str, file: str | None, exc: MarkedYAMLError) -> Finding:
    """WF001, WF002 (an unquoted ``${``) or WF007 (a second document) from a parse error."""
    mark = exc.problem_mark or exc.context_mark
    line = mark.line + 1 if mark is not None else 1
    col = mark.column + 1 if mark is not None else 1
    problem = (exc.problem or exc.context or "not valid YAML").strip()
    if exc.context == "expected a single document in the stream":
        return _finding(
            "WF007",
            "the file holds more than one YAML document; a workflow is one document",
            file,
            line,
            col,
            suggestion="remove the second `---` and what follows, or put it in its own file",
        )
    lines = split_lines(text)
    marks = [(line, col)]
    if exc.context_mark is not None:
        marks.append((exc.context_mark.line + 1, exc.context_mark.column + 1))
    for number, near in marks:
        if 1 <= number <= len(lines):
            found = unquoted_expression(lines[number - 1], near)
            if found is not None:
                where = "inside a flow collection" if found.in_flow else "containing `: ` or ` #`"
                return _finding(
                    "WF002",
                    f"the expression {found.expression} {where} must be quoted (YAML: {problem})",
                    file,
                    number,
                    found.col,
                    suggestion=f"write `{found.quoted_line}`",
                )
    message = problem
    if exc.context and exc.problem:
        message = f"{problem} ({exc.context.strip()})"
    suggestion = None
    if 1 <= line <= len(lines) and "\t" in lines[line - 1][: max(col, 1)]:
        suggestion = "indent with spaces; YAML does not allow tabs for indentation"
    else:
        plain = _plain_words(problem, (exc.context or "").strip())
        if plain is not None:
            message, suggestion, at_start = plain
            if at_start and exc.context_mark is not None:
                line, col = exc.context_mark.line + 1, exc.context_mark.column + 1
    return _finding("WF001", message, file, line, col, suggestion=suggestion)


def _plain_words(problem: str, context: str) -> tuple[str, str, bool] | None:
    """The parser's wording of the common mistakes, in plain words with the
    fix: ``(message, suggestion, report at where the construct started)``."""
    if problem.startswith("expected <block end>, but found '-'"):
        return (
            "this list item is indented differently from the items above it",
            "put its `-` at the same column as the other items of the list",
            False,
        )
    if problem.startswith("expected <block end>"):
        return (
            "this line is indented differently from the lines above it: it lines up "
            "with no key of the mapping it continues",
            "indent it with the same number of spaces as its sibling keys, or deeper "
            "under the key it belongs to",
            False,
        )
    if problem == "mapping values are not allowed here":
        return (
            "a `: ` here starts a key where none can start: the line is indented deeper "
            "than the keys above it, or a plain value contains `: `",
            'line it up with its sibling keys, or quote the value (`name: "a: b"`)',
            False,
        )
    if problem == "could not find expected ':'":
        return (
            "this line is not a `key: value` pair (a missing `:`, or a line indented "
            "like a key without being one)",
            "write `key: value` with a space after the colon",
            True,
        )
    if problem.startswith(("expected ',' or '}'", "expected ',' or ']'")):
        closing = "}" if "}" in problem else "]"
        return (
            f"the inline {'mapping' if closing == '}' else 'list'} is not closed, or two of "
            "its items are not separated by a comma",
            f"close it with `{closing}` and separate items with `, ` (quote a value holding "
            "`:` or `,`)",
            False,
        )
    if problem == "found unexpected end of stream" and "quoted scalar" in context:
        return ("this quoted string is never closed", "add the closing quote", True)
    return None


def _reader_finding(text: str, file: str | None, exc: ReaderError) -> Finding:
    """WF001 for a character YAML does not allow (control characters and the like)."""
    position = exc.position if isinstance(exc.position, int) else 0
    starts = line_starts(text)
    line = max(i for i, start in enumerate(starts) if start <= position) if starts else 0
    character = exc.character
    shown = f"U+{character:04X}" if isinstance(character, int) else repr(character)
    return _finding(
        "WF001",
        f"the character {shown} is not allowed in YAML ({exc.reason})",
        file,
        line + 1,
        position - starts[line] + 1,
        suggestion="remove it, or write it as an escape inside a double-quoted string",
    )


def _alias_blowup(root: Any) -> tuple[Any, JsonPath, int] | None:
    """Where aliases expand past :data:`MAX_ALIAS_NODES`, without expanding anything.

    Each node's expanded size is memoised by identity, so nine levels of nine
    aliases cost nine computations, not 9**9. The node reported is found by
    descending from the root into the over-large child for as long as that
    child is written out in place; it stops above the first anchor or alias,
    so it names the mapping that holds the expanding aliases.
    """
    sizes: dict[int, int] = {}

    def size(node: Any) -> int:
        known = sizes.get(id(node))
        if known is not None:
            return known
        sizes[id(node)] = 1  # a recursive alias (an anchor inside itself) counts once
        total = 1
        for child in _children(node):
            total += size(child[1])
        sizes[id(node)] = total
        return total

    added = size(root) - len(sizes)
    if added <= MAX_ALIAS_NODES:
        return None
    seen_once: set[int] = set()
    shared: set[int] = set()
    stack = [root]
    while stack:
        visited = stack.pop()
        if id(visited) in seen_once:
            shared.add(id(visited))
            continue
        seen_once.add(id(visited))
        stack.extend(child for _, child in _children(visited))
    node: Any = root
    path: JsonPath = ()
    while True:
        bigger = [(k, c) for k, c in _children(node) if sizes[id(c)] > MAX_ALIAS_NODES]
        if not bigger:
            break
        key, child = max(bigger, key=lambda kc: sizes[id(kc[1])])
        if id(child) in shared or getattr(child, "anchor", None) is not None:
            break
        node, path = child, (*path, key)
    return node, path, added


def _children(node: Any) -> Iterator[tuple[str | int, Any]]:
    """A node's children with their path key (the key's text for mappings).

    ``id`` rather than the class: PyYAML's nodes have the same shape as ruamel's.
    """
    if node.id == "mapping":
        for key, value in node.value:
            yield (key.value if key.id == "scalar" else "?"), value
    elif node.id == "sequence":
        yield from enumerate(node.value)
