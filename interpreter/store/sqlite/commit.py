"""Group commit on SQLite: every run update of a driver tick in ONE transaction.

:class:`GroupCommit` is a base class of :class:`~.sqlite_store.SqliteStore`
rather than functions behind thin methods: ``commit`` and ``_apply`` are the
store's hot path (``_apply`` runs once per update) and hooks that subclasses
override (fault injection in the tests), so each stays one method with no
wrapper call around it.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Final, TypeVar

from ..json_text import dumps
from ..query import encode_search
from ..records import FINAL_STATUSES, CommitResult, Event, RunRow, RunUpdate
from .inbox import deliver
from .rows import (
    INSERT_EVENT,
    UNLEASED,
    UPDATE_RUN,
    UPDATE_RUN_SAME_STATUS,
    UPDATE_RUN_SAME_STATUS_AND_READY,
    event_rows,
    json_or_null,
)
from .runs import next_execution

__all__ = ["GroupCommit", "move_run"]

T = TypeVar("T")

_QUIET_LIMIT: Final = 200_000

#: What :func:`_read_heads` gives per run: key, row_version, lease_owner,
#: lease_generation, the highest seq of its unconsumed messages, and the
#: stored ready_at, needs_action and search (JSON text).
_Head = tuple[int, int, str | None, int, int | None, float | None, str | None, str]
_MISSING: Final[_Head] = (0, 0, None, 0, None, None, None, "")


@dataclass(slots=True)
class _Group:
    """One group commit in the making: the runs' heads read up front (one
    query for the batch) and the events to insert at the end. ``stale``:
    runs this transaction already changed (an update applied, a message
    delivered, a child created), whose head is read again if another update
    of the batch is about them."""

    heads: dict[str, _Head] = field(default_factory=dict)
    stale: set[str] = field(default_factory=set)
    events: list[tuple[Any, ...]] = field(default_factory=list)


def _read_heads(conn: sqlite3.Connection, run_ids: Sequence[str]) -> dict[str, _Head]:
    heads: dict[str, _Head] = {}
    for start in range(0, len(run_ids), 500):
        chunk = run_ids[start : start + 500]
        marks = ",".join("?" * len(chunk))
        for run_id, *head in conn.execute(
            "SELECT id, key, row_version, lease_owner, lease_generation, (SELECT max(seq) "
            "FROM inbox WHERE run_key = runs.key AND consumed = 0), ready_at, needs_action, search "
            f"FROM runs WHERE id IN ({marks})",
            chunk,
        ):
            heads[run_id] = tuple(head)
    return heads


def _write_search(conn: sqlite3.Connection, key: int, search: Mapping[str, Any]) -> None:
    conn.execute("DELETE FROM search WHERE run_key = ?", (key,))
    rows = encode_search(search)
    if rows:
        conn.executemany(
            "INSERT INTO search (run_key, name, value) VALUES (?, ?, ?)",
            [(key, name, value) for name, value in rows],
        )


class GroupCommit:
    """``commit`` for :class:`~.sqlite_store.SqliteStore`, which provides
    the members declared here."""

    # Runs known to have no unconsumed message: a commit's head read (under
    # the write lock) found none, and nothing this connection did since put
    # one there. Another connection's message empties it (changed_runs sees
    # their commit); a commit that meets an unseen message drops its run.
    # What ``with_messages`` answers without a query.
    _quiet: set[str]

    if TYPE_CHECKING:

        def _write(
            self,
            doing: str,
            work: Callable[[sqlite3.Connection], T],
            *,
            leases_only: bool = False,
        ) -> T: ...

        def _insert_run(self, conn: sqlite3.Connection, run: RunRow, generation: int) -> int: ...

    def commit(self, updates: Sequence[RunUpdate], *, now: float) -> list[CommitResult]:
        if not updates:
            return []
        group = _Group()

        def work(conn: sqlite3.Connection) -> list[CommitResult]:
            group.heads = _read_heads(conn, [update.run.id for update in updates])
            results = [self._apply(conn, update, now, group) for update in updates]
            # The events of every update go in with one executemany at the
            # end (a run's rows exist by then; order within a run is kept).
            if group.events:
                conn.executemany(INSERT_EVENT, group.events)
            return results

        return self._write(f"committing {len(updates)} run update(s)", work)

    def _apply(
        self,
        conn: sqlite3.Connection,
        update: RunUpdate,
        now: float,
        group: _Group,
    ) -> CommitResult:
        run = update.run
        head = None if run.id in group.stale else group.heads.get(run.id, _MISSING)
        if head is None:  # changed earlier in this transaction: read it again
            head = _read_heads(conn, [run.id]).get(run.id, _MISSING)
        group.stale.add(run.id)
        if head is _MISSING:
            return CommitResult(run.id, "conflict", 0)
        (
            key,
            version,
            lease_owner,
            lease_generation,
            last_seq,
            was_ready,
            was_needing,
            was_search,
        ) = head
        if last_seq is None:
            if len(self._quiet) > _QUIET_LIMIT:
                self._quiet.clear()
            self._quiet.add(run.id)
        else:
            self._quiet.discard(run.id)
        maybe_unseen = last_seq is not None and last_seq > update.inbox_seen
        lease = update.lease
        if lease is not None and (
            lease_owner != lease.owner or lease_generation != lease.generation
        ):
            return CommitResult(run.id, "lease_lost", version)
        if version != update.expected_version:
            return CommitResult(run.id, "conflict", version)
        unseen = False
        if maybe_unseen:
            consumed = set(update.consumed)
            unseen = any(
                seq not in consumed
                for (seq,) in conn.execute(
                    "SELECT seq FROM inbox WHERE run_key = ? AND consumed = 0 AND seq > ?",
                    (key, update.inbox_seen),
                )
            )
        finished = run.status in FINAL_STATUSES
        if finished and unseen:
            # A message arrived after the machine last looked: ending the run
            # now would drop it. The engine reloads and decides again.
            return CommitResult(run.id, "conflict", version)
        children: list[RunRow] = []
        generations: dict[str, int] = {}
        for child in update.new_runs:
            existing = conn.execute(
                "SELECT parent_run, key, status, row_version, lease_generation, execution "
                "FROM runs WHERE id = ?",
                (child.id,),
            ).fetchone()
            if existing is None:
                children.append(child)
            elif existing[0] != run.id:
                return CommitResult(run.id, "conflict", version)
            elif existing[1] < key:
                # Created before this run: the child of an earlier execution
                # of this run's id. It is kept as an earlier execution of the
                # child's id, and this execution gets a child of its own.
                child, generations[child.id] = next_execution(
                    conn, child, existing[1], existing[2], now, existing[3:]
                )
                children.append(child)

        ready_at = None if finished else run.ready_at
        if unseen and (ready_at is None or ready_at > now):
            ready_at = now
        new_version = version + 1
        search_json = dumps(run.search)
        needs_action = None if finished else run.needs_action
        values = (
            dumps(run.vars),
            json_or_null(run.output),
            json_or_null(run.error),
            run.ended_at,
            dumps(run.state),
            search_json,
            new_version,
            key,
        )
        if update.previous_status != run.status:
            params: tuple[Any, ...] = (*values, ready_at, needs_action, run.status)
            statement = UPDATE_RUN
        elif ready_at != was_ready or needs_action != was_needing:
            statement, params = UPDATE_RUN_SAME_STATUS, (*values, ready_at, needs_action)
        else:
            statement, params = UPDATE_RUN_SAME_STATUS_AND_READY, values
        if update.release and lease is not None:
            statement = UNLEASED[statement]
        conn.execute(statement, params)
        if update.events:
            group.events.extend(event_rows(key, update.events))
        if update.consumed:
            # A consumed message's data lives on in the run (vars, the
            # history); keeping it here too stored every payload one more time.
            conn.executemany(
                "UPDATE inbox SET consumed = 1, data = NULL WHERE seq = ? AND run_key = ?",
                [(seq, key) for seq in update.consumed],
            )
        if search_json != was_search:
            # The search rows are what the stored search says (every writer
            # keeps them so): the same text, the same rows.
            _write_search(conn, key, run.search)
        if children:
            by_run: dict[str, list[Event]] = {}
            for event in update.new_run_events:
                by_run.setdefault(event.run_id, []).append(event)
            for child in children:
                group.stale.add(child.id)
                child_key = self._insert_run(conn, child, generations.get(child.id, 0))
                conn.executemany(INSERT_EVENT, event_rows(child_key, by_run.get(child.id, ())))
        for message in update.outbox:
            group.stale.add(message.run_id)
            self._quiet.discard(message.run_id)
            deliver(conn, message, now)
        return CommitResult(run.id, "ok", new_version)


def move_run(
    store: GroupCommit,
    conn: sqlite3.Connection,
    update: RunUpdate,
    definition_hash: str,
    version: str | None,
    now: float,
) -> CommitResult:
    """``update`` as one commit would apply it, and the run re-pinned to
    ``definition_hash`` (``version``) in the same transaction."""
    group = _Group()
    group.heads = _read_heads(conn, [update.run.id])
    result = store._apply(conn, update, now, group)
    if group.events:
        conn.executemany(INSERT_EVENT, group.events)
    if result.outcome == "ok":
        conn.execute(
            "UPDATE runs SET definition_hash = ?, version = ? WHERE id = ?",
            (definition_hash, version, update.run.id),
        )
    return result
