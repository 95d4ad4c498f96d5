"""WF207 spin-cycle: a loop of states that never wait, which provably cannot exit.

The states that complete at once without waiting or doing outside work are
``choice``, ``set`` and ``emit`` (an emit appends to an inbox and goes on; it
waits for nobody). A counter loop made of them (``bump`` then ``check``) is
valid: the run is protected at run time instead, where a thread entering
more than ``max_transitions`` states without a durable wait fails the run
with ``LimitExceeded`` naming the loop (interpreter/machine/transition.py).

What is refused is a group of such states that, once entered, goes round
for ever:

- no way out: every way out of the group is a choice branch whose ``when``
  is a constant false, or comes after one that is a constant true (a group
  with no way out at all is WF203's, which says so for the whole scope);
- nothing changes: no state of the group has a ``set`` (and no condition
  calls ``uuid()``), so each round sees the vars the last one saw and takes
  the same branch again.

One finding per strongly connected group, at its first state in document
order; the message names the states of the group and which of the two it is.
"""

from __future__ import annotations

from collections.abc import Iterator

from ..findings import Finding
from ..model import ChoiceState, EmitState, Scope, SetState, State
from ..stategraph import describe_scope, iter_scopes
from .context import CheckContext

__all__ = ["check_cycles"]

SPINNING = (ChoiceState, SetState, EmitState)

#: Stands for "the thread leaves the group": it ends, fails or goes on elsewhere.
_OUT = "\x00out"


def check_cycles(ctx: CheckContext) -> Iterator[Finding]:
    for info in iter_scopes(ctx.workflow):
        scope = info.scope
        order = list(scope.states)
        where = "" if info.is_root else f" in {describe_scope(info)}"
        for group in _spinning_groups(scope):
            members = sorted(group, key=order.index)
            first = members[0]
            loop = " -> ".join(f"'{name}'" for name in [*members, first])
            kinds = "/".join(sorted({scope.states[n].type for n in members}))
            if not _has_exit(scope, group, structural=True):
                continue  # WF203 reports it: no end can be reached from these states
            if not _has_exit(scope, group):
                why = (
                    "has no way out (its exits sit behind constant conditions): once entered "
                    "it would spin for ever"
                )
                hint = (
                    "give the loop an exit (a choice branch or `default` to a state outside "
                    "it, or `end: true`), or pass through a `wait` or a `task`"
                )
            elif not _changes_anything(scope, group):
                why = (
                    "changes nothing (no `set`): each round sees the same vars and takes the "
                    "same branch, so once it goes round it would spin for ever"
                )
                hint = "set what the loop's choice reads inside the loop, or pass through a `wait`"
            else:
                continue
            yield ctx.finding(
                "WF207",
                f"states {loop}{where} form a cycle of {kinds} states that never waits and {why}",
                scope.states[first].path,
                key=True,
                suggestion=hint,
            )


def _targets(state: State, *, structural: bool = False) -> set[str]:
    """Where the thread may go from ``state`` (``_OUT`` for an end or a
    failure); ``structural``: every branch, constant conditions or not."""
    found: set[str] = set()
    if isinstance(state, ChoiceState):
        for rule in state.choices:
            when = rule.when
            constant = when.is_constant and not structural
            if constant and not when.evaluate({}):
                continue  # never taken
            found.add(rule.next if rule.next is not None else _OUT)
            if constant:
                return found  # always taken: nothing after it is
        if state.default is not None:
            found.add(state.default)
        else:
            found.add(_OUT)  # ends (`end: true`) or fails with NoChoiceMatched
        return found
    if state.next is None or state.end:
        found.add(_OUT)
    else:
        found.add(state.next)
    return found


def _has_exit(scope: Scope, group: set[str], *, structural: bool = False) -> bool:
    return any(
        target not in group
        for name in group
        for target in _targets(scope.states[name], structural=structural)
    )


def _changes_anything(scope: Scope, group: set[str]) -> bool:
    for name in group:
        state = scope.states[name]
        if state.set:
            return True
        if isinstance(state, ChoiceState) and any(
            "uuid" in expression.source
            for rule in state.choices
            for _path, _offset, expression in rule.when.expressions()
        ):
            return True
    return False


def _spinning_groups(scope: Scope) -> list[set[str]]:
    """Strongly connected groups of spinning states that hold a cycle (Tarjan),
    over the branches a run may take (constant conditions followed)."""
    graph = {
        name: [
            t
            for t in sorted(_targets(state) - {_OUT})
            if t in scope.states and isinstance(scope.states[t], SPINNING)
        ]
        for name, state in scope.states.items()
        if isinstance(state, SPINNING)
    }
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    groups: list[set[str]] = []

    def visit(name: str) -> None:
        # Scopes are small (a person writes them), so recursion depth is not a concern.
        index[name] = low[name] = len(index)
        stack.append(name)
        on_stack.add(name)
        for target in graph[name]:
            if target not in index:
                visit(target)
                low[name] = min(low[name], low[target])
            elif target in on_stack:
                low[name] = min(low[name], index[target])
        if low[name] == index[name]:
            group: set[str] = set()
            while True:
                member = stack.pop()
                on_stack.discard(member)
                group.add(member)
                if member == name:
                    break
            if len(group) > 1 or name in graph[name]:
                groups.append(group)

    for name in graph:
        if name not in index:
            visit(name)
    return groups
