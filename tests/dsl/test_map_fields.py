"""A map state's own fields: a wrong type or value is a finding at its node,
never a run that fails later (or a traceback).

`items` is the list to iterate: a list, or one `${ ... }` expression that
yields one. `as`, `concurrency` and `tolerated_failures` are checked the same
way: each wrong value below gives exactly one finding, with its position.
"""

from __future__ import annotations

import textwrap
from pathlib import Path

import pytest
from click.testing import CliRunner
from wfdsl.dsl.api import validate_text

from wfdsl.cli import cli

BODY = 'do: {start: one, states: {one: {type: succeed, output: "${ index }"}}}'


def findings_for(field_lines: str) -> list[tuple[str, int, int, str]]:
    text = textwrap.dedent(f"""\
        wfdsl: "1"
        name: m
        start: each
        states:
          each:
            type: map
            {BODY}
            end: true
        """) + textwrap.indent(textwrap.dedent(field_lines), "    ")
    return [(f.code, f.line or 0, f.col or 0, f.message) for f in validate_text(text, "m.yaml")]


@pytest.mark.parametrize(
    ("fields", "code", "col", "words"),
    [
        pytest.param("items: abc", "WF104", 12, "found string 'abc'", id="a-word"),
        pytest.param("items: input.lines", "WF104", 12, "found string 'input.lines'",
                     id="a-path-without-braces"),
        pytest.param("items: 5", "WF104", 12, "found integer 5", id="a-number"),
        pytest.param("items: true", "WF104", 12, "found boolean true", id="a-boolean"),
        pytest.param("items: {a: 1}", "WF104", 12, "found a mapping", id="a-mapping"),
        pytest.param("items:", "WF104", 11, "found null", id="empty"),
        pytest.param("items: 'lines: ${ input.lines }'", "WF104", 12,
                     "always renders to a string", id="a-template"),
        pytest.param("items: ${ 5 }", "WF104", 12, "always yields integer 5",
                     id="a-constant-expression"),
        pytest.param("items: ${ 'abc' }", "WF104", 12, "always yields string 'abc'",
                     id="a-constant-string-expression"),
        pytest.param("items: [1]\ntolerated_failures: '150%'", "WF105", 25,
                     "from 0% to 100%", id="tolerated-percent-over-100"),
        pytest.param("items: [1]\ntolerated_failures: abc", "WF105", 25,
                     "a count or a percentage", id="tolerated-a-word"),
        pytest.param("items: [1]\ntolerated_failures: -1", "WF105", 25,
                     "at least 0", id="tolerated-negative"),
        pytest.param("items: [1]\ntolerated_failures: 1.5", "WF104", 25,
                     "found number 1.5", id="tolerated-a-fraction"),
        pytest.param("items: [1]\nconcurrency: 0", "WF105", 18, "at least 1",
                     id="concurrency-zero"),
        pytest.param("items: [1]\nconcurrency: four", "WF104", 18, "found string 'four'",
                     id="concurrency-a-word"),
        pytest.param("items: [1]\nconcurrency: '${ 4 }'", "WF104", 18,
                     "must be an integer", id="concurrency-an-expression"),
        pytest.param("items: [1]\nas: 5", "WF104", 9, "found integer 5", id="as-a-number"),
        pytest.param("items: [1]\nas: vars", "WF212", 9, "would hide", id="as-hides-vars"),
    ],
)  # fmt: skip
def test_a_wrong_map_field_is_one_finding_at_its_node(
    fields: str, code: str, col: int, words: str
) -> None:
    found = findings_for(fields)
    assert len(found) == 1, found
    got_code, line, got_col, message = found[0]
    wrong_line = 8 + len(fields.splitlines())  # the fields follow line 8; the last is wrong
    assert (got_code, line, got_col) == (code, wrong_line, col), message
    assert message.startswith("state 'each': "), message
    assert words in message, message


@pytest.mark.parametrize(
    ("items", "code"),
    [
        pytest.param("'${ input.rows'", "WF301", id="an-unclosed-expression"),
        pytest.param("${ 1 / 0 }", "WF305", id="an-expression-that-always-fails"),
    ],
)
def test_an_items_expression_that_is_wrong_is_its_own_finding_only(items: str, code: str) -> None:
    assert [found[0] for found in findings_for(f"items: {items}")] == [code]


def test_items_written_as_a_path_suggests_the_expression() -> None:
    text = textwrap.dedent(f"""\
        wfdsl: "1"
        name: m
        start: each
        states:
          each: {{type: map, items: input.lines, {BODY}, end: true}}
        """)
    (finding,) = validate_text(text, "m.yaml")
    assert finding.suggestion == "write it as an expression: '${ input.lines }'"


@pytest.mark.parametrize(
    "items",
    [
        pytest.param("[1, 2]", id="a-list"),
        pytest.param("[]", id="an-empty-list"),
        pytest.param("${ input.lines }", id="an-expression"),
        pytest.param("'  ${ input.lines }  '", id="an-expression-with-blanks"),
        pytest.param("['${ input.a }', 2]", id="a-list-with-an-expression"),
        pytest.param("${ [1, 2] }", id="a-constant-list-expression"),
        pytest.param("${ range(3) }", id="a-constant-call"),
        pytest.param("${ split(input.csv, ',') }", id="a-call-on-input"),
    ],
)  # fmt: skip
def test_items_that_can_be_a_list_are_accepted(items: str) -> None:
    assert findings_for(f"items: {items}") == []


def test_wfdsl_run_refuses_items_that_are_not_a_list_before_anything_runs(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("WFDSL_DB", raising=False)
    (tmp_path / "m.yaml").write_text(
        'wfdsl: "1"\nname: m\nstart: each\nstates:\n'
        f"  each: {{type: map, items: abc, {BODY}, end: true}}\n"
    )
    result = CliRunner().invoke(cli, ["run", "m.yaml"], catch_exceptions=False)
    assert result.exit_code == 2, result.output
    assert "m.yaml:5:28: error[WF104]: state 'each': items must be a list" in result.stderr
    assert "Traceback" not in result.output and "started" not in result.stderr
