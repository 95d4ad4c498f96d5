"""``wfdsl db copy`` on the SQLite store: all rows out, all rows in
(interpreter/store/copy.py has the neutral shapes). Each function works
inside the transaction (or read) :class:`~.store.SqliteStore` opened."""

from __future__ import annotations

import sqlite3
from typing import Any

from ..copy import RUN_FIELDS, CopyCount, DestinationNotEmpty, Tables
from ..query import encode_search
from .rows import loads

__all__ = ["copy_in", "copy_out"]

_RUN_COLUMNS = ", ".join(RUN_FIELDS)


def copy_out(conn: sqlite3.Connection) -> Tables:
    """Every row, read in one transaction (so in one snapshot)."""
    conn.execute("BEGIN")
    try:
        tables = Tables(
            definitions=iter(
                conn.execute(
                    "SELECT hash, name, version, source, file, created_at FROM definitions "
                    "ORDER BY created_at, rowid"
                ).fetchall()
            ),
            runs=iter(conn.execute(f"SELECT {_RUN_COLUMNS} FROM runs ORDER BY key").fetchall()),
            events=iter(
                conn.execute(
                    "SELECT run_key, seq, type, time, state, data FROM events ORDER BY run_key, seq"
                ).fetchall()
            ),
            inbox=iter(
                conn.execute(
                    "SELECT seq, run_key, channel, data, sent_at, consumed != 0 FROM inbox "
                    "ORDER BY seq"
                ).fetchall()
            ),
            schedules=iter(conn.execute("SELECT name, state FROM schedules").fetchall()),
        )
    finally:
        conn.execute("COMMIT")
    return tables


def _empty(conn: sqlite3.Connection) -> bool:
    (count,) = conn.execute(
        "SELECT (SELECT count(*) FROM runs) + (SELECT count(*) FROM definitions) "
        "+ (SELECT count(*) FROM schedules)"
    ).fetchone()
    return int(count) == 0


def copy_in(conn: sqlite3.Connection, tables: Tables, *, replace: bool, where: str) -> CopyCount:
    if not replace and not _empty(conn):
        raise DestinationNotEmpty(
            f"{where} is not empty (it holds runs, definitions or schedules); copy into a "
            "new store, or pass --replace to delete what it holds first"
        )
    if replace:
        for table in ("search", "inbox", "events", "runs", "definitions", "schedules"):
            conn.execute(f"DELETE FROM {table}")
    count = CopyCount()
    for row in tables.definitions:
        conn.execute(
            "INSERT INTO definitions (hash, name, version, source, file, created_at) "
            "VALUES (?, ?, ?, ?, ?, ?)",
            row,
        )
        count.workflows += 1
    marks = ", ".join("?" * len(RUN_FIELDS))
    search_at = RUN_FIELDS.index("search")
    for run in tables.runs:
        conn.execute(f"INSERT INTO runs ({_RUN_COLUMNS}) VALUES ({marks})", run)
        rows: list[tuple[Any, ...]] = [
            (run[0], name, value) for name, value in encode_search(loads(run[search_at]))
        ]
        conn.executemany("INSERT INTO search (run_key, name, value) VALUES (?, ?, ?)", rows)
        count.runs += 1
    for event in tables.events:
        conn.execute(
            "INSERT INTO events (run_key, seq, type, time, state, data) VALUES (?, ?, ?, ?, ?, ?)",
            event,
        )
        count.events += 1
    for message in tables.inbox:
        conn.execute(
            "INSERT INTO inbox (seq, run_key, channel, data, sent_at, consumed) "
            "VALUES (?, ?, ?, ?, ?, ?)",
            (*message[:5], int(bool(message[5]))),
        )
        count.inbox += 1
    for schedule in tables.schedules:
        conn.execute("INSERT INTO schedules (name, state) VALUES (?, ?)", schedule)
        count.schedules += 1
    return count
