"""``Store.prune_runs`` on every backend (the contract of retention): finished
runs older than the bound go in batches with their history; runs still
referenced stay; a dry run walks with a cursor and deletes nothing."""

from __future__ import annotations

from dataclasses import replace
from typing import Any

import pytest
from wfdsl.interpreter.store import open_store
from wfdsl.interpreter.store.protocol import Store
from wfdsl.interpreter.store.records import Definition, Event, RunRow

DEFINITION = Definition("h", "wf", None, "")
FINAL = ("cancelled", "completed", "failed")


@pytest.fixture
def store(store_url: str) -> Store:
    store = open_store(store_url)
    store.put_definition(DEFINITION)
    yield store
    store.close()


def add(store: Store, run_id: str, *, ended_at: float | None, **changes: Any) -> None:
    status = changes.pop("status", "completed" if ended_at is not None else "waiting")
    row = RunRow(
        id=run_id,
        workflow=changes.pop("workflow", "wf"),
        version=None,
        definition_hash="h",
        status=status,
        started_at=0.0,
        ended_at=ended_at,
    )
    events = [Event(run_id=run_id, seq=n, type="x", time=0.0) for n in (1, 2, 3)]
    store.create_run(replace(row, **changes), events, id_reuse="allow_if_no_running", now=0.0)


def ids(store: Store) -> set[str]:
    from wfdsl.interpreter.store.records import RunFilter

    return {r.id for r in store.list_runs(RunFilter(limit=1000, all_executions=True))}


def test_old_finished_runs_go_in_batches_with_their_history(store: Store) -> None:
    for n in range(5):
        add(store, f"old{n}", ended_at=10.0 + n)
    add(store, "failed", ended_at=11.0, status="failed")
    add(store, "young", ended_at=500.0)
    add(store, "active", ended_at=None)

    first, _ = store.prune_runs(ended_before=100.0, statuses=["completed"], limit=3)
    assert [r.run_id for r in first] == ["old0", "old1", "old2"]  # oldest end first
    assert all(r.events == 3 for r in first)
    assert store.history("old0") == []
    rest, _ = store.prune_runs(ended_before=100.0, statuses=["completed"], limit=3)
    assert [r.run_id for r in rest] == ["old3", "old4"]
    assert ids(store) == {"failed", "young", "active"}


def test_a_dry_run_deletes_nothing_and_pages_with_its_cursor(store: Store) -> None:
    for n in range(5):
        add(store, f"r{n}", ended_at=float(n))
    page, cursor = store.prune_runs(ended_before=100.0, statuses=FINAL, limit=2, dry_run=True)
    page2, cursor = store.prune_runs(
        ended_before=100.0, statuses=FINAL, limit=2, dry_run=True, after=cursor
    )
    page3, _ = store.prune_runs(
        ended_before=100.0, statuses=FINAL, limit=2, dry_run=True, after=cursor
    )
    assert [r.run_id for r in page + page2 + page3] == [f"r{n}" for n in range(5)]
    assert len(ids(store)) == 5


def test_referenced_runs_are_kept(store: Store) -> None:
    add(store, "parent", ended_at=None)  # active, with a finished child
    add(store, "parent/kid", ended_at=1.0, parent_run="parent")
    add(store, "done", ended_at=1.0)  # finished, with an active child
    add(store, "done/kid", ended_at=None, parent_run="done")
    add(store, "nightly", ended_at=1.0)
    store.set_schedule_state("report", {"last_run": "nightly", "last_tick": 0})
    add(store, "orphan/kid", ended_at=1.0, parent_run="orphan")  # no parent: may go

    gone, _ = store.prune_runs(ended_before=100.0, statuses=FINAL, limit=100)
    assert [r.run_id for r in gone] == ["orphan/kid"]
    assert ids(store) == {"parent", "parent/kid", "done", "done/kid", "nightly"}


def test_move_run_repins_in_the_same_transaction_as_its_update(store: Store) -> None:
    from wfdsl.interpreter.store.records import RunUpdate

    store.put_definition(Definition("h2", "wf", "2", ""))
    add(store, "m", ended_at=None)
    row = store.get_run("m")
    assert row is not None
    moved = Event(run_id="m", seq=4, type="run_migrated", time=1.0)
    update = RunUpdate(run=row, expected_version=row.row_version, events=(moved,))
    result = store.move_run(update, definition_hash="h2", version="2", now=1.0)
    assert result.outcome == "ok"
    after = store.get_run("m")
    assert after is not None and (after.definition_hash, after.version) == ("h2", "2")
    assert store.history("m")[-1].type == "run_migrated"
    # A stale update is refused and re-pins nothing.
    stale = store.move_run(update, definition_hash="h", version=None, now=2.0)
    assert stale.outcome == "conflict"
    assert store.get_run("m").definition_hash == "h2"  # type: ignore[union-attr]
