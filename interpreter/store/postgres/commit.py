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

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Final

from ..json_text import dumps
from ..records import FINAL_STATUSES, CommitResult, Event, RunRow, RunUpdate
from .rows import copy_events, event_rows, insert_run, json_or_null, write_search
from .runs import lock_ids, next_execution

__all__ = ["Head", "apply_group", "lock_runs"]

_UPDATE_RUN: Final = (
    "UPDATE runs SET status = %s, vars = %s, output = %s, error = %s, ended_at = %s, "
    "state = %s, search = %s, row_version = %s WHERE key = %s"
)
_UPDATE_QUEUE: Final = "UPDATE queue SET ready_at = %s, needs_action = %s WHERE run_key = %s"
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
    runs: list[tuple[Any, ...]] = field(default_factory=list)
    queue: list[tuple[Any, ...]] = field(default_factory=list)
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
    if group.runs:
        cur.executemany(_UPDATE_RUN, group.runs)
    if group.queue:
        cur.executemany(_UPDATE_QUEUE, group.queue)
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
    group.runs.append(
        (
            run.status,
            dumps(run.vars),
            json_or_null(run.output),
            json_or_null(run.error),
            run.ended_at,
            dumps(run.state),
            search_json,
            new_version,
            head.key,
        )
    )
    group.queue.append((ready_at, None if finished else run.needs_action, head.key))
    head.row_version = new_version
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


def _versions(cur: Any, key: int) -> tuple[int, int, int]:
    cur.execute(
        "SELECT r.row_version, q.lease_generation, r.execution FROM runs r "
        "JOIN queue q ON q.run_key = r.key WHERE r.key = %s",
        (key,),
    )
    row = cur.fetchone()
    assert row is not None
    return int(row[0]), int(row[1]), int(row[2])
