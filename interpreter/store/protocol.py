"""The store protocol: the only way the engine reaches durable state.

``store.sqlite.SqliteStore`` implements it on one SQLite file; each backend
lives in its own sub-package of ``store`` and implements the same protocol.
Nothing outside a backend's package contains SQL.

Every method is a complete unit: it commits before returning (``commit``
commits a whole group of run updates in ONE transaction: group commit).
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Sequence
from typing import Any, Protocol

from .records import (
    CachedResult,
    ChangedRuns,
    CommitResult,
    Definition,
    Event,
    InboxMessage,
    Lease,
    PrunedRun,
    RunFilter,
    RunRow,
    RunUpdate,
)

__all__ = ["Store"]


class Store(Protocol):
    # --- definitions -------------------------------------------------------
    def put_definition(self, definition: Definition) -> None:
        """Store a definition by content hash (idempotent)."""

    def get_definition(self, hash: str) -> Definition | None: ...

    def find_definition(self, name: str, version: str | None = None) -> Definition | None:
        """The newest stored definition of that name (and version)."""

    # --- runs ----------------------------------------------------------------
    def create_run(
        self,
        run: RunRow,
        events: Sequence[Event],
        *,
        id_reuse: str = "allow_if_no_running",
        now: float,
    ) -> RunRow:
        """Insert a run with its first events, applying ``id_reuse`` when a run
        with that id exists (checked and applied atomically with the insert:
        of several connections creating one id at once, at most one creates
        it and the others get ``RunAlreadyExists``, never a driver error;
        ``allow_if_no_running``: replace a finished one,
        refuse a running one; ``allow_if_failed``: replace a failed/cancelled
        one only; ``disallow``: refuse; ``terminate_if_running``: mark the
        running one cancelled (event ``run_cancelled``) and replace it).
        Raises ``wfdsl.RunAlreadyExists`` when refused. A replaced run is
        kept, with its history, inbox and search rows, as an earlier
        execution of the id (:meth:`executions`); the new run is the next
        ``execution`` and lookups by id find it. When a run's id is reused,
        the subflow children of its earlier execution likewise become
        earlier executions of their ids as the new execution starts its own
        (and ``terminate_if_running`` ends the old run's active children)."""
        ...

    def create_runs(
        self, runs: Sequence[RunRow], *, id_reuse: str = "allow_if_no_running", now: float
    ) -> list[RunRow]:
        """:meth:`create_run` for many runs (no first events) in ONE
        transaction: all are created, or none when one is refused."""
        ...

    def get_run(self, run_id: str, execution: int | None = None) -> RunRow | None:
        """The newest run with that id, or its ``execution`` (1 is the first
        run that had the id); None when there is none."""
        ...

    def executions(self, run_id: str) -> list[RunRow]:
        """Every run that had the id ``run_id``, oldest first; the last is
        the one :meth:`get_run` returns. [] for an unknown id."""
        ...

    def run_ids_starting(self, prefix: str, limit: int = 10) -> list[str]:
        """Up to ``limit`` ids of runs (newest executions) that start with
        ``prefix``, in code point order (``prefix`` itself first when it is
        an id). An indexed range, never a scan of every run."""
        ...

    def list_runs(self, criteria: RunFilter) -> list[RunRow]:
        """Runs matching, newest first, without their history.

        ``where`` names search attributes and the built-ins ``workflow``,
        ``status``, ``started_at``, ``ended_at``; a run's own search attribute
        of the same name (when not null) wins over the built-in. An attribute
        a run does not have reads as null. A run for which ``where`` raises
        (``amount > 5`` with ``amount`` a string) does not match. Invalid
        text raises ``wfdsl.ExpressionError``."""
        ...

    def history(
        self, run_id: str, after_seq: int = 0, *, execution: int | None = None
    ) -> list[Event]:
        """The run's events with ``seq > after_seq`` in order ([] for no run);
        of its ``execution`` when given, else of the newest."""
        ...

    def forks(self, run_id: str, execution: int, limit: int = 100) -> list[tuple[RunRow, Event]]:
        """Up to ``limit`` runs forked from execution ``execution`` of run
        ``run_id`` (their first event, ``run_started``, records
        ``forked_from``), oldest first, each with that first event. An index
        over first events, never a scan of every history."""
        ...

    def commit(self, updates: Sequence[RunUpdate], *, now: float) -> list[CommitResult]:
        """Apply every update whose ``expected_version`` and lease still match,
        all in one transaction; refuse the others without failing the group.

        Results are in the order of ``updates``. Updates are applied in order,
        so a later update sees an earlier one's outbox. Per update:

        - ``conflict`` when the stored ``row_version`` differs from
          ``expected_version``; also when the update finishes the run (a
          final status) while the run has unconsumed messages newer than
          ``inbox_seen``: the machine must look at them first (no message
          sent before the run ended is silently dropped), and when a
          ``new_runs`` id is taken by a run that is not this run's child;
        - ``lease_lost`` when ``lease`` is given and the run's lease owner or
          generation differ (an expired lease nobody took over still commits);
        - otherwise ``ok`` with the new ``row_version`` (expected + 1).

        Only the run's mutable columns are written: ``status``, ``vars``,
        ``output``, ``error``, ``ended_at``, ``ready_at``, ``state``,
        ``search``, ``needs_action`` (forced to ``None`` for a finished run). ``ready_at`` is forced to ``None`` for a finished run and
        to at most ``now`` when newer unconsumed messages exist. Outbox
        messages to runs that do not exist or have finished are dropped (the
        engine checks targets it cares about); their active targets get
        ``ready_at <= now``. A ``new_runs`` child whose id already exists with
        the same ``parent_run`` is kept as it is (a recovered parent does not
        start it twice). The lease is left as it is (``release`` ends it).
        """
        ...

    def move_run(
        self,
        update: RunUpdate,
        *,
        definition_hash: str,
        version: str | None,
        now: float,
    ) -> CommitResult:
        """Apply ``update`` exactly as :meth:`commit` applies one update (same
        refusals) and, when it is ``ok``, pin the run to ``definition_hash``
        and ``version``, in ONE transaction: how ``wfdsl migrate --apply``
        moves a run to a new version of its workflow."""
        ...

    def prune_runs(
        self,
        *,
        ended_before: float,
        statuses: Collection[str],
        workflow: str | None = None,
        limit: int = 100,
        dry_run: bool = False,
        after: tuple[float, int] | None = None,
    ) -> tuple[list[PrunedRun], tuple[float, int] | None]:
        """Delete up to ``limit`` finished runs (every execution counts on its
        own) with a status in ``statuses`` that ended before ``ended_before``
        (and of ``workflow``), oldest end first, with their history, inbox
        and search rows, in ONE short transaction. Returns what was deleted
        and a cursor: ``dry_run`` deletes nothing, and the next call with
        ``after=cursor`` lists the next batch. Runs still referenced are
        kept: a subflow child while its parent exists (pruned after it), a
        parent while one of its children is active, the last run a schedule
        started, and the newest execution of an id while earlier ones
        remain (they go first)."""
        ...

    # --- inbox ---------------------------------------------------------------
    def send(self, run_id: str, channel: str, data: Any, *, now: float) -> InboxMessage:
        """Append a message to a run's inbox and mark the run ready; durable on
        return. Raises ``wfdsl.RunNotFound``, and :class:`RunNotActive` for a
        finished run. Does not change ``row_version`` (a commit computed
        before the message arrived still applies; ``inbox_seen`` keeps the
        wake-up).

        Atomic with the run's end: the status check, the message and the
        wake-up are one transaction that holds the run's row (a backend
        with many writers locks it: ``SELECT ... FOR UPDATE``, or the
        wake-up ``UPDATE`` first), so a send racing a commit that finishes
        the run is either refused or seen by that commit's guard
        (``conflict``), never stored behind a finished run.

        Per-run order is commit order: the run's row is locked (woken)
        BEFORE the message's ``seq`` is taken, so of two sends to one run
        the one that commits later has the higher ``seq``. The lost-wake-up
        guard (``inbox_seen`` in :meth:`commit`) relies on it: a message
        with a seq at or below what the machine saw was there to be seen.
        ``seq`` values are unique across the store and never reused. A
        commit's ``outbox`` delivers the same way (target row, then seq)."""
        ...

    def inbox(
        self, run_id: str, *, after_seq: int = 0, per_channel: int | None = None
    ) -> list[InboxMessage]:
        """The run's unconsumed messages in order; with ``per_channel``, only
        the first that many of each channel (a backlog is read in windows)."""
        ...

    def with_messages(self, run_ids: Sequence[str]) -> set[str]:
        """Which of ``run_ids`` have unconsumed messages (one read for a whole
        tick's batch, so runs with an empty inbox skip reading it)."""
        ...

    # --- scheduling and leases -------------------------------------------------
    def claim_ready(
        self,
        owner: str,
        *,
        now: float,
        lease_seconds: float,
        limit: int,
        actions: Collection[str] | None = None,
        tree: str | None = None,
    ) -> list[tuple[RunRow, Lease]]:
        """Take the lease of up to ``limit`` active runs whose ``ready_at <= now``
        and whose lease is free, expired or already ``owner``'s (one
        transaction), earliest ``ready_at`` first. Runs ``owner`` already
        holds are included so the engine learns that a run it is driving
        became ready again (a message arrived while an action was in flight);
        it must not start a second drive of such a run. The generation goes up
        when the lease changes hands (including a free lease taken again) and
        stays when ``owner`` already held it; the lease runs until
        ``now + lease_seconds``.

        Capability routing: a run whose ``needs_action`` is set is taken only
        when that action is in ``actions`` (the names the claimer can call;
        ``None``: no filter), including a run ``owner`` holds. The filter is
        the store's (an index on ``needs_action``, or ``needs_action =
        ANY($actions)`` on PostgreSQL), so runs nobody here can take cost a
        claim nothing. ``tree``: only that run and its subflow children
        (ids ``tree/...``), for a process that drives one run."""
        ...

    def claim(self, run_id: str, owner: str, *, now: float, lease_seconds: float) -> Lease | None:
        """Take one run's lease if it is free, expired or already ours; None
        when another owner holds it. Raises ``wfdsl.RunNotFound``."""
        ...

    def renew(self, leases: Sequence[Lease], *, now: float, lease_seconds: float) -> list[Lease]:
        """Extend leases still held; the ones lost are left out of the result."""
        ...

    def release(self, leases: Sequence[Lease], *, ready_at: float | None = None) -> None:
        """Give up leases still held (owner and generation match); the
        generation is kept, so the next claim gets a higher one. With
        ``ready_at`` (a hand-back: the holder leaves calls for the next
        claimer to issue), those runs that are still active become due by
        then at the latest, in the same transaction, whatever their
        ``row_version``: a run handed back is never stranded until a lease
        that no longer exists would have ended."""

    def release_orphans(self, orphaned: Callable[[str], bool], *, now: float) -> dict[str, int]:
        """Release every lease whose owner ``orphaned(owner)`` says is gone
        (a dead process; an engine's own name at its restart) and make those
        runs ready at ``now`` at the latest (a run waiting only on messages
        stays so), so the next claim takes them and re-issues their calls.
        Returns how many runs were released per owner. ``orphaned`` is asked
        once per distinct lease owner."""
        ...

    # --- heartbeats ------------------------------------------------------------
    def beat(self, owner: str, *, now: float) -> None:
        """Record that the engine ``owner`` is alive at ``now`` (the store's
        clock). A driving engine calls it about once a second from a thread
        of its own (so a backend must allow calls from another thread), for
        as long as it drives; a lost beat is harmless (no fsync needed)."""
        ...

    def silent_owners(self, *, before: float) -> set[str]:
        """The owners whose last :meth:`beat` is older than ``before``: dead
        (or cut off) wherever they ran, so their leases may be released at
        once (:meth:`release_orphans`). An owner that never beat (an older
        wfdsl, a one-shot command) is never silent: its leases are waited
        out."""
        ...

    def retire(self, owners: Collection[str]) -> None:
        """Forget the heartbeats of ``owners`` (an engine closing cleanly; a
        silent owner whose runs were taken over). An owner that beats again
        later is simply alive again."""
        ...

    def next_ready_at(
        self,
        owner: str | None = None,
        *,
        actions: Collection[str] | None = None,
        tree: str | None = None,
    ) -> float | None:
        """The earliest ``ready_at`` among active runs (what the loop sleeps on).

        With ``owner``, a run leased to another owner counts from when its
        lease expires, so a loop does not spin on work it cannot claim; with
        ``actions`` and ``tree``, only runs :meth:`claim_ready` would give
        that claimer count."""
        ...

    def now(self) -> float:
        """The store's clock, epoch seconds: what leases (claim, renew,
        expiry), timers and history are computed with by an engine on the
        wall clock (``clock.StoreClock``), so workers on many machines agree
        on when a lease ends whatever their own clocks say. SQLite: the
        local wall clock (one host). A server backend: the database's time;
        it is read on every tick, so a backend may read the server's time
        once in a while and add the local monotonic time passed since. An
        engine given a ``VirtualClock`` uses that instead (the override
        that keeps virtual-time tests working)."""
        ...

    def changed_runs(self, since: object | None) -> ChangedRuns:
        """Which runs other writers changed since the cursor ``since``
        (``None``: start watching now; that answer names no run and says
        ``other``). The driver re-reads only the runs it holds that are
        named, so a commit elsewhere costs each worker one cheap call, not a
        read of every run it holds.

        Named (``run_ids``): every run that was sent a message (``send``, a
        commit's ``outbox``) or got a new row (``create_run``/``create_runs``,
        a commit's ``new_runs``, a new execution of a reused id) after the
        answer that gave ``since``; a message committed before the call
        returns is in this answer or the next, never in neither (the backend
        must not miss a write that commits late: on a server, read the
        cursor inside the same snapshot as the ids, or have the writer
        notify). Naming more runs than changed, or the caller's own writes,
        is allowed. ``other``: some other commit may have made runs
        claimable (a release, a hand-back, an orphan taken over).

        Called every tick and on every idle poll (20 a second while active):
        it must be cheap when nothing changed. SQLite answers from ``PRAGMA
        data_version`` without a query when no other connection committed;
        a server backend answers from the notifications it received."""
        ...

    def watch_changes(self, wake: Callable[[], None]) -> bool:
        """Call ``wake()`` (from any thread, with no argument) whenever this
        backend learns that another process committed something
        :meth:`changed_runs` would report, so an idle driver sleeps until
        then instead of polling. Returns whether the backend pushes at all:
        PostgreSQL does while its LISTEN connection is up (not in poll-only
        mode); SQLite cannot (it learns of other connections' commits only
        when asked: ``PRAGMA data_version``) and returns False, so the
        driver keeps asking :meth:`changed_runs` every poll interval. One
        callback per store; a later call replaces it."""
        ...

    # --- schedules ---------------------------------------------------------------
    def cached_result(self, key: str, *, now: float) -> CachedResult | None:
        """The task result stored under cache ``key`` (any run's), unless it
        expired before ``now``; None when there is none."""
        ...

    def cache_result(
        self, key: str, value: Any, *, run_id: str, now: float, expires_at: float | None
    ) -> None:
        """Keep ``value`` (JSON), the result of a successful call of run
        ``run_id``, under cache ``key`` until ``expires_at`` (None: for ever),
        replacing what was there."""
        ...

    def schedule_state(self, definition_name: str) -> dict[str, Any] | None: ...

    def set_schedule_state(self, definition_name: str, state: dict[str, Any]) -> None:
        """Store ``state`` whatever was there (a blind write; the engine
        uses :meth:`swap_schedule_state`)."""

    def swap_schedule_state(
        self,
        definition_name: str,
        expected: dict[str, Any] | None,
        state: dict[str, Any],
    ) -> bool:
        """Compare-and-set: store ``state`` only if the stored state still
        equals ``expected`` (``None``: there is none yet), atomically (one
        statement, or under the row's lock); whether it was stored. Every
        worker of a store looks at every schedule: the one whose swap wins
        fires the tick, the others see False and read again, so a tick
        fires once however many workers run. Equality is of the values
        (JSON), so a backend may compare the stored JSON text or a version
        it keeps beside it."""
        ...

    def close(self) -> None: ...
