"""The store classifies its own errors (issue 13 §1 "Errors"): each backend
sets ``StoreError.transient`` from its driver's codes, and the engine, the
CLI and the designer read only that flag, never a driver's error names."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest
from wfdsl.interpreter.store.errors import StoreError, passing
from wfdsl.interpreter.store.sqlite.store import SqliteStore

ROOT = Path(__file__).resolve().parents[3]


def test_an_error_a_backend_calls_transient_is_retried_whatever_its_cause() -> None:
    # A backend that is not SQLite (its cause carries no sqlite error name)
    # says "transient" itself: the engine must believe it.
    error = StoreError("the database server is restarting", transient=True)
    assert passing(error)
    assert error.transient


def test_an_error_is_not_transient_unless_its_backend_says_so() -> None:
    error = StoreError("a schema newer than this wfdsl")
    assert not error.transient
    assert not passing(error)


def test_sqlite_calls_a_full_store_transient(tmp_path: Path) -> None:
    path = tmp_path / "runs.db"
    store = SqliteStore(str(path))
    store.close()
    # Cap the file at its current size: the next definition does not fit.
    conn = sqlite3.connect(path)
    (pages,) = conn.execute("PRAGMA page_count").fetchone()
    conn.close()
    store = SqliteStore(str(path))
    store._connection().execute(f"PRAGMA max_page_count = {pages}")
    from wfdsl.interpreter.store.records import Definition

    big = Definition("h" * 64, "big", None, "x" * 200_000, None, 0.0)
    with pytest.raises(StoreError) as caught:
        store.put_definition(big)
    assert caught.value.transient, caught.value
    store.close()


def test_sqlite_calls_a_closed_store_and_a_foreign_database_not_transient(
    tmp_path: Path,
) -> None:
    store = SqliteStore(str(tmp_path / "runs.db"))
    store.close()
    with pytest.raises(StoreError) as closed:
        store.get_run("x")
    assert not closed.value.transient

    foreign = tmp_path / "other.db"
    conn = sqlite3.connect(foreign)
    conn.execute("CREATE TABLE t (x)")
    conn.close()
    with pytest.raises(StoreError) as refused:
        SqliteStore(str(foreign))
    assert not refused.value.transient


def test_nothing_above_the_sqlite_backend_reads_sqlite_error_names() -> None:
    readers = [
        path.relative_to(ROOT).as_posix()
        for folder in ("interpreter", "wfdsl", "designer", "observe", "testing")
        for path in (ROOT / folder).rglob("*.py")
        if "sqlite_error" in path.read_text(encoding="utf-8")
        and "store/sqlite" not in path.as_posix()
    ]
    assert readers == []
