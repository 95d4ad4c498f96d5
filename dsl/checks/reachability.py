"""WF202 unreachable-state and WF203 no-path-to-end, per scope.

Ends are ``end: true``, ``succeed`` and ``fail``. A failure that propagates
(a task without a catch that runs out of retries) is not an end: a loop of
tasks that can only stop by failing is WF203, and a loop through a wait is
WF203 too when nothing can ever leave it.

WF203 is reported once per place where the flow commits to never ending: a
reachable state that cannot reach an end while one of its predecessors can
(or the scope's start). The states behind it are named in the message
instead of getting findings of their own.

Both are left out for a scope whose graph WF201/WF204/WF205 already found
broken: the missing edge is the problem, not its consequences.
"""

from __future__ import annotations

from collections.abc import Iterator

from ..findings import Finding
from ..model import Scope
from ..stategraph import can_end, describe_scope, is_broken, iter_scopes, successors
from .context import CheckContext

__all__ = ["check_reachability", "reachable"]


def reachable(scope: Scope) -> set[str]:
    """States a thread can reach from the scope's start."""
    if scope.start not in scope.states:
        return set()
    seen = {scope.start}
    todo = [scope.start]
    while todo:
        for target in successors(scope, scope.states[todo.pop()]):
            if target not in seen:
                seen.add(target)
                todo.append(target)
    return seen


def check_reachability(ctx: CheckContext) -> Iterator[Finding]:
    for info in iter_scopes(ctx.workflow):
        scope = info.scope
        if is_broken(scope):
            continue
        where = "" if info.is_root else f" in {describe_scope(info)}"
        seen = reachable(scope)
        for name, behind in _unreachable_entries(scope, seen):
            also = ", ".join(f"'{n}'" for n in behind)
            yield ctx.finding(
                "WF202",
                f"state '{name}'{where} is unreachable: no path from "
                f"`start` ('{scope.start}') leads to it"
                + (f" (nor to {also} behind it)" if behind else ""),
                scope.states[name].path,
                key=True,
            )
        ending = _can_reach_end(scope)
        for name in scope.states:
            if name not in seen or name in ending:
                continue
            entered_from_ending = name == scope.start or any(
                name in successors(scope, other)
                for other in scope.states.values()
                if other.name in seen and other.name in ending
            )
            if not entered_from_ending:
                continue
            trapped = sorted(_reach_from(scope, name), key=list(scope.states).index)
            loop = ", ".join(f"'{n}'" for n in trapped)
            yield ctx.finding(
                "WF203",
                f"no end can be reached from state '{name}'{where}: every path from it "
                f"stays among {loop} forever",
                scope.states[name].path,
                key=True,
                suggestion="give the loop a way out to an `end: true`, `succeed` or `fail` state",
            )


def _unreachable_entries(scope: Scope, seen: set[str]) -> list[tuple[str, list[str]]]:
    """Unreachable states that nothing unreachable leads to, each with the ones behind it.

    A chain or loop of unreachable states is one finding at its entry (the
    first state in document order for a loop nothing enters), not one per state.
    """
    order = list(scope.states)
    lost = [name for name in order if name not in seen]
    entered = {t for n in lost for t in successors(scope, scope.states[n]) if t != n}
    entries = [name for name in lost if name not in entered]
    covered: set[str] = set()
    out: list[tuple[str, list[str]]] = []
    while True:
        for name in entries:
            behind = sorted(_reach_from(scope, name) - covered - seen - {name}, key=order.index)
            covered |= {name, *behind}
            out.append((name, behind))
        rest = [name for name in lost if name not in covered]
        if not rest:
            return sorted(out, key=lambda found: order.index(found[0]))
        entries = rest[:1]


def _can_reach_end(scope: Scope) -> set[str]:
    predecessors: dict[str, list[str]] = {name: [] for name in scope.states}
    for state in scope.states.values():
        for target in successors(scope, state):
            predecessors[target].append(state.name)
    ending = {name for name, state in scope.states.items() if can_end(state)}
    todo = list(ending)
    while todo:
        for before in predecessors[todo.pop()]:
            if before not in ending:
                ending.add(before)
                todo.append(before)
    return ending


def _reach_from(scope: Scope, name: str) -> set[str]:
    seen = {name}
    todo = [name]
    while todo:
        for target in successors(scope, scope.states[todo.pop()]):
            if target not in seen:
                seen.add(target)
                todo.append(target)
    return seen
