"""Move in-flight runs to a new version of their workflow (docs/operations.md).

``check`` tells, for every active run of a workflow, whether it can move to
the new definition: every position it is parked at must exist there (or be
mapped, ``old=new``) as a state of the same type, a wait with the same
alternatives (so its pending timers and messages keep their consumer), the
vars it holds must satisfy what the new version reads from there on (the
WF401 dataflow analysis, started at the run's position), every undo it
recorded must still have an undo, and every message waiting in its inbox a
wait that takes it. ``apply`` moves the ones that can, each in ONE
transaction (``Store.move_run``) with a ``run_migrated`` event. A run is
only ever moved when asked; the others stay pinned to what they started on.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from wfdsl.dsl.checks.dataflow import reads_without_value
from wfdsl.dsl.model import (
    AllWait,
    AnyWait,
    AtLeastWait,
    ParallelState,
    SignalWait,
    State,
    TaskState,
    WaitNode,
    WaitState,
    Workflow,
    iter_states,
)

from .machine.run_state import RunState
from .machine.scope import scope_index
from .store.protocol import Store
from .store.records import ACTIVE_STATUSES, Event, RunFilter, RunRow, RunUpdate

__all__ = ["MigrationReport", "RunMigration", "apply", "check"]


@dataclass(frozen=True, slots=True)
class RunMigration:
    """One active run: whether it can move (``reasons`` empty) and, after
    ``apply``, whether it moved."""

    run_id: str
    version: str | None
    positions: tuple[str, ...]
    reasons: tuple[str, ...] = ()
    moved: bool = False

    @property
    def can_move(self) -> bool:
        return not self.reasons


@dataclass(frozen=True, slots=True)
class MigrationReport:
    workflow: str
    to_version: str | None
    to_hash: str
    runs: tuple[RunMigration, ...] = field(default_factory=tuple)
    applied: bool = False

    @property
    def all_can_move(self) -> bool:
        return all(r.can_move for r in self.runs)


def _signature(node: WaitNode | None) -> Any:
    """What a wait consumes and in which shape (alternatives by position)."""
    if node is None:
        return None
    if isinstance(node, SignalWait):
        return ("signal", node.channel, node.count)
    if isinstance(node, AnyWait | AllWait):
        return (node.kind, tuple(_signature(n) for n in node.alternatives))
    if isinstance(node, AtLeastWait):
        return ("at_least", node.count, tuple(_signature(n) for n in node.alternatives))
    return (node.kind,)  # a timer: its due time is already recorded


def _wait_root(state: WaitState) -> WaitNode:
    return state.condition


def _channels(workflow: Workflow) -> set[str]:
    found: set[str] = set()

    def walk(node: WaitNode) -> None:
        if isinstance(node, SignalWait):
            found.add(node.channel)
        elif isinstance(node, AnyWait | AllWait | AtLeastWait):
            for kid in node.alternatives:
                walk(kid)

    for _scope, state in iter_states(workflow.root):
        if isinstance(state, WaitState):
            walk(_wait_root(state))
    return found


def _compatible(old: State, new: State, phase: str) -> str | None:
    """Why a thread in ``phase`` at ``old`` cannot continue at ``new`` (None: it can)."""
    if phase == "run":
        return None  # about to enter it: any state will do
    if type(old) is not type(new):
        return f"it is a {old.type} there and would be a {new.type}"
    if (
        isinstance(old, WaitState)
        and isinstance(new, WaitState)
        and _signature(_wait_root(old)) != _signature(_wait_root(new))
    ):
        return "its wait changed, so the timers and messages it waits for would lose their consumer"
    if (
        isinstance(old, TaskState)
        and isinstance(new, TaskState)
        and phase == "call"
        and old.action != new.action
    ):
        return f"its call of {old.action!r} is in flight and the new version calls {new.action!r}"
    if (
        isinstance(old, ParallelState)
        and isinstance(new, ParallelState)
        and [b.name for b in old.branches] != [b.name for b in new.branches]
    ):
        return "its branches are running and the new version has other branches"
    return None


def check(
    store: Store,
    workflows: Any,
    name: str,
    target: Workflow,
    *,
    mapping: Mapping[str, str] | None = None,
) -> MigrationReport:
    """Which active runs of workflow ``name`` can move to ``target``.
    ``workflows`` compiles a run's own definition (``Definitions``)."""
    mapping = dict(mapping or {})
    new_scopes = scope_index(target)
    channels = _channels(target)
    results: list[RunMigration] = []
    for status in sorted(ACTIVE_STATUSES):
        offset = 0
        while True:
            rows = store.list_runs(
                RunFilter(status=status, workflow=name, limit=500, offset=offset)
            )
            for row in rows:
                if row.definition_hash == target.source_hash:
                    continue  # already there
                results.append(
                    _check_run(store, workflows, row, target, new_scopes, channels, mapping)
                )
            if len(rows) < 500:
                break
            offset += 500
    version = None if target.version is None else str(target.version)
    results.sort(key=lambda r: r.run_id)
    return MigrationReport(name, version, target.source_hash, tuple(results))


def _check_run(
    store: Store,
    workflows: Any,
    row: RunRow,
    target: Workflow,
    new_scopes: Mapping[str, Any],
    channels: set[str],
    mapping: Mapping[str, str],
) -> RunMigration:
    reasons: list[str] = []
    positions: list[str] = []
    try:
        old = workflows.get(row.definition_hash)
    except Exception as exc:
        return RunMigration(row.id, row.version, (), (f"its own definition is gone: {exc}",))
    old_scopes = scope_index(old)
    state = RunState.from_json(row.state, row.vars)
    for thread in state.threads.values():
        if thread.at is None:
            continue
        here = f"{thread.sk}/{thread.at}" if thread.sk else thread.at
        positions.append(thread.path(thread.at))
        to = mapping.get(here, mapping.get(thread.at, thread.at) if not thread.sk else thread.at)
        scope = new_scopes.get(thread.sk)
        if scope is None or to not in scope.states:
            where = f"'{to}'" + (f" (mapped from '{here}')" if to != thread.at else "")
            reasons.append(
                f"it is at '{thread.path(thread.at)}' and the new version has no state {where}"
                + ("" if to != thread.at else f"; map it with --map {here}=NEW")
            )
            continue
        old_state = old_scopes[thread.sk].states.get(thread.at)
        if old_state is not None:
            why = _compatible(old_state, scope.states[to], thread.ph)
            if why is not None:
                reasons.append(f"at '{thread.path(thread.at)}': {why}")
        held = row.vars.keys() if thread.parent is None else thread.vars.keys()
        if thread.ph == "run" or thread.ph == "wait":
            for read in reads_without_value(target, scope, to, held):
                reasons.append(
                    f"at '{thread.path(thread.at)}': {read}, which the run has no value for"
                )
        for entry in thread.undo:
            undo_scope = new_scopes.get(entry["sk"])
            name = mapping.get(entry["name"], entry["name"])
            task = undo_scope.states.get(name) if undo_scope is not None else None
            if not isinstance(task, TaskState) or task.undo is None:
                reasons.append(
                    f"it recorded an undo for '{entry['path']}' and the new version has no "
                    f"task '{name}' with an undo there"
                )
        if thread.ph == "comp":
            reasons.append(f"at '{thread.path(thread.at)}': it is compensating; move it once done")
    for message in store.inbox(row.id, per_channel=1):
        if message.channel.startswith("__"):
            continue
        if message.channel not in channels:
            reasons.append(
                f"a message on {message.channel!r} waits in its inbox and no wait of the new "
                "version takes that channel"
            )
    return RunMigration(row.id, row.version, tuple(positions), tuple(dict.fromkeys(reasons)))


def apply(
    store: Store,
    workflows: Any,
    name: str,
    target: Workflow,
    *,
    mapping: Mapping[str, str] | None = None,
    by: str,
    now: float,
) -> MigrationReport:
    """Check, then move each run that can, one transaction each."""
    report = check(store, workflows, name, target, mapping=mapping)
    moved: list[RunMigration] = []
    for item in report.runs:
        if not item.can_move:
            moved.append(item)
            continue
        row = store.get_run(item.run_id)
        if row is None or row.status not in ACTIVE_STATUSES:
            moved.append(_refused(item, "it ended meanwhile"))
            continue
        result = store.move_run(
            _update(row, target, mapping or {}, by=by, now=now),
            definition_hash=target.source_hash,
            version=report.to_version,
            now=now,
        )
        if result.outcome == "ok":
            moved.append(RunMigration(item.run_id, item.version, item.positions, (), True))
        else:
            moved.append(_refused(item, "it changed while it was being moved; check again"))
    return MigrationReport(report.workflow, report.to_version, report.to_hash, tuple(moved), True)


def _refused(item: RunMigration, why: str) -> RunMigration:
    return RunMigration(item.run_id, item.version, item.positions, (why,))


def _update(
    row: RunRow, target: Workflow, mapping: Mapping[str, str], *, by: str, now: float
) -> RunUpdate:
    state = RunState.from_json(row.state, row.vars)
    renamed: dict[str, str] = {}
    for thread in state.threads.values():
        if thread.at is None:
            continue
        here = f"{thread.sk}/{thread.at}" if thread.sk else thread.at
        to = mapping.get(here, mapping.get(thread.at, thread.at) if not thread.sk else thread.at)
        if to != thread.at:
            renamed[thread.path(thread.at)] = to
            thread.at = to
        for entry in thread.undo:
            entry["name"] = mapping.get(entry["name"], entry["name"])
    state.seq += 1
    event = Event(
        run_id=row.id,
        seq=state.seq,
        type="run_migrated",
        time=now,
        data={
            "by": by,
            "from": {"definition": row.definition_hash, "version": row.version},
            "to": {
                "definition": target.source_hash,
                "version": None if target.version is None else str(target.version),
            },
            "moved": renamed,
        },
    )
    new_row = RunRow(
        id=row.id,
        workflow=row.workflow,
        version=None if target.version is None else str(target.version),
        definition_hash=target.source_hash,
        status=row.status,
        input=row.input,
        vars=row.vars,
        output=row.output,
        error=row.error,
        started_at=row.started_at,
        ended_at=row.ended_at,
        ready_at=now if row.status != "paused" else row.ready_at,
        state=state.to_json(),
        search=row.search,
        parent_run=row.parent_run,
        row_version=row.row_version,
        needs_action=row.needs_action,
        execution=row.execution,
    )
    return RunUpdate(
        run=new_row,
        expected_version=row.row_version,
        events=(event,),
        inbox_seen=int(row.state.get("seen", 0)),
        previous_status=row.status,
    )
