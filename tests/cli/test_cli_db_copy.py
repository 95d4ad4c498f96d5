"""``wfdsl db copy SRC DST``: a SQLite store moved to PostgreSQL and back
keeps every run (every execution of a reused id, a subflow child, a run
waiting on a timer, one with a message not yet consumed), its history and
inbox, and the copied runs carry on where they were on the new backend."""

from __future__ import annotations

import json
import tracemalloc
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner
from wfdsl.interpreter.clock import VirtualClock
from wfdsl.interpreter.engine import Engine
from wfdsl.interpreter.store import copy as copy_module
from wfdsl.interpreter.store import open_store
from wfdsl.interpreter.store.copy import RUN_FIELDS, Tables, copy_store
from wfdsl.interpreter.store.records import RunFilter

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


# --- a large store is streamed --------------------------------------------------------


def synthetic_tables(runs: int, events: int) -> Tables:
    """``runs`` waiting runs with ``events`` history events each, as copy rows."""
    state = json.dumps({"threads": {"": {"state": "wait_go", "visit": 1}}})

    def run_rows() -> Iterator[tuple[Any, ...]]:
        for key in range(1, runs + 1):
            values = {
                "key": key,
                "id": f"run-{key:06d}",
                "name": None,
                "execution": 1,
                "workflow": "waiter",
                "version": None,
                "definition_hash": "h",
                "status": "waiting",
                "input": json.dumps({"n": key}),
                "vars": json.dumps({"got": None, "count": key % 10, "pad": "v" * 200}),
                "output": None,
                "error": None,
                "started_at": 1_000_000.0 + key,
                "ended_at": None,
                "ready_at": 1_003_600.0 + key,
                "state": state,
                "search": json.dumps({"count": key % 10, "kind": "parked", "n": key / 7}),
                "parent_run": None,
                "row_version": 2,
                "needs_action": None,
                "lease_generation": 1,
            }
            yield tuple(values[name] for name in RUN_FIELDS)

    def event_rows() -> Iterator[tuple[Any, ...]]:
        for key in range(1, runs + 1):
            for seq in range(1, events + 1):
                data = json.dumps({"seq": seq, "note": "e" * 100})
                yield (key, seq, "state_entered", 1_000_000.0 + key + seq, "wait_go", data)

    def messages() -> Iterator[tuple[Any, ...]]:
        for key in range(1, runs + 1, 10):
            yield (key, key, "go", json.dumps({"late": key}), 1_000_001.0 + key, key % 20 == 1)

    return Tables(
        definitions=iter([("h", "waiter", None, WAITER, None, 0.0)]),
        runs=run_rows(),
        events=event_rows(),
        inbox=messages(),
        schedules=iter([("waiter", json.dumps({"last_run": None, "next_at": 5.0}))]),
    )


def rows_of(store: Any) -> dict[str, list[tuple[Any, ...]]]:
    """Every copied row of ``store``, in the neutral shapes (bools as bools)."""
    with store.copy_out() as tables:
        found = {
            "definitions": list(tables.definitions),
            "runs": list(tables.runs),
            "events": list(tables.events),
            "inbox": [(*m[:5], bool(m[5])) for m in tables.inbox],
            "schedules": list(tables.schedules),
        }
    return found


def peak_bytes_of_copy(source: str, destination: str) -> int:
    src, dst = open_store(source), open_store(destination)
    try:
        tracemalloc.start()
        try:
            tracemalloc.reset_peak()
            base = tracemalloc.get_traced_memory()[0]
            copy_store(src, dst)
            peak = tracemalloc.get_traced_memory()[1] - base
        finally:
            tracemalloc.stop()
        assert rows_of(src) == rows_of(dst)
        return peak
    finally:
        src.close()
        dst.close()


SIZES = (2500, 7500)


def test_a_copy_holds_one_batch_of_rows_not_the_whole_store(
    tmp_path: Path, postgres_server: Any, postgres_store_template: str, monkeypatch: Any
) -> None:
    monkeypatch.setattr(copy_module, "BATCH_ROWS", 50)
    peaks: dict[tuple[int, str], int] = {}
    for runs in SIZES:
        source = str(tmp_path / f"source-{runs}.db")
        with open_store(source) as store:
            store.copy_in(synthetic_tables(runs, events=2), replace=False)
        on_postgres = postgres_server.create_database(template=postgres_store_template)
        back = str(tmp_path / f"back-{runs}.db")
        peaks[runs, "to postgresql"] = peak_bytes_of_copy(source, on_postgres)
        peaks[runs, "to sqlite"] = peak_bytes_of_copy(on_postgres, back)
    # Three times the runs (and events and messages), about the same
    # memory: what a copy holds is a batch, whatever the size of the store.
    # (Both sizes are past what CPython's tuple free lists keep, 2,000 per
    # length, which tracemalloc counts as held.)
    for direction in ("to postgresql", "to sqlite"):
        small, large = (peaks[runs, direction] for runs in SIZES)
        assert large < 1.5 * small, (direction, peaks)


def test_a_copy_whose_connection_is_lost_midway_writes_nothing(
    tmp_path: Path, postgres_store_url: str
) -> None:
    import psycopg
    from wfdsl.interpreter.store.errors import StoreError

    source = str(tmp_path / "source.db")
    with open_store(source) as store:
        store.copy_in(synthetic_tables(1200, events=1), replace=False)
    destination = open_store(postgres_store_url)
    try:
        with open_store(source) as src, src.copy_out() as tables:
            rows = tables.runs

            def cut_midway() -> Iterator[tuple[Any, ...]]:
                for number, row in enumerate(rows):
                    if number == 700:  # a batch or more is already written
                        with psycopg.connect(postgres_store_url, autocommit=True) as admin:
                            admin.execute(
                                "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                                "WHERE datname = current_database() AND pid <> pg_backend_pid()"
                            )
                    yield row

            tables.runs = cut_midway()
            # The rows were read once: a second attempt would write only
            # what was left, so the copy fails instead, with nothing in DST.
            with pytest.raises(StoreError, match="run the copy again"):
                destination.copy_in(tables, replace=False)
        assert destination.list_runs(RunFilter(limit=5)) == []
    finally:
        destination.close()
    code, out = invoke("db", "copy", source, postgres_store_url, "--json")
    assert code == 0, out
    assert json.loads(out)["copied"]["runs"] == 1200
