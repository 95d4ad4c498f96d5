"""Group commit on PostgreSQL: every run update of a driver tick in ONE
transaction, at READ COMMITTED.

Under SQLite's single writer a check before a write holds until COMMIT;
here another connection may write between them, so the group first locks
the queue rows of every run it touches (its own runs and the targets of
its messages) in key order, one order everywhere, then reads their heads
in a new statement (which sees whatever committed while it waited), then
decides per update exactly as the SQLite store does, and writes in a few
batched statements (events with one binary COPY). A deadlock or a
serialization failure retries the whole group (database.py).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Final

from ..json_text import dumps
from ..records import FINAL_STATUSES, CommitResult, Event, RunRow, RunUpdate
from .rows import copy_events, event_rows, insert_run, json_or_null, write_search
from .runs import lock_ids, next_execution

__all__ = ["Head", "apply_group", "lock_runs", "write_rows"]

#: Every run row and queue row a group writes, in ONE statement: one array
#: per column (binary parameters), joined on the key. One executemany per
#: table was a statement per run on the server and a pass of psycopg's
#: Python per row in the worker (bench pg_concurrent: ~15% of a worker's
#: CPU). The rows are locked already (lock_runs); a key is in the arrays
#: once (_Group.rows keeps the last update of a run, as the statements
#: applied in turn would have).
_WRITE_RUNS: Final = (
    "WITH u AS (SELECT * FROM unnest(%(key)b::int8[], %(status)b::text[], %(vars)b::text[], "
    "%(output)b::text[], %(error)b::text[], %(ended)b::float8[], %(state)b::text[], "
    "%(search)b::text[], %(version)b::int8[], %(ready)b::float8[], %(needs)b::text[], "
    "%(release)b::bool[]) "
    "AS u(key, status, vars, output, error, ended_at, state, search, row_version, ready_at, "
    "needs_action, release)), "
    "q AS (UPDATE queue SET ready_at = u.ready_at, needs_action = u.needs_action, "
    "lease_owner = CASE WHEN u.release THEN NULL ELSE queue.lease_owner END, "
    "lease_expires_at = CASE WHEN u.release THEN NULL ELSE queue.lease_expires_at END "
    "FROM u WHERE queue.run_key = u.key) "
    "UPDATE runs SET status = u.status, vars = u.vars, output = u.output, error = u.error, "
    "ended_at = u.ended_at, state = u.state, search = u.search, row_version = u.row_version "
    "FROM u WHERE runs.key = u.key"
)
_COLUMNS: Final = (
    "key",
    "status",
    "vars",
    "output",
    "error",
    "ended",
    "state",
    "search",
    "version",
    "ready",
    "needs",
    "release",
)
_INSERT_MESSAGE: Final = (
    "INSERT INTO inbox (run_key, channel, data, sent_at) VALUES (%s, %s, %s, %s)"
)
_WAKE: Final = "UPDATE queue SET ready_at = least(coalesce(ready_at, %s), %s) WHERE run_key = %s"


@dataclass(slots=True)
class Head:
    """A run as a group commit sees it once its queue row is locked."""

    key: int
    row_version: int
    status: str
    lease_owner: str | None
    lease_generation: int
    last_seq: int | None
    parent_run: str | None = None


def lock_runs(cur: Any, run_ids: Sequence[str]) -> dict[str, Head]:
    """Lock the queue rows of the current runs ``run_ids`` in key order, then
    read their heads (a second statement: its snapshot is taken after the
    locks, so it sees every commit that held them before)."""
    cur.execute(
        "SELECT run_key FROM queue WHERE run_key IN "
        "(SELECT key FROM runs WHERE id = ANY(%b::text[])) ORDER BY run_key FOR UPDATE",
        (list(set(run_ids)),),
    )
    keys = [key for (key,) in cur.fetchall()]
    if not keys:
        return {}
    cur.execute(
        "SELECT r.id, r.key, r.row_version, r.status, q.lease_owner, q.lease_generation, "
        "(SELECT max(i.seq) FROM inbox i WHERE i.run_key = r.key AND NOT i.consumed), "
        "r.parent_run FROM runs r JOIN queue q ON q.run_key = r.key "
        "WHERE r.key = ANY(%b::int8[]) AND r.id IS NOT NULL",
        (keys,),
    )
    return {row[0]: Head(*row[1:]) for row in cur.fetchall()}


@dataclass(slots=True)
class _Group:
    heads: dict[str, Head]
    delivered: set[int] = field(default_factory=set)
    #: run key -> (key, status, vars, output, error, ended_at, state,
    #: search, row_version, ready_at, needs_action, release): see _COLUMNS;
    #: ``release``: the queue row's lease ends with this write
    #: (``RunUpdate.release``; fenced: the head's lease was checked).
    rows: dict[int, tuple[Any, ...]] = field(default_factory=dict)
    consumed: list[tuple[int, int]] = field(default_factory=list)
    messages: list[tuple[Any, ...]] = field(default_factory=list)
    wakes: list[tuple[Any, ...]] = field(default_factory=list)
    events: list[tuple[Any, ...]] = field(default_factory=list)
    searches: list[tuple[int, Mapping[str, Any]]] = field(default_factory=list)
    written: list[tuple[str, int, str]] = field(default_factory=list)
    woken: set[str] = field(default_factory=set)


def apply_group(
    cur: Any,
    updates: Sequence[RunUpdate],
    now: float,
    search_written: Mapping[str, tuple[int, str]],
) -> tuple[list[CommitResult], list[tuple[str, int, str]], set[str]]:
    """Apply ``updates`` in this transaction: the results, the (run id,
    row_version, search JSON) written, and the ids of runs that got a
    message or were created (the ones a NOTIFY should name)."""
    children = [child.id for update in updates for child in update.new_runs]
    lock_ids(cur, children)
    involved = [update.run.id for update in updates]
    involved += [m.run_id for update in updates for m in update.outbox]
    group = _Group(heads=lock_runs(cur, involved + children))
    results = [_apply(cur, update, now, group, search_written) for update in updates]
    if group.rows:
        write_rows(cur, group.rows.values())
    for key, search in group.searches:
        write_search(cur, key, search)
    if group.consumed:
        cur.executemany(
            "UPDATE inbox SET consumed = true, data = NULL WHERE seq = %s AND run_key = %s",
            group.consumed,
        )
    if group.messages:
        cur.executemany(_INSERT_MESSAGE, group.messages)
        cur.executemany(_WAKE, group.wakes)
    copy_events(cur, group.events)
    return results, group.written, group.woken


def _apply(
    cur: Any,
    update: RunUpdate,
    now: float,
    group: _Group,
    search_written: Mapping[str, tuple[int, str]],
) -> CommitResult:
    run = update.run
    head = group.heads.get(run.id)
    if head is None:
        return CommitResult(run.id, "conflict", 0)
    version = head.row_version
    lease = update.lease
    if lease is not None and (
        head.lease_owner != lease.owner or head.lease_generation != lease.generation
    ):
        return CommitResult(run.id, "lease_lost", version)
    if version != update.expected_version:
        return CommitResult(run.id, "conflict", version)
    unseen = head.key in group.delivered
    if not unseen and head.last_seq is not None and head.last_seq > update.inbox_seen:
        consumed = set(update.consumed)
        cur.execute(
            "SELECT seq FROM inbox WHERE run_key = %s AND NOT consumed AND seq > %s",
            (head.key, update.inbox_seen),
        )
        unseen = any(seq not in consumed for (seq,) in cur.fetchall())
    finished = run.status in FINAL_STATUSES
    if finished and unseen:
        return CommitResult(run.id, "conflict", version)
    new_children: list[tuple[RunRow, int]] = []
    for child in update.new_runs:
        existing = group.heads.get(child.id)
        if existing is None:
            new_children.append((child, 0))
        elif existing.parent_run != run.id:
            return CommitResult(run.id, "conflict", version)
        elif existing.key < head.key:
            # The child of an earlier execution of this run's id: kept as an
            # earlier execution of the child's id; this one gets its own.
            new_children.append(
                next_execution(
                    cur,
                    child,
                    existing.key,
                    existing.status,
                    now,
                    _versions(cur, existing.key),
                )
            )
    ready_at = None if finished else run.ready_at
    if unseen and (ready_at is None or ready_at > now):
        ready_at = now
    new_version = version + 1
    search_json = dumps(run.search)
    group.rows[head.key] = (
        head.key,
        run.status,
        dumps(run.vars),
        json_or_null(run.output),
        json_or_null(run.error),
        None if run.ended_at is None else float(run.ended_at),
        dumps(run.state),
        search_json,
        new_version,
        None if ready_at is None else float(ready_at),
        None if finished else run.needs_action,
        update.release and lease is not None,
    )
    head.row_version = new_version
    if update.release and lease is not None:
        head.lease_owner = None
    head.status = run.status
    if update.events:
        group.events.extend(event_rows(head.key, update.events))
    group.consumed.extend((seq, head.key) for seq in update.consumed)
    if search_written.get(run.id) != (version, search_json):
        group.searches.append((head.key, run.search))
    group.written.append((run.id, new_version, search_json))
    if new_children:
        by_run: dict[str, list[Event]] = {}
        for event in update.new_run_events:
            by_run.setdefault(event.run_id, []).append(event)
        for child, generation in new_children:
            key = insert_run(cur, child, generation)
            group.heads[child.id] = Head(
                key, child.row_version, child.status, None, generation, None, run.id
            )
            group.events.extend(event_rows(key, by_run.get(child.id, ())))
            group.woken.add(child.id)
    for message in update.outbox:
        target = group.heads.get(message.run_id)
        if target is None or target.status in FINAL_STATUSES:
            continue
        group.messages.append((target.key, message.channel, json_or_null(message.data), now))
        group.wakes.append((now, now, target.key))
        group.delivered.add(target.key)
        group.woken.add(message.run_id)
    return CommitResult(run.id, "ok", new_version)


def write_rows(cur: Any, rows: Iterable[tuple[Any, ...]]) -> None:
    """Write run rows (the tuples of :data:`_COLUMNS`) and their queue rows
    in one statement."""
    columns = list(zip(*rows, strict=True))
    cur.execute(_WRITE_RUNS, dict(zip(_COLUMNS, (list(c) for c in columns), strict=True)))


def _versions(cur: Any, key: int) -> tuple[int, int, int]:
    cur.execute(
        "SELECT r.row_version, q.lease_generation, r.execution FROM runs r "
        "JOIN queue q ON q.run_key = r.key WHERE r.key = %s",
        (key,),
    )
    row = cur.fetchone()
    assert row is not None
    return int(row[0]), int(row[1]), int(row[2])
