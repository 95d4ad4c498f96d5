"""Creating and reading runs in the PostgreSQL store. Each function works
inside the transaction :class:`~.store.PostgresStore` opened on ``cur``.

Creating a run under an id (``id_reuse``) is check-then-insert; two
processes creating one id at once would both see it free. So a creation
first takes a transaction-level advisory lock on the id (released at
COMMIT, PgBouncer-safe) and locks the existing run's queue row: the second
creator waits and then sees the first one's run.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import replace
from typing import Any, Final

from wfdsl.errors import RunAlreadyExists

from ..json_text import dumps
from ..query import WherePlan, check_names, unshadow, where_matches
from ..records import FINAL_STATUSES, Event, RunFilter, RunRow
from .rows import (
    ACTIVE_SQL,
    FROM_RUNS,
    RUN_COLUMNS,
    RUN_COLUMNS_ANY,
    copy_events,
    event_rows,
    insert_run,
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
    "history",
    "ids_starting",
    "list_runs",
    "lock_ids",
    "next_execution",
]

ID_REUSE_POLICIES: Final = frozenset(
    {"allow_if_no_running", "allow_if_failed", "disallow", "terminate_if_running"}
)
#: The first key of the advisory locks on run ids ('wfid').
_ID_LOCK_CLASS: Final = 0x77666964 - 2**31


def check_policy(id_reuse: str) -> None:
    if id_reuse not in ID_REUSE_POLICIES:
        raise ValueError(f"id_reuse must be one of {sorted(ID_REUSE_POLICIES)}, not {id_reuse!r}")


def lock_ids(cur: Any, run_ids: Sequence[str]) -> None:
    """Hold the creation lock of each id until COMMIT (sorted: one order
    everywhere, no deadlock between two creators of several ids)."""
    if run_ids:
        cur.execute(
            "SELECT pg_advisory_xact_lock(%s, hashtext(i)) FROM unnest(%b::text[]) i ORDER BY i",
            (_ID_LOCK_CLASS, sorted(set(run_ids))),
        )


def _check_reuse(run_id: str, status: str, policy: str) -> None:
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


def _existing(cur: Any, run_id: str) -> tuple[Any, ...] | None:
    """(key, status, row_version, lease_generation, execution, parent_run)
    of the current run ``run_id``, its queue row locked."""
    cur.execute(
        "SELECT r.key, r.status, r.row_version, q.lease_generation, r.execution, r.parent_run "
        f"FROM {FROM_RUNS} WHERE r.id = %s FOR UPDATE OF q",
        (run_id,),
    )
    row: tuple[Any, ...] | None = cur.fetchone()
    return row


def create_run(cur: Any, run: RunRow, events: Sequence[Event], id_reuse: str, now: float) -> RunRow:
    """Insert ``run`` with ``events`` (its id already locked with
    :func:`lock_ids`); an existing run of that id becomes an earlier
    execution when ``id_reuse`` allows. The row as stored."""
    stored = replace(run, ready_at=None) if run.status in FINAL_STATUSES else run
    generation = 0
    existing = _existing(cur, run.id)
    if existing is not None:
        key, status = existing[:2]
        _check_reuse(run.id, status, id_reuse)
        stored, generation = next_execution(cur, stored, key, status, now, existing[2:5])
    key = insert_run(cur, stored, generation)
    copy_events(cur, event_rows(key, events))
    return stored


def next_execution(
    cur: Any, run: RunRow, key: int, status: str, now: float, versions: Sequence[int]
) -> tuple[RunRow, int]:
    """As the SQLite store's: end the run ``key`` if active, keep it as an
    earlier execution, number ``run`` as the next one."""
    old_version, old_generation, old_execution = versions
    if status not in FINAL_STATUSES:
        _terminate(cur, key, now, run.id)
        _terminate_children(cur, run.id, now)
    cur.execute("UPDATE runs SET name = id, id = NULL WHERE key = %s", (key,))
    cur.execute(
        "UPDATE queue SET ready_at = NULL, needs_action = NULL, lease_owner = NULL, "
        "lease_expires_at = NULL WHERE run_key = %s",
        (key,),
    )
    row_version = max(run.row_version, old_version + 2)
    return replace(run, row_version=row_version, execution=old_execution + 1), old_generation + 1


def _terminate(cur: Any, key: int, now: float, run_id: str) -> None:
    cur.execute("SELECT coalesce(max(seq), 0) FROM events WHERE run_key = %s", (key,))
    (last,) = cur.fetchone()
    error = {"error": "Terminated", "message": f"a new run was started under the id {run_id!r}"}
    cur.execute(
        "UPDATE runs SET status = 'cancelled', ended_at = %s, error = %s, "
        "row_version = row_version + 1 WHERE key = %s",
        (now, dumps(error), key),
    )
    cur.execute("UPDATE queue SET ready_at = NULL, needs_action = NULL WHERE run_key = %s", (key,))
    event = Event(
        run_id=run_id,
        seq=int(last) + 1,
        type="run_cancelled",
        time=now,
        data={"reason": "terminate_if_running"},
    )
    copy_events(cur, event_rows(key, (event,)))


def _terminate_children(cur: Any, parent: str, now: float) -> None:
    cur.execute(
        f"SELECT r.key, r.id FROM {FROM_RUNS} WHERE r.id >= %s AND r.id < %s "
        f"AND r.status IN {ACTIVE_SQL} ORDER BY r.key FOR UPDATE OF q",
        (parent + "/", parent + "0"),
    )
    for key, child_id in cur.fetchall():
        _terminate(cur, key, now, child_id)


def get_run(cur: Any, run_id: str, execution: int | None = None) -> RunRow | None:
    cur.execute(f"SELECT {RUN_COLUMNS} FROM {FROM_RUNS} WHERE r.id = %s", (run_id,))
    row = cur.fetchone()
    current = None if row is None else run_from_row(row)
    if execution is None or current is None or current.execution == execution:
        return current
    cur.execute(
        f"SELECT {RUN_COLUMNS_ANY} FROM {FROM_RUNS} WHERE r.name = %s AND r.execution = %s",
        (run_id, execution),
    )
    row = cur.fetchone()
    return None if row is None else run_from_row(row)


def executions(cur: Any, run_id: str) -> list[RunRow]:
    cur.execute(
        f"SELECT {RUN_COLUMNS_ANY} FROM {FROM_RUNS} WHERE r.name = %s ORDER BY r.execution",
        (run_id,),
    )
    rows = cur.fetchall()
    cur.execute(f"SELECT {RUN_COLUMNS} FROM {FROM_RUNS} WHERE r.id = %s", (run_id,))
    rows += cur.fetchall()
    return [run_from_row(row) for row in rows]


def _after_prefix(prefix: str) -> str | None:
    if not prefix:
        return None
    last = ord(prefix[-1]) + 1
    if 0xD800 <= last <= 0xDFFF:
        last = 0xE000
    if last > 0x10FFFF:
        return None
    return prefix[:-1] + chr(last)


def ids_starting(cur: Any, prefix: str, limit: int) -> list[str]:
    """As the SQLite store's: one range of the id index (``COLLATE "C"``:
    code point order), children only when ``prefix`` reaches their last
    segment."""
    rest = len(prefix) + 1
    high = _after_prefix(prefix)
    if high is None:
        cur.execute(
            "SELECT id FROM runs WHERE id >= %s AND strpos(substr(id, %s), '/') = 0 "
            "ORDER BY id LIMIT %s",
            (prefix, rest, limit),
        )
    else:
        cur.execute(
            "SELECT id FROM runs WHERE id >= %s AND id < %s "
            "AND strpos(substr(id, %s), '/') = 0 ORDER BY id LIMIT %s",
            (prefix, high, rest, limit),
        )
    return [run_id for (run_id,) in cur.fetchall()]


def search_names(cur: Any) -> set[str]:
    """Names some run has a value for: a skip scan of the three partial
    ``(name, ...)`` indexes, one probe of each per distinct name, so its
    cost does not grow with the number of runs (a ``min(name)`` without
    their predicates could use none of them and read the whole table)."""
    cur.execute(
        "WITH RECURSIVE n(name) AS ("
        "SELECT least((SELECT min(name) FROM search WHERE num IS NOT NULL), "
        "(SELECT min(name) FROM search WHERE txt IS NOT NULL), "
        "(SELECT min(name) FROM search WHERE raw IS NOT NULL)) "
        "UNION ALL SELECT least("
        "(SELECT min(name) FROM search WHERE num IS NOT NULL AND name > n.name), "
        "(SELECT min(name) FROM search WHERE txt IS NOT NULL AND name > n.name), "
        "(SELECT min(name) FROM search WHERE raw IS NOT NULL AND name > n.name)) "
        "FROM n WHERE n.name IS NOT NULL) SELECT name FROM n WHERE name IS NOT NULL"
    )
    return {name for (name,) in cur.fetchall()}


def has_search_name(cur: Any, name: str) -> bool:
    # Not search::jsonb ? name: PostgreSQL's JSON functions refuse the
    # \u0000 a string may hold. The store writes compact JSON, so a key
    # is its JSON text after '{' or ','; a nested map can have it too, so
    # each candidate is read to be sure.
    key = dumps(name) + ":"
    cur.execute(
        "SELECT search FROM runs WHERE strpos(search, %s) > 0 OR strpos(search, %s) > 0",
        ("{" + key, "," + key),
    )
    return any(name in loads(search) for (search,) in cur)


def _has_nul_strings(cur: Any, names: Iterable[str]) -> bool:
    """Whether some run has a string holding U+0000 under one of ``names``:
    kept as JSON in ``raw`` (the only ``raw`` values that start with a
    quote), out of the ``txt`` comparisons, so ``where`` is then decided
    in Python. One probe of ``search_by_raw`` per name."""
    cur.execute(
        "SELECT 1 FROM search WHERE name = ANY(%s) AND raw >= '\"' AND raw < '#' LIMIT 1",
        (sorted(names),),
    )
    return cur.fetchone() is not None


def list_runs(cur: Any, criteria: RunFilter, plan: WherePlan | None) -> list[RunRow]:
    """The runs ``criteria`` selects, newest first; ``plan.sql`` is this
    backend's translation of ``where`` (None: decided in Python)."""
    if plan is not None:
        names = search_names(cur)
        check_names(plan.expression, lambda: names, lambda name: has_search_name(cur, name))
        plan = unshadow(plan, names)
        if plan.sql is not None and _has_nul_strings(cur, plan.expression.root_names):
            plan = WherePlan(plan.expression, None, (), exact=False)
    conditions: list[str] = []
    params: list[Any] = []
    if not criteria.all_executions:
        conditions.append("r.id IS NOT NULL")
    if criteria.status is not None:
        conditions.append("r.status = %s")
        params.append(criteria.status)
    if criteria.workflow is not None:
        conditions.append("r.workflow = %s")
        params.append(criteria.workflow)
    if plan is not None and plan.sql is not None:
        conditions.append(f"({plan.sql})")
        params.extend(plan.params)
    clause = (" WHERE " + " AND ".join(conditions)) if conditions else ""
    order = " ORDER BY r.started_at DESC, r.key DESC"
    limit, offset = criteria.limit, criteria.offset
    columns = RUN_COLUMNS_ANY if criteria.all_executions else RUN_COLUMNS
    if plan is None or plan.exact:
        cur.execute(
            f"SELECT {columns} FROM {FROM_RUNS}{clause}{order} LIMIT %s OFFSET %s",
            (*params, None if limit < 0 else limit, offset),
        )
        return [run_from_row(row) for row in cur.fetchall()]
    expression = plan.expression
    keys: list[int] = []
    skip = offset
    # A server-side cursor: the candidates arrive 1,000 at a time and the
    # scan stops at the limit, instead of every candidate's search JSON
    # being fetched into memory first.
    with cur.connection.cursor(name="wfdsl_where") as candidates:
        candidates.itersize = 1000
        candidates.execute(
            "SELECT r.key, r.search, r.workflow, r.status, r.started_at, r.ended_at "
            f"FROM runs r{clause}{order}",
            params,
        )
        for key, search, workflow, status, started_at, ended_at in candidates:
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
    if not keys:
        return []
    cur.execute(f"SELECT r.key, {columns} FROM {FROM_RUNS} WHERE r.key = ANY(%b::int8[])", (keys,))
    found = {row[0]: run_from_row(row[1:]) for row in cur.fetchall()}
    return [found[key] for key in keys if key in found]


def history(cur: Any, run_id: str, after_seq: int, execution: int | None = None) -> list[Event]:
    if execution is None:
        cur.execute(
            "SELECT e.seq, e.type, e.time, e.state, e.data FROM events e "
            "JOIN runs r ON r.key = e.run_key WHERE r.id = %s AND e.seq > %s ORDER BY e.seq",
            (run_id, after_seq),
        )
    else:
        cur.execute(
            "SELECT e.seq, e.type, e.time, e.state, e.data FROM events e WHERE e.run_key = "
            "coalesce((SELECT key FROM runs WHERE name = %s AND execution = %s), "
            "(SELECT key FROM runs WHERE id = %s AND execution = %s)) "
            "AND e.seq > %s ORDER BY e.seq",
            (run_id, execution, run_id, execution, after_seq),
        )
    return [
        Event(
            run_id=run_id,
            seq=seq,
            type=type_,
            time=time,
            state=state,
            data={} if data is None else loads(data),
        )
        for seq, type_, time, state, data in cur.fetchall()
    ]


def forks(cur: Any, run_id: str, execution: int, limit: int) -> list[tuple[RunRow, Event]]:
    """As the SQLite store's: one range of the partial index over forks'
    first events (schema 4)."""
    cur.execute(
        f"SELECT {RUN_COLUMNS_ANY}, e.time, e.state, e.data FROM events e "
        f"JOIN {FROM_RUNS} ON r.key = e.run_key "
        "WHERE e.seq = 1 AND e.type = 'run_started' AND strpos(e.data, '\"forked_from\"') > 0 "
        "AND ((e.data::json -> 'forked_from') ->> 'run') = %s "
        "AND coalesce(((e.data::json -> 'forked_from') ->> 'execution')::int, 1) = %s "
        "ORDER BY r.started_at, r.key LIMIT %s",
        (run_id, execution, limit),
    )
    out = []
    for row in cur.fetchall():
        run = run_from_row(row[:-3])
        time, state, data = row[-3:]
        started = Event(
            run_id=run.id, seq=1, type="run_started", time=time, state=state, data=loads(data)
        )
        out.append((run, started))
    return out
