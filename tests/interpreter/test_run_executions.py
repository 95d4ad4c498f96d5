"""Reused run ids keep every run that had them (issue 12 item 1), and any
unique prefix of an id names its run (item 6): the Python API and the store."""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from pathlib import Path

import pytest
from wfdsl.interpreter.clock import VirtualClock
from wfdsl.interpreter.engine import Engine
from wfdsl.interpreter.store.sqlite.schema import APPLICATION_ID, MIGRATIONS, SCHEMA_VERSION
from wfdsl.interpreter.store.sqlite.store import SqliteStore

import wfdsl

COUNTER = """
wfdsl: "1"
name: counter
input: {type: object, properties: {n: {type: integer}}}
vars: {n: 0}
search: {n: "${ vars.n }"}
start: bump
states:
  bump: {type: task, action: noop, set: {n: "${ input.n }"}, next: fin}
  fin: {type: succeed, output: "${ vars.n }"}
"""

WAITER = """
wfdsl: "1"
name: waiter
signals: {go: {}}
start: wait_go
states:
  wait_go:
    type: wait
    any:
      - {signal: go, as: got, next: done}
  done: {type: succeed, output: "${ vars.got }"}
"""

KID = 'wfdsl: "1"\nname: kid\nstart: s\nstates:\n  s: {type: succeed, output: "${ input.n }"}\n'
PARENT = """
wfdsl: "1"
name: par
start: kid
states:
  kid: {type: subflow, workflow: kid, input: {n: "${ input.n }"}, result: r, next: done}
  done: {type: succeed, output: "${ vars.r }"}
"""


@pytest.fixture
def engine(tmp_path: Path) -> Iterator[Engine]:
    with Engine(str(tmp_path / "runs.db"), clock=VirtualClock()) as opened:
        yield opened


def test_a_reused_id_keeps_the_old_runs_history(engine: Engine) -> None:
    first = engine.run_until_complete(engine.submit(COUNTER, {"n": 1}, run_id="fan1").id)
    first_history = [(e.seq, e.type) for e in first.history()]
    assert first.output == 1 and len(first_history) > 3

    second = engine.run_until_complete(engine.submit(COUNTER, {"n": 2}, run_id="fan1").id)
    assert (second.output, second.execution) == (2, 2)

    # The id names the newest run; the old one is still there, whole.
    assert engine.get("fan1").output == 2
    old = engine.get("fan1", execution=1)
    assert (old.output, old.execution, old.status) == (1, 1, "completed")
    assert [(e.seq, e.type) for e in engine.history("fan1", execution=1)] == first_history
    assert [(e.seq, e.type) for e in old.history()] == first_history
    # A snapshot read before the reuse still reads its own run's history.
    assert [(e.seq, e.type) for e in first.history()] == first_history
    assert [e.seq for e in engine.history("fan1")] == list(range(1, len(first_history) + 1))
    assert [(r.execution, r.output) for r in engine.executions("fan1")] == [(1, 1), (2, 2)]
    with pytest.raises(wfdsl.RunNotFound, match="no execution 3"):
        engine.get("fan1", execution=3)


def test_listing_shows_the_newest_run_of_an_id_unless_asked_for_all(engine: Engine) -> None:
    for n in (1, 2, 3):
        engine.run_until_complete(engine.submit(COUNTER, {"n": n}, run_id="same").id)
    engine.run_until_complete(engine.submit(COUNTER, {"n": 9}, run_id="other").id)
    assert sorted((r.id, r.output) for r in engine.list_runs()) == [("other", 9), ("same", 3)]
    every = engine.list_runs(all_executions=True)
    assert sorted((r.id, r.execution) for r in every) == [
        ("other", 1),
        ("same", 1),
        ("same", 2),
        ("same", 3),
    ]
    # Search attributes of earlier runs stay, and do not leak into the default list.
    assert [r.output for r in engine.list_runs(where="n == 1")] == []
    assert [r.output for r in engine.list_runs(where="n == 1", all_executions=True)] == [1]


def test_terminate_if_running_ends_the_old_run_and_keeps_it(engine: Engine) -> None:
    workflow = engine.register(WAITER)
    engine.start(workflow, run_id="w")
    engine.run_until_idle()
    assert engine.get("w").status == "waiting"
    engine.start(workflow, run_id="w", id_reuse="terminate_if_running")
    engine.run_until_idle()
    old = engine.get("w", execution=1)
    assert old.status == "cancelled" and old.error is not None
    assert old.error["error"] == "Terminated"
    assert old.history()[-1].type == "run_cancelled"
    # Signals go to the newest run only.
    engine.signal("w", "go", 5)
    assert engine.run_until_complete("w").output == 5
    assert engine.get("w", execution=1).status == "cancelled"


def test_a_reused_parent_id_starts_its_own_child(engine: Engine) -> None:
    engine.register(KID)
    first = engine.run_until_complete(engine.submit(PARENT, {"n": 1}, run_id="p").id)
    second = engine.run_until_complete(engine.submit(PARENT, {"n": 2}, run_id="p").id)
    # Before, the second parent took the first one's finished child as its own.
    assert (first.output, second.output) == (1, 2)
    assert [r.output for r in engine.executions("p/kid")] == [1, 2]
    assert engine.get("p/kid").output == 2


def test_any_unique_prefix_names_a_run(engine: Engine) -> None:
    workflow = engine.register(WAITER)
    for run_id in ("alpha-1", "alpha-2", "beta"):
        engine.start(workflow, run_id=run_id)
    engine.run_until_idle()
    assert engine.get("be").id == "beta"
    assert engine.resolve("alpha-2") == "alpha-2"
    engine.signal("alpha-1", "go", 1)  # a whole id is its own prefix
    engine.signal("b", "go", 2)
    assert engine.run_until_complete("bet").output == 2
    assert [e.type for e in engine.history("bet")][-1] == "run_completed"
    engine.pause("alpha-2")
    assert engine.resume("alpha-2").status != "paused"
    with pytest.raises(wfdsl.AmbiguousRunId) as ambiguous:
        engine.cancel("alpha")
    assert ambiguous.value.candidates == ("alpha-1", "alpha-2")
    assert "alpha-1, alpha-2" in str(ambiguous.value)
    assert isinstance(ambiguous.value, wfdsl.RunNotFound)
    assert engine.get("alpha-2").status == "waiting"  # nothing was cancelled
    with pytest.raises(wfdsl.RunNotFound, match="no run with id 'gamma'"):
        engine.get("gamma")
    with pytest.raises(wfdsl.RunNotFound):
        engine.get("")


def test_a_prefix_of_a_parent_names_the_parent_not_its_children(engine: Engine) -> None:
    engine.register(KID)
    engine.run_until_complete(engine.submit(PARENT, {"n": 1}, run_id="parent-1").id)
    assert engine.get("parent-1/kid").output == 1
    assert engine.get("par").id == "parent-1"
    assert engine.get("parent-1/k").id == "parent-1/kid"


def test_an_id_that_is_a_prefix_of_another_names_itself(engine: Engine) -> None:
    workflow = engine.register(WAITER)
    for run_id in ("job", "job-2", "job-3"):
        engine.start(workflow, run_id=run_id)
    assert engine.get("job").id == "job"
    assert engine.get("job", execution=1).id == "job"
    with pytest.raises(wfdsl.AmbiguousRunId, match="job, job-2, job-3"):
        engine.get("jo")


def test_a_long_ambiguous_prefix_lists_ten_candidates_and_says_there_are_more(
    engine: Engine,
) -> None:
    engine.start_many(engine.register(WAITER), [None] * 12)
    with pytest.raises(wfdsl.AmbiguousRunId, match="and more") as info:
        engine.get("0")
    assert len(info.value.candidates) == 10


def test_prefix_lookup_is_one_range_of_the_id_index(tmp_path: Path) -> None:
    with SqliteStore(str(tmp_path / "plan.db")) as store:
        conn = store._connection()
        seen: list[str] = []
        conn.set_trace_callback(seen.append)  # the statement as run, values in place
        assert store.run_ids_starting("ab", 5) == []
        conn.set_trace_callback(None)
        (statement,) = [text for text in seen if "FROM runs" in text]
        plan = conn.execute(f"EXPLAIN QUERY PLAN {statement}").fetchall()
        detail = " ".join(str(row[-1]) for row in plan)
        assert "USING COVERING INDEX" in detail and "id>? AND id<?" in detail, detail
        assert "SCAN" not in detail, detail
        assert store.run_ids_starting("", 5) == []


def _v1_store(path: Path) -> None:
    """A store file as wfdsl wrote it before executions were kept: schema 1,
    one finished run with history, a search attribute and a consumed message."""
    conn = sqlite3.connect(path, isolation_level=None)
    MIGRATIONS[0](conn)
    conn.execute("PRAGMA user_version = 1")
    conn.execute(f"PRAGMA application_id = {APPLICATION_ID:d}")
    conn.execute("INSERT INTO definitions VALUES ('h1', 'counter', NULL, ?, NULL, 1.0)", (COUNTER,))
    conn.execute(
        "INSERT INTO runs (id, workflow, version, definition_hash, status, input, vars, output, "
        "error, started_at, ended_at, ready_at, state, search, parent_run, row_version) "
        "VALUES ('old1', 'counter', NULL, 'h1', 'completed', '{\"n\":4}', '{\"n\":4}', '4', "
        "NULL, 10.0, 11.0, NULL, '{}', '{\"n\":4}', NULL, 3)"
    )
    events = [(1, "run_started"), (2, "state_entered"), (3, "run_completed")]
    conn.executemany(
        "INSERT INTO events VALUES (1, ?, ?, 10.0, NULL, NULL)", [(s, t) for s, t in events]
    )
    conn.execute("INSERT INTO search VALUES (1, 'n', 4)")
    conn.execute(
        "INSERT INTO inbox (run_key, channel, data, sent_at, consumed) "
        "VALUES (1, 'go', '1', 10.5, 1)"
    )
    conn.close()


def test_a_file_of_the_old_schema_migrates_with_its_runs_intact(tmp_path: Path) -> None:
    path = tmp_path / "old.db"
    _v1_store(path)
    with Engine(str(path), clock=VirtualClock(start=100.0)) as engine:
        old = engine.get("old1")
        assert (old.status, old.output, old.execution, old.search) == ("completed", 4, 1, {"n": 4})
        assert [e.type for e in engine.history("old1")] == [
            "run_started",
            "state_entered",
            "run_completed",
        ]
        assert [r.id for r in engine.list_runs(where="n == 4")] == ["old1"]
        # Reusing the migrated run's id keeps it too.
        engine.run_until_complete(engine.submit(COUNTER, {"n": 5}, run_id="old1").id)
        assert engine.get("old1").output == 5
        assert len(engine.history("old1", execution=1)) == 3
    conn = sqlite3.connect(path)
    try:
        assert conn.execute("PRAGMA user_version").fetchone()[0] == SCHEMA_VERSION
        assert conn.execute("PRAGMA foreign_key_check").fetchall() == []
        assert conn.execute("SELECT count(*) FROM inbox").fetchone()[0] == 1
    finally:
        conn.close()
