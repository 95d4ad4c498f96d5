"""WF207 spin-cycle: a loop that never waits would spin as fast as the engine commits.

The states that complete at once without waiting or doing outside work are
``choice``, ``set`` and ``emit`` (an emit appends to an inbox and goes on; it
waits for nobody). A cycle made only of those runs transition after
transition with nothing to slow it, even when a condition will end it after
a few rounds: a loop should pass through a ``wait`` or a ``task``.

One finding per strongly connected group of such states, at its first state
in document order; the message names the states of the group.
"""

from __future__ import annotations

from collections.abc import Iterator

from ..findings import Finding
from ..model import ChoiceState, EmitState, Scope, SetState
from ..stategraph import describe_scope, iter_scopes, successors
from .context import CheckContext

__all__ = ["check_cycles"]

SPINNING = (ChoiceState, SetState, EmitState)


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
            yield ctx.finding(
                "WF207",
                f"states {loop}{where} form a cycle of {kinds} states that never waits: "
                "it would spin without pause",
                scope.states[first].path,
                key=True,
                suggestion="pass through a `wait` (a timer, a signal) or a `task` inside the loop",
            )


def _spinning_groups(scope: Scope) -> list[set[str]]:
    """Strongly connected groups of spinning states that hold a cycle (Tarjan)."""
    graph = {
        name: [t for t in successors(scope, state) if isinstance(scope.states[t], SPINNING)]
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
