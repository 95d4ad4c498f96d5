"""The front end's public entry points: load, validate, compile_text, validate_text/path."""

from __future__ import annotations

import random
from pathlib import Path
from typing import Any

import pytest
from wfdsl.dsl import api
from wfdsl.dsl.findings import Finding
from wfdsl.dsl.loader import parse_document
from wfdsl.dsl.model import TaskState, Workflow
from work_bounds import measure_work

from wfdsl.errors import ValidationError

ROOT = Path(__file__).resolve().parents[2]
SIGNUP = ROOT / "examples" / "signup.yaml"

VALID = """\
wfdsl: "1"
name: hello
start: greet
states:
  greet:
    type: task
    action: log
    args: {message: "hi ${ input.name }"}
    end: true
"""

TWO_ERRORS = """\
wfdsl: "1"
name: broken
start: nap
states:
  nap:
    type: wait
    timer: 10 minutes
    next: gone
"""

READS_UNASSIGNED = """\
wfdsl: "1"
name: reads
start: say
states:
  say:
    type: task
    action: log
    args: {message: "${ vars.missing }"}
    end: true
"""


def codes(findings: list[Finding]) -> list[str]:
    return [f.code for f in findings]


# ------------------------------------------------------------------- inputs


def test_load_accepts_yaml_text_a_path_a_str_path_and_a_mapping() -> None:
    from_text = api.load(VALID)
    assert isinstance(from_text, Workflow) and from_text.file is None
    from_path = api.load(SIGNUP)
    from_str_path = api.load(str(SIGNUP))
    assert from_path.name == from_str_path.name == "user-signup"
    assert from_path.file == str(SIGNUP)
    from_dict = api.load(
        {"wfdsl": "1", "name": "d", "start": "s", "states": {"s": {"type": "succeed"}}}
    )
    assert from_dict.name == "d" and from_dict.source_text.startswith("wfdsl: '1'\nname: d\n")


def test_a_mapping_is_dumped_in_its_own_key_order_so_its_hash_is_stable() -> None:
    doc = {"wfdsl": "1", "name": "d", "start": "s", "states": {"s": {"type": "succeed"}}}
    assert api.load(doc).source_hash == api.load(dict(doc)).source_hash


def test_a_mapping_gets_findings_with_positions() -> None:
    doc = {"wfdsl": "1", "name": "d", "start": "s", "states": {"s": {"type": "wait", "timer": "x"}}}
    findings = api.validate(doc)
    assert {f.code for f in findings} >= {"WF502"}
    timer = next(f for f in findings if f.code == "WF502")
    assert (timer.line, timer.col) == (7, 12)  # `    timer: x`


def test_a_yaml_path_that_does_not_exist_is_reported_not_read_as_text() -> None:
    findings = api.validate("no/such/flow.yaml")
    assert codes(findings) == ["WF009"]
    assert findings[0].file == "no/such/flow.yaml"


# --------------------------------------------------------------- errors


def test_load_raises_validation_error_carrying_every_finding() -> None:
    with pytest.raises(ValidationError) as raised:
        api.load(TWO_ERRORS)
    assert sorted(codes(list(raised.value.findings))) == ["WF201", "WF502"]
    assert "2 error(s)" in str(raised.value)


def test_validate_returns_findings_sorted_and_never_raises() -> None:
    findings = api.validate(TWO_ERRORS)
    assert codes(findings) == ["WF502", "WF201"]  # line 7 before line 8
    assert api.validate("[1, 2") != []


def test_validate_text_carries_the_file_on_every_finding() -> None:
    findings = api.validate_text(TWO_ERRORS, "flows/broken.yaml")
    assert {f.file for f in findings} == {"flows/broken.yaml"}
    assert findings[0].format().startswith("flows/broken.yaml:7:12: error[WF502]: ")


def test_compile_text_returns_the_partial_workflow_with_the_findings() -> None:
    workflow, findings = api.compile_text(TWO_ERRORS, "b.yaml")
    assert workflow is not None and "nap" in workflow.states
    assert codes(findings) == ["WF502", "WF201"]
    nothing, yaml_findings = api.compile_text("a: [1", "b.yaml")
    assert nothing is None and codes(yaml_findings) == ["WF001"]


def test_validate_path_reads_the_file(tmp_path: Path) -> None:
    flow = tmp_path / "flow.yaml"
    flow.write_text(TWO_ERRORS, encoding="utf-8")
    assert codes(api.validate_path(flow)) == ["WF502", "WF201"]
    assert api.validate_path(SIGNUP, strict=True) == []


# ----------------------------------------------------------- generated codes


def test_a_document_over_the_size_limit_is_wf005(tmp_path: Path) -> None:
    padding = "# " + "x" * 98 + "\n"
    text = VALID + padding * 10_500  # a little over 1 MB
    assert codes(api.validate_text(text, "big.yaml")) == ["WF005"]
    big = tmp_path / "big.yaml"
    big.write_text(text, encoding="utf-8")
    assert codes(api.validate_path(big)) == ["WF005"]


def test_a_file_that_is_not_utf8_is_wf009(tmp_path: Path) -> None:
    latin = tmp_path / "latin.yaml"
    latin.write_bytes(VALID.replace("hi", "h\xe9").encode("latin-1"))
    findings = api.validate_path(latin)
    assert codes(findings) == ["WF009"] and findings[0].file == str(latin)
    with pytest.raises(ValidationError) as raised:
        api.load(latin)
    assert codes(list(raised.value.findings)) == ["WF009"]


# ----------------------------------------------------------------- strict


def test_strict_promotes_dataflow_warnings_to_errors() -> None:
    relaxed = api.validate(READS_UNASSIGNED)
    assert [(f.code, f.severity) for f in relaxed] == [("WF402", "warning")]
    assert isinstance(api.load(READS_UNASSIGNED).states["say"], TaskState)
    strict = api.validate(READS_UNASSIGNED, strict=True)
    assert [(f.code, f.severity) for f in strict] == [("WF402", "error")]
    with pytest.raises(ValidationError):
        api.load(READS_UNASSIGNED, strict=True)


def test_strict_leaves_other_warnings_as_warnings() -> None:
    unreachable = VALID + "  orphan: {type: succeed}\n"
    findings = api.validate(unreachable, strict=True)
    assert [(f.code, f.severity) for f in findings] == [("WF202", "warning")]


# ------------------------------------------------------------- knock-ons


def test_a_schema_error_hides_graph_knock_ons_but_keeps_local_findings() -> None:
    text = """\
wfdsl: "1"
name: k
start: a
states:
  a: {type: sleep, next: b}
  b:
    type: task
    action: log
    args: {message: "${ lenght(input.x) }"}
    end: true
"""
    # 'a' cannot be compiled (unknown type): no unknown-start or unreachable 'b'
    # follows from it, but the misspelt function in 'b' is still reported.
    assert codes(api.validate(text)) == ["WF105", "WF302"]


def test_a_wrong_type_hides_the_compiler_finding_for_the_same_value() -> None:
    text = VALID.replace("    end: true\n", "    timeout: [1]\n    end: true\n")
    assert codes(api.validate(text)) == ["WF104"]


# --------------------------------------------------------- robustness, speed


def _mutate(value: Any, rng: random.Random) -> Any:
    """One random change deep inside ``value``: a wrong type, a deleted key, odd text."""
    junk = [None, True, -1, "", "${", "10 minutes", [], {}, "a..b", "${ 1 / 0 }"]
    if isinstance(value, dict) and value:
        key = rng.choice(list(value))
        copy = dict(value)
        if rng.random() < 0.2:
            del copy[key]
        else:
            copy[key] = _mutate(copy[key], rng) if rng.random() < 0.7 else rng.choice(junk)
        return copy
    if isinstance(value, list) and value:
        index = rng.randrange(len(value))
        return [*value[:index], _mutate(value[index], rng), *value[index + 1 :]]
    return rng.choice(junk)


def test_the_pipeline_never_raises_on_mutated_examples() -> None:
    rng = random.Random(7)
    for path in sorted((ROOT / "examples").glob("*.yaml")):
        data = parse_document(path.read_text(encoding="utf-8")).data
        for _ in range(8):
            mutated = _mutate(data, rng)
            if isinstance(mutated, dict):
                assert all(isinstance(f, Finding) for f in api.validate(mutated))


def generated(states: int) -> str:
    lines = ['wfdsl: "1"', "name: big", "vars: {count: 0, total: 0, out: {value: 0}}", "start: s0"]
    lines.append("states:")
    for i in range(states):
        nxt = f"s{i + 1}" if i + 1 < states else "done"
        kind = i % 4
        if kind == 0:
            lines += [f"  s{i}:", "    type: task", "    action: work.do",
                      f'    args: {{n: "${{ vars.count + {i} }}"}}', "    result: out",
                      "    retry: {max_attempts: 3, initial_interval: 1s}", f"    next: {nxt}"]  # fmt: skip
        elif kind == 1:
            lines += [f"  s{i}:", "    type: choice", "    choices:",
                      f"      - when: ${{ vars.count > {i} }}", f"        next: {nxt}",
                      f"    default: {nxt}"]  # fmt: skip
        elif kind == 2:
            lines += [f"  s{i}:", "    type: set", "    set:", "      count: ${ vars.count + 1 }",
                      "      total: ${ vars.total + vars.out.value }", f"    next: {nxt}"]  # fmt: skip
        else:
            lines += [f"  s{i}:", "    type: wait", "    timer: 1s", f"    next: {nxt}"]
    lines += ["  done:", "    type: succeed", "    output: ${ vars.total }"]
    return "\n".join(lines) + "\n"


@pytest.mark.slow
def test_a_thousand_state_document_validates_and_compiles_in_linear_work() -> None:
    def compile_states(n: int) -> int:
        (workflow, findings), work = measure_work(
            lambda: api.compile_text(generated(n), f"big{n}.yaml"), memory=False
        )
        assert findings == [] and workflow is not None and len(workflow.states) == n + 1
        return work.calls

    # Counted, not timed (bench/validate.py measures the speed): four times
    # the states cost about four times the calls; a quadratic step, sixteen.
    small, large = compile_states(250), compile_states(1000)
    assert large < 6 * small, (small, large)


def test_a_mapping_dumps_the_same_every_time_and_a_changed_one_differently() -> None:
    from datetime import date

    from wfdsl.dsl.api import dump_mapping

    doc = {"wfdsl": "1", "name": "m", "start": "a", "states": {"a": {"type": "succeed"}}}
    first = dump_mapping(doc)
    assert dump_mapping(doc) == first  # remembered, identical
    doc["states"]["a"]["output"] = 1  # changed in place: not the remembered text
    assert "output: 1" in dump_mapping(doc)
    # Order, bool against int, and a date against its text are all different documents.
    assert dump_mapping({"a": 1, "b": 2}) != dump_mapping({"b": 2, "a": 1})
    assert dump_mapping({"a": True}) == "a: true\n" and dump_mapping({"a": 1}) == "a: 1\n"
    assert dump_mapping({"d": date(2026, 1, 1)}) != dump_mapping({"d": "2026-01-01"})
