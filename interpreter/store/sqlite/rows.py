"""Rows of the SQLite store: the SQL text its modules share, and the way a
:class:`~.records.RunRow` or an :class:`~.records.Event` becomes a row and
back.
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Iterable, Sequence
from typing import Any, Final

from ..errors import DamagedRun
from ..json_text import dumps
from ..query import encode_search
from ..records import FINAL_STATUSES, Event, RunRow

__all__ = [
    "ACTIVE_SQL",
    "INSERT_EVENT",
    "INSERT_MESSAGE",
    "RUN_COLUMNS",
    "RUN_COLUMNS_ANY",
    "RUN_COLUMNS_BARE",
    "UNLEASED",
    "UPDATE_RUN",
    "UPDATE_RUN_SAME_STATUS",
    "UPDATE_RUN_SAME_STATUS_AND_READY",
    "WAKE",
    "decode_run",
    "event_rows",
    "insert_run",
    "json_or_null",
    "loads",
    "run_from_row",
]

# Values go in as compact JSON with one reused C encoder (json_text.dumps).
# NaN and Infinity are refused: a value the store cannot read back must fail
# before anything is written.
loads: Final = json.loads

ACTIVE_SQL: Final = "('running', 'waiting', 'paused')"
RUN_COLUMNS: Final = (
    "r.id, r.workflow, r.version, r.definition_hash, r.status, r.input, r.vars, r.output, "
    "r.error, r.started_at, r.ended_at, r.ready_at, r.state, r.search, r.parent_run, "
    "r.row_version, r.needs_action, r.execution, r.pins"
)
#: RUN_COLUMNS of any execution: an earlier one keeps its id in ``name``.
RUN_COLUMNS_ANY: Final = RUN_COLUMNS.replace("r.id,", "coalesce(r.id, r.name),", 1)
# RETURNING cannot name a table alias.
RUN_COLUMNS_BARE: Final = RUN_COLUMNS.replace("r.", "")
_INSERT_RUN: Final = (
    "INSERT INTO runs (id, workflow, version, definition_hash, status, input, vars, output, "
    "error, started_at, ended_at, ready_at, state, search, parent_run, row_version, "
    "lease_generation, needs_action, execution, pins) "
    "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)"
)
# A transition's update of its run, in three forms whose parameters share one
# order: (vars, output, error, ended_at, state, search, row_version, key), then
# ready_at and needs_action, then status. A column in SET rewrites its
# indexes' entries even when its value is the same, so a column that did not
# change is left out: `status` (two indexes, about 2 µs of every transition),
# and `ready_at` with `needs_action` (runs_ready's page was one of the four
# pages each step appended to the WAL: the run's own and the events' are the
# others).
_UPDATE_RUN_SET: Final = (
    "UPDATE runs SET vars = ?1, output = ?2, error = ?3, ended_at = ?4, state = ?5, "
    "search = ?6, row_version = ?7"
)
UPDATE_RUN_SAME_STATUS_AND_READY: Final = f"{_UPDATE_RUN_SET} WHERE key = ?8"
UPDATE_RUN_SAME_STATUS: Final = (
    f"{_UPDATE_RUN_SET}, ready_at = ?9, needs_action = ?10 WHERE key = ?8"
)
UPDATE_RUN: Final = (
    f"{_UPDATE_RUN_SET}, ready_at = ?9, needs_action = ?10, status = ?11 WHERE key = ?8"
)
#: Each of the three forms, also dropping the run's lease (``RunUpdate.release``).
UNLEASED: Final = {
    form: form.replace(
        " WHERE key = ?8", ", lease_owner = NULL, lease_expires_at = NULL WHERE key = ?8"
    )
    for form in (UPDATE_RUN, UPDATE_RUN_SAME_STATUS, UPDATE_RUN_SAME_STATUS_AND_READY)
}
INSERT_EVENT: Final = (
    "INSERT INTO events (run_key, seq, type, time, state, data) VALUES (?, ?, ?, ?, ?, ?)"
)
INSERT_MESSAGE: Final = "INSERT INTO inbox (run_key, channel, data, sent_at) VALUES (?, ?, ?, ?)"
# min(ready_at, now), where a NULL ready_at (waiting on messages only) counts
# as "later than now".
WAKE: Final = "UPDATE runs SET ready_at = min(coalesce(ready_at, ?1), ?1) WHERE key = ?2"


def json_or_null(value: Any) -> str | None:
    return None if value is None else dumps(value)


def run_from_row(row: Sequence[Any]) -> RunRow:
    """The run of a :data:`RUN_COLUMNS` row; DamagedRun when it is not the
    JSON the store wrote."""
    try:
        return decode_run(row)
    except (ValueError, TypeError) as exc:  # JSONDecodeError is a ValueError
        raise DamagedRun(str(row[0]), f"{type(exc).__name__}: {exc}"[:200]) from exc


def decode_run(row: Sequence[Any]) -> RunRow:
    return RunRow(
        id=row[0],
        workflow=row[1],
        version=row[2],
        definition_hash=row[3],
        status=row[4],
        input=None if row[5] is None else loads(row[5]),
        vars=loads(row[6]),
        output=None if row[7] is None else loads(row[7]),
        error=None if row[8] is None else loads(row[8]),
        started_at=row[9],
        ended_at=row[10],
        ready_at=row[11],
        state=loads(row[12]),
        search=loads(row[13]),
        parent_run=row[14],
        row_version=row[15],
        needs_action=row[16],
        execution=row[17],
        pins=loads(row[18]) if row[18] else {},
    )


def event_rows(key: int, events: Iterable[Event]) -> list[tuple[Any, ...]]:
    """``events`` as parameters of :data:`INSERT_EVENT` for the run ``key``."""
    return [
        (key, e.seq, e.type, e.time, e.state, dumps(e.data) if e.data else None) for e in events
    ]


def insert_run(conn: sqlite3.Connection, run: RunRow, generation: int) -> int:
    """Insert ``run`` and its search rows; its key."""
    search_json = dumps(run.search)
    cursor = conn.execute(
        _INSERT_RUN,
        (
            run.id,
            run.workflow,
            run.version,
            run.definition_hash,
            run.status,
            json_or_null(run.input),
            dumps(run.vars),
            json_or_null(run.output),
            json_or_null(run.error),
            run.started_at,
            run.ended_at,
            None if run.status in FINAL_STATUSES else run.ready_at,
            dumps(run.state),
            search_json,
            run.parent_run,
            run.row_version,
            generation,
            run.needs_action,
            run.execution,
            dumps(run.pins) if run.pins else None,
        ),
    )
    key = cursor.lastrowid
    assert key is not None
    rows = encode_search(run.search)
    if rows:
        conn.executemany(
            "INSERT INTO search (run_key, name, value) VALUES (?, ?, ?)",
            [(key, name, value) for name, value in rows],
        )
    return key
