"""Data from outside a run against the schemas its workflow declares
(docs/reference.md §1 and handlers): signal payloads (WF602), handler args (WF603), refused with
every violation and nothing stored, through the API and the CLI."""

from __future__ import annotations

import copy as copy_module
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner
from wfdsl.interpreter import input_check
from wfdsl.interpreter.clock import VirtualClock
from wfdsl.interpreter.engine import Engine

import wfdsl
from wfdsl.cli import cli

FLOW = """
wfdsl: "1"
name: approvals
vars: {approved_by: null, got: null}
signals:
  verified:
    schema:
      type: object
      required: [source, at]
      properties: {source: {type: string}, at: {type: integer}}
  ping: {}
handlers:
  approve:
    input:
      type: object
      required: [by]
      properties: {by: {type: string, minLength: 1}, level: {type: integer, maximum: 3}}
    set: {approved_by: "${ args.by }"}
    return: ${ 'ok' }
  peek:
    return: ${ vars.approved_by }
start: wait_it
states:
  wait_it: {type: wait, signal: verified, as: got, next: done}
  done: {type: succeed, output: "${ vars.got }"}
"""

OPEN = """
wfdsl: "1"
name: open-inbox
start: wait_it
states:
  wait_it: {type: wait, signal: anything, as: got, next: done}
  done: {type: succeed, output: "${ vars.got }"}
"""


@pytest.fixture
def engine() -> Any:
    with Engine(":memory:", clock=VirtualClock()) as e:
        yield e


def waiting(engine: Engine, doc: str = FLOW, run_id: str = "r1") -> str:
    run = engine.submit(doc, run_id=run_id)
    assert engine.run_until_complete(run.id).status == "waiting"
    return run.id


def test_signal_data_failing_its_schema_lists_every_violation(engine: Engine) -> None:
    run_id = waiting(engine)
    before = engine.history(run_id)
    with pytest.raises(wfdsl.ValidationError) as caught:
        engine.signal(run_id, "verified", {"source": 7, "at": "noon"})
    findings = caught.value.findings
    assert [f.code for f in findings] == ["WF602", "WF602"]
    assert [f.path for f in findings] == [("at",), ("source",)]
    assert "data.at: \"noon\" is not of type 'integer'" in findings[0].message  # JSON, not repr
    assert "'verified'" in str(caught.value) and "2 violation(s)" in str(caught.value)
    # Nothing was stored: no inbox row, no event, and the run still waits.
    assert engine.store.inbox(run_id) == []
    assert engine.history(run_id) == before
    assert engine.run_until_complete(run_id).status == "waiting"


def test_missing_required_fields_are_each_reported(engine: Engine) -> None:
    run_id = waiting(engine)
    with pytest.raises(wfdsl.ValidationError) as caught:
        engine.signal(run_id, "verified", {})
    messages = [f.message for f in caught.value.findings]
    assert len(messages) == 2
    assert all("is a required property" in m for m in messages)


def test_valid_signal_data_is_delivered(engine: Engine) -> None:
    run_id = waiting(engine)
    engine.signal(run_id, "verified", {"source": "link", "at": 3})
    done = engine.run_until_complete(run_id)
    assert done.status == "completed"
    assert done.output == {"source": "link", "at": 3}


def test_a_channel_without_schema_takes_any_payload(engine: Engine) -> None:
    run_id = waiting(engine)
    engine.signal(run_id, "ping", [1, "two", None])
    assert [m.data for m in engine.store.inbox(run_id)] == [[1, "two", None]]


def test_undeclared_channel_is_refused_naming_the_declared_ones(engine: Engine) -> None:
    run_id = waiting(engine)
    with pytest.raises(wfdsl.ValidationError) as caught:
        engine.signal(run_id, "verifed", {"source": "link", "at": 1})
    (finding,) = caught.value.findings
    assert finding.code == "WF602"
    assert "'verifed' is not declared" in finding.message
    assert "declared: ping, verified" in finding.message
    assert engine.store.inbox(run_id) == []


def test_workflow_without_signals_takes_any_channel(engine: Engine) -> None:
    run_id = waiting(engine, OPEN, "o1")
    engine.signal(run_id, "whatever", {"x": 1})
    engine.signal(run_id, "anything", 5)
    assert engine.run_until_complete(run_id).output == 5


def test_signal_to_unknown_run_raises_run_not_found(engine: Engine) -> None:
    with pytest.raises(wfdsl.RunNotFound):
        engine.signal("nope", "verified", {})


def test_handler_args_failing_the_input_schema_change_nothing(engine: Engine) -> None:
    run_id = waiting(engine)
    before = engine.history(run_id)
    with pytest.raises(wfdsl.ValidationError) as caught:
        engine.call(run_id, "approve", {"by": "", "level": 9})
    findings = caught.value.findings
    assert [f.code for f in findings] == ["WF603", "WF603"]
    assert [f.path for f in findings] == [("by",), ("level",)]
    assert findings[1].message == "args.level: 9 is greater than the maximum of 3"
    assert not isinstance(caught.value, wfdsl.HandlerRejected)
    assert engine.get(run_id).vars["approved_by"] is None
    assert engine.history(run_id) == before


def test_handler_args_missing_entirely(engine: Engine) -> None:
    run_id = waiting(engine)
    with pytest.raises(wfdsl.ValidationError) as caught:
        engine.call(run_id, "approve")
    (finding,) = caught.value.findings
    assert finding.message == "args: null is not of type 'object'"  # JSON's word


def test_valid_handler_args_run_the_handler(engine: Engine) -> None:
    run_id = waiting(engine)
    assert engine.call(run_id, "approve", {"by": "ann", "level": 2}) == "ok"
    assert engine.call(run_id, "peek") == "ann"


def test_unknown_handler_is_still_rejected_by_the_machine(engine: Engine) -> None:
    run_id = waiting(engine)
    with pytest.raises(wfdsl.HandlerRejected):
        engine.call(run_id, "aprove", {"by": "ann"})


def test_validators_are_cached_per_definition_not_per_object(engine: Engine) -> None:
    run_id = waiting(engine)
    engine.call(run_id, "approve", {"by": "x"})
    engine.signal(run_id, "verified", {"source": "a", "at": 1})
    cached = input_check.cached_validators()
    workflow = engine.definitions.get(engine.get(run_id).definition_hash)
    for i in range(30):
        # A fresh compile of the same text: equal content, new objects (what
        # a cache keyed by id() would count as new every time).
        copy = replace(workflow, signals=copy_module.deepcopy(dict(workflow.signals)))
        input_check.check_signal(copy, "verified", {"source": "a", "at": i})
        input_check.check_handler_args(copy, "approve", {"by": "x"})
    assert input_check.cached_validators() == cached


# ------------------------------------------------------------------ the CLI


@pytest.fixture
def store(tmp_path: Path) -> str:
    db = str(tmp_path / "w.db")
    with Engine(db, clock=VirtualClock()) as e:
        waiting(e)
    return db


def invoke(*args: str) -> tuple[int, str, str]:
    result = CliRunner().invoke(cli, list(args), catch_exceptions=False)
    return result.exit_code, result.stdout, result.stderr


def test_cli_signal_with_invalid_data_exits_5_with_every_violation(store: str) -> None:
    code, _, err = invoke("signal", "r1", "verified", "--data", '{"source": 1}', "--db", store)
    assert code == 5
    assert "data.source: 1 is not of type 'string'" in err
    assert "data: 'at' is a required property" in err
    code, _, err = invoke("signal", "r1", "nope", "--db", store)
    assert code == 5 and "declared: ping, verified" in err


def test_cli_signal_json_prints_the_findings(store: str) -> None:
    import json

    code, out, _ = invoke("signal", "r1", "verified", "--data", "{}", "--db", store, "--json")
    assert code == 5
    error = json.loads(out)["error"]
    assert error["code"] == "rejected" and error["exit"] == 5
    assert [f["code"] for f in error["findings"]] == ["WF602", "WF602"]


def test_cli_call_with_invalid_args_exits_5(store: str) -> None:
    code, _, err = invoke("call", "r1", "approve", "--data", '{"level": 4}', "--db", store)
    assert code == 5
    assert "args: 'by' is a required property" in err
    assert "args.level: 4 is greater than the maximum of 3" in err
    code, out, _ = invoke("call", "r1", "approve", "--data", '{"by": "ann"}', "--db", store)
    assert code == 0 and out.strip() == '"ok"'
