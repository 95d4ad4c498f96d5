"""The driving loop: claim ready runs, advance them, group-commit, execute.

One :meth:`Driver.tick` is the hot path (ARCHITECTURE.md "Speed"):

1. gather work: runs with action outcomes that came back, runs this process
   holds whose timer came due or that were poked, and a batch of ready runs
   claimed from the store (``claim_ready`` takes their leases);
2. call the pure machine for each (several triggers of one run are chained);
3. commit every run's update in ONE store transaction (group commit);
4. execute the commands of the updates that committed: start action calls
   as asyncio tasks (their outcomes become triggers of a later tick), answer
   handler calls, cancel calls of dropped branches.

A run is held in memory (row + lease) only while an action of it is in
flight; a run that only waits is released and costs rows, not memory. A
conflict (someone committed to the run since it was read) reloads the row
and re-applies the same triggers: the machine is pure, so that is safe.
"""

from __future__ import annotations

import asyncio
import contextlib
import gc
import logging
import secrets as _secrets
import time
from collections.abc import Awaitable, Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import Any

from wfdsl.dsl.model import Workflow

from wfdsl.errors import WfdslError

from .clock import Clock
from .definitions import Definitions, pin_key
from .machine import transition as machine
from .machine.steps import (
    CONTROL_CHANNEL,
    ActionOutcome,
    CallAction,
    CancelAction,
    CancelRun,
    Command,
    PauseRun,
    Recover,
    ReplyHandler,
    ResumeRun,
    StartChild,
    StartRun,
    StepRun,
    Transition,
    Trigger,
    Wake,
)
from .store.errors import StoreError
from .store.protocol import Store
from .store.records import (
    FINAL_STATUSES,
    CommitResult,
    Event,
    InboxMessage,
    Lease,
    RunRow,
    RunUpdate,
    with_needs_action,
    with_ready_at,
    with_row_version,
)

__all__ = [
    "CONTROL_CHANNEL",
    "ActionExecutor",
    "Driver",
    "Prepared",
    "control_trigger",
    "not_started",
]

_log = logging.getLogger("wfdsl.engine")

#: Signature of what runs one action call and reports how it went.
ActionExecutor = Callable[[CallAction], Any]

#: Child runs report their end to the parent on this internal channel.
CHILD_CHANNEL = "__child__"

#: Seconds (of the engine's clock) an idle driver goes at most without
#: asking the store what is due: the safety poll. Everything that makes a
#: run due wakes a driver sooner (its own commits, a poke, a change another
#: process committed: a message, a new run, a hand-back, a release of dead
#: workers' leases); what only this poll finds is work whose wake-up was
#: lost (a notification dropped with its connection) or a timer parked by a
#: process that then died. One ``next_ready_at`` per period.
SAFETY_POLL = 5.0


@dataclass(slots=True)
class _Held:
    """A run this process drives right now: an action of it is in flight."""

    row: RunRow
    lease: Lease
    calls: dict[str, asyncio.Task[None]] = field(default_factory=dict)
    #: Calls of the run this process cannot make (call id -> action): left
    #: for a process that has the action once this one's calls are done.
    waiting: dict[str, str] | None = None


@dataclass(slots=True)
class _Work:
    row: RunRow
    lease: Lease | None
    triggers: list[Trigger]


@dataclass(slots=True)
class Prepared:
    """A run's transitions of one tick, ready to commit."""

    update: RunUpdate
    commands: list[Command]
    triggers: list[Trigger]
    changed: bool
    #: Calls left for a process that has their action (call id -> action).
    waiting: dict[str, str] | None = None
    #: The run goes back to the store for such a process (lease released,
    #: ready now, ``needs_action`` set).
    handback: bool = False


class Driver:
    """Drives runs of one store for one engine (one owner id)."""

    def __init__(
        self,
        store: Store,
        definitions: Definitions,
        execute: ActionExecutor,
        clock: Clock,
        *,
        owner: str,
        lease_seconds: float,
        secrets: Mapping[str, str],
        batch: int = 512,
        poll_interval: float = 0.05,
        idle_poll_interval: float = 0.25,
        idle_after: float = 1.0,
        safety_poll: float = SAFETY_POLL,
    ) -> None:
        self.store = store
        self.definitions = definitions
        self.execute = execute
        self.clock = clock
        self.owner = owner
        self.lease_seconds = lease_seconds
        self.secrets = secrets
        self.batch = batch
        self.poll_interval = poll_interval
        self.idle_poll_interval = idle_poll_interval
        self.idle_after = idle_after
        self.safety_poll = safety_poll
        #: The next ready time this driver knows of (``next_ready_at`` of
        #: what it may claim) and when (clock time) it was read; None: it
        #: must ask again (it or another process committed since).
        self._due: float | None = None
        self._due_read: float | None = None
        #: How many times this driver asked the store what is due (a test
        #: counts an idle worker's queries with it).
        self.due_reads = 0
        #: Bumped (from any thread: ``poke``, ``look``) when what is due may
        #: have changed; a known due time read before the last bump is stale.
        #: A counter, not ``_due_read = None``: a read already under way in
        #: the driving thread would store its older answer over that None.
        self._marks = 0
        self._due_marks = 0
        self._missed = False
        #: While idle: the moment (engine clock) it sleeps until at the
        #: latest (the next due time, the safety poll); None while awake.
        self.sleeping_until: float | None = None
        # Monotonic time of the last sign of life (work, a wake-up, another
        # process's commit): the poll stays fast for a while after it.
        self._active_at = time.monotonic()
        self.held: dict[str, _Held] = {}
        self.pending: dict[str, list[Trigger]] = {}
        self.poked: set[str] = set()
        self.replies: dict[str, ReplyHandler] = {}
        self.break_at: dict[str, str] = {}
        self.on_transition: Callable[[RunRow, Sequence[Event]], None] | None = None
        #: Runs someone waits on (``run_until_complete``): each one's row as
        #: this driver last committed it, so the waiter need not read it back.
        self.watched: dict[str, RunRow | None] = {}
        #: Runs an inline action at once: its outcome, an awaitable of it, or
        #: None when the call must go to ``execute`` (ActionRunner.run_inline).
        self.execute_inline: Callable[[CallAction], Any] | None = None
        self._wake: asyncio.Event | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._last_renew = 0.0
        #: Where this driver last asked the store what changed (changed_runs).
        self._changes: object | None = None
        self.committed = 0
        #: The action names this process can call (capability routing), or
        #: None to claim whatever is ready; a run handed back for an action
        #: is claimed only by a driver that has it.
        self.actions: Callable[[], frozenset[str] | None] | None = None
        #: Only this run and its subflow children are claimed (``wfdsl run``
        #: drives the run it submitted); None: every run of the store.
        self.tree: str | None = None
        #: Called before each claim (the engine beats first when it had
        #: stopped beating while idle).
        self.before_claim: Callable[[], None] | None = None
        #: Whether the store wakes this driver itself when another process
        #: commits (PostgreSQL's LISTEN); else only changed_runs polls tell.
        self.pushed = store.watch_changes(self.wake)
        #: Set when the process is about to stop: claim nothing new, finish
        #: the calls in flight (``Engine.close``, SIGTERM).
        self.draining = False
        self._pool = b""
        self._pool_at = 0

    # ---------------------------------------------------------------- waking

    def bind(self, loop: asyncio.AbstractEventLoop) -> asyncio.Event:
        """Attach to the event loop that drives from now on."""
        if self._loop is not loop or self._wake is None:
            self._loop = loop
            self._wake = asyncio.Event()
        return self._wake

    def wake(self) -> None:
        """Something arrived (thread-safe): the loop stops sleeping."""
        loop, event = self._loop, self._wake
        if loop is None or event is None:
            return
        try:
            running = asyncio.get_running_loop()
        except RuntimeError:
            running = None
        if running is loop:
            event.set()
        else:
            with contextlib.suppress(RuntimeError):  # loop closed: nobody sleeps
                loop.call_soon_threadsafe(event.set)

    def poke(self, run_id: str) -> None:
        """A run got a message or control request from this process (or was
        created, redriven, forked by it): claim it at once, without waiting
        for the safety poll (thread-safe)."""
        self.poked.add(run_id)
        self._marks += 1
        self.wake()

    def look(self) -> None:
        """What is due may have changed (thread-safe): ask the store again
        before sleeping on it, and stop sleeping now."""
        self._due_read = None
        self._marks += 1
        self.wake()

    def _next_due(self, now: float, actions: frozenset[str] | None) -> float | None:
        """The next ready time of what this driver may claim: the one it
        knows, or (unknown, or older than the safety poll) the store's."""
        read, marks = self._due_read, self._marks
        if read is None or marks != self._due_marks or now - read >= self.safety_poll or now < read:
            self.due_reads += 1
            self._due = self.store.next_ready_at(self.owner, actions=actions, tree=self.tree)
            self._due_read, self._due_marks = now, marks
        return self._due

    @property
    def in_flight(self) -> int:
        return sum(len(h.calls) for h in self.held.values())

    # ---------------------------------------------------------------- one tick

    def tick(self) -> int:
        """Advance everything ready now; returns how many runs committed.

        Python's cyclic garbage collector is paused for the tick (when it was
        on): a tick of a few hundred runs allocates tens of thousands of
        short-lived dicts and records, which set off a collection every 700
        allocations, each walking what the tick still holds: about a tenth
        of the engine's time, for garbage reference counting frees anyway.
        What does form cycles is collected after the tick."""
        if not gc.isenabled():
            return self._tick()
        gc.disable()
        try:
            return self._tick()
        finally:
            gc.enable()

    def _tick(self) -> int:
        # The triggers this tick takes from ``pending`` (the outcomes of calls
        # that came back) go back there if the store refuses the tick (disk
        # full): dropped, a call whose completion was refused looked
        # unfinished, and this live process ran it again (issue 11 item 4c).
        taken = dict(self.pending) if self.pending else None
        try:
            return self._tick_once()
        except StoreError:
            if taken:
                for run_id, triggers in taken.items():
                    self.pending.setdefault(run_id, triggers)
            raise

    def _tick_once(self) -> int:
        now = self.clock.now()
        self._renew(now)
        work = self._gather(now)
        if not work:
            return 0
        self._active_at = time.monotonic()
        return self._advance_work(work, now, release_in_commit=True)

    def drive_one(
        self,
        run_id: str,
        lease: Lease | None,
        *,
        issue_calls: bool,
        extra: Sequence[Trigger] = (),
    ) -> None:
        """Advance one run now, through the tick's own path (prepare, commit,
        after-commit), under ``lease``: what a control request does when no
        driver holds the run. ``issue_calls=False``: this process starts no
        call (it is about to exit); calls the run needs are handed back to
        the store for whoever claims it next. ``extra`` triggers (a handler
        call) follow the run's own; ``lease`` None: the run has ended."""
        now = self.clock.now()
        row = self.store.get_run(run_id)
        if row is None:
            return
        held = self.held.get(run_id)
        triggers = self.pending.pop(run_id, [])
        if held is None and not any(isinstance(t, StartRun | Recover) for t in triggers):
            triggers.insert(0, StartRun(now=now) if not_started(row) else Recover(now=now))
        triggers.extend(extra)
        if held is not None:
            held.row = row
        self._advance_work({run_id: _Work(row, lease, triggers)}, now, issue_calls=issue_calls)

    def _advance_work(
        self,
        work: dict[str, _Work],
        now: float,
        *,
        issue_calls: bool = True,
        release_in_commit: bool = False,
    ) -> int:
        """Prepare, group-commit and settle ``work``. ``release_in_commit``
        (a tick's own work, not a control's pass, whose caller reuses its
        lease): a run this process keeps nothing of after its commit has
        its lease dropped by that commit (``RunUpdate.release``), not by a
        ``release`` transaction after it: a tick firing N timers is one
        claim and one commit."""
        # Its commits and releases may move what is due: the known due time
        # is dropped now, and kept after all only when they cannot have
        # moved it earlier (_keeps_due).
        known = self._due_read
        self._due_read = None
        prepared: dict[str, Prepared] = {}
        # One read tells which runs have messages; the others skip their inbox.
        with_messages = self.store.with_messages(list(work))
        for run_id, item in work.items():
            try:
                prepared[run_id] = self.prepare(
                    item.row,
                    item.lease,
                    item.triggers,
                    now,
                    has_messages=run_id in with_messages,
                    issue_calls=issue_calls,
                    release=release_in_commit,
                )
            except Exception as exc:  # a poison run must not stop the others (G7)
                _log.exception("run %r: cannot advance, leaving it for later", run_id)
                self._park(item, exc, now)
        to_commit = [p for p in prepared.values() if p.changed]
        results = self.store.commit([p.update for p in to_commit], now=now) if to_commit else []
        release: list[Lease] = []
        committed: list[tuple[RunRow, Lease | None, bool]] = []
        for p, result in zip(to_commit, results, strict=True):
            run_id = p.update.run.id
            if result.outcome == "ok":
                row = with_row_version(p.update.run, result.row_version)
                committed.append((row, p.update.lease, p.update.release))
                if run_id in self.watched:
                    self.watched[run_id] = row
                self._after_commit(row, p.update.lease, p.commands, p.update.events, p.waiting)
                if p.handback and self._lacks(row.needs_action):
                    _log.warning(
                        "run %r: waiting for a worker with action %r (not registered in this "
                        "process); left for a process that has it",
                        run_id,
                        row.needs_action,
                    )
                self.committed += 1
            elif result.outcome == "conflict":
                # Someone else committed (a handler call, a signal): reload
                # and apply the same triggers again next tick.
                self.pending.setdefault(run_id, [])[:0] = p.triggers
                fresh = self.store.get_run(run_id)
                held = self.held.get(run_id)
                if fresh is not None and held is not None:
                    held.row = fresh
                elif fresh is not None and p.update.lease is not None:
                    self.held[run_id] = _Held(fresh, p.update.lease)
                self.poked.add(run_id)
            else:  # lease_lost: another process drives it now
                self._drop(run_id)
        for p in prepared.values():
            if not p.changed:
                for command in p.commands:  # a query answers without a commit
                    if isinstance(command, ReplyHandler):
                        self.replies[command.call_id] = command
                self._settle(p.update.run, p.update.lease, release)
        for row, lease, released in committed:
            if released:  # its lease ended with the commit
                self.held.pop(row.id, None)
                continue
            self._settle(row, lease, release)
        if release:
            self.store.release(release)
        elif known is not None and self._keeps_due(work, to_commit, results):
            self._due_read = known
        return len(committed)

    def _keeps_due(
        self,
        work: dict[str, _Work],
        to_commit: Sequence[Prepared],
        results: Sequence[CommitResult],
    ) -> bool:
        """Whether these commits leave the known next due time (``_due``)
        valid: nothing ready earlier than it can have appeared. Every run
        of the pass committed (none parked, refused or lost), stays leased
        here, created no run, sent no message, and is next ready no
        earlier than the known time. A run that became ready later than it
        was leaves the known time early, which costs one look, never a
        missed wake-up. Saves a ``next_ready_at`` read per step of a run
        driven alone (a call in flight is ready only at its lease's end)."""
        if len(to_commit) != len(work) or any(r.outcome != "ok" for r in results):
            return False
        known = self._due
        for p in to_commit:
            update = p.update
            if update.new_runs or update.outbox or update.release:
                return False
            ready_at = update.run.ready_at
            if ready_at is not None and (known is None or ready_at < known):
                return False
        return True

    def _gather(self, now: float) -> dict[str, _Work]:
        work: dict[str, _Work] = {}
        # Other processes' commits: the store names the runs they sent a
        # message to (or re-created); only those held here are read again.
        changes = self.store.changed_runs(self._changes)
        self._changes = changes.cursor
        external = changes.any
        touched = changes.run_ids
        # The pokes this tick answers; one arriving from another thread from
        # now on stays in ``poked`` for the next tick (the loop sees it).
        poked = set(self.poked)
        if external:
            self._active_at = time.monotonic()
            self._due_read = None
        for run_id, held in list(self.held.items()):
            triggers = self.pending.pop(run_id, [])
            due = held.row.ready_at is not None and held.row.ready_at <= now
            if run_id in touched or run_id in poked:
                fresh = self.store.get_run(run_id)
                if fresh is None:
                    self._drop(run_id)
                    continue
                if fresh.row_version != held.row.row_version:
                    held.row = fresh
                due = due or (fresh.ready_at is not None and fresh.ready_at <= now)
            if triggers or due:
                work[run_id] = _Work(held.row, held.lease, triggers or [Wake(now=now)])
        # Outcomes of runs no longer held (lease lost, then regained) wait
        # for the claim below.
        # Claiming is a write transaction: only when something may be ready.
        actions = self.actions() if self.actions is not None else None
        if self.draining:
            claimed = []
        else:
            # The next ready time is read only when nothing else says to
            # claim, and only when it may have changed: an idle loop's tick
            # costs no query until its safety poll.
            if external or poked or self.pending:
                nxt: float | None = now
            else:
                nxt = self._next_due(now, actions)
            if _due(nxt, now):
                self._due_read = None
                if self.before_claim is not None:
                    self.before_claim()
                claimed = self.store.claim_ready(
                    self.owner,
                    now=now,
                    lease_seconds=self.lease_seconds,
                    limit=self.batch,
                    actions=actions,
                    tree=self.tree,
                )
                # Due but nothing to claim (another worker was first): the
                # idle loop asks again, but not at once (no spin).
                self._missed = not claimed
            else:
                claimed = []
        # A poke is a hint to claim; a poked run that is not ready (paused,
        # held elsewhere) is not work.
        self.poked.difference_update(poked)
        for row, lease in claimed:
            triggers = self.pending.pop(row.id, [])
            if row.id in work:
                work[row.id].row, work[row.id].lease = row, lease
                continue
            already = self.held.get(row.id)
            if already is not None:
                already.row, already.lease = row, lease
                work[row.id] = _Work(row, lease, triggers or [Wake(now=now)])
            else:
                # Taken over (start-up, expired lease, or released while it
                # waited): re-issue calls that were started and never ended.
                first: Trigger = StartRun(now=now) if not_started(row) else Recover(now=now)
                work[row.id] = _Work(row, lease, [first, *triggers])
        return work

    # ---------------------------------------------------------------- advancing

    def prepare(
        self,
        row: RunRow,
        lease: Lease | None,
        triggers: Sequence[Trigger],
        now: float,
        *,
        has_messages: bool = True,
        issue_calls: bool = True,
        release: bool = False,
    ) -> Prepared:
        """Apply ``triggers`` in order to ``row``: one update, its commands.
        ``has_messages=False``: the inbox was empty when the tick looked (a
        message arriving since keeps the run ready at commit: ``inbox_seen``).
        Control requests waiting in the inbox are applied first (after a
        start). ``issue_calls=False``: no call will be started
        here, so the run is handed back with the calls it needs.
        ``release``: the commit may drop the lease (``RunUpdate.release``)
        when this process will keep nothing of the run: no call of it in
        flight or about to start here, no outcome waiting, no hand-back."""
        workflow = self.definitions.get(row.definition_hash)
        inbox = self.store.inbox(row.id, per_channel=INBOX_WINDOW) if has_messages else []
        requested: list[int] = []
        if inbox and any(m.channel == CONTROL_CHANNEL for m in inbox):
            controls = [m for m in inbox if m.channel == CONTROL_CHANNEL]
            inbox = [m for m in inbox if m.channel != CONTROL_CHANNEL]
            requested = [m.seq for m in controls]
            # Before anything else the run does (a recovery included), after
            # its start: a cancel lands before a waiting message is consumed.
            first = 1 if triggers and isinstance(triggers[0], StartRun) else 0
            triggers = [
                *triggers[:first],
                *(control_trigger(m.data, now) for m in controls),
                *triggers[first:],
            ]
        # A backlog is read a window per channel at a time: decoding 10,000
        # messages for every transition made a burst drain at a few per
        # second. Where a window came back full, more messages wait behind
        # it; reporting them as unseen keeps the run ready until they are in.
        loaded = inbox
        start = row
        events: list[Event] = []
        commands: list[Command] = []
        consumed: list[int] = list(requested)
        outbox: list[InboxMessage] = []
        inbox_seen = max(requested, default=0)
        progressed = False
        for trigger in triggers:
            t = self._advance(workflow, row, trigger, inbox)
            row = t.run
            events.extend(t.events)
            commands.extend(t.commands)
            if t.consumed:
                consumed.extend(t.consumed)
                gone = set(t.consumed)
                inbox = [m for m in inbox if m.seq not in gone]
            outbox.extend(t.outbox)
            inbox_seen = max(inbox_seen, t.inbox_seen)
            progressed = progressed or t.status == "progressed"
        backlog_at = _backlog_start(loaded, set(consumed))
        if backlog_at is not None:
            inbox_seen = min(inbox_seen, backlog_at)
        if lease is not None and row.status == "running" and row.ready_at is None:
            # An action is in flight (the machine leaves ready_at empty: only
            # its outcome wakes the run). Should this process die, the run
            # must become claimable when its lease lapses, or nobody would
            # ever re-issue the call. The holder sees it due at that time,
            # finds nothing to do, and moves it to its renewed lease's end.
            row = with_ready_at(row, lease.expires_at)
        waiting, handback = self._route(row, commands, issue_calls)
        if handback and row.status not in FINAL_STATUSES:
            row = with_ready_at(row, now)
        needs = min(waiting.values()) if waiting else None
        if row.needs_action != needs:
            row = with_needs_action(row, needs)
        new_runs, new_run_events, child_outbox = self._children(workflow, row, commands, now)
        outbox.extend(child_outbox)
        if row.parent_run and row.status in FINAL_STATUSES and start.status not in FINAL_STATUSES:
            # A child's end reaches its parent in the same transaction.
            outbox.append(
                InboxMessage(
                    run_id=row.parent_run,
                    channel=CHILD_CHANNEL,
                    data={
                        "run_id": row.id,
                        "status": row.status,
                        "output": row.output,
                        "error": None if row.error is None else dict(row.error),
                    },
                    sent_at=now,
                )
            )
        changed = bool(events or consumed or outbox or new_runs or row != start or inbox_seen)
        update = RunUpdate(
            run=row,
            expected_version=start.row_version,
            events=tuple(events),
            consumed=tuple(consumed),
            outbox=tuple(outbox),
            new_runs=tuple(new_runs),
            new_run_events=tuple(new_run_events),
            inbox_seen=inbox_seen,
            lease=lease,
            previous_status=start.status,
            release=release
            and lease is not None
            and not handback
            and self._keeps_nothing(row.id, commands),
        )
        return Prepared(update, commands, list(triggers), changed, waiting, handback)

    def _keeps_nothing(self, run_id: str, commands: Sequence[Command]) -> bool:
        """Whether, once these ``commands`` are applied, this process holds
        nothing of ``run_id``: no call of it in flight, none to start (a
        cache hit or an inline action is an outcome still to apply), no
        outcome waiting. What ``_settle`` would then release."""
        held = self.held.get(run_id)
        if held is not None and held.calls:
            return False
        if self.pending.get(run_id):
            return False
        return not any(type(command) is CallAction for command in commands)

    def _lacks(self, action: str | None) -> bool:
        """Whether this process has no action ``action``: only then is a run
        handed back *waiting for a worker* (a pass that starts no call, a
        control applied to a run nobody held or a clean exit, hands back
        calls this process could make, and says nothing)."""
        names = self.actions() if self.actions is not None else None
        return action is not None and names is not None and action not in names

    def _route(
        self, row: RunRow, commands: Sequence[Command], issue_calls: bool
    ) -> tuple[dict[str, str] | None, bool]:
        """Capability routing: the calls of the run this process will not
        make (call id -> action), and whether to hand the run back now (none
        of its calls is in flight here, so nothing would be lost or run
        twice)."""
        held = self.held.get(row.id)
        waiting = held.waiting if held is not None else None
        if row.status in FINAL_STATUSES:
            return None, False
        if not commands and not waiting:
            return None, False  # the usual transition: nothing to route
        names = self.actions() if issue_calls and self.actions is not None else None
        starting = False
        cancelled: set[str] | None = None
        for command in commands:
            if type(command) is CallAction:
                if issue_calls and (names is None or command.action in names):
                    starting = True
                else:
                    waiting = dict(waiting or {})
                    waiting[command.call_id] = command.action
            elif type(command) is CancelAction:
                if cancelled is None:
                    cancelled = set()
                cancelled.add(command.call_id)
        if cancelled and waiting:
            waiting = {k: v for k, v in waiting.items() if k not in cancelled}
        if not waiting:
            return None, False
        in_flight = starting or (
            held is not None and any(c not in (cancelled or ()) for c in held.calls)
        )
        return waiting, not in_flight

    def _advance(
        self, workflow: Workflow, row: RunRow, trigger: Trigger, inbox: Sequence[InboxMessage]
    ) -> Transition:
        return machine.advance(
            workflow,
            row,
            trigger,
            inbox=tuple(inbox),
            secrets=self.secrets,
            entropy=self._entropy(),
        )

    def _entropy(self) -> bytes:
        """16 fresh random bytes for one transition (its callback tokens),
        cut from a pool read 4 KiB at a time: a read of the system's random
        source per transition was a syscall per step. No bytes are handed
        out twice."""
        at = self._pool_at
        if at + 16 > len(self._pool):
            self._pool, at = _secrets.token_bytes(4096), 0
        self._pool_at = at + 16
        return self._pool[at : at + 16]

    def _children(
        self, workflow: Workflow, parent: RunRow, commands: Iterable[Command], now: float
    ) -> tuple[list[RunRow], list[Event], list[InboxMessage]]:
        rows: list[RunRow] = []
        events: list[Event] = []
        outbox: list[InboxMessage] = []
        for command in commands:
            if not isinstance(command, StartChild):
                continue
            existing = self.store.get_run(command.run_id)
            if existing is not None and not (
                existing.parent_run == parent.id
                and existing.ended_at is not None
                and existing.started_at <= parent.started_at
            ):
                continue  # a recovered parent: the child exists already
            # Else no child, or perhaps the child of an earlier execution of
            # the parent's (reused) id: the store tells which by the order the
            # rows were written, and keeps this execution's own child.
            try:
                base = command.base_file or workflow.file
                pinned = parent.pins.get(pin_key(command.workflow, base))
                # Pinned at submission: the same child on every machine,
                # whatever the disk here holds now. Unpinned (a run from
                # before pins, a reference unresolved then): the disk/store.
                child_wf = (
                    self.definitions.get(pinned)
                    if pinned is not None
                    else self.definitions.resolve_child(command.workflow, base)
                )
                from .input_check import check_input

                check_input(child_wf, command.input)
                child = machine.new_run(
                    child_wf,
                    run_id=command.run_id,
                    input=command.input,
                    now=now,
                    parent_run=command.parent_run,
                )
                if parent.pins:
                    child = replace(child, pins=parent.pins)
            except WfdslError as exc:
                outbox.append(
                    InboxMessage(
                        run_id=parent.id,
                        channel=CHILD_CHANNEL,
                        data={
                            "run_id": command.run_id,
                            "status": "failed",
                            "output": None,
                            "error": {
                                "error": getattr(exc, "error_name", type(exc).__name__),
                                "message": str(exc),
                            },
                        },
                        sent_at=now,
                    )
                )
                continue
            rows.append(child)
        return rows, events, outbox

    # ---------------------------------------------------------------- after commit

    def _after_commit(
        self,
        row: RunRow,
        lease: Lease | None,
        commands: Sequence[Command],
        events: Sequence[Event],
        waiting: dict[str, str] | None = None,
    ) -> None:
        held = self.held.get(row.id)
        if held is not None:
            held.row = row
            held.waiting = waiting
        if self.on_transition is not None and events:
            self.on_transition(row, events)
        for command in commands:
            if isinstance(command, CallAction):
                if waiting is not None and command.call_id in waiting:
                    continue  # left for a process that has the action
                self.start_call(row, lease, command)
                if waiting is not None and held is None:
                    held = self.held.get(row.id)
                    if held is not None:
                        held.waiting = waiting
            elif isinstance(command, CancelAction):
                self.cancel_call(row.id, command.call_id)
            elif isinstance(command, ReplyHandler):
                self.replies[command.call_id] = command

    def start_call(self, row: RunRow, lease: Lease | None, call: CallAction) -> None:
        """Run one action call as a task on the driving loop."""
        held = self.held.get(row.id)
        if held is None:
            if lease is None:
                return
            held = self.held[row.id] = _Held(row, lease)
        if call.call_id in held.calls:
            return
        if call.cache_key is not None and self._cache_hit(call):
            return
        done = self.execute_inline(call) if self.execute_inline is not None else None
        if isinstance(done, ActionOutcome):
            # An inline action ran on this stack: its outcome is a trigger of
            # the next tick, like any other (no task, no extra loop turn).
            self._outcome(call, done)
            return
        loop = self._loop or asyncio.get_event_loop()
        task = loop.create_task(self._run_call(call, done))
        held.calls[call.call_id] = task

    async def _run_call(self, call: CallAction, started: Awaitable[Any] | None = None) -> None:
        try:
            outcome = await (started if started is not None else self.execute(call))
        except asyncio.CancelledError:
            return
        except Exception as exc:  # the executor reports errors; this is a last resort
            outcome = ActionOutcome(
                now=self.clock.now(),
                call_id=call.call_id,
                ok=False,
                error=type(exc).__name__,
                message=str(exc),
            )
        self._outcome(call, outcome)

    def _cache_hit(self, call: CallAction) -> bool:
        """A cached task whose key has a stored result: that result is the
        call's outcome, and the action is not called."""
        assert call.cache_key is not None
        now = self.clock.now()
        try:
            hit = self.store.cached_result(call.cache_key, now=now)
        except StoreError as exc:  # the cache is an optimisation: call the action
            _log.warning("run %r: cannot read the task cache (%s); calling", call.run_id, exc)
            return False
        if hit is None:
            return False
        cached = {"run": hit.run_id, "at": hit.created_at}
        self._outcome(
            call,
            ActionOutcome(now=now, call_id=call.call_id, ok=True, value=hit.value, cached=cached),
        )
        return True

    def _keep_in_cache(self, call: CallAction, outcome: ActionOutcome) -> None:
        """A successful call of a cached task: its result serves later calls
        with the same key, from any run (failures are never kept)."""
        assert call.cache_key is not None
        now = self.clock.now()
        expires = None if call.cache_ttl is None else now + call.cache_ttl
        try:
            self.store.cache_result(
                call.cache_key, outcome.value, run_id=call.run_id, now=now, expires_at=expires
            )
        except (StoreError, TypeError, ValueError) as exc:
            _log.warning("run %r: cannot keep the result in the task cache: %s", call.run_id, exc)

    def _outcome(self, call: CallAction, outcome: ActionOutcome) -> None:
        """A call's outcome is back: a trigger of its run at the next tick."""
        if call.cache_key is not None and outcome.ok and outcome.cached is None:
            self._keep_in_cache(call, outcome)
        held = self.held.get(call.run_id)
        if held is not None:
            held.calls.pop(call.call_id, None)
        self.pending.setdefault(call.run_id, []).append(outcome)
        if self._wake is not None:
            self._wake.set()

    def cancel_call(self, run_id: str, call_id: str) -> None:
        held = self.held.get(run_id)
        if held is None:
            return
        task = held.calls.pop(call_id, None)
        if task is not None:
            task.cancel()

    def _settle(self, row: RunRow, lease: Lease | None, release: list[Lease]) -> None:
        """Keep a run in memory only while one of its calls is in flight."""
        held = self.held.get(row.id)
        if held is not None and held.calls and row.status not in FINAL_STATUSES:
            held.row = row
            return
        if held is not None and not self.pending.get(row.id):
            del self.held[row.id]
            if lease is None:
                lease = held.lease
        if lease is not None and row.id not in self.held and not self.pending.get(row.id):
            release.append(lease)

    def let_go(self, run_id: str, lease: Lease | None) -> None:
        """After a control request drove ``run_id`` here under ``lease``
        (a run this driver did not hold before): stop holding it unless a
        call of it is in flight, and release the lease then."""
        self._due_read = None
        stale = self.held.get(run_id)
        if stale is not None and not stale.calls:
            del self.held[run_id]
        if lease is not None and run_id not in self.held:
            with contextlib.suppress(StoreError):
                self.store.release([lease])

    def release_all(self, now: float) -> None:
        """Stop driving: cancel what is in flight and release every lease.

        Calls abandoned (past the drain) or left for another process, or a
        transition the store refused (its triggers still pending: the
        stored row says the run is due when the lease would end): the run
        is handed back due ``now``, so the next claimer takes it at once
        instead of up to a lease later."""
        self._due_read = None
        handback: list[Lease] = []
        leases: list[Lease] = []
        for run_id, held in self.held.items():
            for task in held.calls.values():
                task.cancel()
            stale = held.calls or held.waiting or run_id in self.pending
            (handback if stale else leases).append(held.lease)
        self.held.clear()
        with contextlib.suppress(Exception):  # the lease's end is the fallback
            if handback:
                self.store.release(handback, ready_at=now)
            if leases:
                self.store.release(leases)

    def _drop(self, run_id: str) -> None:
        held = self.held.pop(run_id, None)
        if held is not None:
            for task in held.calls.values():
                task.cancel()
        self.pending.pop(run_id, None)

    def _park(self, item: _Work, exc: Exception, now: float) -> None:
        # Leave the run untouched but not ready, so it cannot spin the loop;
        # its lease lapses and a restart (or a fix) picks it up again.
        self.held.pop(item.row.id, None)
        self.pending.pop(item.row.id, None)

    def _renew(self, now: float) -> None:
        if not self.held or now - self._last_renew < self.lease_seconds / 3:
            return
        self._last_renew = now
        leases = [h.lease for h in self.held.values()]
        kept = {
            lease.run_id: lease
            for lease in self.store.renew(leases, now=now, lease_seconds=self.lease_seconds)
        }
        for run_id in list(self.held):
            lease = kept.get(run_id)
            if lease is None:
                self._drop(run_id)
            else:
                self.held[run_id].lease = lease

    # ---------------------------------------------------------------- sleeping

    def current_poll_interval(self) -> float:
        """How often an idle loop looks for other processes' commits: every
        ``poll_interval`` (50 ms) while there was activity in the last
        ``idle_after`` seconds, so a signal right after activity is seen at
        once; then every ``idle_poll_interval`` (250 ms), so a worker with
        nothing to do costs next to no CPU. Wake-ups from this process
        (``poke``, an action's outcome) never wait for a poll."""
        if time.monotonic() - self._active_at < self.idle_after:
            return self.poll_interval
        return max(self.poll_interval, self.idle_poll_interval)

    async def idle(self, *, until: float | None = None) -> None:
        """Sleep until the next due time this driver knows of (``until`` too,
        if earlier), a wake-up (this process: ``poke``, an outcome, ``look``;
        another's: the store's push, ``watch_changes``), a change another
        process committed (``changed_runs``, checked every
        :meth:`current_poll_interval`: free on PostgreSQL while it listens,
        one ``PRAGMA data_version`` on SQLite), or the safety poll, whichever
        is first. What is due is asked of the store only when it may have
        changed (a commit, a change elsewhere) or at the safety poll."""
        loop = asyncio.get_running_loop()
        wake = self.bind(loop)
        if wake.is_set():
            wake.clear()
            self._active_at = time.monotonic()
            return
        now = self.clock.now()
        actions = self.actions() if self.actions is not None else None
        due = None if self.draining else self._next_due(now, actions)
        read = self._due_read if self._due_read is not None else now
        wake_at = read + self.safety_poll
        for moment in (due, until):
            if moment is not None:
                wake_at = min(wake_at, moment)
        if self._missed and wake_at <= now:
            wake_at = now + self.current_poll_interval()
        self._missed = False
        self.sleeping_until = wake_at
        # Peek only: the cursor moves in the next tick's _gather, which must
        # see the same runs named.
        since = self._changes
        while not wake.is_set():
            try:
                await asyncio.wait_for(self.clock.wait(wake_at, wake), self.current_poll_interval())
                break  # due, the safety poll, or woken
            except TimeoutError:
                pass
            if self.store.changed_runs(since).any:
                self._active_at = time.monotonic()
                self._due_read = None
                break
        self.sleeping_until = None
        if wake.is_set():
            self._active_at = time.monotonic()
        wake.clear()


def _due(ready_at: float | None, now: float) -> bool:
    return ready_at is not None and ready_at <= now


def control_trigger(data: Any, now: float) -> Trigger:
    """The trigger a control request of :data:`CONTROL_CHANNEL` stands for."""
    op = data.get("op") if isinstance(data, dict) else None
    if op == "cancel":
        reason = data.get("reason")
        return CancelRun(
            now=now,
            compensate=bool(data.get("compensate")),
            reason=reason if isinstance(reason, str) else None,
        )
    if op == "pause":
        return PauseRun(now=now)
    if op == "resume":
        return ResumeRun(now=now)
    if op == "step":
        return StepRun(now=now)
    return Wake(now=now)  # not a request this version knows: consumed, no effect


def not_started(row: RunRow) -> bool:
    """A run created by ``submit`` or a parent, that no trigger has touched yet."""
    return not row.state.get("seq")


#: Messages per channel handed to the machine in one transition.
INBOX_WINDOW = 256


def _backlog_start(inbox: Sequence[InboxMessage], consumed: set[int]) -> int | None:
    """The last seq of the earliest full channel window the run consumed
    from: the messages behind it were not read, so the run must not count
    them seen (it stays ready and reads the next window). A full window of a
    channel nothing took from is left alone: reading further would change
    nothing, and waking for it would spin."""
    counts: dict[str, int] = {}
    last: dict[str, int] = {}
    took: set[str] = set()
    for message in inbox:
        counts[message.channel] = counts.get(message.channel, 0) + 1
        last[message.channel] = message.seq
        if message.seq in consumed:
            took.add(message.channel)
    full = [last[c] for c in took if counts[c] >= INBOX_WINDOW]
    return min(full) if full else None
