"""Engine.start_many: many runs of one registered workflow in one
transaction, all durable when it returns."""

from __future__ import annotations

from pathlib import Path

import pytest
from wfdsl.interpreter.clock import VirtualClock
from wfdsl.interpreter.engine import Engine
from wfdsl.interpreter.store.errors import StoreError
from wfdsl.interpreter.store.sqlite.store import SqliteStore

DOUBLE = """
wfdsl: "1"
name: double
start: twice
states:
  twice: {type: task, action: double, args: {x: "${ input.n }"}, result: r, next: fin}
  fin: {type: succeed, output: "${ vars.r }"}
"""


def make_engine(path: Path, store: SqliteStore | None = None) -> Engine:
    engine = Engine(str(path), clock=VirtualClock(), store=store)
    engine.action("double")(lambda x: 2 * x)
    return engine


def test_start_many_creates_every_run_and_they_all_complete(tmp_path: Path) -> None:
    path = tmp_path / "runs.db"
    with make_engine(path) as engine:
        runs = engine.start_many(engine.register(DOUBLE), [{"n": n} for n in range(5)])
        assert [run.status for run in runs] == ["running"] * 5
        assert len({run.id for run in runs}) == 5
        engine.run_until_idle()
    # Durable: another engine on the file sees the finished runs.
    with make_engine(path) as reopened:
        outputs = {reopened.get(run.id).input["n"]: reopened.get(run.id).output for run in runs}
    assert outputs == {0: 0, 1: 2, 2: 4, 3: 6, 4: 8}


def test_start_many_of_nothing_creates_nothing(tmp_path: Path) -> None:
    with make_engine(tmp_path / "runs.db") as engine:
        assert engine.start_many(engine.register(DOUBLE), []) == []
        assert engine.list_runs() == []


class FailingOnThird(SqliteStore):
    """Fails the batch while inserting its third run, as a full disk would."""

    def _insert_run(self, conn, run, generation):  # type: ignore[no-untyped-def]
        if run.input == {"n": 2}:
            raise StoreError("disk full (simulated)")
        return super()._insert_run(conn, run, generation)


def test_a_batch_that_fails_midway_leaves_no_run_behind(tmp_path: Path) -> None:
    path = tmp_path / "runs.db"
    store = FailingOnThird(str(path))
    with make_engine(path, store) as engine:
        workflow = engine.register(DOUBLE)
        with pytest.raises(StoreError):
            engine.start_many(workflow, [{"n": n} for n in range(5)])
        assert engine.list_runs() == []
        # The store is usable afterwards.
        assert len(engine.start_many(workflow, [{"n": 7}])) == 1
