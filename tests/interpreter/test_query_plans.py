"""The statements an idle or busy engine repeats use their indexes: none
scans the runs table or sorts it. A scan there makes idle CPU and memory
grow with every parked run (the waiting benchmark's 100,000), which is
what a user of a long-lived store would notice; the plan shows it on a
small file, without timing anything."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest
from wfdsl.interpreter.clock import VirtualClock
from wfdsl.interpreter.engine import Engine

PARKED = """
wfdsl: "1"
name: parked
signals: {go: {}}
start: park
states:
  park: {type: wait, timer: 1d, next: after}
  after: {type: wait, signal: go, next: done}
  done: {type: succeed}
"""


def plans(path: Path, statements: list[str]) -> dict[str, str]:
    conn = sqlite3.connect(path)
    try:
        found: dict[str, str] = {}
        for sql in statements:
            head = sql.lstrip().split(None, 1)[0].upper()
            if head not in {"SELECT", "UPDATE", "DELETE", "INSERT", "WITH"}:
                continue
            rows = conn.execute("EXPLAIN QUERY PLAN " + sql).fetchall()
            found[sql] = " | ".join(row[-1] for row in rows)
        return found
    finally:
        conn.close()


@pytest.fixture
def busy_store(tmp_path: Path) -> Path:
    path = tmp_path / "plans.db"
    with Engine(str(path), clock=VirtualClock()) as engine:
        workflow = engine.register(PARKED)
        runs = engine.start_many(workflow, [None] * 300)
        engine.run_until_idle()  # every run parked on its timer
        engine.signal(runs[0].id, "go")
    return path


def test_the_statements_of_a_serving_engine_use_indexes(busy_store: Path) -> None:
    seen: list[str] = []
    with Engine(str(busy_store), clock=VirtualClock()) as engine:
        conn = engine.store._connection()  # type: ignore[attr-defined]
        conn.set_trace_callback(seen.append)
        engine.run_until_idle()  # claims, reads inboxes, commits, looks for the next timer
        engine.clock.advance("1d")  # type: ignore[attr-defined]
        engine.run_until_idle()  # every timer fires: claims and commits in batches
        conn.set_trace_callback(None)
    found = plans(busy_store, seen)
    assert any("runs_ready" in plan for plan in found.values())  # the claim was traced
    # runs_by_status/_workflow/_started hold every parked run: they serve
    # list_runs, never the driving loop. runs_leased holds the few runs some
    # process drives right now, so walking it is fine.
    bad = {
        sql[:160]: plan
        for sql, plan in found.items()
        for step in plan.split(" | ")
        if (step.startswith("SCAN runs") and "runs_leased" not in step)
        or any(index in step for index in ("runs_by_status", "runs_by_workflow", "runs_by_started"))
    }
    assert bad == {}


def test_listing_a_runs_forks_reads_the_forks_index_not_every_history(busy_store: Path) -> None:
    with Engine(str(busy_store), clock=VirtualClock()) as engine:
        origin = engine.list_runs(limit=1)[0]
        fork = engine.fork(origin.id, at="park", new_run_id="the-fork")
        seen: list[str] = []
        conn = engine.store._connection()  # type: ignore[attr-defined]
        conn.set_trace_callback(seen.append)
        assert [f.run.id for f in engine.forks(origin.id)] == [fork.id]
        conn.set_trace_callback(None)
    found = plans(busy_store, [sql for sql in seen if "forked_from" in sql])
    assert found and all("events_forked_from" in plan for plan in found.values()), found
    assert not any("SCAN e" in plan or "SCAN events" in plan for plan in found.values())
