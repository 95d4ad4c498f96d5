"""What only the SQLite backend has: a file (reopened, migrated, in WAL mode,
refused when newer or foreign), its options, a full disk, a lock held past
the busy timeout, and wake-ups read from another connection's writes.

Every protocol promise (round trips, id_reuse, group commit, wake-ups,
leases) is tested on every backend, SQLite included, by
tests/interpreter/store/test_store_contract.py."""

from __future__ import annotations

import sqlite3
from dataclasses import replace
from pathlib import Path

import pytest
from store_rows import DEFINITION, create, event, make_run, started
from wfdsl.interpreter.store.errors import StoreError
from wfdsl.interpreter.store.records import RunUpdate
from wfdsl.interpreter.store.sqlite.schema import SCHEMA_VERSION
from wfdsl.interpreter.store.sqlite.store import SqliteStore


@pytest.fixture
def db_path(tmp_path: Path) -> str:
    return str(tmp_path / "wfdsl.db")


# --- files, migrations, failures ------------------------------------------------------------


def test_reopening_a_file_finds_everything(db_path: str) -> None:
    with SqliteStore(db_path) as first:
        first.put_definition(DEFINITION)
        create(first)
        first.send("r1", "go", 1, now=11.0)
        first.set_schedule_state("nightly", {"t": 1})
        [(_, lease)] = first.claim_ready("me", now=12.0, lease_seconds=60, limit=1)
    with SqliteStore(db_path, synchronous="NORMAL") as second:
        assert second.get_definition("hash-1") == DEFINITION
        assert second.get_run("r1") == make_run()
        assert [m.channel for m in second.inbox("r1")] == ["go"]
        assert second.schedule_state("nightly") == {"t": 1}
        assert second.renew([lease], now=13.0, lease_seconds=1) != []
        assert second.history("r1") == list(started())


def test_new_file_is_migrated_and_in_wal_mode(db_path: str) -> None:
    SqliteStore(db_path).close()
    conn = sqlite3.connect(db_path)
    try:
        assert conn.execute("PRAGMA user_version").fetchone()[0] == SCHEMA_VERSION
        assert conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
        tables = {
            row[0] for row in conn.execute("SELECT name FROM sqlite_master WHERE type='table'")
        }
        assert {"definitions", "runs", "events", "inbox", "search", "schedules"} <= tables
    finally:
        conn.close()


def test_a_newer_schema_is_refused_untouched(db_path: str) -> None:
    SqliteStore(db_path).close()
    conn = sqlite3.connect(db_path)
    conn.execute(f"PRAGMA user_version = {SCHEMA_VERSION + 1}")
    conn.close()
    with pytest.raises(StoreError, match=f"schema version {SCHEMA_VERSION + 1}, newer"):
        SqliteStore(db_path)
    conn = sqlite3.connect(db_path)
    assert conn.execute("PRAGMA user_version").fetchone()[0] == SCHEMA_VERSION + 1
    conn.close()


def test_a_foreign_database_is_refused(db_path: str) -> None:
    conn = sqlite3.connect(db_path)
    conn.execute("CREATE TABLE accounts (id INTEGER)")
    conn.commit()
    conn.close()
    with pytest.raises(StoreError, match="not a wfdsl store"):
        SqliteStore(db_path)


def test_bad_options_and_closed_store(db_path: str) -> None:
    with pytest.raises(ValueError, match="synchronous"):
        SqliteStore(db_path, synchronous="SOMETIMES")
    store = SqliteStore(db_path)
    store.close()
    store.close()
    with pytest.raises(StoreError, match="closed"):
        store.get_run("r1")


def test_disk_full_is_a_store_error_and_nothing_is_half_written(db_path: str) -> None:
    store = SqliteStore(db_path)
    store.put_definition(DEFINITION)
    run = create(store)
    conn = store._conn
    assert conn is not None
    pages = conn.execute("PRAGMA page_count").fetchone()[0]
    conn.execute(f"PRAGMA max_page_count = {pages}")
    big = replace(run, vars={"blob": "x" * 200_000})
    with pytest.raises(StoreError, match="disk is full"):
        store.commit([RunUpdate(run=big, expected_version=0, events=(event("r1", 2),))], now=11.0)
    with pytest.raises(StoreError, match="disk is full"):
        store.create_run(make_run("r2", input="y" * 200_000), started("r2"), now=11.0)
    assert store.get_run("r1") == run
    assert store.get_run("r2") is None
    assert [e.seq for e in store.history("r1")] == [1]
    assert conn.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
    # Space back: the same commit goes through.
    conn.execute("PRAGMA max_page_count = 1000000")
    assert store.commit([RunUpdate(run=big, expected_version=0)], now=12.0)[0].outcome == "ok"
    store.close()


def test_locked_past_the_busy_timeout_is_a_store_error(db_path: str) -> None:
    with SqliteStore(db_path, busy_timeout_ms=50) as store:
        store.put_definition(DEFINITION)
        blocker = sqlite3.connect(db_path, isolation_level=None)
        blocker.execute("BEGIN IMMEDIATE")
        try:
            with pytest.raises(StoreError, match=r"locked .* longer than the busy timeout"):
                create(store)
        finally:
            blocker.execute("ROLLBACK")
            blocker.close()
        create(store)
        assert store.get_run("r1") is not None


def test_changed_runs_names_the_runs_another_connection_wrote_to(db_path: str) -> None:
    with SqliteStore(db_path) as watcher, SqliteStore(db_path) as writer:
        writer.put_definition(DEFINITION)
        create(writer, "r1")
        create(writer, "r2")
        start = watcher.changed_runs(None)
        quiet = watcher.changed_runs(start.cursor)
        assert (quiet.run_ids, quiet.other) == (frozenset(), False)
        create(writer, "r3")
        writer.send("r1", "go", 1, now=11.0)
        seen = watcher.changed_runs(quiet.cursor)
        assert seen.run_ids == {"r1", "r3"}
        again = watcher.changed_runs(seen.cursor)
        assert not again.any


# --- what a commit remembers --------------------------------------------------------------


def test_a_message_after_a_commit_is_seen_from_this_or_another_connection(db_path: str) -> None:
    """A run the driver just committed is known to have no messages (no
    query); a message sent since, by this store or another process, is not
    missed."""
    with SqliteStore(db_path) as store, SqliteStore(db_path) as other:
        store.put_definition(DEFINITION)
        create(store)
        cursor = store.changed_runs(None).cursor
        run = store.get_run("r1")
        assert run is not None
        [result] = store.commit([RunUpdate(run=run, expected_version=run.row_version)], now=11.0)
        assert result.outcome == "ok"
        assert store.with_messages(["r1"]) == set()
        store.send("r1", "go", 1, now=12.0)
        assert store.with_messages(["r1"]) == {"r1"}
        run = store.get_run("r1")
        assert run is not None
        consumed = [m.seq for m in store.inbox("r1")]
        store.commit(
            [RunUpdate(run=run, expected_version=run.row_version, consumed=tuple(consumed))],
            now=13.0,
        )
        assert store.with_messages(["r1"]) == set()
        other.send("r1", "go", 2, now=14.0)
        changes = store.changed_runs(cursor)
        assert "r1" in changes.run_ids
        assert store.with_messages(["r1"]) == {"r1"}


def test_search_rows_follow_the_search_of_every_commit(db_path: str) -> None:
    with SqliteStore(db_path) as store:
        store.put_definition(DEFINITION)
        create(store)
        for value in (1, 1, 2, 2):
            run = store.get_run("r1")
            assert run is not None
            run = replace(run, search={"n": value})
            store.commit([RunUpdate(run=run, expected_version=run.row_version)], now=11.0)
            rows = store._conn.execute("SELECT name, value FROM search").fetchall()  # type: ignore[union-attr]
            assert rows == [("n", value)]
