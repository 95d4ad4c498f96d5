"""What firing due timers costs the store, counted (issue 13 §5 "timers").

A run whose timer fires and which then parks or ends keeps nothing in this
process: its lease is dropped by the commit that records ``timer_fired``
(``RunUpdate.release``), not by a release transaction after it. N due timers
are fired in one claim and one commit per batch, on both backends, and a
worker that claims a run does not rewrite its unchanged search rows.
"""

from __future__ import annotations

import math
from typing import Any

import pytest
from wfdsl.interpreter.clock import VirtualClock
from wfdsl.interpreter.engine import Engine
from wfdsl.interpreter.store.postgres import commit as postgres_commit
from wfdsl.interpreter.store.sqlite import commit as sqlite_commit

from tests.interpreter.test_idle_cost import counting_store

TIMERS = """
wfdsl: "1"
name: alarm
start: rest
states:
  rest: {type: wait, timer: 1h, next: again}
  again: {type: wait, timer: 1h, next: done}
  done: {type: succeed}
"""

RUNS = 1200


def test_due_timers_fire_in_one_claim_and_one_commit_per_batch(store_url: str) -> None:
    clock = VirtualClock()
    store = counting_store(store_url)
    engine = Engine(store=store, clock=clock)
    workflow = engine.register(TIMERS)
    engine.start_many(workflow, [None] * RUNS)
    engine.run_until_idle()  # all parked on their first timer
    batches = math.ceil(RUNS / engine.driver.batch)
    for step, status in (("first", "waiting"), ("second", "completed")):
        clock.advance(3600)
        store.done.clear()
        engine.run_until_idle()
        writes = {
            doing: n
            for doing, n in store.done.items()
            if not doing.startswith(("finding", "polling", "looking", "reading"))
        }
        claims = sum(n for doing, n in writes.items() if doing.startswith("claiming"))
        commits = sum(n for doing, n in writes.items() if doing.startswith("committing"))
        assert claims == batches, (step, writes)
        assert commits == batches, (step, writes)
        # No release transaction: each commit dropped its runs' leases.
        assert not any(doing.startswith("releasing") for doing in writes), (step, writes)
        assert {run.status for run in engine.list_runs(limit=RUNS + 1)} == {status}
    # No lease is left behind: a sweep that took every owner's leases frees none.
    assert store.release_orphans(lambda owner: True, now=clock.now()) == {}
    engine.close()


SEARCHED = """
wfdsl: "1"
name: phase
vars: {phase: parked}
search: {phase: "${ vars.phase }", tag: "${ input.tag }"}
start: rest
states:
  rest: {type: wait, timer: 1h, next: again}
  again: {type: wait, timer: 1h, next: mark}
  mark: {type: set, set: {phase: marked}, next: done}
  done: {type: succeed}
"""


def test_a_worker_that_claims_a_parked_run_does_not_rewrite_unchanged_search_rows(
    store_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The search rows of a run are what its stored search JSON says, so a
    worker that claims it (a fired timer, a taken-over run) and commits the
    same search writes no search rows; when the search changes, they are
    rewritten and queries see the new value."""
    clock = VirtualClock()
    parking = Engine(store_url, clock=clock)
    workflow = parking.register(SEARCHED)
    parking.start_many(workflow, [{"tag": f"t{i % 3}"} for i in range(30)])
    parking.run_until_idle()
    parking.close()

    rewritten: list[int] = []
    for module, name in (
        (sqlite_commit, "_write_search"),
        (postgres_commit, "write_search"),
    ):
        original = getattr(module, name)

        def counted(cur: Any, key: int, *args: Any, _original: Any = original, **kw: Any) -> Any:
            rewritten.append(key)
            return _original(cur, key, *args, **kw)

        monkeypatch.setattr(module, name, counted)

    firing = Engine(store_url, clock=clock)  # a fresh worker: nothing remembered
    firing.register(SEARCHED)
    clock.advance(3600)
    firing.run_until_idle()
    assert rewritten == []  # 30 fired timers, the same search: no search rows written
    assert len(firing.list_runs(where="phase == 'parked' and tag == 't1'")) == 10

    clock.advance(3600)
    firing.run_until_idle()
    assert len(rewritten) == 30  # the search changed: every run's rows rewritten
    assert firing.list_runs(where="phase == 'parked'") == []
    assert len(firing.list_runs(where="phase == 'marked' and tag == 't2'")) == 10
    firing.close()
