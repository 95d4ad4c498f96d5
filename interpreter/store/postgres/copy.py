"""``wfdsl db copy`` on the PostgreSQL store: all rows out (one REPEATABLE
READ snapshot), all rows in (one transaction, keys and message seqs kept,
the identity counters moved past them). The neutral shapes are in
interpreter/store/copy.py."""

from __future__ import annotations

from typing import Any

from ..copy import RUN_FIELDS, CopyCount, DestinationNotEmpty, Tables
from .rows import loads, write_search

__all__ = ["copy_in", "copy_out"]

_QUEUE_FIELDS = ("ready_at", "needs_action", "lease_generation")
_RUN_ONLY = [name for name in RUN_FIELDS if name not in _QUEUE_FIELDS]
_SELECT_RUNS = ", ".join(f"q.{n}" if n in _QUEUE_FIELDS else f"r.{n}" for n in RUN_FIELDS)


def copy_out(cur: Any) -> Tables:
    cur.execute(
        "SELECT hash, name, version, source, file, created_at FROM definitions ORDER BY seq"
    )
    definitions = cur.fetchall()
    cur.execute(
        f"SELECT {_SELECT_RUNS} FROM runs r JOIN queue q ON q.run_key = r.key ORDER BY r.key"
    )
    runs = cur.fetchall()
    cur.execute("SELECT run_key, seq, type, time, state, data FROM events ORDER BY run_key, seq")
    events = cur.fetchall()
    cur.execute("SELECT seq, run_key, channel, data, sent_at, consumed FROM inbox ORDER BY seq")
    inbox = cur.fetchall()
    cur.execute("SELECT name, state FROM schedules ORDER BY name")
    schedules = cur.fetchall()
    return Tables(
        definitions=iter(definitions),
        runs=iter(runs),
        events=iter(events),
        inbox=iter(inbox),
        schedules=iter(schedules),
    )


def copy_in(cur: Any, tables: Tables, *, replace: bool, where: str) -> CopyCount:
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
    rows = list(tables.definitions)
    cur.executemany(
        "INSERT INTO definitions (hash, name, version, source, file, created_at) "
        "VALUES (%s, %s, %s, %s, %s, %s)",
        rows,
    )
    count.workflows = len(rows)
    index = {name: i for i, name in enumerate(RUN_FIELDS)}
    run_columns = ", ".join(_RUN_ONLY)
    marks = ", ".join(["%s"] * len(_RUN_ONLY))
    for run in tables.runs:
        cur.execute(
            f"INSERT INTO runs ({run_columns}) OVERRIDING SYSTEM VALUE VALUES ({marks})",
            [run[index[name]] for name in _RUN_ONLY],
        )
        cur.execute(
            "INSERT INTO queue (run_key, ready_at, needs_action, lease_generation) "
            "VALUES (%s, %s, %s, %s)",
            [run[index["key"]], *(run[index[name]] for name in _QUEUE_FIELDS)],
        )
        write_search(cur, run[index["key"]], loads(run[index["search"]]), fresh=True)
        count.runs += 1
    with cur.copy(
        "COPY events (run_key, seq, type, time, state, data) FROM STDIN (FORMAT BINARY)"
    ) as copy:
        copy.set_types(["int8", "int4", "text", "float8", "text", "text"])
        for event in tables.events:
            copy.write_row(event)
            count.events += 1
    messages = [(*m[:5], bool(m[5])) for m in tables.inbox]
    cur.executemany(
        "INSERT INTO inbox (seq, run_key, channel, data, sent_at, consumed) "
        "OVERRIDING SYSTEM VALUE VALUES (%s, %s, %s, %s, %s, %s)",
        messages,
    )
    count.inbox = len(messages)
    schedules = list(tables.schedules)
    cur.executemany("INSERT INTO schedules (name, state) VALUES (%s, %s)", schedules)
    count.schedules = len(schedules)
    # New runs and messages are numbered after the copied ones.
    for table, column in (("runs", "key"), ("inbox", "seq"), ("definitions", "seq")):
        cur.execute(
            f"SELECT setval(pg_get_serial_sequence('{table}', '{column}'), "
            f"coalesce((SELECT max({column}) FROM {table}), 0) + 1, false)"
        )
    return count
