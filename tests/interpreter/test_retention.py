"""Retention (docs/operations.md "Retention"): finished runs older than a
bound are deleted with their history, in small batches; runs still
referenced (a parent's child, a schedule's last run) are kept."""

from __future__ import annotations

from pathlib import Path

import pytest
from wfdsl.interpreter.clock import VirtualClock
from wfdsl.interpreter.engine import Engine
from wfdsl.interpreter.retention import Retention

DAY = 86400.0

QUICK = """
wfdsl: "1"
name: quick
input: {type: object, properties: {fail: {type: boolean}}}
start: go
states:
  go:
    type: choice
    choices:
      - when: ${ input.fail == true }
        next: boom
    default: fin
  boom: {type: fail, error: Boom}
  fin: {type: succeed}
"""

WAITER = """
wfdsl: "1"
name: waiter
start: w
states:
  w: {type: wait, signal: go, next: fin}
  fin: {type: succeed}
"""

PARENT = """
wfdsl: "1"
name: parent
start: kid
states:
  kid: {type: subflow, workflow: quick, input: {}, next: hold}
  hold: {type: wait, signal: go, next: fin}
  fin: {type: succeed}
"""


@pytest.fixture
def engine(tmp_path: Path) -> Engine:
    with Engine(tmp_path / "r.db", clock=VirtualClock()) as engine:
        yield engine


def _finish(engine: Engine, run_id: str, *, fail: bool = False) -> None:
    engine.submit(QUICK, input={"fail": fail}, run_id=run_id)
    engine.run_until_complete(run_id)


def test_prune_deletes_old_finished_runs_with_their_history(engine: Engine) -> None:
    _finish(engine, "old-ok")
    _finish(engine, "old-bad", fail=True)
    engine.submit(WAITER, run_id="parked")
    engine.run_until_complete("parked")
    engine.clock.advance(31 * DAY)  # type: ignore[attr-defined]
    _finish(engine, "young")

    dry = engine.prune(30 * DAY, dry_run=True)
    assert (dry.runs, dry.dry_run) == (2, True)
    assert {r.run_id for r in dry.sample} == {"old-ok", "old-bad"}
    assert dry.events == len(engine.history("old-ok")) + len(engine.history("old-bad"))
    assert engine.get("old-ok").status == "completed"  # a dry run deletes nothing

    report = engine.prune(30 * DAY, statuses=["completed"])
    assert report.runs == 1
    assert {r.id for r in engine.list_runs()} == {"old-bad", "parked", "young"}
    assert engine.prune(30 * DAY).runs == 1  # now the failed one
    assert {r.id for r in engine.list_runs()} == {"parked", "young"}
    assert engine.get("parked").status == "waiting"  # active runs are never pruned


def test_prune_works_in_batches(engine: Engine) -> None:
    for n in range(7):
        _finish(engine, f"r{n}")
    engine.clock.advance(2 * DAY)  # type: ignore[attr-defined]
    found, _ = engine.store.prune_runs(
        ended_before=engine.clock.now(), statuses=["completed"], limit=3
    )
    assert len(found) == 3  # one transaction deletes at most `limit`
    from wfdsl.interpreter.retention import prune

    report = prune(engine.store, older_than=DAY, now=engine.clock.now(), batch=3)
    assert (report.runs, report.batches) == (4, 2)
    assert engine.list_runs() == []


def test_a_child_is_kept_while_its_parent_exists(engine: Engine) -> None:
    engine.register(QUICK)
    engine.submit(PARENT, run_id="p")
    engine.run_until_complete("p")
    assert engine.get("p/kid").status == "completed"
    engine.clock.advance(2 * DAY)  # type: ignore[attr-defined]
    assert engine.prune(DAY).runs == 0  # the parent waits: its child stays
    engine.signal("p", "go")
    engine.run_until_complete("p")
    engine.clock.advance(2 * DAY)  # type: ignore[attr-defined]
    report = engine.prune(DAY)
    assert report.runs == 2  # the parent, then its child
    assert engine.list_runs() == []


def test_a_schedules_last_run_is_kept(engine: Engine) -> None:
    _finish(engine, "nightly-1")
    _finish(engine, "nightly-2")
    engine.store.set_schedule_state("quick", {"last_run": "nightly-2", "last_tick": 0})
    engine.clock.advance(2 * DAY)  # type: ignore[attr-defined]
    assert engine.prune(DAY).runs == 1
    assert [r.id for r in engine.list_runs()] == ["nightly-2"]


def test_the_store_level_retention_is_applied_by_a_serving_engine(engine: Engine) -> None:
    for n in range(5):
        _finish(engine, f"s{n}")
    engine.clock.advance(8 * DAY)  # type: ignore[attr-defined]
    assert engine.retention() is None
    applier = Retention(engine.store, batch=2, interval=0.0, idle_interval=0.0)
    assert applier.apply_due(engine.clock.now()) == ()  # no setting: nothing goes
    engine.set_retention(7 * DAY, statuses=["completed"])
    assert engine.retention().older_than == 7 * DAY
    batches = []
    while found := applier.apply_due(engine.clock.now()):
        batches.append(len(found))
    assert batches == [2, 2, 1] and engine.list_runs() == []
    with pytest.raises(ValueError, match="only finished runs"):
        engine.set_retention(DAY, statuses=["running"])
