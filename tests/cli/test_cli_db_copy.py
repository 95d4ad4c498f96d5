"""``wfdsl db copy SRC DST``: a SQLite store moved to PostgreSQL and back
keeps every run (every execution of a reused id, a subflow child, a run
waiting on a timer, one with a message not yet consumed), its history and
inbox, and the copied runs carry on where they were on the new backend."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner
from wfdsl.interpreter.clock import VirtualClock
from wfdsl.interpreter.engine import Engine

from wfdsl.cli import cli

WAITER = """
wfdsl: "1"
name: waiter
vars: {got: null, count: 0}
search: {count: "${ vars.count }", kind: parked}
signals:
  go: {}
handlers:
  bump:
    set: {count: "${ vars.count + 1 }"}
    return: ${ vars.count }
start: wait_go
states:
  wait_go:
    type: wait
    any:
      - {signal: go, as: got, next: done}
      - {timer: 1h, next: late}
  done: {type: succeed, output: "${ vars.got }"}
  late: {type: fail, error: Late, message: no go within the hour}
"""

TASKS = """
wfdsl: "1"
name: adder
vars: {total: 0}
start: one
states:
  one: {type: task, action: add, args: {x: 2}, set: {total: "${ vars.total + result }"}, next: fin}
  fin: {type: succeed, output: "${ vars.total }"}
"""


def invoke(*args: str) -> tuple[int, str]:
    result = CliRunner().invoke(cli, list(args), catch_exceptions=False)
    return result.exit_code, result.output


def engine_on(db: str) -> Engine:
    engine = Engine(db, clock=VirtualClock(start=1_000_000.0))

    @engine.action("add")
    def add(x: int) -> int:
        return x

    return engine


def snapshot(db: str) -> dict[str, Any]:
    """Everything a user can read about every run of the store."""
    with engine_on(db) as engine:
        found: dict[str, Any] = {}
        for run in engine.list_runs(limit=1000, all_executions=True):
            key = f"{run.id}#{run.execution}"
            found[key] = {
                "run": run.to_json(),
                "history": [
                    (e.seq, e.type, e.time, e.state, dict(e.data))
                    for e in engine.history(run.id, execution=run.execution)
                ],
            }
        found["inbox"] = [
            (m.run_id, m.seq, m.channel, m.data)
            for run_id in ("parked", "pending", "timed")
            for m in engine.store.inbox(run_id)
        ]
        found["where"] = [r.id for r in engine.list_runs(where="count >= 1 and kind == 'parked'")]
        return found


def fill(db: str) -> None:
    """A store with runs in every shape a copy must keep."""
    with engine_on(db) as engine:
        adder = engine.register(TASKS)
        engine.start(adder, run_id="sum")
        engine.run_until_idle()
        # A reused id: the first execution completed, the second waits.
        engine.start(adder, run_id="again")
        engine.run_until_idle()
        waiter = engine.register(WAITER)
        engine.start(waiter, run_id="again", id_reuse="allow_if_no_running")
        engine.start(waiter, run_id="parked")
        engine.start(waiter, run_id="pending")
        engine.start(waiter, run_id="timed")
        engine.run_until_idle()
        engine.call("parked", "bump")
        engine.run_until_idle()
        # Sent, never consumed: nothing drives the store after this.
        engine.signal("pending", "go", {"late": True})


@pytest.fixture
def sqlite_db(tmp_path: Path) -> str:
    db = str(tmp_path / "source.db")
    fill(db)
    return db


def test_a_sqlite_store_moves_to_postgresql_and_back_with_every_run(
    sqlite_db: str, postgres_url: str, tmp_path: Path
) -> None:
    before = snapshot(sqlite_db)
    assert {"again#1", "again#2", "sum#1", "parked#1", "pending#1", "timed#1"} <= set(before)
    assert before["inbox"] and before["where"] == ["parked"]

    code, out = invoke("db", "copy", sqlite_db, postgres_url, "--json")
    assert code == 0, out
    copied = json.loads(out)["copied"]
    assert copied["runs"] == 6 and copied["messages"] >= 1 and copied["definitions"] == 2
    assert snapshot(postgres_url) == before

    back = str(tmp_path / "back.db")
    code, out = invoke("db", "copy", postgres_url, back)
    assert code == 0, out
    assert "copied 6 run(s)" in out
    assert snapshot(back) == before

    # The copied runs carry on on PostgreSQL: the pending message is
    # consumed, the timer fires an hour on, new messages follow the old.
    with engine_on(postgres_url) as engine:
        engine.run_until_idle()
        assert engine.get("pending").status == "completed"
        assert engine.get("pending").output == {"late": True}
        engine.signal("parked", "go", "now")
        engine.run_until(engine.clock.now() + 3600 + 1)
        assert engine.get("parked").output == "now"
        assert engine.get("timed").status == "failed"
        assert engine.get("again").status == "failed"
        assert [r.execution for r in engine.executions("again")] == [1, 2]


def test_a_store_that_is_not_empty_is_refused_unless_replaced(
    sqlite_db: str, postgres_url: str
) -> None:
    assert invoke("db", "copy", sqlite_db, postgres_url)[0] == 0
    with engine_on(postgres_url) as engine:
        engine.signal("parked", "go", "moved on")
        engine.run_until_idle()
    code, out = invoke("db", "copy", sqlite_db, postgres_url)
    assert code == 5
    assert "not empty" in out and "--replace" in out
    assert snapshot(postgres_url)["parked#1"]["run"]["status"] == "completed"  # untouched
    code, out = invoke("db", "copy", sqlite_db, postgres_url, "--replace")
    assert code == 0, out
    assert snapshot(postgres_url) == snapshot(sqlite_db)


def test_copying_a_store_that_does_not_exist_is_refused(tmp_path: Path) -> None:
    code, out = invoke("db", "copy", str(tmp_path / "nope.db"), str(tmp_path / "dst.db"))
    assert code == 4 and "no store at" in out
    assert not (tmp_path / "dst.db").exists()
