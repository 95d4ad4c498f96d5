"""The state graph as the checks see it: scopes, edges with their JSON paths, ends.

Every scope (the top level, each parallel branch, each map body) is its own
graph: ``next`` never leaves a branch (docs/reference.md §2), so reachability, ends,
cycles and dataflow are all computed per scope. The checks that report a
broken graph (WF201, WF204, WF205) and the ones that would report knock-ons
of it (WF202, WF203) share :func:`is_broken` so they agree on what "broken"
means.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

from .model import (
    AnyWait,
    Branch,
    ChoiceState,
    FailState,
    MapState,
    ParallelState,
    Scope,
    State,
    SucceedState,
    WaitNode,
    WaitState,
    Workflow,
)
from .source import JsonPath

__all__ = [
    "ScopeInfo",
    "alternatives",
    "can_end",
    "choice_rule_problems",
    "describe_scope",
    "is_broken",
    "iter_scopes",
    "names_own_next",
    "next_or_end_problem",
    "successors",
    "targets",
    "wait_nodes",
]


@dataclass(frozen=True, slots=True)
class ScopeInfo:
    """A scope and where it sits: the chain of (state, branch) that owns it.

    ``owners`` is empty for the top level; for branch ``left`` of parallel
    ``fan_out`` it is ``((fan_out, <Branch left>),)``; a map body's entry has
    ``None`` for the branch.
    """

    scope: Scope
    owners: tuple[tuple[ParallelState | MapState, Branch | None], ...] = ()

    @property
    def is_root(self) -> bool:
        return not self.owners


def iter_scopes(workflow: Workflow) -> Iterator[ScopeInfo]:
    """Every scope of the workflow, outermost first, in document order."""
    yield from _scopes(ScopeInfo(workflow.root))


def _scopes(info: ScopeInfo) -> Iterator[ScopeInfo]:
    yield info
    for state in info.scope.states.values():
        if isinstance(state, ParallelState):
            for branch in state.branches:
                yield from _scopes(ScopeInfo(branch.scope, (*info.owners, (state, branch))))
        elif isinstance(state, MapState):
            yield from _scopes(ScopeInfo(state.do, (*info.owners, (state, None))))


def describe_scope(info: ScopeInfo) -> str:
    """``branch 'left' of 'fan_out'``, ``the body of map 'each'`` or ``the top level``."""
    if info.is_root:
        return "the top level"
    owner, branch = info.owners[-1]
    if branch is not None:
        return f"branch '{branch.name}' of '{owner.name}'"
    return f"the body of map '{owner.name}'"


def wait_nodes(node: WaitNode) -> Iterator[WaitNode]:
    """The node and every node nested in it, depth first in document order."""
    yield node
    for alternative in alternatives(node):
        yield from wait_nodes(alternative)


def alternatives(node: WaitNode) -> tuple[WaitNode, ...]:
    return tuple(getattr(node, "alternatives", ()))


def targets(state: State) -> Iterator[tuple[str, JsonPath, str]]:
    """Every state name ``state`` names as a target: (name, JSON path of the name, what names it).

    ``start`` of a scope is not here: it belongs to the scope.
    """
    seen: set[tuple[str, JsonPath]] = set()
    for target, path, label in _targets(state):
        if (target, path) not in seen:
            seen.add((target, path))
            yield target, path, label


def _targets(state: State) -> Iterator[tuple[str, JsonPath, str]]:
    if isinstance(state, ChoiceState):
        for number, rule in enumerate(state.choices, start=1):
            if rule.next:
                yield rule.next, (*rule.path, "next"), f"choice {number} of state '{state.name}'"
        if state.default:
            yield state.default, (*state.path, "default"), f"the `default` of state '{state.name}'"
    if isinstance(state, WaitState):
        for node in wait_nodes(state.condition):
            if node.next and node.path != state.path:
                yield node.next, (*node.path, "next"), f"an alternative of wait '{state.name}'"
    if state.next:
        yield state.next, (*state.path, "next"), f"state '{state.name}'"
    for number, catch in enumerate(getattr(state, "catch", ()), start=1):
        if catch.next:
            yield catch.next, (*catch.path, "next"), f"catch entry {number} of state '{state.name}'"


def names_own_next(node: WaitNode) -> bool:
    """Whether every way ``node`` can complete names where to go (docs/reference.md §2 wait).

    Only ``any`` lets an alternative's ``next`` decide; under ``all`` and
    ``at_least`` the node completes as a whole and needs a ``next`` of its own.
    """
    if node.next:
        return True
    if isinstance(node, AnyWait):
        return bool(node.alternatives) and all(names_own_next(a) for a in node.alternatives)
    return False


def next_or_end_problem(state: State) -> str | None:
    """What is wrong with ``state``'s ``next``/``end`` (WF204), or ``None``.

    ``succeed`` and ``fail`` are the schema's business (a ``next`` or ``end``
    there is an unknown key it reports as WF204); a ``choice`` has a problem
    when it has both ``default`` and ``end`` (its branches: see
    :func:`choice_rule_problems`). ``end: false`` is seen as "no end" here
    and told apart by the caller from the source map.
    """
    if isinstance(state, ChoiceState):
        return "both" if state.default and state.end else None
    if isinstance(state, SucceedState | FailState):
        return None
    if state.next and state.end:
        return "both"
    if state.next or state.end:
        return None
    if isinstance(state, WaitState) and names_own_next(state.condition):
        return None
    return "neither"


def choice_rule_problems(state: ChoiceState) -> Iterator[tuple[int, str]]:
    """(1-based number, "both" or "neither") of every branch of ``state`` that
    does not name exactly one of ``next`` and ``end``."""
    for number, rule in enumerate(state.choices, start=1):
        if rule.next and rule.end:
            yield number, "both"
        elif not rule.next and not rule.end:
            yield number, "neither"


def can_end(state: State) -> bool:
    """Whether the thread of control may stop at ``state`` (an end, not a failure to propagate)."""
    if isinstance(state, ChoiceState):
        return state.may_end()
    return state.end or isinstance(state, SucceedState | FailState)


def is_broken(scope: Scope) -> bool:
    """Whether WF201, WF204 or WF205 fire in this scope: its graph is missing edges.

    Reachability and ends would only repeat those findings in other words.
    """
    if scope.start not in scope.states:
        return True
    for state in scope.states.values():
        if next_or_end_problem(state) is not None:
            return True
        if isinstance(state, ChoiceState) and any(choice_rule_problems(state)):
            return True
        if any(target not in scope.states for target, _, _ in targets(state)):
            return True
    return False


def successors(scope: Scope, state: State) -> tuple[str, ...]:
    """The targets of ``state`` that exist in ``scope``."""
    return tuple(name for name in state.successors() if name in scope.states)
