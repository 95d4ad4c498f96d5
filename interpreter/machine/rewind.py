"""Where a run stood at a point of its history, rebuilt from the history alone.

Redrive and fork (docs/operations.md) restart a run at a top-level state:
the state that failed, or any point an operator names. The machine keeps no
snapshot per transition (a parked run must stay small), so the point is
rebuilt from the events, which are complete for the root thread:

- vars: the workflow's initial ``vars`` evaluated as at the start (``now()``
  is the start's time, ``uuid()`` names derive from the run id and seq, so
  the values are the ones the run got), then every ``vars_changed`` of the
  root thread (a top-level state or a handler) in order;
- visits: how often each top-level state was entered (a state entered again
  is a new visit, so its actions get new idempotency keys);
- the undo log: each task with an ``undo`` that started (``action_started``)
  and, once completed, its undo args evaluated as the machine did (after the
  task's ``result`` and ``set``); a failure that is not retried drops it,
  ``undo_completed`` removes it, a compensate state takes the thread's log;
  a branch's or iteration's entries join the forking thread's log at its
  ``branch_completed``.

Pure: no store, no clock. Only top-level states are restart points; a seq
inside a parallel branch or map iteration restarts the enclosing top-level
state as a whole.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from wfdsl.dsl.model import CompensateState, FailState, TaskState, VarPath, Workflow

from ..store.records import Event, RunRow
from .context import Context
from .run_state import RunState, Thread
from .scope import Failure, scope_index, write_path

__all__ = [
    "Point",
    "RewindError",
    "failure_point",
    "is_top_level",
    "point_at",
    "restart_state",
    "top_level_of",
]


class RewindError(Exception):
    """The history does not allow the restart asked for (a plain message)."""


@dataclass(frozen=True, slots=True)
class Point:
    """A top-level state to enter again, with what the run held before it."""

    #: seq of the ``state_entered`` event the restart repeats.
    seq: int
    state: str
    vars: Mapping[str, Any]
    visits: Mapping[str, int] = field(default_factory=dict)
    undo: tuple[Mapping[str, Any], ...] = ()
    #: Whether undo actions ran before this point (a compensation).
    compensated: bool = False


def is_top_level(path: str | None) -> bool:
    """A state path of the root thread (``charge``, not ``fan/a/x`` or ``m[2]/x``)."""
    return bool(path) and "/" not in path and "[" not in path  # type: ignore[operator]


def top_level_of(path: str) -> str:
    """The top-level state a state path lies in."""
    return re.split(r"[/\[]", path, maxsplit=1)[0]


def _thread_of(path: str) -> str:
    """The thread id of a state path (``fan/a/x`` -> ``fan/a``; root: ``""``)."""
    return path.rsplit("/", 1)[0] if "/" in path else ""


def _parent_thread(kid: str) -> str:
    """The forking thread of a branch (``p/fan/a`` -> ``p``) or iteration (``p/m[3]`` -> ``p``)."""
    if kid.endswith("]"):
        return _thread_of(kid)
    return _thread_of(_thread_of(kid))


def _scope_key(thread_id: str) -> str:
    return re.sub(r"\[\d+\]", "", thread_id)


def point_at(
    workflow: Workflow,
    run: RunRow,
    events: Sequence[Event],
    seq: int,
    *,
    secrets: Mapping[str, str] | None = None,
) -> Point:
    """The restart point for event ``seq``: the last top-level
    ``state_entered`` at or before it, with the vars, visits and undo log
    the run had just before entering it. Raises RewindError."""
    entered = [
        e for e in events if e.type == "state_entered" and is_top_level(e.state) and e.seq <= seq
    ]
    if not entered:
        raise RewindError(f"run '{run.id}' had entered no state by seq {seq}")
    target = entered[-1]
    return _replay(workflow, run, [e for e in events if e.seq < target.seq], target, secrets)


def _replay(
    workflow: Workflow,
    run: RunRow,
    before: Sequence[Event],
    target: Event,
    secrets: Mapping[str, str] | None,
) -> Point:
    scopes = scope_index(workflow)
    vars_: Mapping[str, Any] = _initial_vars(workflow, run, before, secrets)
    visits: dict[str, int] = {}
    logs: dict[str, list[dict[str, Any]]] = {}
    compensated = False
    done: tuple[dict[str, Any], TaskState, Any] | None = None  # undo args to evaluate

    def settle() -> None:
        nonlocal done
        if done is not None:
            entry, task, result = done
            done = None
            assert task.undo is not None
            args: Any = {}
            if task.undo.args is not None:
                args = _evaluate(workflow, run, task.undo.args, vars_, {"result": result}, secrets)
            entry["st"] = "done"
            entry["args"] = args

    for event in before:
        path = event.state
        data = event.data
        if event.type == "vars_changed":
            if path is None or is_top_level(path):
                for text, value in (data.get("changed") or {}).items():
                    vars_ = write_path(vars_, VarPath.parse(text).parts, value)
            continue
        settle()
        if event.type == "undo_started":
            compensated = True
            continue
        if event.type == "undo_completed" and path:
            for log in logs.values():
                log[:] = [e for e in log if e["path"] != path]
            continue
        if event.type == "branch_completed" and path:
            logs.setdefault(_parent_thread(path), []).extend(logs.pop(path, []))
            continue
        if path is None or data.get("rerun") or data.get("undo"):
            continue
        thread_id = _thread_of(path)
        name = path.rsplit("/", 1)[-1]
        state = scopes.get(_scope_key(thread_id), scopes[""]).states.get(name)
        if event.type == "state_entered":
            if thread_id == "":
                visits[name] = visits.get(name, 0) + 1
            if isinstance(state, CompensateState) or (
                isinstance(state, FailState) and state.compensate
            ):
                logs.pop(thread_id, None)
        if not isinstance(state, TaskState) or state.undo is None:
            continue
        log = logs.setdefault(thread_id, [])
        if event.type == "action_started":
            key = str(data.get("key", ""))
            vpath = key[len(run.id) + 1 :].rsplit("/", 1)[0]
            call = {
                "action": data.get("action"),
                "args": data.get("args"),
                "key": key,
                "attempt": data.get("attempt"),
                "path": path,
            }
            found = next((e for e in log if e["path"] == vpath and e["st"] == "started"), None)
            if found is not None:
                found["call"] = call
            else:
                log.append(
                    {
                        "seq": event.seq,
                        "path": vpath,
                        "sk": _scope_key(thread_id),
                        "name": name,
                        "st": "started",
                        "call": call,
                    }
                )
        elif event.type == "action_completed":
            entry = next(
                (e for e in log if e["call"]["path"] == path and e["st"] == "started"), None
            )
            if entry is not None and thread_id == "":
                done = (entry, state, data.get("result"))
            elif entry is not None:
                entry["st"] = "done"  # branch vars are not rebuilt: its args are unknown
        elif (
            event.type == "action_failed"
            and data.get("error") != "Timeout"
            and not _retried(before, event)
        ):
            log[:] = [e for e in log if not (e["call"]["path"] == path and e["st"] == "started")]
    settle()
    assert target.state is not None
    return Point(
        seq=target.seq,
        state=target.state,
        vars=vars_,
        visits=visits,
        undo=tuple(sorted(logs.get("", []), key=lambda e: e["seq"])),
        compensated=compensated,
    )


def _retried(events: Sequence[Event], failed: Event) -> bool:
    """Whether a ``retry_scheduled`` of the same state follows ``failed``."""
    for event in events:
        if event.seq <= failed.seq or event.state != failed.state:
            continue
        return event.type == "retry_scheduled"
    return False


def _initial_vars(
    workflow: Workflow,
    run: RunRow,
    events: Sequence[Event],
    secrets: Mapping[str, str] | None,
) -> Mapping[str, Any]:
    if workflow.vars is None:
        return {}
    started = next((e for e in events if e.type == "run_started"), None)
    if started is not None and isinstance(started.data.get("vars"), Mapping):
        return dict(started.data["vars"])
    now = started.time if started is not None else run.started_at
    value = _evaluate(workflow, run, workflow.vars, {}, None, secrets, now=now, seq=1)
    if not isinstance(value, Mapping):
        raise RewindError(f"run '{run.id}': its initial vars are not a map")
    return dict(value)


def _evaluate(
    workflow: Workflow,
    run: RunRow,
    value: Any,
    vars_: Mapping[str, Any],
    extra: Mapping[str, Any] | None,
    secrets: Mapping[str, str] | None,
    *,
    now: float | None = None,
    seq: int = 0,
) -> Any:
    ctx = Context(workflow, run, run.started_at if now is None else now, secrets=secrets)
    ctx.state.seq = seq
    thread = Thread("", vars=dict(vars_))
    try:
        return ctx.evaluate(value, thread, "vars", extra)
    except Failure as failure:
        raise RewindError(failure.message) from None


def restart_state(
    previous: Mapping[str, Any],
    point: Point,
    *,
    seq: int,
    vars: Mapping[str, Any],
) -> dict[str, Any]:
    """``RunRow.state`` for a run about to enter ``point.state`` again: the
    counters of ``previous`` (call ids, inbox seen) kept, ``seq`` the last
    history seq written, one root thread with the rebuilt visits and undo log."""
    state = RunState.from_json(dict(previous, threads=[]), vars)
    state.seq = seq
    state.paused = False
    state.brk = None
    root = Thread("", at=point.state, vars=dict(vars))
    root.visits = dict(point.visits)
    root.undo = [dict(entry) for entry in point.undo]
    state.threads = {"": root}
    return state.to_json()


def failure_point(
    workflow: Workflow,
    run: RunRow,
    events: Sequence[Event],
    *,
    secrets: Mapping[str, str] | None = None,
) -> Point:
    """Where a failed run restarts (redrive): the top-level state it was in
    when it failed, with the vars it held then (the run's final vars) and
    the state counted as visited once more, so its actions get new
    idempotency keys. Raises RewindError when it cannot restart there."""
    entered = [e for e in events if e.type == "state_entered" and is_top_level(e.state)]
    if not entered:
        raise RewindError(f"run '{run.id}' failed before it entered any state")
    target = entered[-1]
    # Replayed to the end: the undo log holds what the failed state itself
    # started, and its visit is counted, so entering it again is a new visit.
    point = _replay(workflow, run, events, target, secrets)
    if any(e.type == "undo_started" for e in events):
        raise RewindError(
            f"run '{run.id}' ran undo actions before it failed (compensation), so its earlier "
            "effects are undone; fork it from an earlier point instead (wfdsl fork)"
        )
    state = workflow.root.states.get(point.state)
    if isinstance(state, FailState):
        raise RewindError(
            f"run '{run.id}' failed at its fail state '{point.state}': the flow itself chose "
            "to fail there, so a redrive would fail the same way; fork it from an earlier "
            "point instead (wfdsl fork)"
        )
    return Point(
        seq=point.seq,
        state=point.state,
        vars=dict(run.vars),
        visits=point.visits,
        undo=point.undo,
        compensated=False,
    )
