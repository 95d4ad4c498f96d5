"""The loader: any text becomes a LoadedDocument with positions, plain data and findings."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from wfdsl.dsl.loader import (
    MAX_ALIAS_NODES,
    MAX_DEPTH,
    MAX_DOCUMENT_BYTES,
    LoadedDocument,
    parse_document,
    read_source,
)
from wfdsl.dsl.source import Span
from work_bounds import measure_work

GOOD = """\
wfdsl: "1"
name: tiny
start: hello
states:
  hello:
    type: task
    action: log
    args: {message: "${ input.name }", level: info}
    retry: {max_attempts: 3, backoff: 1.5}
    next: done
  done:
    type: succeed
"""


def _codes(doc: LoadedDocument) -> list[tuple[str, int | None, int | None]]:
    return [(f.code, f.line, f.col) for f in doc.findings]


def test_a_good_document_has_a_tree_plain_data_and_no_findings() -> None:
    doc = parse_document(GOOD, "tiny.yaml")
    assert doc.ok and doc.findings == ()
    assert doc.data["states"]["hello"]["retry"] == {"max_attempts": 3, "backoff": 1.5}
    assert json.loads(json.dumps(doc.data)) == doc.data
    assert type(doc.data["states"]["hello"]["retry"]["backoff"]) is float
    assert doc.tree["states"]["hello"]["action"] == "log"  # the round-trip tree
    assert doc.source_map.file == "tiny.yaml"


def test_source_map_gives_key_and_value_spans_one_based_with_ends() -> None:
    doc = parse_document(GOOD)
    node = doc.source_map.node(("states", "hello", "action"))
    assert node is not None
    assert node.key == Span(7, 5, 7, 11)
    assert node.value == Span(7, 13, 7, 16)
    assert doc.source_map.locate(("states", "hello", "args", "level")).line == 8
    assert doc.source_map.node(()) is not None
    # a missing key falls back to the mapping that lacks it
    assert doc.source_map.locate(("states", "done", "output")) == doc.source_map.locate(
        ("states", "done")
    )


def test_every_path_of_data_is_in_the_source_map() -> None:
    doc = parse_document(GOOD)

    def paths(value: Any, path: tuple[str | int, ...] = ()) -> list[tuple[str | int, ...]]:
        out = [path]
        if isinstance(value, dict):
            for k, v in value.items():
                out += paths(v, (*path, k))
        elif isinstance(value, list):
            for i, v in enumerate(value):
                out += paths(v, (*path, i))
        return out

    assert set(paths(doc.data)) == set(doc.source_map)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        pytest.param(
            "a: 2030-01-31T17:00:00Z\n", "2030-01-31T17:00:00Z", id="timestamp-as-written"
        ),
        pytest.param("a: 2024-01-02\n", "2024-01-02", id="date-as-written"),
        pytest.param("a: yes\n", "yes", id="yes-is-a-string-in-yaml-1.2"),
        pytest.param("a: 0x1f\n", 31, id="hex-int"),
        pytest.param("a: 1_000\n", 1000, id="int-with-underscores"),
        pytest.param("a: ~\n", None, id="null"),
        pytest.param("a: &x true\nb: *x\n", True, id="anchored-bool"),
        pytest.param("a: |\n  two\n  lines\n", "two\nlines\n", id="literal-block"),
        pytest.param("a: >-\n  folded\n  lines\n", "folded lines", id="folded-block"),
        pytest.param("a: no\n", "no", id="no-is-a-string-in-yaml-1.2"),
        pytest.param("a: on\n", "on", id="on-is-a-string-in-yaml-1.2"),
        pytest.param("a: Off\n", "Off", id="off-is-a-string-in-yaml-1.2"),
        pytest.param("a: y\n", "y", id="y-is-a-string"),
        pytest.param("a: True\n", True, id="capitalised-true"),
        pytest.param("a: 0o17\n", 15, id="yaml-1.2-octal"),
        pytest.param("a: 017\n", 17, id="leading-zero-is-decimal-as-ruamel-reads-it"),
        pytest.param("a: 1:20\n", "1:20", id="no-sexagesimal-in-yaml-1.2"),
        pytest.param("a: 1e3\n", 1000.0, id="exponent-float"),
        pytest.param("a: -.5\n", -0.5, id="float-without-leading-digit"),
        pytest.param("a: 0b101\n", 5, id="binary-int"),
        pytest.param("a: null\nb: 1\n", None, id="null-word"),
        pytest.param("a:\nb: 1\n", None, id="empty-value"),
        pytest.param("a: ! 1\n", 1, id="non-specific-tag-still-resolves"),
        pytest.param(
            "a: 2024-01-02 03:04:05 +01:00\n", "2024-01-02 03:04:05 +01:00", id="spaced-timestamp"
        ),
    ],
)
def test_scalars_become_plain_json(text: str, expected: Any) -> None:
    doc = parse_document(text)
    assert doc.findings == ()
    assert doc.data["a"] == expected
    assert type(doc.data["a"]) is type(expected)


def test_a_timestamp_ruamel_cannot_construct_is_a_finding() -> None:
    doc = parse_document("a: 2024-13-45\n")
    assert _codes(doc) == [("WF001", 1, 1)] and "month" in doc.findings[0].message


def test_non_string_keys_keep_their_text_and_do_not_collide() -> None:
    doc = parse_document("1: one\ntrue: yes\nnull: x\n")
    assert doc.data == {"1": "one", "true": "yes", "null": "x"}


def test_merge_keys_are_resolved_with_positions_of_the_base() -> None:
    doc = parse_document("base: &b {x: 1, y: 2}\nm:\n  <<: *b\n  y: 3\n")
    assert doc.ok
    assert doc.data["m"] == {"y": 3, "x": 1}
    assert doc.source_map.locate(("m", "x")) == doc.source_map.locate(("base", "x"))


@pytest.mark.parametrize(
    ("text", "code", "line", "col", "fragment"),
    [
        pytest.param("", "WF006", 1, 1, "empty", id="empty"),
        pytest.param("# only a comment\n", "WF006", 1, 1, "empty", id="only-comments"),
        pytest.param("- a\n", "WF006", 1, 1, "a list", id="list"),
        pytest.param("a: [1, 2\n", "WF001", 2, 1, "is not closed", id="unclosed-flow"),
        pytest.param("a: 1\n\tb: 2\n", "WF001", 2, 1, "'\\t'", id="tab"),
        pytest.param("a: 1\nb: \x07\n", "WF001", 2, 4, "U+0007", id="control-character"),
        pytest.param(
            "a: 1\na: 2\nb: {c: 1, c: 2}\n", "WF003", 2, 1, "'a' appears twice", id="duplicates"
        ),
        pytest.param("a: 1\n---\na: 2\n", "WF007", 2, 1, "more than one", id="two-documents"),
        pytest.param("a: .inf\n", "WF104", 1, 4, "JSON", id="infinity"),
        pytest.param("a: !!binary aGVsbG8=\n", "WF104", 1, 4, "not JSON", id="binary"),
        pytest.param("? [a, b]\n: c\n", "WF104", 1, 3, "key must be a string", id="complex-key"),
        pytest.param("a: {x: ${ 1 }}\n", "WF002", 1, 8, "must be quoted", id="flow-expression"),
    ],
)
def test_yaml_problems_are_findings(
    text: str, code: str, line: int, col: int, fragment: str
) -> None:
    doc = parse_document(text, "f.yaml")
    assert (doc.findings[0].code, doc.findings[0].line, doc.findings[0].col) == (code, line, col)
    assert fragment in doc.findings[0].message
    assert doc.findings[0].file == "f.yaml"
    assert not doc.ok


def test_every_duplicate_is_reported_not_only_the_first() -> None:
    doc = parse_document("a: 1\na: 2\nb: {c: 1, c: 2}\na: 3\n")
    assert _codes(doc) == [("WF003", 2, 1), ("WF003", 3, 11), ("WF003", 4, 1)]
    assert doc.data["a"] == 1  # the first one stands, as ruamel keeps it


def test_unquoted_expression_suggestion_shows_the_quoted_line() -> None:
    doc = parse_document("args: {to: ${ input.email }, template: verify}\n")
    (finding,) = doc.findings
    assert finding.code == "WF002" and finding.col == 12
    assert finding.suggestion == 'write `args: {to: "${ input.email }", template: verify}`'


def test_bom_and_crlf_are_read_like_plain_text() -> None:
    doc = parse_document("\ufeff" + GOOD.replace("\n", "\r\n"))
    assert doc.ok
    assert doc.data == parse_document(GOOD).data
    assert doc.source_map.locate(("states", "hello", "action")) == Span(7, 13, 7, 16)


def test_billion_laughs_is_refused_fast_without_expanding() -> None:
    levels = ["a: &a [" + ", ".join(['"lol"'] * 9) + "]"]
    for prev, name in zip("abcdefgh", "bcdefghi", strict=True):
        levels.append(f"{name}: &{name} [" + ", ".join([f"*{prev}"] * 9) + "]")
    text = "x-lol:\n" + "".join(f"  {line}\n" for line in levels)
    doc, work = measure_work(lambda: parse_document(text))
    # 9**9 = 387 million strings if expanded; refused after ~50,000 calls.
    assert work.calls < 500_000 and work.peak_bytes < 16 * 2**20, work
    assert _codes(doc) == [("WF004", 2, 3)]
    assert doc.data is None and doc.tree is None


def test_aliases_under_the_bound_are_fine() -> None:
    doc = parse_document("a: &a [1, 2, 3]\nb: [*a, *a]\n")
    assert doc.ok and doc.data["b"] == [[1, 2, 3], [1, 2, 3]]
    assert MAX_ALIAS_NODES >= 10_000


@pytest.mark.parametrize(
    ("text", "line", "col"),
    [
        pytest.param("a: 1\nx: " + "[" * 500 + "]" * 500 + "\n", 2, 4, id="flow-500"),
        pytest.param(
            "x:\n" + "".join("  " * i + f"k{i}:\n" for i in range(1, 300)), 2, 3, id="block-300"
        ),
        pytest.param(
            "x: " + "[" * (MAX_DEPTH + 1) + "]" * (MAX_DEPTH + 1) + "\n",
            1,
            4,
            id="just-past-the-bound",
        ),
        pytest.param("x:\n" + "- " * 400 + "a\n", 2, 1, id="compact-sequences"),
    ],
)
def test_deep_nesting_is_refused_at_the_outermost_node(text: str, line: int, col: int) -> None:
    doc = parse_document(text)
    assert _codes(doc) == [("WF008", line, col)]


def test_nesting_up_to_the_bound_is_fine() -> None:
    depth = MAX_DEPTH - 1  # the root mapping counts as one level
    doc = parse_document("x: " + "[" * depth + "]" * depth + "\n")
    assert doc.ok


def test_brackets_in_quoted_and_block_scalars_do_not_count_as_nesting() -> None:
    deep = "[" * 200
    doc = parse_document(f"a: \"{deep}\"\nb: '{deep}'\nc: |\n  {deep}\n  - - - -\nd: x{deep}\n")
    assert doc.ok


def test_too_large_is_refused_before_parsing() -> None:
    doc = parse_document("a: " + "x" * MAX_DOCUMENT_BYTES)
    assert _codes(doc) == [("WF005", 1, 1)]


def test_read_source_reads_utf8_and_reports_the_rest(tmp_path: Path) -> None:
    good = tmp_path / "good.yaml"
    good.write_text(GOOD, encoding="utf-8")
    assert read_source(good) == (GOOD, None)
    cases = {
        "missing": tmp_path / "nope.yaml",
        "directory": tmp_path,
    }
    latin = tmp_path / "latin.yaml"
    latin.write_bytes(b"a: 1\nb: caf\xe9\n")
    for path in [*cases.values(), latin]:
        text, finding = read_source(path)
        assert text is None and finding is not None
        assert finding.code == "WF009" and finding.file == str(path)
    _, finding = read_source(latin)
    assert finding is not None and (finding.line, finding.col) == (2, 7)
    big = tmp_path / "big.yaml"
    big.write_bytes(b"a: " + b"x" * MAX_DOCUMENT_BYTES)
    assert read_source(big)[1] is not None


def test_the_tree_is_built_on_first_access_and_kept() -> None:
    doc = parse_document("# a comment\nb: 1\na: [x, y]  # trailing\n")
    assert "tree" not in vars(doc)  # validation never paid for it
    tree = doc.tree
    assert list(tree) == ["b", "a"] and tree["a"] == ["x", "y"]
    assert doc.tree is tree
    assert "# trailing" in str(tree.ca.items)  # comments kept for the designer


def test_a_reused_anchor_is_allowed_and_warns_nothing() -> None:
    # ruamel emits a ReusedAnchorWarning; under -W error it must not escape
    doc = parse_document("a: &x 1\nb: &x 2\nc: *x\n")
    assert doc.ok and doc.data == {"a": 1, "b": 2, "c": 2}
