"""Hypothesis: parse_document never raises, stays inside the text, and gives plain JSON."""

from __future__ import annotations

import json
import math
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from wfdsl.dsl.loader import LoadedDocument, parse_document
from wfdsl.dsl.schema_check import check_embedded_schemas, check_schema
from wfdsl.dsl.yaml_scan import split_lines

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
    alphabet=st.characters(codec="utf-8", exclude_categories=("Cs", "Cc", "Zl", "Zp")),
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
