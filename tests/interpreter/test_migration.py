"""Migrating in-flight runs (docs/operations.md "Migrate in-flight runs"):
a check says which active runs can move to a new version and why not;
apply moves those, one transaction each, with a run_migrated event."""

from __future__ import annotations

from pathlib import Path

import pytest
from wfdsl.interpreter.clock import VirtualClock
from wfdsl.interpreter.engine import Engine

V1 = """
wfdsl: "1"
name: claim
version: 1
vars: {amount: 0}
start: intake
states:
  intake: {type: set, set: {amount: "${ input.amount }"}, next: review}
  review: {type: wait, signal: approve, as: approval, next: pay}
  pay: {type: task, action: noop, next: done}
  done: {type: succeed, output: "${ vars.approval }"}
"""

# v2 adds a step after the review: runs waiting there can move.
V2 = V1.replace("version: 1", "version: 2").replace(
    "next: pay}\n  pay:",
    "next: log}\n  log: {type: task, action: log, args: {message: approved}, next: pay}\n  pay:",
)
# v3 renames the review: a run parked there needs --map review=triage.
V3 = V1.replace("version: 1", "version: 3").replace("review", "triage")
# v4 reads a var after the review that no v1 run holds.
V4 = V1.replace("version: 1", "version: 4").replace(
    "pay: {type: task, action: noop, next: done}",
    'pay: {type: task, action: log, args: {message: "${ vars.reviewer.name }"}, next: done}',
)
# v5 waits for another channel at the review.
V5 = V1.replace("version: 1", "version: 5").replace("signal: approve", "signal: accept")


@pytest.fixture
def engine(tmp_path: Path) -> Engine:
    with Engine(tmp_path / "m.db", clock=VirtualClock()) as engine:
        for n in (1, 2):
            engine.submit(V1, input={"amount": n * 10}, run_id=f"c{n}")
            engine.run_until_complete(f"c{n}")
        engine.submit(V1, input={"amount": 30}, run_id="c3")
        engine.signal("c3", "approve", "ok")
        engine.run_until_complete("c3")  # completed: not a candidate
        yield engine


def test_a_check_lists_every_active_run_and_moves_nothing(engine: Engine) -> None:
    report = engine.migrate("claim", V2)
    assert [(r.run_id, r.can_move, r.positions) for r in report.runs] == [
        ("c1", True, ("review",)),
        ("c2", True, ("review",)),
    ]
    assert engine.get("c1").version == "1"


def test_apply_moves_a_run_and_it_goes_on_in_the_new_version(engine: Engine) -> None:
    report = engine.migrate("claim", V2, apply=True, by="ops")
    assert [r.moved for r in report.runs] == [True, True]
    moved = engine.get("c1")
    assert moved.version == "2" and moved.status == "waiting"
    event = moved.history()[-1]
    assert event.type == "run_migrated" and event.data["by"] == "ops"
    assert event.data["from"]["version"] == "1" and event.data["to"]["version"] == "2"
    engine.signal("c1", "approve", "yes")
    done = engine.run_until_complete("c1")
    assert done.status == "completed" and done.output == "yes"
    assert "log" in [e.state for e in done.history() if e.type == "state_entered"]
    assert engine.get("c3").version == "1"  # a finished run stays as it was


def test_a_run_parked_at_a_removed_state_is_refused_unless_mapped(engine: Engine) -> None:
    refused = engine.migrate("claim", V3, apply=True)
    assert not any(r.moved for r in refused.runs)
    (reason,) = refused.runs[0].reasons
    assert reason == (
        "it is at 'review' and the new version has no state 'review'; map it with --map review=NEW"
    )
    assert engine.get("c1").version == "1"
    mapped = engine.migrate("claim", V3, mapping={"review": "triage"}, apply=True)
    assert all(r.moved for r in mapped.runs)
    engine.signal("c2", "approve", "fine")
    assert engine.run_until_complete("c2").status == "completed"


def test_vars_the_new_version_reads_must_be_held(engine: Engine) -> None:
    report = engine.migrate("claim", V4)
    assert not report.all_can_move
    assert report.runs[0].reasons == (
        "at 'review': state 'pay' reads vars.reviewer.name, which the run has no value for",
    )


def test_a_wait_that_changed_loses_its_consumer(engine: Engine) -> None:
    engine.signal("c1", "approve", "early")  # waits in the inbox until driven
    report = engine.migrate("claim", V5)
    reasons = report.runs[0].reasons
    assert any("its wait changed" in r for r in reasons)
    assert any("a message on 'approve' waits in its inbox" in r for r in reasons)


def test_another_workflow_is_refused(engine: Engine) -> None:
    from wfdsl.errors import WfdslError

    with pytest.raises(WfdslError, match="defines workflow 'other', not 'claim'"):
        engine.migrate("claim", V1.replace("name: claim", "name: other"))
