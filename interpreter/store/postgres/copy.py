"""``wfdsl db copy`` on the PostgreSQL store: rows out from one REPEATABLE
READ snapshot through server-side cursors, rows in with COPY in one
transaction, a batch at a time (keys and message seqs kept, the identity
counters moved past them). The neutral shapes are in
interpreter/store/copy.py."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import psycopg

from .. import copy as neutral
from ..copy import RUN_FIELDS, CopyCount, DestinationNotEmpty, Tables, batches
from ..errors import StoreError
from .rows import loads, search_rows

__all__ = ["copy_in", "tables_out"]

_QUEUE_FIELDS = ("ready_at", "needs_action", "lease_generation")
_RUN_ONLY = [name for name in RUN_FIELDS if name not in _QUEUE_FIELDS]
_SELECT_RUNS = ", ".join(f"q.{n}" if n in _QUEUE_FIELDS else f"r.{n}" for n in RUN_FIELDS)
_INDEX = {name: i for i, name in enumerate(RUN_FIELDS)}

_OUT = {
    "definitions": "SELECT hash, name, version, source, file, created_at FROM definitions "
    "ORDER BY seq",
    "runs": f"SELECT {_SELECT_RUNS} FROM runs r JOIN queue q ON q.run_key = r.key ORDER BY r.key",
    "events": "SELECT run_key, seq, type, time, state, data FROM events ORDER BY run_key, seq",
    "inbox": "SELECT seq, run_key, channel, data, sent_at, consumed FROM inbox ORDER BY seq",
    "schedules": "SELECT name, state FROM schedules ORDER BY name",
}


def tables_out(conn: Any, error: Callable[[psycopg.Error], StoreError]) -> Tables:
    """Every row, each table a server-side cursor on ``conn`` (inside the
    read transaction the caller holds open), fetched ``BATCH_ROWS`` at
    a time; a failure while reading is ``error(...)``, the source's error,
    not the destination's."""

    def rows(table: str, sql: str) -> Iterator[tuple[Any, ...]]:
        try:
            with conn.cursor(name=f"wfdsl_copy_{table}") as cursor:
                cursor.itersize = neutral.BATCH_ROWS
                cursor.execute(sql)
                yield from cursor
        except psycopg.Error as failed:
            raise error(failed) from failed

    return Tables(**{table: rows(table, sql) for table, sql in _OUT.items()})


def _copy_rows(cur: Any, statement: str, rows: list[tuple[Any, ...]]) -> None:
    if rows:
        with cur.copy(statement) as copy:
            for row in rows:
                copy.write_row(row)


def copy_in(cur: Any, tables: Tables, *, replace: bool, where: str) -> CopyCount:
    """Write ``tables`` a batch at a time (the caller's one transaction)."""
    # Nobody else writes while the copy goes in.
    cur.execute("LOCK TABLE runs, queue, definitions, schedules IN EXCLUSIVE MODE")
    cur.execute(
        "SELECT (SELECT count(*) FROM runs) + (SELECT count(*) FROM definitions) "
        "+ (SELECT count(*) FROM schedules)"
    )
    (held,) = cur.fetchone()
    if held and not replace:
        raise DestinationNotEmpty(
            f"{where} is not empty (it holds runs, definitions or schedules); copy into a "
            "new store, or pass --replace to delete what it holds first"
        )
    if replace:
        cur.execute(
            "TRUNCATE search, inbox, events, queue, runs, definitions, schedules RESTART IDENTITY"
        )
    count = CopyCount()
    for chunk in batches(tables.definitions):
        _copy_rows(
            cur,
            "COPY definitions (hash, name, version, source, file, created_at) FROM STDIN",
            chunk,
        )
        count.workflows += len(chunk)
    run_columns = ", ".join(_RUN_ONLY)
    for chunk in batches(tables.runs):
        _copy_rows(
            cur,
            f"COPY runs ({run_columns}) FROM STDIN",
            [tuple(run[_INDEX[name]] for name in _RUN_ONLY) for run in chunk],
        )
        _copy_rows(
            cur,
            "COPY queue (run_key, ready_at, needs_action, lease_generation) FROM STDIN",
            [(run[_INDEX["key"]], *(run[_INDEX[name]] for name in _QUEUE_FIELDS)) for run in chunk],
        )
        _copy_rows(
            cur,
            "COPY search (run_key, name, num, txt, raw) FROM STDIN",
            [
                (run[_INDEX["key"]], *row)
                for run in chunk
                for row in search_rows(loads(run[_INDEX["search"]]))
            ],
        )
        count.runs += len(chunk)
    for chunk in batches(tables.events):
        _copy_rows(cur, "COPY events (run_key, seq, type, time, state, data) FROM STDIN", chunk)
        count.events += len(chunk)
    for chunk in batches(tables.inbox):
        _copy_rows(
            cur,
            "COPY inbox (seq, run_key, channel, data, sent_at, consumed) FROM STDIN",
            [(*message[:5], bool(message[5])) for message in chunk],
        )
        count.inbox += len(chunk)
    for chunk in batches(tables.schedules):
        _copy_rows(cur, "COPY schedules (name, state) FROM STDIN", chunk)
        count.schedules += len(chunk)
    # New runs and messages are numbered after the copied ones.
    for table, column in (("runs", "key"), ("inbox", "seq"), ("definitions", "seq")):
        cur.execute(
            f"SELECT setval(pg_get_serial_sequence('{table}', '{column}'), "
            f"coalesce((SELECT max({column}) FROM {table}), 0) + 1, false)"
        )
    return count
