"""Creating and reading runs in the SQLite store: ``id_reuse``, listing with
``where``, and a run's history. Each function works inside the transaction
(or read) :class:`~.sqlite_store.SqliteStore` opened on ``conn``.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Callable, Sequence
from dataclasses import replace
from typing import Any, Final

from wfdsl.errors import RunAlreadyExists

from .records import FINAL_STATUSES, Event, RunFilter, RunRow
from .search_query import WherePlan, check_names, where_matches
from .sqlite_rows import INSERT_EVENT, RUN_COLUMNS, event_rows, loads, run_from_row

__all__ = [
    "ID_REUSE_POLICIES",
    "check_policy",
    "create_run",
    "get_run",
    "has_search_name",
    "history",
    "list_runs",
    "search_names",
]

#: The ``id_reuse`` values ``create_run`` understands (docs/reference.md §1).
ID_REUSE_POLICIES: Final = frozenset(
    {"allow_if_no_running", "allow_if_failed", "disallow", "terminate_if_running"}
)


def check_policy(id_reuse: str) -> None:
    if id_reuse not in ID_REUSE_POLICIES:
        raise ValueError(f"id_reuse must be one of {sorted(ID_REUSE_POLICIES)}, not {id_reuse!r}")


def _check_reuse(run_id: str, status: str, policy: str) -> None:
    """Raise RunAlreadyExists unless ``policy`` lets a new run replace one in ``status``."""
    if policy == "terminate_if_running":
        return
    if policy == "allow_if_no_running" and status in FINAL_STATUSES:
        return
    if policy == "allow_if_failed" and status in ("failed", "cancelled"):
        return
    why = {
        "disallow": "id_reuse 'disallow' never reuses an id",
        "allow_if_no_running": "id_reuse 'allow_if_no_running' replaces finished runs only",
        "allow_if_failed": "id_reuse 'allow_if_failed' replaces failed or cancelled runs only",
    }[policy]
    raise RunAlreadyExists(f"run {run_id!r} already exists and is {status}: {why}")


def create_run(
    conn: sqlite3.Connection,
    run: RunRow,
    events: Sequence[Event],
    id_reuse: str,
    insert_run: Callable[[sqlite3.Connection, RunRow, int], int],
) -> RunRow:
    """Insert ``run`` with ``events``, replacing a run of the same id when
    ``id_reuse`` allows; the row as stored. ``insert_run`` writes the row."""
    finished = run.status in FINAL_STATUSES
    stored = replace(run, ready_at=None) if finished else run
    row_version, generation = stored.row_version, 0
    existing = conn.execute(
        "SELECT key, status, row_version, lease_generation FROM runs WHERE id = ?",
        (run.id,),
    ).fetchone()
    if existing is not None:
        key, status, old_version, old_generation = existing
        _check_reuse(run.id, status, id_reuse)
        # The replacement's versions continue the old run's, so a
        # commit or lease computed against the old run can never
        # match the new one.
        conn.execute("DELETE FROM runs WHERE key = ?", (key,))
        row_version = max(row_version, old_version + 1)
        generation = old_generation + 1
    if row_version != stored.row_version:
        stored = replace(stored, row_version=row_version)
    key = insert_run(conn, stored, generation)
    if events:
        conn.executemany(INSERT_EVENT, event_rows(key, events))
    return stored


def get_run(conn: sqlite3.Connection, run_id: str) -> RunRow | None:
    row = conn.execute(f"SELECT {RUN_COLUMNS} FROM runs r WHERE r.id = ?", (run_id,)).fetchone()
    return None if row is None else run_from_row(row)


def list_runs(
    conn: sqlite3.Connection, criteria: RunFilter, plan: WherePlan | None
) -> list[RunRow]:
    """The runs ``criteria`` selects, newest first; ``plan`` is its ``where``
    translated (None: no ``where``). A name in ``where`` that no run has as
    a search attribute raises ExpressionError (with a did-you-mean)."""
    if plan is not None:
        check_names(
            plan.expression,
            lambda: search_names(conn),
            lambda name: has_search_name(conn, name),
        )
    conditions: list[str] = []
    params: list[Any] = []
    if criteria.status is not None:
        conditions.append("r.status = ?")
        params.append(criteria.status)
    if criteria.workflow is not None:
        conditions.append("r.workflow = ?")
        params.append(criteria.workflow)
    if plan is not None and plan.sql is not None:
        conditions.append(f"({plan.sql})")
        params.extend(plan.params)
    clause = (" WHERE " + " AND ".join(conditions)) if conditions else ""
    order = " ORDER BY r.started_at DESC, r.key DESC"
    limit, offset = criteria.limit, criteria.offset

    if plan is None or plan.exact:
        rows = conn.execute(
            f"SELECT {RUN_COLUMNS} FROM runs r{clause}{order} LIMIT ? OFFSET ?",
            (*params, limit, offset),
        ).fetchall()
        return [run_from_row(row) for row in rows]
    expression = plan.expression

    # Only the columns the expression can see: the rest of a run
    # (vars, state, input) is loaded for the matches alone.
    cursor = conn.execute(
        "SELECT r.key, r.search, r.workflow, r.status, r.started_at, r.ended_at "
        f"FROM runs r{clause}{order}",
        params,
    )
    keys: list[int] = []
    skip = offset
    for key, search, workflow, status, started_at, ended_at in cursor:
        if limit >= 0 and len(keys) >= limit:
            break
        if not where_matches(
            expression,
            loads(search),
            workflow=workflow,
            status=status,
            started_at=started_at,
            ended_at=ended_at,
        ):
            continue
        if skip > 0:
            skip -= 1
            continue
        keys.append(key)
    cursor.close()
    found: dict[int, RunRow] = {}
    for start in range(0, len(keys), 500):
        chunk = keys[start : start + 500]
        marks = ", ".join("?" * len(chunk))
        for row in conn.execute(
            f"SELECT r.key, {RUN_COLUMNS} FROM runs r WHERE r.key IN ({marks})", chunk
        ):
            found[row[0]] = run_from_row(row[1:])
    return [found[key] for key in keys if key in found]


def search_names(conn: sqlite3.Connection) -> set[str]:
    """The names of search attributes some run has a (non-null) value for:
    a skip scan of the ``(name, value)`` index, one probe per distinct name,
    so its cost does not grow with the number of runs."""
    rows = conn.execute(
        "WITH RECURSIVE n(name) AS (SELECT MIN(name) FROM search UNION ALL "
        "SELECT (SELECT MIN(name) FROM search WHERE name > n.name) FROM n "
        "WHERE n.name IS NOT NULL) SELECT name FROM n WHERE name IS NOT NULL"
    )
    return {name for (name,) in rows}


def has_search_name(conn: sqlite3.Connection, name: str) -> bool:
    """Whether some run has ``name`` among its search attributes, null
    included (null values have no index row: this reads the runs' search
    JSON, and is only asked for a name the index does not know)."""
    found = conn.execute(
        "SELECT 1 FROM runs r, json_each(r.search) j WHERE j.key = ? LIMIT 1", (name,)
    ).fetchone()
    return found is not None


def history(conn: sqlite3.Connection, run_id: str, after_seq: int) -> list[Event]:
    rows = conn.execute(
        "SELECT e.seq, e.type, e.time, e.state, e.data FROM events e "
        "JOIN runs r ON r.key = e.run_key WHERE r.id = ? AND e.seq > ? ORDER BY e.seq",
        (run_id, after_seq),
    ).fetchall()
    return [
        Event(
            run_id=run_id,
            seq=seq,
            type=type_,
            time=time,
            state=state,
            data={} if data is None else loads(data),
        )
        for seq, type_, time, state, data in rows
    ]
