"""Where a run is now: one :class:`Position` per live thread, and for a
thread in a ``wait`` state what it waits for (:class:`WaitFor`, a tree that
mirrors the state's ``any``/``all``/``at_least`` condition) with the time
each timer fires.

Pure: built from the workflow and the machine's JSON state
(``run_state.py``), so a ``Run`` snapshot can answer ``positions()`` without
driving anything. The command line and the designer turn these records into
words; nothing here formats text for people.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from wfdsl.dsl.model import (
    AllWait,
    AnyWait,
    AtLeastWait,
    SignalWait,
    TimerWait,
    UntilWait,
    WaitNode,
    WaitState,
    Workflow,
)

from .scope import scope_index

__all__ = ["PHASES", "Position", "WaitFor", "positions_of"]

#: The machine's phase names and what they mean to a user.
PHASES: Mapping[str, str] = {
    "run": "running",
    "call": "action",
    "cb": "callback",
    "retry": "retry",
    "wait": "waiting",
    "fork": "forked",
    "child": "child",
    "comp": "compensating",
}


@dataclass(frozen=True, slots=True, kw_only=True)
class WaitFor:
    """One node of a wait condition.

    ``kind`` is ``signal``, ``timer``, ``until``, ``any``, ``all`` or
    ``at_least``. A timer has ``seconds`` (its duration, when written as a
    constant) and ``due`` (epoch seconds when it fires); ``until`` has
    ``due``; a signal has ``channel`` and ``count``; combinators have
    ``alternatives`` (and ``count`` for ``at_least``). ``done`` is true once
    the node has completed."""

    kind: str
    channel: str | None = None
    count: int = 1
    seconds: float | None = None
    due: float | None = None
    done: bool = False
    alternatives: tuple[WaitFor, ...] = ()


@dataclass(frozen=True, slots=True, kw_only=True)
class Position:
    """One live thread of a run: ``path`` is the state path used in history
    events (``fan_out/notify/email``), ``state`` the state's own name,
    ``phase`` one of :data:`PHASES`' values. ``action`` is the action in
    flight (phase ``action``, ``retry`` or ``compensating``), ``due`` when a
    retry fires (or a callback's next deadline, phase ``callback``), ``child`` the child run's id, ``waiting_for`` the wait
    condition (phase ``waiting``)."""

    path: str
    state: str
    phase: str
    action: str | None = None
    attempt: int | None = None
    due: float | None = None
    child: str | None = None
    waiting_for: WaitFor | None = None


def positions_of(workflow: Workflow | None, state: Mapping[str, Any]) -> tuple[Position, ...]:
    """The live positions in a run's machine state, root thread first."""
    scopes = scope_index(workflow) if workflow is not None else {}
    found: list[Position] = []
    for thread in state.get("threads", ()):
        phase = thread.get("ph")
        at = thread.get("at")
        if phase not in PHASES or not isinstance(at, str):
            continue
        prefix = thread.get("id") or ""
        path = f"{prefix}/{at}" if prefix else at
        call = thread.get("call") or {}
        child = thread.get("child") or {}
        waiting_for = None
        if phase == "wait":
            scope = scopes.get(thread.get("sk") or "")
            node = scope.states.get(at) if scope is not None else None
            if isinstance(node, WaitState):
                waiting_for = _tree(node.condition, thread.get("wait") or {})
        found.append(
            Position(
                path=path,
                state=at,
                phase=PHASES[phase],
                action=call.get("action") if isinstance(call, Mapping) else None,
                attempt=thread.get("att") if phase in ("call", "retry") else None,
                due=thread.get("due") if phase in ("retry", "cb") else None,
                child=child.get("id") if isinstance(child, Mapping) else None,
                waiting_for=waiting_for,
            )
        )
    return tuple(found)


def _tree(root: WaitNode, wait: Mapping[str, Any]) -> WaitFor:
    """The condition with each node's due time and completion (nodes are
    numbered in pre-order, as ``waits.py`` numbers them)."""
    dues: Mapping[str, float] = wait.get("due") or {}
    done = set(wait.get("done") or ())
    counter = 0

    def walk(node: WaitNode) -> WaitFor:
        nonlocal counter
        index = counter
        counter += 1
        finished = index in done
        if isinstance(node, AnyWait | AllWait | AtLeastWait):
            alternatives = tuple(walk(alt) for alt in node.alternatives)
            count = node.count if isinstance(node, AtLeastWait) else 1
            return WaitFor(kind=node.kind, count=count, done=finished, alternatives=alternatives)
        if isinstance(node, SignalWait):
            return WaitFor(kind="signal", channel=node.channel, count=node.count, done=finished)
        due = dues.get(str(index))
        if isinstance(node, TimerWait):
            return WaitFor(kind="timer", seconds=node.seconds, due=due, done=finished)
        assert isinstance(node, UntilWait)
        return WaitFor(kind="until", due=due if due is not None else node.at, done=finished)

    return walk(root)
