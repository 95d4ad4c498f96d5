"""Schema errors as findings: one per mistake, at the node, naming the state, with a fix."""

from __future__ import annotations

import copy
import dataclasses
import re
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from wfdsl.dsl import schema_check
from wfdsl.dsl.findings import Finding
from wfdsl.dsl.loader import LoadedDocument, parse_document
from wfdsl.dsl.schema_check import check_embedded_schemas, check_schema, schema, schema_text
from wfdsl.dsl.schema_compiled import Unsupported, compile_schema

REPO = Path(__file__).resolve().parents[2]
INVALID = REPO / "tests" / "dsl" / "invalid"
EXPECT = re.compile(r"# expect: (WF\d{3}) (\d+):(\d+)")
# Schema-level codes; WF204/WF208 only where the schema forbids the key outright.
SCHEMA_LEVEL_EXTRA = {"end_on_succeed.yaml", "undo_on_non_task.yaml"}
#: WF1xx mistakes only the compiler sees: whether a value can be a list needs
#: the value compiled (a map's `items` is any JSON value to the schema).
COMPILER_LEVEL = {"map_items_not_a_list.yaml"}


def _findings(text: str) -> list[Finding]:
    doc = parse_document(text, "t.yaml")
    return [*doc.findings, *check_schema(doc), *check_embedded_schemas(doc)]


def _doc(states: str, top: str = "") -> str:
    body = "\n".join("  " + line for line in states.strip("\n").splitlines())
    return f'wfdsl: "1"\nname: t\n{top}start: a\nstates:\n{body}\n'


CASES = [
    pytest.param(
        _doc("a: {type: succeed}", "retries: 3\n"),
        "WF102",
        3,
        1,
        "unknown key 'retries'",
        None,
        id="unknown-top-level-key",
    ),
    pytest.param(
        _doc("a: {type: task, action: x, argz: {}, end: true}"),
        "WF102",
        5,
        30,
        "state 'a': unknown key 'argz'",
        "did you mean 'args'?",
        id="unknown-state-key",
    ),
    pytest.param(
        _doc("a: {type: succeed, next: b}"),
        "WF204",
        5,
        22,
        "a succeed state ends its scope; it has no `next`",
        "remove `next`",
        id="next-on-succeed",
    ),
    pytest.param(
        _doc("a: {type: choice, choices: [{when: true, next: a}], next: a}"),
        "WF204",
        5,
        55,
        "it has no `next`",
        None,
        id="next-on-choice",
    ),
    pytest.param(
        _doc("a: {type: set, undo: {action: x}, next: a}"),
        "WF208",
        5,
        18,
        "`undo` is only allowed on task states",
        None,
        id="undo-on-set",
    ),
    pytest.param(
        _doc("a: {type: task, end: true}"),
        "WF103",
        5,
        6,
        "state 'a': missing key 'action'",
        "add `action:`",
        id="task-without-action",
    ),
    pytest.param(
        _doc("a: {type: task, action: x, retry: {max_attempts: '3'}, end: true}"),
        "WF104",
        5,
        52,
        "retry.max_attempts must be an integer or `unlimited`, found string '3'",
        "write 3 without quotes",
        id="max-attempts-quoted",
    ),
    pytest.param(
        _doc("a: {type: task, action: x, retry: {max_attempts: 0}, end: true}"),
        "WF105",
        5,
        52,
        "retry.max_attempts must be at least 1, found 0",
        "max_attempts counts attempts, the first included: write `max_attempts: 1` for no "
        "retries, or `max_attempts: unlimited` (with `max_duration`) to retry without a count",
        id="max-attempts-zero-is-not-no-retries",
    ),
    pytest.param(
        _doc("a: {type: task, action: x, retry: {max_attempts: unlimted}, end: true}"),
        "WF104",
        5,
        52,
        "retry.max_attempts must be an integer or `unlimited`, found string 'unlimted'",
        "did you mean 'unlimited'?",
        id="max-attempts-unlimited-misspelt",
    ),
    pytest.param(
        _doc("a: 5"),
        "WF104",
        5,
        6,
        "state 'a': the state must be a mapping",
        None,
        id="state-not-a-mapping",
    ),
    pytest.param(
        _doc("a: {type: taks, end: true}"),
        "WF105",
        5,
        13,
        "unknown state type 'taks'",
        "did you mean 'task'?",
        id="state-type-typo",
    ),
    pytest.param(
        _doc("a: {type: succeed}", "id_reuse: disalow\n"),
        "WF105",
        3,
        11,
        "'disalow' is not a known value",
        "did you mean 'disallow'?",
        id="enum-typo",
    ),
    pytest.param(
        _doc("a: {type: succeed}").replace('"1"', "1"),
        "WF106",
        1,
        8,
        "found integer 1; quote it",
        'write `wfdsl: "1"`',
        id="version-unquoted",
    ),
    pytest.param(
        _doc("a: {type: succeed}").replace('"1"', '"2"'),
        "WF106",
        1,
        8,
        'unsupported language version "2"',
        None,
        id="version-2",
    ),
    pytest.param(
        _doc("a: {type: wait, next: a}"),
        "WF101",
        5,
        6,
        "a wait needs one of timer, until, signal, any, all, at_least",
        None,
        id="wait-without-kind",
    ),
    pytest.param(
        _doc("a: {type: wait, timer: 1s, signal: s, next: a}"),
        "WF101",
        5,
        6,
        "found timer and signal",
        None,
        id="wait-with-two-kinds",
    ),
    pytest.param(
        _doc("a: {type: wait, any: [{timer: 1s, until: x}], next: a}"),
        "WF101",
        5,
        25,
        "found timer and until",
        None,
        id="alternative-with-two-kinds",
    ),
    pytest.param(
        _doc("a: {type: wait, timer: 1s, as: t, next: a}"),
        "WF105",
        5,
        30,
        "`as` is only allowed together with `signal`",
        None,
        id="as-without-signal",
    ),
    pytest.param(
        _doc("a: {type: task, action: x, retry: {jitter: 1.5}, end: true}"),
        "WF105",
        5,
        46,
        "retry.jitter must be at most 1, found 1.5",
        None,
        id="jitter-range",
    ),
    pytest.param(
        _doc("9a: {type: succeed}").replace("start: a", "start: 9a"),
        "WF105",
        5,
        3,
        "state name '9a' must be letters",
        None,
        id="state-name-pattern",
    ),
    pytest.param(
        _doc("a: {type: succeed}").replace("name: t", "name: My Flow"),
        "WF105",
        2,
        7,
        "name 'My Flow' must be lower-case",
        "did you mean 'my-flow'?",
        id="name-pattern",
    ),
    pytest.param(
        _doc("a: {type: wait, any: [], next: a}"),
        "WF105",
        5,
        24,
        "any must be a list of at least 1 item",
        None,
        id="empty-any",
    ),
    pytest.param(
        _doc("a: {type: succeed}", "input: {type: strng}\n"),
        "WF107",
        3,
        15,
        "input is not a valid JSON Schema",
        "did you mean 'string'?",
        id="input-schema",
    ),
    pytest.param(
        _doc("a: {type: succeed}", "handlers: {h: {input: {minimum: x}}}\n"),
        "WF107",
        3,
        33,
        "handler 'h': input is not a valid JSON Schema",
        None,
        id="handler-input-schema",
    ),
]


@pytest.mark.parametrize(("text", "code", "line", "col", "fragment", "suggestion"), CASES)
def test_each_mistake_is_one_finding_at_its_node(
    text: str, code: str, line: int, col: int, fragment: str, suggestion: str | None
) -> None:
    (finding,) = _findings(text)
    assert (finding.code, finding.line, finding.col) == (code, line, col), finding.text
    assert fragment in finding.message
    if suggestion is not None:
        assert finding.suggestion == suggestion


def test_every_unknown_key_is_reported_and_x_keys_never() -> None:
    findings = _findings(_doc("a: {type: succeed, next: b, end: true, x-n: 1, then: 2}"))
    assert sorted((f.code, f.path[-1]) for f in findings) == [
        ("WF102", "then"),
        ("WF204", "end"),
        ("WF204", "next"),
    ]


def _corpus() -> list[object]:
    params = []
    for path in sorted(INVALID.glob("*.yaml")):
        text = path.read_text(encoding="utf-8")
        code, line, col = EXPECT.findall(text)[0]
        if (code < "WF200" or path.name in SCHEMA_LEVEL_EXTRA) and path.name not in COMPILER_LEVEL:
            params.append(pytest.param(text, (code, int(line), int(col)), id=path.stem))
    return params


@pytest.mark.parametrize(("text", "expected"), _corpus())
def test_corpus_yaml_and_schema_findings(text: str, expected: tuple[str, int, int]) -> None:
    assert [(f.code, f.line, f.col) for f in _findings(text)] == [expected]


def test_the_rest_of_the_corpus_is_clean_at_this_level() -> None:
    # graph, expression, dataflow and time mistakes are valid YAML and valid shape,
    # except the WF204 cases the compiler owns (neither or both of next and end)
    for path in sorted(INVALID.glob("*.yaml")):
        text = path.read_text(encoding="utf-8")
        code = EXPECT.findall(text)[0][0]
        if (code >= "WF200" and path.name not in SCHEMA_LEVEL_EXTRA) or path.name in COMPILER_LEVEL:
            assert _findings(text) == [], path.name


@pytest.mark.parametrize(
    "example", sorted((REPO / "examples").glob("*.yaml")), ids=lambda p: p.stem
)
def test_examples_parse_and_pass_the_schema(example: Path) -> None:
    doc = parse_document(example.read_text(encoding="utf-8"), str(example))
    assert doc.ok
    assert _findings(doc.text) == []


def test_schema_is_loaded_once_from_the_package() -> None:
    assert schema() is schema()
    assert schema()["$id"] == "https://wfdsl.dev/schemas/wfdsl-1.schema.json"
    assert schema_text() == (REPO / "schemas" / "wfdsl-1.schema.json").read_text(encoding="utf-8")


def test_a_document_that_did_not_load_gives_no_schema_findings() -> None:
    doc = parse_document("- a\n")
    assert list(check_schema(doc)) == [] and list(check_embedded_schemas(doc)) == []


# ---- the fast check says exactly what the plain validator says --------------------------------

MUTANTS = [None, True, 0, 1, 1.5, 2.0, "", "x", "task", "wait", "parallel", "map", "1h"]
MUTANTS += ["${ x }", "Bad Name", [], ["a"], {}, {"a": 1}, {"start": "a", "states": {}}]
MUTANTS += [{"type": "task"}, {"signal": "s"}, {"timer": "1h", "next": "a"}, {"type": "nope"}]
MUTANT_KEYS = ["type", "next", "end", "action", "args", "retry", "catch", "undo", "signal"]
MUTANT_KEYS += ["timer", "any", "as", "count", "choices", "default", "branches", "do", "items"]
MUTANT_KEYS += ["output", "x-a", "bogus", "set", "join", "start", "states", "max_attempts"]


def _plain_validator_findings(doc: LoadedDocument) -> list[Finding]:
    """What check_schema said before the predicate and the dispatch: the reference."""
    mapper = schema_check._Mapper(doc)
    seen: set[tuple[str, tuple[str | int, ...]]] = set()
    out = []
    for error in schema_check._validator().iter_errors(doc.data):
        for finding in mapper.convert(error):
            if (finding.code, finding.path) not in seen:
                seen.add((finding.code, finding.path))
                out.append(finding)
    return out


def _mutated(draw: st.DrawFn, value: Any, depth: int = 0) -> Any:
    if isinstance(value, dict) and value and depth < 6 and draw(st.booleans()):
        key = draw(st.sampled_from(sorted(value)))
        action = draw(st.sampled_from(["descend", "descend", "delete", "add", "replace"]))
        if action == "descend":
            value[key] = _mutated(draw, value[key], depth + 1)
        elif action == "delete":
            del value[key]
        elif action == "add":
            value[draw(st.sampled_from(MUTANT_KEYS))] = copy.deepcopy(
                draw(st.sampled_from(MUTANTS))
            )
        else:
            value[key] = copy.deepcopy(draw(st.sampled_from(MUTANTS)))
        return value
    if isinstance(value, list) and value and depth < 6 and draw(st.booleans()):
        index = draw(st.integers(0, len(value) - 1))
        value[index] = _mutated(draw, value[index], depth + 1)
        return value
    return copy.deepcopy(draw(st.sampled_from(MUTANTS)))


@pytest.fixture(scope="module")
def example_data() -> list[dict[str, Any]]:
    return [
        parse_document(path.read_text(encoding="utf-8")).data
        for path in sorted((REPO / "examples").glob("*.yaml"))
    ]


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.data())
def test_findings_equal_the_plain_validators_on_mutated_examples(
    example_data: list[dict[str, Any]], data: st.DataObject
) -> None:
    document = copy.deepcopy(data.draw(st.sampled_from(example_data)))
    for _ in range(data.draw(st.integers(1, 3))):
        if not isinstance(document, dict):
            break
        states = document.get("states")
        if isinstance(states, dict) and states and data.draw(st.booleans()):
            name = data.draw(st.sampled_from(sorted(states)))
            states[name] = _mutated(data.draw, states[name])
        else:
            document = _mutated(data.draw, document)
    if not isinstance(document, dict):
        return
    doc = dataclasses.replace(parse_document("a: 1\n", "t.yaml"), data=document)
    whole, _ = schema_check._predicates() or (None, None)
    assert whole is not None
    assert whole(document) == schema_check._validator().is_valid(document)
    assert list(check_schema(doc)) == _plain_validator_findings(doc)


def test_a_valid_document_costs_no_jsonschema_walk(monkeypatch: pytest.MonkeyPatch) -> None:
    doc = parse_document((REPO / "examples" / "order_saga.yaml").read_text(encoding="utf-8"))

    def refuse() -> None:
        raise AssertionError("jsonschema walked a valid document")

    monkeypatch.setattr(schema_check, "_explaining_validator", refuse)
    assert list(check_schema(doc)) == []


def test_the_predicate_refuses_schemas_it_does_not_implement() -> None:
    with pytest.raises(Unsupported, match="unevaluatedProperties"):
        compile_schema({"type": "object", "unevaluatedProperties": False})
    with pytest.raises(Unsupported, match="const/enum"):
        compile_schema({"enum": [1, "a"]})
    assert compile_schema({"type": "integer"})(2.0)  # jsonschema: 2.0 is an integer
    assert not compile_schema({"type": "number"})(True)
