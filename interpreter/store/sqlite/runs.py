"""Creating and reading runs in the SQLite store: ``id_reuse`` (a reused id
keeps the runs that had it as earlier executions), listing with ``where``,
ids by prefix, and a run's history. Each function works inside the transaction
(or read) :class:`~.sqlite_store.SqliteStore` opened on ``conn``.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Callable, Sequence
from dataclasses import replace
from typing import Any, Final

from wfdsl.errors import RunAlreadyExists

from ..json_text import dumps
from ..query import WherePlan, check_names, unshadow, where_matches
from ..records import FINAL_STATUSES, Event, RunFilter, RunRow
from .rows import (
    ACTIVE_SQL,
    INSERT_EVENT,
    RUN_COLUMNS,
    RUN_COLUMNS_ANY,
    event_rows,
    loads,
    run_from_row,
)

__all__ = [
    "ID_REUSE_POLICIES",
    "check_policy",
    "create_run",
    "executions",
    "forks",
    "get_run",
    "has_search_name",
    "history",
    "ids_starting",
    "list_runs",
    "next_execution",
    "search_names",
    "supersede",
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
    now: float = 0.0,
) -> RunRow:
    """Insert ``run`` with ``events``; when its id is taken and ``id_reuse``
    allows, the run that had it becomes an earlier execution (kept, with its
    history) and ``run`` the next one. The row as stored. ``insert_run``
    writes the row."""
    finished = run.status in FINAL_STATUSES
    stored = replace(run, ready_at=None) if finished else run
    generation = 0
    existing = conn.execute(
        "SELECT key, status, row_version, lease_generation, execution FROM runs WHERE id = ?",
        (run.id,),
    ).fetchone()
    if existing is not None:
        key, status = existing[:2]
        _check_reuse(run.id, status, id_reuse)
        stored, generation = next_execution(conn, stored, key, status, now, existing[2:])
    key = insert_run(conn, stored, generation)
    if events:
        conn.executemany(INSERT_EVENT, event_rows(key, events))
    return stored


def next_execution(
    conn: sqlite3.Connection,
    run: RunRow,
    key: int,
    status: str,
    now: float,
    versions: tuple[int, int, int],
) -> tuple[RunRow, int]:
    """Make the run ``key`` (in ``status``, with ``versions``: row version,
    lease generation, execution) an earlier execution of ``run.id``, ending
    it first when it is still active; ``run`` numbered as the next execution
    and the lease generation to insert it with."""
    old_version, old_generation, old_execution = versions
    if status not in FINAL_STATUSES:  # terminate_if_running
        _terminate(conn, key, now, run.id)
        _terminate_children(conn, run.id, now)
    supersede(conn, key)
    # The new execution's versions continue the old run's, so a commit or
    # lease computed against the old run can never match the new one.
    row_version = max(run.row_version, old_version + 2)
    return replace(run, row_version=row_version, execution=old_execution + 1), old_generation + 1


def supersede(conn: sqlite3.Connection, key: int) -> None:
    """Make the run ``key`` an earlier execution: its id
    moves to ``name`` (lookups by id no longer find it), nothing of it is
    due or leased any more, and its rows stay."""
    conn.execute(
        "UPDATE runs SET name = id, id = NULL, ready_at = NULL, lease_owner = NULL, "
        "lease_expires_at = NULL WHERE key = ?",
        (key,),
    )


def _terminate(conn: sqlite3.Connection, key: int, now: float, run_id: str) -> None:
    """End an active run as ``terminate_if_running`` does: cancelled, with
    a ``run_cancelled`` event that says why."""
    (last,) = conn.execute("SELECT max(seq) FROM events WHERE run_key = ?", (key,)).fetchone()
    error = {"error": "Terminated", "message": f"a new run was started under the id {run_id!r}"}
    conn.execute(
        "UPDATE runs SET status = 'cancelled', ended_at = ?, error = ?, "
        "row_version = row_version + 1 WHERE key = ?",
        (now, dumps(error), key),
    )
    event = Event(
        run_id=run_id,
        seq=(last or 0) + 1,
        type="run_cancelled",
        time=now,
        data={"reason": "terminate_if_running"},
    )
    conn.executemany(INSERT_EVENT, event_rows(key, (event,)))


def _terminate_children(conn: sqlite3.Connection, parent: str, now: float) -> None:
    """Terminate the active subflow runs of a terminated run (ids
    ``parent/...``), as Temporal's default parent close policy does: left
    running, they would report to the parent's next execution."""
    low = parent + "/"
    high = parent + "0"  # '0' is the character after '/'
    for key, child_id in conn.execute(
        f"SELECT key, id FROM runs WHERE id >= ? AND id < ? AND status IN {ACTIVE_SQL}",
        (low, high),
    ).fetchall():
        _terminate(conn, key, now, child_id)


def get_run(conn: sqlite3.Connection, run_id: str, execution: int | None = None) -> RunRow | None:
    """The newest run with id ``run_id``, or its ``execution`` (from 1)."""
    row = conn.execute(f"SELECT {RUN_COLUMNS} FROM runs r WHERE r.id = ?", (run_id,)).fetchone()
    current = None if row is None else run_from_row(row)
    if execution is None or current is None or current.execution == execution:
        return current
    row = conn.execute(
        f"SELECT {RUN_COLUMNS_ANY} FROM runs r WHERE r.name = ? AND r.execution = ?",
        (run_id, execution),
    ).fetchone()
    return None if row is None else run_from_row(row)


def executions(conn: sqlite3.Connection, run_id: str) -> list[RunRow]:
    """Every run that had the id ``run_id``, oldest first ([] for none)."""
    rows = conn.execute(
        f"SELECT {RUN_COLUMNS_ANY} FROM runs r WHERE r.name = ? ORDER BY r.execution",
        (run_id,),
    ).fetchall()
    rows += conn.execute(f"SELECT {RUN_COLUMNS} FROM runs r WHERE r.id = ?", (run_id,)).fetchall()
    return [run_from_row(row) for row in rows]


def ids_starting(conn: sqlite3.Connection, prefix: str, limit: int) -> list[str]:
    """Up to ``limit`` ids of current runs that start with ``prefix``, in
    order; ``prefix`` itself first when it is an id. Subflow children
    (``parent/state``) count only when ``prefix`` reaches into their last
    segment: a prefix of a parent's id names the parent, not its children.

    One range of the unique index on ``id``: the ids starting with a text are
    the ones from it up to (not including) the text with its last character
    raised by one."""
    rest = len(prefix) + 1  # substr() counts characters, from 1
    high = _after_prefix(prefix)
    if high is None:
        rows = conn.execute(
            "SELECT id FROM runs WHERE id >= ?1 AND instr(substr(id, ?2), '/') = 0 "
            "ORDER BY id LIMIT ?3",
            (prefix, rest, limit),
        ).fetchall()
        return [run_id for (run_id,) in rows if run_id.startswith(prefix)]
    rows = conn.execute(
        "SELECT id FROM runs WHERE id >= ?1 AND id < ?2 AND instr(substr(id, ?3), '/') = 0 "
        "ORDER BY id LIMIT ?4",
        (prefix, high, rest, limit),
    ).fetchall()
    return [run_id for (run_id,) in rows]


def _after_prefix(prefix: str) -> str | None:
    """The least text greater than every text starting with ``prefix``
    (UTF-8 order is code point order, SQLite's BINARY collation); None when
    there is none to write (empty, or the last character cannot be raised)."""
    if not prefix:
        return None
    last = ord(prefix[-1]) + 1
    if 0xD800 <= last <= 0xDFFF:
        last = 0xE000
    if last > 0x10FFFF:
        return None
    return prefix[:-1] + chr(last)


def list_runs(
    conn: sqlite3.Connection, criteria: RunFilter, plan: WherePlan | None
) -> list[RunRow]:
    """The runs ``criteria`` selects, newest first; ``plan`` is its ``where``
    translated (None: no ``where``). A name in ``where`` that no run has as
    a search attribute raises ExpressionError (with a did-you-mean)."""
    if plan is not None:
        names = search_names(conn)
        check_names(plan.expression, lambda: names, lambda name: has_search_name(conn, name))
        plan = unshadow(plan, names)
    conditions: list[str] = []
    params: list[Any] = []
    if not criteria.all_executions:
        conditions.append("r.id IS NOT NULL")
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
    columns = RUN_COLUMNS_ANY if criteria.all_executions else RUN_COLUMNS

    if plan is None or plan.exact:
        rows = conn.execute(
            f"SELECT {columns} FROM runs r{clause}{order} LIMIT ? OFFSET ?",
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
            f"SELECT r.key, {columns} FROM runs r WHERE r.key IN ({marks})", chunk
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


def history(
    conn: sqlite3.Connection, run_id: str, after_seq: int, execution: int | None = None
) -> list[Event]:
    """The events of the newest run with id ``run_id`` (or of its
    ``execution``) after ``after_seq``."""
    if execution is None:
        rows = conn.execute(
            "SELECT e.seq, e.type, e.time, e.state, e.data FROM events e "
            "JOIN runs r ON r.key = e.run_key WHERE r.id = ? AND e.seq > ? ORDER BY e.seq",
            (run_id, after_seq),
        ).fetchall()
    else:
        rows = conn.execute(
            "SELECT e.seq, e.type, e.time, e.state, e.data FROM events e WHERE e.run_key = "
            "coalesce((SELECT key FROM runs WHERE name = ?1 AND execution = ?2), "
            "(SELECT key FROM runs WHERE id = ?1 AND execution = ?2)) "
            "AND e.seq > ?3 ORDER BY e.seq",
            (run_id, execution, after_seq),
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


#: The fork origin of a run's first event: the expression the
#: ``events_forked_from`` index holds (schema 8).
FORKED_FROM: Final = "json_extract(e.data, '$.forked_from.run')"


def forks(
    conn: sqlite3.Connection, run_id: str, execution: int, limit: int
) -> list[tuple[RunRow, Event]]:
    """The runs forked from execution ``execution`` of ``run_id``, oldest
    first, with their ``run_started`` events: one range of the partial
    index over first events (schema 8)."""
    rows = conn.execute(
        f"SELECT {RUN_COLUMNS_ANY}, e.time, e.state, e.data FROM events e "
        "JOIN runs r ON r.key = e.run_key "
        "WHERE e.seq = 1 AND e.type = 'run_started' AND instr(e.data, '\"forked_from\"') > 0 "
        f"AND {FORKED_FROM} = ? "
        "AND coalesce(json_extract(e.data, '$.forked_from.execution'), 1) = ? "
        "ORDER BY r.started_at, r.key LIMIT ?",
        (run_id, execution, limit),
    ).fetchall()
    out = []
    for row in rows:
        run = run_from_row(row[:-3])
        time, state, data = row[-3:]
        started = Event(
            run_id=run.id, seq=1, type="run_started", time=time, state=state, data=loads(data)
        )
        out.append((run, started))
    return out
