"""``wfdsl db copy`` on the SQLite store: rows out, rows in, a batch at a
time (interpreter/store/copy.py has the neutral shapes). Each function works
inside the transaction (or read) :class:`~.store.SqliteStore` opened."""

from __future__ import annotations

import sqlite3
from collections.abc import Callable, Iterator
from typing import Any

from .. import copy as neutral
from ..copy import RUN_FIELDS, CopyCount, DestinationNotEmpty, Tables, batches
from ..errors import StoreError
from ..query import encode_search
from .rows import loads

__all__ = ["copy_in", "tables_out"]

_RUN_COLUMNS = ", ".join(RUN_FIELDS)

_OUT = {
    "definitions": "SELECT hash, name, version, source, file, created_at FROM definitions "
    "ORDER BY created_at, rowid",
    "runs": f"SELECT {_RUN_COLUMNS} FROM runs ORDER BY key",
    "events": "SELECT run_key, seq, type, time, state, data FROM events ORDER BY run_key, seq",
    "inbox": "SELECT seq, run_key, channel, data, sent_at, consumed != 0 FROM inbox ORDER BY seq",
    "schedules": "SELECT name, state FROM schedules ORDER BY name",
}


def tables_out(conn: sqlite3.Connection, error: Callable[[sqlite3.Error], StoreError]) -> Tables:
    """Every row, each table a lazy cursor on ``conn`` (inside the read
    transaction the caller holds open: one snapshot), read ``BATCH_ROWS``
    at a time; a failure while reading is
    ``error(...)``, the source's error, not the destination's."""

    def rows(sql: str) -> Iterator[tuple[Any, ...]]:
        try:
            cursor = conn.execute(sql)
            while chunk := cursor.fetchmany(neutral.BATCH_ROWS):
                yield from chunk
        except sqlite3.Error as failed:
            raise error(failed) from failed

    return Tables(**{table: rows(sql) for table, sql in _OUT.items()})


def _empty(conn: sqlite3.Connection) -> bool:
    (count,) = conn.execute(
        "SELECT (SELECT count(*) FROM runs) + (SELECT count(*) FROM definitions) "
        "+ (SELECT count(*) FROM schedules)"
    ).fetchone()
    return int(count) == 0


def copy_in(conn: sqlite3.Connection, tables: Tables, *, replace: bool, where: str) -> CopyCount:
    """Write ``tables`` a batch at a time (the caller's one transaction)."""
    if not replace and not _empty(conn):
        raise DestinationNotEmpty(
            f"{where} is not empty (it holds runs, definitions or schedules); copy into a "
            "new store, or pass --replace to delete what it holds first"
        )
    if replace:
        for table in ("search", "inbox", "events", "runs", "definitions", "schedules"):
            conn.execute(f"DELETE FROM {table}")
    count = CopyCount()
    for chunk in batches(tables.definitions):
        conn.executemany(
            "INSERT INTO definitions (hash, name, version, source, file, created_at) "
            "VALUES (?, ?, ?, ?, ?, ?)",
            chunk,
        )
        count.workflows += len(chunk)
    marks = ", ".join("?" * len(RUN_FIELDS))
    search_at = RUN_FIELDS.index("search")
    for chunk in batches(tables.runs):
        conn.executemany(f"INSERT INTO runs ({_RUN_COLUMNS}) VALUES ({marks})", chunk)
        conn.executemany(
            "INSERT INTO search (run_key, name, value) VALUES (?, ?, ?)",
            [
                (run[0], name, value)
                for run in chunk
                for name, value in encode_search(loads(run[search_at]))
            ],
        )
        count.runs += len(chunk)
    for chunk in batches(tables.events):
        conn.executemany(
            "INSERT INTO events (run_key, seq, type, time, state, data) VALUES (?, ?, ?, ?, ?, ?)",
            chunk,
        )
        count.events += len(chunk)
    for chunk in batches(tables.inbox):
        conn.executemany(
            "INSERT INTO inbox (seq, run_key, channel, data, sent_at, consumed) "
            "VALUES (?, ?, ?, ?, ?, ?)",
            [(*message[:5], int(bool(message[5]))) for message in chunk],
        )
        count.inbox += len(chunk)
    for chunk in batches(tables.schedules):
        conn.executemany("INSERT INTO schedules (name, state) VALUES (?, ?)", chunk)
        count.schedules += len(chunk)
    return count
