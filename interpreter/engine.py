"""The engine: the public face of the interpreter (docs/python-api.md).

``Engine`` is the one imperative shell that combines the store, the actions
and the clock (ARCHITECTURE.md). It validates and stores definitions
(``definitions.py``), creates runs, and drives them with a
:class:`~wfdsl.interpreter.engine_loop.Driver`, either in the caller's
thread (``run_until_complete``, ``run_until_idle``) or on an application's
asyncio loop (``async with engine`` / ``await engine.serve()``).

Controls (``cancel``, ``pause``, ``resume``, ``step``) work from any process
sharing the file: each is a durable request in the run's inbox, applied by
whichever driver holds the run between two of its transitions (a busy run
included), or here when nobody holds it. A handler ``call`` takes the run's
lease (waiting briefly if another process holds it), applies one transition
through the driver, commits and releases. ``signal`` only appends to the
inbox, which needs no lease.

A process drives only what it can (capability routing): a run whose next
call names an action this engine lacks is handed back to the store for a
process that has it, never failed (``Run.needs_action`` says which).

Decisions the API makes (docs/python-api.md): times are epoch seconds
(UTC floats) everywhere, as in the store and history; generated run ids are
26-character sortable ids (48-bit milliseconds + 80 random bits, Crockford
base32), so listing by id lists by creation.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import contextlib
import dataclasses
import logging
import os
import secrets as _secrets
import threading
import time
import uuid
from collections.abc import Callable, Iterable, Mapping, Sequence
from datetime import datetime
from types import TracebackType
from typing import Any, TypeVar

from wfdsl.dsl.model import Workflow

from wfdsl.errors import AmbiguousRunId, HandlerRejected, RunEnded, RunNotFound, WfdslError

from .actions.check import MissingAction, missing_actions
from .actions.registry import ActionRegistry, default_registry, load_modules
from .actions.runner import ActionRunner, Interceptor
from .clock import Clock, StoreClock, SystemClock, VirtualClock, to_epoch
from .completions import send_completion
from .definitions import Definitions
from .engine_loop import CONTROL_CHANNEL, Driver
from .input_check import check_handler_args, check_input, check_signal
from .machine import transition as machine
from .machine.positions import Position, positions_of
from .machine.steps import ActionOutcome, CallAction, CallHandler, ReplyHandler, Trigger
from .orphans import Orphans, default_owner
from .run_ids import check_run_id, storable
from .run_timeout import did_not_end
from .run_view import Fork, Run, Transition
from .schedules import Schedules, register_schedule
from .store.errors import RunNotActive, StoreError
from .store.errors import passing as _passing
from .store.open import is_url, open_store
from .store.protocol import Store
from .store.records import FINAL_STATUSES, Definition, Event, Lease, RunFilter, RunRow
from .store.sqlite.store import SqliteStore

__all__ = ["Engine", "new_run_id"]

_log = logging.getLogger(__name__)


_F = TypeVar("_F", bound=Callable[..., Any])
_T = TypeVar("_T")


def _on(loop: asyncio.AbstractEventLoop) -> bool:
    """Whether the calling thread is running ``loop``."""
    try:
        return asyncio.get_running_loop() is loop
    except RuntimeError:
        return False


_CROCKFORD = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"

# How many candidates an ambiguous run id prefix lists.
_PREFIX_CANDIDATES = 10

# How long a control request waits for another process to let go of a run.
_CONTROL_WAIT = 5.0


def _trace_context(given: Mapping[str, str] | None) -> dict[str, str] | None:
    """A trace context to keep with a run: its W3C fields, checked."""
    if not given:
        return None
    kept = {k: given[k] for k in ("traceparent", "tracestate") if given.get(k)}
    parent = kept.get("traceparent")
    if not isinstance(parent, str) or len(parent.split("-")) != 4:
        raise ValueError(
            f"trace_context needs a W3C traceparent ('00-<trace id>-<span id>-<flags>'), "
            f"got {given!r}"
        )
    return kept


def _who() -> str:
    """Who asks, for ``run_redriven``: the login name and host of this process."""
    import getpass
    import socket

    try:
        user = getpass.getuser()
    except Exception:  # no login name (a container without a passwd entry)
        user = str(os.getuid()) if hasattr(os, "getuid") else "unknown"
    return f"{user}@{socket.gethostname()}"


def new_run_id_checked(run_id: str | None) -> str:
    """``run_id`` checked, or a new generated id."""
    return new_run_id() if run_id is None else check_run_id(run_id)


def new_run_id() -> str:
    """A 26-character id that sorts by creation time (ULID layout)."""
    value = (int(time.time() * 1000) << 80) | int.from_bytes(_secrets.token_bytes(10), "big")
    chars = []
    for _ in range(26):
        chars.append(_CROCKFORD[value & 31])
        value >>= 5
    return "".join(reversed(chars))


class Engine:
    """Durable workflow runs in a store: a SQLite file or a PostgreSQL database.

    ``path`` is the store: a SQLite file (``":memory:"`` for tests), a URL
    (``sqlite:///file.db``, ``postgresql://user@host/db``) or a store
    object (``open_store(url)``; the same as ``store=``); ``clock`` a
    :class:`VirtualClock` to control time, else the store's clock
    (``Store.now``: the database's time, so every worker of one store
    computes leases and timers from one clock); ``actions`` an
    :class:`ActionRegistry` whose actions this engine uses (on top of the
    process-wide ``wfdsl.action`` registry). ``synchronous`` is SQLite's
    (``FULL`` survives power loss; ``NORMAL`` only process crashes).
    ``owner`` names this engine in run leases (default: host, pid, process
    start, random). An explicit ``owner`` is a stable name: at its first
    drive the engine takes back at once the runs a previous process of that
    name left leased (a restart), so a name must never be used by two live
    engines at once. Runs leased by a dead process of this host with a
    default owner are taken over at once too (``orphans.py``).
    ``allow_shell`` enables the built-in ``shell`` action. ``secrets`` is
    where ``secret('NAME')`` reads (default: the environment).
    ``drain_seconds``: on :meth:`close` (and when :meth:`serve` stops) the
    calls in flight get this long to finish and have their outcomes
    committed; only a call still running then is handed back to run again
    elsewhere (as after a crash).
    """

    def __init__(
        self,
        path: str | os.PathLike[str] | Store = ":memory:",
        clock: Clock | None = None,
        actions: ActionRegistry | None = None,
        *,
        synchronous: str = "FULL",
        owner: str | None = None,
        lease_seconds: float = 30.0,
        allow_shell: bool = False,
        secrets: Mapping[str, str] | None = None,
        store: Store | None = None,
        drain_seconds: float = 30.0,
    ) -> None:
        if store is None and not isinstance(path, (str, os.PathLike)):
            store = path  # Engine(store): a store object in the first place
        if store is None:
            assert isinstance(path, (str, os.PathLike))
            target = os.fspath(path)
            store = (
                open_store(target)
                if is_url(target)
                else SqliteStore(target, synchronous=synchronous)
            )
        self.store: Store = store
        # On the wall clock the engine reads the store's time (the database's
        # on a server backend), so every worker computes leases and timers
        # from one clock; a VirtualClock (or any other clock) overrides it.
        self.clock: Clock = (
            StoreClock(self.store.now) if clock is None or type(clock) is SystemClock else clock
        )
        registry = default_registry().child("engine")
        if actions is not None:
            registry.merge(actions)
        self.actions = registry
        self.owner = owner or default_owner()
        self._orphans = Orphans(
            self.store,
            self.owner,
            restart=owner is not None,
            # Heartbeats judge by the store's clock; virtual time jumps.
            now=self.clock.now if isinstance(self.clock, StoreClock) else None,
            holding=lambda: bool(self.driver.held),
        )
        self.lease_seconds = lease_seconds
        self.definitions = Definitions(self.store)
        self._runner = ActionRunner(registry, clock=self.clock, allow_shell=allow_shell)
        self.driver = Driver(
            self.store,
            self.definitions,
            self._execute,
            self.clock,
            owner=self.owner,
            lease_seconds=lease_seconds,
            secrets=os.environ if secrets is None else secrets,
        )
        self.driver.execute_inline = self._execute_inline
        self.driver.before_claim = self._orphans.before_claim
        self._runner.trace_carrier = self._run_trace
        self.driver.actions = self._actions_here
        self.drain_seconds = drain_seconds
        self._aio: asyncio.AbstractEventLoop | None = None
        self._serving: asyncio.Task[None] | None = None
        self._stop: asyncio.Event | None = None
        self._closed = False
        self._schedules: Any = None
        self._watchers: list[Callable[[Transition], None]] = []

    # ------------------------------------------------------------ actions

    def action(self, name: str, *, inline: bool = False) -> Callable[[_F], _F]:
        """Decorator registering a sync or async callable for this engine."""
        return self.actions.action(name, inline=inline)

    def _actions_here(self) -> frozenset[str] | None:
        """What this engine claims work for (None: anything, while an
        interceptor answers every call)."""
        return None if self._runner.intercept is not None else self._runner.available()

    def intercept_actions(self, handler: Interceptor | None) -> None:
        """Testing seam: send every action call of this engine (undo calls and
        built-ins included) to ``handler(ctx, args)`` instead of the registry.
        Its return value, or an awaitable's, is the call's result; what it
        raises is the call's failure (named as any action's error is); it
        returns ``PROCEED`` (``wfdsl.interpreter.actions.runner``) to run the
        real action. ``None`` removes it. ``wfdsl test`` mocks actions so."""
        self._runner.intercept = handler

    def set_trace_carrier(
        self, carrier: Callable[[CallAction], Mapping[str, str] | None] | None
    ) -> None:
        """Tracing seam: what each action attempt is handed as ``ctx.trace``
        (a W3C carrier; ``wfdsl.observe.tracing`` gives the attempt's span).
        ``None`` restores the default: the trace context the run was started
        in, if any, which is also what a ``carrier`` answering None gives."""
        if carrier is None:
            self._runner.trace_carrier = self._run_trace
            return

        def either(call: CallAction) -> Mapping[str, str] | None:
            return carrier(call) or self._run_trace(call)

        self._runner.trace_carrier = either

    def _run_trace(self, call: CallAction) -> Mapping[str, str] | None:
        held = self.driver.held.get(call.run_id)
        trace = held.row.state.get("trace") if held is not None else None
        return trace if isinstance(trace, Mapping) else None

    async def _execute(self, call: CallAction) -> ActionOutcome:
        return await self._runner.run(call)

    def _execute_inline(self, call: CallAction) -> Any:
        return self._runner.run_inline(call)

    # ------------------------------------------------------------ runs

    def submit(
        self,
        doc: str | os.PathLike[str] | Mapping[str, Any],
        input: Any = None,
        run_id: str | None = None,
        *,
        break_at: str | None = None,
        trace_context: Mapping[str, str] | None = None,
    ) -> Run:
        """Validate ``doc`` (a path, YAML text or a mapping) and ``input``,
        store the definition and create the run (``id_reuse`` applies).
        ``trace_context``: a W3C trace context (``{"traceparent": ...}``) the
        run belongs to; kept with the run, recorded in ``run_started``, the
        parent of its spans and handed to its actions (``ctx.trace``).
        Raises ``ValidationError`` with every finding or violation, or
        ``RunAlreadyExists``."""
        if run_id is not None:
            check_run_id(run_id)  # before anything is stored
        workflow = self.register(doc)
        check_input(workflow, input)
        return self.start(
            workflow, input=input, run_id=run_id, break_at=break_at, trace_context=trace_context
        )

    def register(self, doc: str | os.PathLike[str] | Mapping[str, Any]) -> Workflow:
        """Validate and store a definition without starting a run (a workflow
        with a ``schedule`` is then fired by workers on this store)."""
        workflow = self.definitions.submit(doc)
        if workflow.imports:
            load_modules(workflow.imports, origin=f"imports: of {workflow.name}")
        register_schedule(self, workflow)
        return workflow

    def missing_actions(self, workflow: Workflow) -> list[MissingAction]:
        """Where ``workflow`` names an action this engine cannot call (not
        registered here, in the process, in its ``imports:`` or an entry
        point; ``shell`` unless enabled), in document order. ``wfdsl run``
        refuses such a flow before storing anything; a worker leaves such a
        call for a process that has the action."""
        if workflow.imports:
            load_modules(workflow.imports, origin=f"imports: of {workflow.name}")
        return missing_actions(workflow, self._runner.available())

    def start(
        self,
        workflow: Workflow,
        *,
        input: Any = None,
        run_id: str | None = None,
        id_reuse: str | None = None,
        break_at: str | None = None,
        trace_context: Mapping[str, str] | None = None,
    ) -> Run:
        """Create a run of an already registered, compiled workflow (input
        unchecked); what ``submit`` and schedules share."""
        now = self.clock.now()
        row = machine.new_run(
            workflow,
            run_id=new_run_id() if run_id is None else check_run_id(run_id),
            input=input,
            now=now,
            break_at=(break_at,) if break_at else (),
            trace=_trace_context(trace_context),
        )
        pins = self.definitions.pins_for(workflow)
        if pins:
            row = dataclasses.replace(row, pins=pins)
        row = self.store.create_run(row, (), id_reuse=id_reuse or workflow.id_reuse, now=now)
        self.driver.poke(row.id)
        return self._view(row)

    def start_many(
        self,
        workflow: Workflow,
        inputs: Iterable[Any],
        *,
        id_reuse: str | None = None,
    ) -> list[Run]:
        """Create one run of ``workflow`` per input (inputs unchecked, as in
        :meth:`start`; ids are generated) in ONE transaction: all are durable
        when this returns, or none is. Starting 1,000 runs costs about one
        commit instead of 1,000, which is what bounds :meth:`start` on a
        synced disk."""
        now = self.clock.now()
        rows = [
            machine.new_run(workflow, run_id=new_run_id(), input=input, now=now) for input in inputs
        ]
        pins = self.definitions.pins_for(workflow)
        if pins:
            rows = [dataclasses.replace(row, pins=pins) for row in rows]
        created = self.store.create_runs(rows, id_reuse=id_reuse or workflow.id_reuse, now=now)
        for row in created:
            self.driver.poke(row.id)
        return [self._view(row) for row in created]

    def get(self, run_id: str, *, execution: int | None = None) -> Run:
        """The run as stored now; raises ``RunNotFound``. ``run_id`` may be
        any unique prefix of an id (``AmbiguousRunId`` when it starts
        several). A reused id names its newest run; ``execution`` (from 1)
        picks an earlier one (:meth:`executions` lists them)."""
        return self._view(self._row(run_id, execution))

    def executions(self, run_id: str) -> list[Run]:
        """Every run that had this id (or unique prefix), oldest first: a run
        started under a reused id is the next execution, and the earlier
        ones keep their history. The last is the one :meth:`get` returns."""
        resolved = self._row(run_id).id
        return [self._view(row) for row in self.store.executions(resolved)]

    def list_runs(
        self,
        where: str | None = None,
        status: str | None = None,
        workflow: str | None = None,
        limit: int = 100,
        all_executions: bool = False,
    ) -> list[Run]:
        """Runs matching, newest first; ``where`` is an expression over search
        attributes and ``workflow``, ``status``, ``started_at``, ``ended_at``.
        Only the newest run of a reused id, unless ``all_executions``."""
        rows = self.store.list_runs(
            RunFilter(
                status=status,
                workflow=workflow,
                where=where,
                limit=limit,
                all_executions=all_executions,
            )
        )
        return [self._view(row) for row in rows]

    def history(self, run_id: str, *, execution: int | None = None, after: int = 0) -> list[Any]:
        """The run's events, oldest first (of its ``execution`` when given);
        with ``after``, only those whose ``seq`` is greater (a reader that
        follows a run asks for what is new)."""
        row = self._row(run_id, execution)
        return self.store.history(row.id, after, execution=execution)

    def definition(self, definition_hash: str) -> Definition | None:
        """The stored document a run is pinned to (``Run.definition_hash``):
        its text as submitted and the file it came from; ``None`` if unknown."""
        return self.store.get_definition(definition_hash)

    # ------------------------------------------------------------ repair

    def redrive(self, run_id: str, *, by: str | None = None) -> Run:
        """Restart a failed run at the state that failed (docs/operations.md):
        the same run, with the vars it held at the failure; the failed
        state is entered again as a new visit, so its actions get new
        idempotency keys; the history goes on with ``run_redriven`` saying
        ``by`` whom (default: the user running this process). Raises
        ``RestartRefused`` (a ``WfdslError``) saying why when the run is not
        failed, its definition is gone, or it cannot restart there."""
        from .repair import RestartRefused, redrive_update

        row = self._row(run_id)
        update = redrive_update(
            self.store,
            self.definitions,
            row,
            by=by or _who(),
            now=self.clock.now(),
            secrets=self.driver.secrets,
        )
        (result,) = self.store.commit([update], now=self.clock.now())
        if result.outcome != "ok":
            raise RestartRefused(f"run {row.id!r} changed while it was redriven; try again")
        self.driver.poke(row.id)
        return self.get(row.id)

    def fork(
        self,
        run_id: str,
        *,
        at: str | int,
        set: Mapping[str, Any] | None = None,
        new_run_id: str | None = None,
        execution: int | None = None,
    ) -> Run:
        """Start a new run from a point of ``run_id``'s history: ``at`` is an
        event seq or a state (its last entry); a point inside a parallel
        branch or map iteration restarts its top-level state. The new run
        has the vars the original had just before that state, patched by
        ``set`` (var path -> value), and enters the state: nothing before
        it runs again. The original is not touched; the new run's
        ``run_started`` records ``forked_from``. Raises ``RestartRefused``."""
        from .repair import fork_row

        source = self._row(run_id, execution)
        new_id = new_run_id_checked(new_run_id)
        now = self.clock.now()
        events = self.store.history(source.id, execution=source.execution)
        row, started = fork_row(
            self.definitions,
            source,
            events,
            at=at,
            patch=dict(set or {}),
            run_id=new_id,
            now=now,
            secrets=self.driver.secrets,
        )
        workflow = self.definitions.get(source.definition_hash)
        row = self.store.create_run(row, (started,), id_reuse=workflow.id_reuse, now=now)
        self.driver.poke(row.id)
        return self._view(row)

    def forks(self, run_id: str, *, execution: int | None = None, limit: int = 100) -> list[Fork]:
        """The runs forked from ``run_id`` (its newest execution, or
        ``execution``), oldest first, at most ``limit``: each new run with
        the seq and state it started from (its ``run_started`` records
        ``forked_from``). Raises ``RunNotFound``."""
        source = self._row(run_id, execution)
        found = self.store.forks(source.id, source.execution, limit=max(1, limit))
        out = []
        for row, started in found:
            origin = started.data.get("forked_from") or {}
            out.append(
                Fork(
                    run=self._view(row),
                    seq=int(origin.get("seq", 0)),
                    state=origin.get("state"),
                    set=dict(origin.get("set") or {}),
                )
            )
        return out

    # ------------------------------------------------------------ migration

    def migrate(
        self,
        name: str,
        to: str | os.PathLike[str] | Mapping[str, Any],
        *,
        mapping: Mapping[str, str] | None = None,
        apply: bool = False,
        by: str | None = None,
    ) -> Any:
        """Which active runs of workflow ``name`` can move to the document
        ``to`` (validated and stored; ``ValidationError`` when invalid), and
        with ``apply`` move them, each in one transaction with a
        ``run_migrated`` event; a ``MigrationReport`` listing every run and
        why it cannot move (docs/operations.md "Migrate in-flight runs").
        ``mapping``: old state name (or ``scope/state`` path) -> new name."""
        from . import migration

        target = self.register(to)
        if target.name != name:
            raise WfdslError(
                f"{to!s} defines workflow {target.name!r}, not {name!r}: a run moves only to "
                "a version of its own workflow"
            )
        if not apply:
            return migration.check(self.store, self.definitions, name, target, mapping=mapping)
        report = migration.apply(
            self.store,
            self.definitions,
            name,
            target,
            mapping=mapping,
            by=by or _who(),
            now=self.clock.now(),
        )
        for item in report.runs:
            if item.moved:
                self.driver.poke(item.run_id)
        return report

    # ------------------------------------------------------------ retention

    def prune(
        self,
        older_than: float,
        *,
        statuses: Iterable[str] = ("cancelled", "completed", "failed"),
        workflow: str | None = None,
        dry_run: bool = False,
    ) -> Any:
        """Delete the finished runs (with ``statuses``) that ended more than
        ``older_than`` seconds ago, with their history, in small batches;
        returns a ``PruneReport``. ``dry_run`` only counts. Runs still
        referenced are kept (docs/operations.md "Retention")."""
        from .retention import prune

        return prune(
            self.store,
            older_than=older_than,
            now=self.clock.now(),
            statuses=tuple(statuses),
            workflow=workflow,
            dry_run=dry_run,
        )

    def set_retention(
        self,
        older_than: float | None,
        *,
        statuses: Iterable[str] = ("cancelled", "completed", "failed"),
    ) -> None:
        """The store-level retention setting every worker on this store
        applies (None removes it)."""
        from .retention import RetentionPolicy, check_statuses, set_retention_policy

        policy = (
            None
            if older_than is None
            else RetentionPolicy(float(older_than), check_statuses(tuple(statuses)))
        )
        set_retention_policy(self.store, policy)

    def retention(self) -> Any:
        """The store-level retention setting (a ``RetentionPolicy``) or None."""
        from .retention import retention_policy

        return retention_policy(self.store)

    def resolve(self, run_id: str) -> str:
        """The id of the run ``run_id`` names: itself when it is an id, else
        the one id it is a prefix of. ``RunNotFound`` when it names none,
        ``AmbiguousRunId`` (a ``RunNotFound``) listing the candidates when it
        starts several."""
        return self._row(run_id).id

    def _row(self, run_id: str, execution: int | None = None) -> RunRow:
        # An id with no UTF-8 form (a lone surrogate, bytes a shell passed
        # that are not UTF-8) names no run; asking SQLite would only fail.
        if not storable(run_id):
            raise RunNotFound(f"no run with id {run_id!r}")
        row = self.store.get_run(run_id, execution)
        if row is None:
            row = self.store.get_run(self._by_prefix(run_id), execution)
            if row is None:
                raise RunNotFound(f"run {run_id!r} has no execution {execution}")
        return row

    def _by_prefix(self, prefix: str) -> str:
        """``prefix`` when it is an id, else the one id starting with it."""
        shown = _PREFIX_CANDIDATES
        found = self.store.run_ids_starting(prefix, shown + 1) if prefix else []
        if not found:
            raise RunNotFound(f"no run with id {prefix!r}")
        if len(found) == 1 or found[0] == prefix:  # an id itself comes first
            return found[0]
        more = " and more" if len(found) > shown else ""
        raise AmbiguousRunId(
            f"run id {prefix!r} is ambiguous: it begins {', '.join(found[:shown])}{more}; "
            "give more of the id",
            prefix=prefix,
            candidates=found[:shown],
        )

    def _view(self, row: RunRow) -> Run:
        run_id, execution = row.id, row.execution
        return Run.from_row(
            row,
            lambda: self.store.history(run_id, execution=execution),
            lambda: self._positions(row),
        )

    def _positions(self, row: RunRow) -> tuple[Position, ...]:
        try:
            workflow = self.definitions.get(row.definition_hash)
        except WfdslError:
            workflow = None
        return positions_of(workflow, row.state)

    @property
    def held_runs(self) -> int:
        """How many runs this engine holds a lease on now (an action of
        theirs in flight here): what the worker's metrics report."""
        return len(self.driver.held)

    def watch(self, callback: Callable[[Transition], None]) -> Callable[[], None]:
        """Call ``callback`` after each transition this engine commits (its
        own driving and its control requests), with the run as committed and
        the events written; returns a function that stops watching.

        The callback runs on the driving thread between transitions: keep
        it short (print, enqueue) and do not call the engine from it."""
        self._watchers.append(callback)
        self.driver.on_transition = self._notify

        def unwatch() -> None:
            if callback in self._watchers:
                self._watchers.remove(callback)
            if not self._watchers:
                self.driver.on_transition = None

        return unwatch

    def _notify(self, row: RunRow, events: Sequence[Event]) -> None:
        transition = Transition(self._view(row), tuple(events))
        for callback in list(self._watchers):
            callback(transition)

    # ------------------------------------------------------------ messages and control

    def signal(self, run_id: str, channel: str, data: Any = None) -> None:
        """Append a message to the run's inbox; durable when this returns.

        ``data`` is checked against the ``schema`` its channel declares, and
        on a workflow that declares signals an undeclared channel is refused:
        both raise ``ValidationError`` (WF602, every violation) and store
        nothing. ``RunNotFound`` for an unknown run; ``WfdslError`` for a run
        that has ended."""
        row = self._row(run_id)
        run_id = row.id
        check_signal(self.definitions.get(row.definition_hash), channel, data, run_id=run_id)
        try:
            self.store.send(run_id, channel, data, now=self.clock.now())
        except RunNotActive as exc:
            raise WfdslError(str(exc)) from None
        self.driver.poke(run_id)

    def call(self, run_id: str, handler: str, args: Any = None) -> Any:
        """Call a handler (§7): its return value, or ``HandlerRejected`` when
        its guard does not hold. ``args`` that fail the handler's ``input``
        schema raise ``ValidationError`` (WF603, every violation) before the
        handler runs, so nothing changes."""
        row = self._row(run_id)
        run_id = row.id
        check_handler_args(self.definitions.get(row.definition_hash), handler, args, run_id=run_id)
        call_id = uuid.uuid4().hex
        trigger = CallHandler(now=self.clock.now(), handler=handler, args=args, call_id=call_id)
        reply = self._on_driving_loop(lambda: self._handler_call(run_id, trigger))
        if reply is None:
            raise WfdslError(f"run {run_id!r}: handler {handler!r} gave no answer")
        if not reply.ok:
            raise HandlerRejected(
                reply.message or f"handler {handler!r} rejected the call",
                details={"error": reply.error},
            )
        return reply.value

    def complete(
        self,
        token: str,
        output: Any = None,
        error: str | None = None,
        message: str | None = None,
        *,
        details: Any = None,
    ) -> None:
        """Complete the task waiting on callback ``token``: with ``output`` (its
        result), or with ``error`` (an error name; ``message`` and
        ``details`` go with it), which the task retries and catches as an
        action's failure. Durable when this returns, like a signal.

        Raises ``CallbackNotFound`` for a token never issued and
        ``CallbackRefused`` for one already completed or stale (its attempt
        timed out, was retried or cancelled, or the run ended)."""
        if error is not None and (not isinstance(error, str) or not error.strip()):
            raise WfdslError("a failure completion needs an error name (a non-empty text)")
        data: dict[str, Any] = {"op": "complete"}
        if error is None:
            data["output"] = output
        else:
            data.update(error=error, message="" if message is None else str(message))
            if details is not None:
                data["details"] = details
        self._callback(token, data)

    def heartbeat(self, token: str) -> None:
        """Tell the task waiting on callback ``token`` that the outside world is
        still at it: its ``heartbeat`` deadline starts again. Refused as
        :meth:`complete` is."""
        self._callback(token, {"op": "heartbeat"})

    def _callback(self, token: str, data: dict[str, Any]) -> None:
        run_id = send_completion(self.store, token, data, now=self.clock.now())
        self.driver.poke(run_id)

    def cancel(self, run_id: str, compensate: bool = False) -> Run:
        """Cancel a run (``compensate``: run its undo actions first).

        Like every control, a durable request: applied at once when no
        process holds the run, else by its driver between two transitions;
        this returns once it is applied, or after 5 s with the request
        stored (its holder applies it at its next transition). Raises
        ``RunEnded`` for a run that has ended, ``RunNotFound``."""
        return self._request(run_id, {"op": "cancel", "compensate": bool(compensate)})

    def pause(self, run_id: str) -> Run:
        """No new transition starts until ``resume`` (actions in flight finish)."""
        return self._request(run_id, {"op": "pause"})

    def resume(self, run_id: str) -> Run:
        return self._request(run_id, {"op": "resume"})

    def step(self, run_id: str) -> Run:
        """On a paused run: perform exactly one transition, stay paused."""
        return self._request(run_id, {"op": "step"})

    def _request(self, run_id: str, request: dict[str, Any]) -> Run:
        row = self._row(run_id)
        run_id = row.id
        if row.status in FINAL_STATUSES:
            raise RunEnded(
                f"cannot {request['op']} run {run_id!r}: it is already {row.status}",
                run_id=run_id,
                status=row.status,
            )
        try:
            message = self.store.send(run_id, CONTROL_CHANNEL, request, now=self.clock.now())
        except RunNotActive as exc:
            raise RunEnded(
                f"cannot {request['op']} run {run_id!r}: it is already {exc.status}",
                run_id=run_id,
                status=exc.status,
            ) from None
        self.driver.poke(run_id)
        self._see_applied(run_id, message.seq)
        return self.get(run_id)

    def _see_applied(self, run_id: str, seq: int) -> None:
        """Apply the request ``seq`` here when no driver holds the run, or
        wait (at most ``_CONTROL_WAIT``) for the driver that holds it."""
        driver = self.driver
        loop = driver._loop
        serving = loop is not None and loop.is_running()
        try:
            on_loop = serving and asyncio.get_running_loop() is loop
        except RuntimeError:
            on_loop = False
        ours = run_id in driver.held
        deadline = time.monotonic() + _CONTROL_WAIT
        while self._pending_request(run_id, seq):
            if not serving or on_loop:
                # No loop of ours drives concurrently: apply it through the
                # driver if the run is ours or free (a dead holder's included).
                held = driver.held.get(run_id)
                lease = held.lease if held is not None else self._claim(run_id)
                if lease is not None:
                    self._drive_here(run_id, lease, ours=ours)
                    continue
            if time.monotonic() >= deadline:
                return  # stored: the holder applies it at its next transition
            time.sleep(0.02)

    def _drive_here(
        self,
        run_id: str,
        lease: Lease | None,
        *,
        ours: bool,
        extra: Sequence[Trigger] = (),
    ) -> None:
        """One pass of the driver's own path over ``run_id`` under ``lease``.
        A run this engine did not hold before (``ours``) starts no call here
        and is released after: its calls go back to the store for the next
        claimer, which issues them."""
        driver = self.driver
        try:
            driver.drive_one(run_id, lease, issue_calls=ours, extra=extra)
        finally:
            if not ours and not driver.pending.get(run_id):
                self._drive_cleanup(run_id, lease)

    def _pending_request(self, run_id: str, seq: int) -> bool:
        row = self._row(run_id)
        if row.status in FINAL_STATUSES:
            return False
        return any(m.seq == seq for m in self.store.inbox(run_id, after_seq=seq - 1))

    def _claim(self, run_id: str) -> Lease | None:
        lease = self.store.claim(
            run_id, self.owner, now=self.clock.now(), lease_seconds=self.lease_seconds
        )
        if lease is None and self._orphans.sweep(self.clock.now()):
            # Held by a process that died (a killed worker)? Then it is free now.
            lease = self.store.claim(
                run_id, self.owner, now=self.clock.now(), lease_seconds=self.lease_seconds
            )
        return lease

    def _on_driving_loop(self, work: Callable[[], _T]) -> _T:
        """``work()`` on the loop that drives this engine when one runs in
        another thread (:meth:`serve_in_thread`, an application's loop),
        else here: the driver's held runs and pending outcomes belong to
        that loop, and a second thread advancing a run beside it would race
        it. Blocks the calling thread until done."""
        loop = self.driver._loop
        if loop is None or not loop.is_running() or _on(loop):
            return work()
        done: concurrent.futures.Future[_T] = concurrent.futures.Future()

        def run() -> None:
            try:
                done.set_result(work())
            except BaseException as exc:
                done.set_exception(exc)

        loop.call_soon_threadsafe(run)
        return done.result()

    def _handler_call(self, run_id: str, trigger: CallHandler) -> ReplyHandler | None:
        """Apply a handler call under the run's lease (None: the run has
        ended, a query is still answered), through the driver; its reply."""
        driver = self.driver
        ours = run_id in driver.held
        lease = self._take_lease(run_id)
        extra: Sequence[Trigger] = (trigger,)
        try:
            for _ in range(20):
                self._drive_here(run_id, lease, ours=ours, extra=extra)
                extra = ()
                reply = driver.replies.pop(trigger.call_id, None)
                if reply is not None or not driver.pending.get(run_id):
                    return reply
            raise WfdslError(f"run {run_id!r} keeps changing; try again")
        finally:
            if not ours:
                driver.pending.pop(run_id, None)
                self._drive_cleanup(run_id, lease)

    def _drive_cleanup(self, run_id: str, lease: Lease | None) -> None:
        self.driver.let_go(run_id, lease)

    def _take_lease(self, run_id: str) -> Lease | None:
        held = self.driver.held.get(run_id)
        if held is not None:
            return held.lease
        deadline = time.monotonic() + min(_CONTROL_WAIT, self.lease_seconds)
        while True:
            lease = self.store.claim(
                run_id, self.owner, now=self.clock.now(), lease_seconds=self.lease_seconds
            )
            if lease is not None:
                return lease
            # Held by a process that died (a killed worker)? Then it is free now.
            if self._orphans.sweep(self.clock.now()):
                continue
            row = self._row(run_id)
            if row.status in FINAL_STATUSES:
                return None
            if time.monotonic() >= deadline:
                raise WfdslError(
                    f"run {run_id!r} is being driven by another process that did not let go "
                    f"within {min(_CONTROL_WAIT, self.lease_seconds):g}s; try again"
                )
            time.sleep(0.02)

    # ------------------------------------------------------------ driving in this thread

    def run_until_complete(
        self, run_id: str, timeout: float | None = None, *, others: bool = True
    ) -> Run:
        """Drive until the run ends. On a ``VirtualClock`` skip ahead to the
        next timer whenever nothing else is ready, and return the run as it is
        (e.g. ``waiting``) once nothing can progress; on real time raise
        ``TimeoutError`` after ``timeout`` seconds. ``others=False``: drive
        only this run and its subflow children, not the rest of the store
        (what ``wfdsl run`` does unless given ``--all``)."""
        run_id = self.resolve(run_id)
        driver = self.driver
        previous = driver.tree
        driver.tree = None if others else run_id
        try:
            run: Run = self._run_sync(self._drive_until(run_id, timeout))
        finally:
            driver.tree = previous
        return run

    def run_until_idle(self) -> None:
        """Drive every run until nothing is ready now, without moving time."""
        self._run_sync(self._drive_idle())

    def run_until(self, moment: float | datetime | str) -> None:
        """On a ``VirtualClock``: drive every run, moving virtual time from one
        due timer to the next (each fires at its own time, as in
        ``run_until_complete``), until the clock reads ``moment`` (epoch
        seconds, a datetime or ISO text) and nothing more is ready then. What
        a test calls to deliver a signal "on day 3". ``TypeError`` on a real
        clock; a ``moment`` already past only drives what is ready now."""
        clock = self.clock
        if not isinstance(clock, VirtualClock):
            raise TypeError("run_until needs an engine on a VirtualClock")
        target = to_epoch(moment)
        while True:
            self.run_until_idle()
            due = self.store.next_ready_at(self.owner, actions=self._actions_here())
            if due is None or due > target or due <= clock.now():
                break  # nothing before the target (or ready but not ours to claim)
            clock.advance_to(due)
        if clock.now() < target:
            clock.advance_to(target)
            self.run_until_idle()

    def _run_sync(self, coro: Any) -> Any:
        try:
            asyncio.get_running_loop()
        except RuntimeError:
            pass
        else:
            coro.close()
            raise RuntimeError(
                "run_until_complete/run_until_idle drive in the calling thread and cannot "
                "run inside an event loop; use `async with engine:` and `await engine.wait(run_id)`"
            )
        if self._aio is None or self._aio.is_closed():
            self._aio = asyncio.new_event_loop()
        return self._aio.run_until_complete(coro)

    async def _drive_until(self, run_id: str, timeout: float | None) -> Run:
        driver = self.driver
        driver.bind(asyncio.get_running_loop())
        virtual = isinstance(self.clock, VirtualClock)
        row = self._row(run_id)
        if row.status in FINAL_STATUSES:
            return self._view(row)
        driver.watched[run_id] = None
        self._orphans.start_beating()
        try:
            return await self._drive_watched(run_id, row, timeout, virtual)
        finally:
            driver.watched.pop(run_id, None)

    async def _drive_watched(
        self, run_id: str, row: RunRow, timeout: float | None, virtual: bool
    ) -> Run:
        driver = self.driver
        deadline = None if timeout is None else time.monotonic() + timeout
        look = False  # whether someone else may have changed the run since it was read
        while True:
            self._sweep()
            progressed = driver.tick()
            latest = driver.watched.get(run_id)
            if latest is not None:  # this driver committed it: that is the row now
                driver.watched[run_id] = None
                row = latest
            elif look:
                row = self._row(run_id)
            if row.status in FINAL_STATUSES:
                return self._view(row)
            look = False
            if progressed or driver.pending or driver.poked:
                # Let the calls just started run (an inline action finishes
                # in this one turn of the loop), so the next tick has their
                # outcomes instead of finding nothing to do.
                await asyncio.sleep(0)
                continue
            if deadline is not None and time.monotonic() >= deadline:
                raise TimeoutError(did_not_end(self._view(self._row(run_id)), timeout or 0))
            if virtual and not driver.in_flight:
                assert isinstance(self.clock, VirtualClock)
                nxt = self.store.next_ready_at(
                    self.owner, actions=self._actions_here(), tree=driver.tree
                )
                if nxt is not None and nxt <= self.clock.now():
                    # Ready but not claimable by us (another process's lease).
                    if not self._others_hold_work():
                        return self._view(self._row(run_id))
                elif not self.clock.skip_to_next(nxt):
                    return self._view(self._row(run_id))
                continue
            remaining = None if deadline is None else max(0.0, deadline - time.monotonic())
            if remaining is not None:
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(driver.idle(), remaining + 0.001)
            else:
                await driver.idle()
            look = True  # another process may have ended or changed it meanwhile

    def _others_hold_work(self) -> bool:
        return False

    async def _drive_idle(self) -> None:
        driver = self.driver
        driver.bind(asyncio.get_running_loop())
        self._orphans.start_beating()
        while True:
            self._sweep()
            progressed = driver.tick()
            if progressed or driver.pending or driver.poked:
                await asyncio.sleep(0)  # let the calls just started run
                continue
            if driver.in_flight:
                await driver.idle(until=self.clock.now())
                continue
            return

    # ------------------------------------------------------------ serving on an app's loop

    async def serve(self) -> None:
        """Drive every run (and fire schedules) on the running loop until
        cancelled or :meth:`stop` is called.

        A store failure that time can cure (disk full, an I/O error, a lock
        held past the busy timeout) does not end it: nothing was committed, so
        it logs the error and tries again after 1 s, doubling up to 30 s, and
        the runs carry on once the cause is gone. A file that is not a sound
        store (corrupt, not a database, closed) still raises."""
        driver = self.driver
        driver.bind(asyncio.get_running_loop())
        self._stop = asyncio.Event()

        schedules = Schedules(self)
        self._orphans.start_beating()
        from .retention import Retention

        retention = Retention(self.store)
        backoff = 0.0
        while not self._stop.is_set():
            try:
                # Runs a dead process (or this owner before a restart) left
                # leased: at the first tick, then about once a second.
                self._sweep()
                schedules.fire_due()
                retention.apply_due(self.clock.now())
                progressed = driver.tick()
                backoff = 0.0
                if progressed or driver.pending or driver.poked:
                    await asyncio.sleep(0)
                    continue
                await driver.idle(until=self._wake_by(schedules.next_due()))
            except StoreError as exc:
                if not _passing(exc):
                    raise
                backoff = min(max(1.0, backoff * 2), 30.0)
                _log.error("wfdsl: store error: %s; trying again in %.0f s", exc, backoff)
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self._stop.wait(), backoff)
        await self._drain()

    def _sweep(self) -> None:
        """Take over dead workers' leases when it is time to look; runs
        freed are due now, so the driver asks again what is due."""
        if self._orphans.sweep(self.clock.now()):
            self.driver.look()

    def _wake_by(self, due: float | None) -> float | None:
        """When an idle serving loop must look up at the latest: the next
        schedule tick, the next look for dead workers' leases (real time:
        only on the store's clock; a virtual one looks when it moves)."""
        if not isinstance(self.clock, StoreClock):
            return due
        sweep = self.clock.now() + self._orphans.next_sweep_in()
        return sweep if due is None else min(due, sweep)

    async def _drain(self) -> None:
        """Before stopping: claim nothing new and let the calls in flight
        finish (at most ``drain_seconds``), their outcomes committed and
        their runs released, so a clean exit makes no call run twice."""
        driver = self.driver
        if not driver.in_flight:
            return
        driver.draining = True
        deadline = time.monotonic() + self.drain_seconds
        _log.info(
            "wfdsl: finishing %d call(s) in flight before stopping (at most %g s)",
            driver.in_flight,
            self.drain_seconds,
        )
        try:
            while driver.in_flight or driver.pending:
                driver.tick()
                if driver.pending:
                    await asyncio.sleep(0)
                    continue
                if not driver.in_flight:
                    break
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    _log.warning(
                        "wfdsl: %d call(s) still running after %g s; handing their runs "
                        "back (they run again elsewhere)",
                        driver.in_flight,
                        self.drain_seconds,
                    )
                    break
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(driver.idle(), min(remaining, 1.0))
        finally:
            driver.draining = False

    def stop(self) -> None:
        """Ask :meth:`serve` to return after the current tick (from any thread)."""
        stop, loop = self._stop, self.driver._loop
        if stop is not None:
            if loop is not None and loop.is_running() and not _on(loop):
                with contextlib.suppress(RuntimeError):  # the loop just closed
                    loop.call_soon_threadsafe(stop.set)
            else:
                stop.set()
        self.driver.wake()

    def serve_in_thread(self) -> Callable[[], None]:
        """Drive every run (and fire schedules) as :meth:`serve` does, on a
        thread of this engine's own with its own event loop, so that the
        store's I/O and the ticks never run on the caller's loop (a web
        server's: its requests and the runs do not stall each other). Call
        the engine's methods from a worker thread of that server, not from
        its loop: they block on the store. Returns ``stop``: it stops the
        loop, waits for the calls in flight (at most ``drain_seconds``) and
        the thread, then returns."""
        started = threading.Event()
        failed: list[BaseException] = []

        async def drive() -> None:
            started.set()
            await self.serve()

        def main() -> None:
            loop = asyncio.new_event_loop()
            try:
                loop.run_until_complete(drive())
            except BaseException as exc:  # reported by the serving thread's log
                failed.append(exc)
                _log.exception("wfdsl: the engine's driving thread stopped")
            finally:
                with contextlib.suppress(Exception):
                    loop.run_until_complete(self._runner.builtins.aclose())
                pending = asyncio.all_tasks(loop)
                for task in pending:
                    task.cancel()
                if pending:
                    loop.run_until_complete(asyncio.gather(*pending, return_exceptions=True))
                self._release_all()
                loop.close()
                started.set()

        thread = threading.Thread(target=main, name="wfdsl-engine", daemon=True)
        thread.start()
        started.wait()

        def stop() -> None:
            self.stop()
            thread.join(self.drain_seconds + 10.0)

        return stop

    async def wait(self, run_id: str, poll: float = 0.05) -> Run:
        """While serving: wait until the run ends."""
        run_id = self.resolve(run_id)
        while True:
            run = self.get(run_id)
            if run.done:
                return run
            await asyncio.sleep(poll)

    async def __aenter__(self) -> Engine:
        self._serving = asyncio.get_running_loop().create_task(self.serve())
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()
        if self._serving is not None:
            # serve() returns after draining the calls in flight.
            with contextlib.suppress(asyncio.CancelledError):
                await self._serving
            self._serving = None
        self._release_all()

    # ------------------------------------------------------------ closing

    def _release_all(self) -> None:
        self.driver.release_all(self.clock.now())

    def close(self) -> None:
        """Finish the calls in flight (at most ``drain_seconds``), release
        leases and the store; another engine can carry on."""
        if self._closed:
            return
        self._closed = True
        if self.driver.in_flight and self._aio is not None and not self._aio.is_closed():
            # Calls this engine started (another run's, driven on the way)
            # finish before it lets go: handing them back would run them twice.
            # A second Ctrl-C stops the wait: the calls are handed back.
            with contextlib.suppress(Exception, KeyboardInterrupt):
                self._aio.run_until_complete(self._drain())
        self._release_all()
        if self._aio is not None and not self._aio.is_closed():
            loop = self._aio
            pending = asyncio.all_tasks(loop)
            for task in pending:
                task.cancel()
            if pending:
                loop.run_until_complete(asyncio.gather(*pending, return_exceptions=True))
            # The http action's client lives on the loop it was made on.
            with contextlib.suppress(Exception):
                loop.run_until_complete(self._runner.builtins.aclose())
            loop.close()
        # Worker threads of sync actions exit once their call returns (a hung
        # one is not waited for).
        self._runner.close()
        self._orphans.close()
        self.store.close()

    def __enter__(self) -> Engine:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    def __repr__(self) -> str:
        return f"Engine(owner={self.owner!r}, clock={self.clock!r})"
