"""Rows of the PostgreSQL store: the SQL its modules share and the way a
:class:`~..records.RunRow`, an :class:`~..records.Event` or a search
attribute becomes a row and back."""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping, Sequence
from decimal import Decimal
from typing import Any, Final

from ..errors import DamagedRun
from ..json_text import dumps
from ..records import FINAL_STATUSES, Event, RunRow

__all__ = [
    "ACTIVE_SQL",
    "FROM_RUNS",
    "RUN_COLUMNS",
    "RUN_COLUMNS_ANY",
    "event_rows",
    "insert_run",
    "json_or_null",
    "loads",
    "run_from_row",
    "search_rows",
    "write_search",
]

loads: Final = json.loads

ACTIVE_SQL: Final = "('running', 'waiting', 'paused')"
#: A run's columns: the wide row and its queue entry.
RUN_COLUMNS: Final = (
    "r.id, r.workflow, r.version, r.definition_hash, r.status, r.input, r.vars, r.output, "
    "r.error, r.started_at, r.ended_at, q.ready_at, r.state, r.search, r.parent_run, "
    "r.row_version, q.needs_action, r.execution"
)
#: RUN_COLUMNS of any execution: an earlier one keeps its id in ``name``.
RUN_COLUMNS_ANY: Final = RUN_COLUMNS.replace("r.id,", "coalesce(r.id, r.name),", 1)
FROM_RUNS: Final = "runs r JOIN queue q ON q.run_key = r.key"

_INSERT_RUN: Final = (
    "INSERT INTO runs (id, workflow, version, definition_hash, status, input, vars, output, "
    "error, started_at, ended_at, state, search, parent_run, row_version, execution) "
    "VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s) RETURNING key"
)
_INSERT_QUEUE: Final = (
    "INSERT INTO queue (run_key, ready_at, needs_action, lease_generation) VALUES (%s, %s, %s, %s)"
)


def json_or_null(value: Any) -> str | None:
    return None if value is None else dumps(value)


def run_from_row(row: Sequence[Any]) -> RunRow:
    """The run of a :data:`RUN_COLUMNS` row; DamagedRun when its JSON
    columns are not what the store wrote."""
    try:
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
        )
    except (ValueError, TypeError) as exc:
        raise DamagedRun(str(row[0]), f"{type(exc).__name__}: {exc}"[:200]) from exc


def event_rows(key: int, events: Iterable[Event]) -> list[tuple[Any, ...]]:
    """``events`` as rows of the ``events`` table for the run ``key``."""
    return [
        (key, e.seq, e.type, e.time, e.state, dumps(e.data) if e.data else None) for e in events
    ]


def search_rows(search: Mapping[str, Any]) -> list[tuple[str, Any, str | None, str | None]]:
    """(name, num, txt, raw) for each non-null attribute: numbers exactly
    (a float as the Decimal of its exact binary value, so comparing it with
    an int is exact, as in the expression language), strings as text,
    everything else (bools, lists, maps) as its compact JSON. So is a
    string holding U+0000, which PostgreSQL text cannot: ``where`` leaves
    those to Python (see query.py)."""
    rows: list[tuple[str, Any, str | None, str | None]] = []
    for name, value in search.items():
        kind = type(value)
        if value is None:
            continue
        if kind is str and "\x00" not in value:
            rows.append((name, None, value, None))
        elif kind is int:
            rows.append((name, value, None, None))
        elif kind is float:
            rows.append((name, Decimal(value), None, None))
        else:
            rows.append((name, None, None, dumps(value)))
    return rows


def write_search(cur: Any, key: int, search: Mapping[str, Any], *, fresh: bool = False) -> None:
    """Replace the search rows of the run ``key`` (``fresh``: it has none yet)."""
    if not fresh:
        cur.execute("DELETE FROM search WHERE run_key = %s", (key,))
    rows = search_rows(search)
    if rows:
        cur.executemany(
            "INSERT INTO search (run_key, name, num, txt, raw) VALUES (%s, %s, %s, %s, %s)",
            [(key, *row) for row in rows],
        )


def insert_run(cur: Any, run: RunRow, generation: int) -> int:
    """Insert ``run`` (its row, queue entry and search rows); its key."""
    finished = run.status in FINAL_STATUSES
    cur.execute(
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
            dumps(run.state),
            dumps(run.search),
            run.parent_run,
            run.row_version,
            run.execution,
        ),
    )
    found = cur.fetchone()
    assert found is not None
    key = int(found[0])
    cur.execute(
        _INSERT_QUEUE,
        (
            key,
            None if finished else run.ready_at,
            None if finished else run.needs_action,
            generation,
        ),
    )
    write_search(cur, key, run.search, fresh=True)
    return key


def copy_events(cur: Any, rows: Sequence[tuple[Any, ...]]) -> None:
    """Append event rows with one binary COPY (no per-row statement)."""
    if not rows:
        return
    with cur.copy(
        "COPY events (run_key, seq, type, time, state, data) FROM STDIN (FORMAT BINARY)"
    ) as copy:
        copy.set_types(["int8", "int4", "text", "float8", "text", "text"])
        for row in rows:
            copy.write_row(row)
