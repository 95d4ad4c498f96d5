"""Hypothesis: parse_document never raises, stays inside the text, and gives plain JSON;
its libyaml fast path reads every text it accepts exactly as the ruamel path does."""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from ruamel.yaml.nodes import ScalarNode
from ruamel.yaml.resolver import VersionedResolver
from wfdsl.dsl import loader
from wfdsl.dsl.loader import LoadedDocument, parse_document
from wfdsl.dsl.schema_check import check_embedded_schemas, check_schema
from wfdsl.dsl.yaml_plain import resolve_plain
from wfdsl.dsl.yaml_scan import split_lines

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"

FUZZ = settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])

FRAGMENTS = [
    "{",
    "}",
    "[",
    "]",
    "${",
    "${ input.x }",
    "&a ",
    "*a",
    ": ",
    "- ",
    "\n",
    "\n  ",
    "\n    ",
    "'",
    '"',
    "#",
    " #",
    "key",
    "type: task",
    "states:",
    "---\n",
    "<<: *a",
    "? ",
    "|\n",
    "!!binary ",
    "!foo ",
    "\t",
    "\r\n",
    "\ufeff",
    ",",
    "1",
    "true",
    ".inf",
    "2024-01-02",
    "~",
    "\x07",
    "\\",
    "%YAML 1.2\n",
]

# Printable text only: YAML forbids most control characters even inside quotes.
TEXT = st.text(
    alphabet=st.characters(
        codec="utf-8",
        exclude_categories=("Cs", "Cc", "Zl", "Zp"),
        exclude_characters="\ufffe\uffff",  # non-characters, refused by YAML
    ),
    max_size=8,
)
JSON = st.recursive(
    st.none()
    | st.booleans()
    | st.integers()
    | st.floats(allow_nan=False, allow_infinity=False)
    | TEXT,
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(TEXT, inner, max_size=4),
    max_leaves=20,
)


def _is_plain(value: Any) -> bool:
    if value is None or type(value) in (bool, int, str):
        return True
    if type(value) is float:
        return math.isfinite(value)
    if type(value) is list:
        return all(_is_plain(v) for v in value)
    if type(value) is dict:
        return all(type(k) is str and _is_plain(v) for k, v in value.items())
    return False


def _check(text: str) -> LoadedDocument:
    doc = parse_document(text, "fuzz.yaml")
    lines = split_lines(text.removeprefix("\ufeff"))
    for finding in [*doc.findings, *check_schema(doc), *check_embedded_schemas(doc)]:
        assert finding.file == "fuzz.yaml"
        assert finding.line is not None and 1 <= finding.line <= len(lines), finding
        assert finding.col is not None and 1 <= finding.col <= len(lines[finding.line - 1]) + 1
    for span in doc.source_map.nodes.values():
        assert 1 <= span.value.line <= len(lines)
    if doc.data is not None:
        assert isinstance(doc.data, dict) and _is_plain(doc.data)
        json.dumps(doc.data)
    else:
        assert not doc.ok
    return doc


@FUZZ
@given(st.text(max_size=200))
def test_any_text(text: str) -> None:
    _check(text)


@FUZZ
@given(st.lists(st.sampled_from(FRAGMENTS), max_size=40))
def test_yaml_ish_text(parts: list[str]) -> None:
    _check("".join(parts))


@FUZZ
@given(JSON, st.data())
def test_dumped_json_round_trips_and_survives_mutation(value: Any, data: st.DataObject) -> None:
    # JSON is YAML 1.2, and json.dumps is far faster than ruamel's dumper;
    # indent=1 gives block-like line structure for the mutations to break.
    text = json.dumps({"root": value}, ensure_ascii=False, indent=1)
    doc = _check(text)
    assert doc.ok and doc.data == {"root": value}
    position = data.draw(st.integers(0, len(text)))
    inserted = data.draw(st.sampled_from(FRAGMENTS))
    cut = data.draw(st.integers(0, 3))
    _check(text[:position] + inserted + text[position + cut :])


# ---- the libyaml fast path reads every text exactly as ruamel does ---------------------------

SCALARS = [
    *["a", "x y", "yes", "no", "on", "Off", "y", "~", "null", "", "true", "TRUE", "False"],
    *["017", "0o17", "0x1F", "0b11", "1_000", "1:20", "+1", "-0", "1e3", "1.", "-.5", ".inf"],
    *[".NaN", "2024-01-02", "2024-01-02T03:04:05Z", "2024-13-45", "=", "<<", "'q'", "'it''s'"],
    *['"d\\tx"', '"\\u00e9"', "${ a }", '"${ a: b }"', "é", "𝄞", "a #c", "!!str 1", "!!int 3"],
    *["!!binary aGk=", "!foo bar", "! 1", "&a x", "*a", "|\n  lit\n", ">-\n  fold\n  more\n"],
    *["plain\n  cont", "[a, 'b', {c: d}]", "{k: v, e: }", "[]", "{}", "- x", "? x", "@x"],
]


def _block(draw: st.DrawFn, depth: int, indent: int) -> str:
    kind = draw(st.sampled_from(["scalar", "map", "seq"] if depth < 3 else ["scalar"]))
    pad = " " * (indent + 2)
    if kind == "scalar":
        return " " + draw(st.sampled_from(SCALARS)).replace("\n", "\n" + pad) + "\n"
    out = "\n"
    for i in range(draw(st.integers(1, 3))):
        if kind == "seq":
            out += pad + "-" + _block(draw, depth + 1, indent + 2)
            continue
        key = draw(st.sampled_from([f"k{i}", f"k{i}", "1", "true", "<<", "? k", "'q'", "e"]))
        out += pad + key + ":" + _block(draw, depth + 1, indent + 2)
        out += draw(st.sampled_from(["", "", "", pad + "# note\n", "\n"]))
    return out


@st.composite
def block_documents(draw: st.DrawFn) -> str:
    text = "root:" + _block(draw, 0, 0) + draw(st.sampled_from(["", "last:", "last: 1"]))
    return text.replace("\n", draw(st.sampled_from(["\n", "\r\n"])))


def _fast_equals_ruamel(text: str) -> None:
    body = text.removeprefix("\ufeff")
    if loader.too_deep(body, loader.MAX_DEPTH) is not None:
        return
    fast = loader._parse_fast(text, body, "f.yaml")
    if fast is None:  # handed to ruamel, so identical by construction
        return
    slow = loader._parse_ruamel(text, body, "f.yaml")
    assert fast.data == slow.data
    assert dict(fast.source_map.nodes) == dict(slow.source_map.nodes)
    assert fast.findings == slow.findings


@FUZZ
@given(block_documents())
def test_libyaml_reads_block_documents_as_ruamel_does(text: str) -> None:
    _fast_equals_ruamel(text)


@FUZZ
@given(st.lists(st.sampled_from([*FRAGMENTS, *SCALARS]), max_size=30))
def test_libyaml_reads_yaml_ish_text_as_ruamel_does(parts: list[str]) -> None:
    _fast_equals_ruamel("".join(parts))


@FUZZ
@given(JSON)
def test_libyaml_reads_json_as_ruamel_does(value: Any) -> None:
    _fast_equals_ruamel(json.dumps({"root": value}, ensure_ascii=False, indent=1))


def test_the_examples_take_the_fast_path_and_read_as_ruamel_does() -> None:
    for path in sorted(EXAMPLES.glob("*.yaml")):
        text = path.read_text(encoding="utf-8")
        assert loader._parse_fast(text, text, None) is not None, path.name
        _fast_equals_ruamel(text)


def test_the_yaml_1_2_resolver_copy_agrees_with_ruamel() -> None:
    resolver = VersionedResolver(version=(1, 2))
    for text in [*SCALARS, "!x", "&x", "*x", ".", "-", "+", "~x", "NaN", "nULL", "0.5e-3"]:
        assert resolve_plain(text) == str(resolver.resolve(ScalarNode, text, (True, False)))
