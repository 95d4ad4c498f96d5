"""WF401 maybe-unassigned and WF402 never-assigned: reads of vars nobody wrote.

A forward must-analysis per scope over the state graph. The facts at a point
are the var paths assigned on every path from the start to it; the meet of
two paths is the intersection, iterated to a fixpoint so loops converge.

- The run starts with the keys of the initial ``vars``.
- A state's ``set`` applies when it completes, on its ``next`` edges (and at
  an end), never on a catch edge. A task's (subflow's, parallel's, map's)
  ``result`` is assigned on its ``next`` edge only; a catch edge carries only
  the catch's ``as``.
- A wait assigns the ``as`` of what completed: an ``any`` alternative's
  ``as`` only on the way that alternative goes (its own ``next``, or the
  state's); under ``all`` every alternative's; under ``at_least`` N of M,
  the ones more than M - N alternatives assign.
- A parallel branch and a map body start from the facts at the fork and
  work on a copy: what they assign is gone after the join; only the state's
  ``result`` (and ``set``) comes back.
- Reads in a state (args, conditions, ``set``, outputs...) see the facts on
  entering it. Search attributes are recomputed after every transition and
  handlers may be called at any moment, so they see only the initial
  ``vars``; a handler's ``set`` is never counted as "definitely assigned",
  but it does count as an assignment for WF402. The workflow's ``output``
  sees what every end of the top level has in common.

A read of ``vars.a.b`` is satisfied by an assignment of ``a`` (or of
``a.b.c``, which creates ``a.b``). A read whose path is computed
(``vars[k]``) or of ``vars`` itself is not checked, nor one the expression
guards itself (inside ``coalesce(...)`` but its last argument, ``has``,
``is_null``, or under a ``has(vars, 'k')`` of the same path).

Undo args are read when the task completes, after its ``result`` and
``set`` (the natural saga refunds ``vars.payment.id``): they see the facts on
the task's ``next`` edge.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass

from ..expressions import Constant
from ..findings import Finding
from ..model import (
    AllWait,
    AnyWait,
    AtLeastWait,
    ChoiceState,
    MapState,
    ParallelState,
    Scope,
    SignalWait,
    State,
    SubflowState,
    SucceedState,
    TaskState,
    WaitNode,
    WaitState,
    Workflow,
)
from ..sites import Site, iter_sites
from ..source import JsonPath
from ..stategraph import ScopeInfo, describe_scope, iter_scopes, wait_nodes
from ..suggest import did_you_mean
from .context import CheckContext

__all__ = ["check_dataflow", "reads_without_value"]

Key = tuple[str | int, ...]
Facts = frozenset[Key]
#: (target state, or None where the thread ends; the facts on that edge).
Edge = tuple[str | None, Facts]


def check_dataflow(ctx: CheckContext) -> Iterator[Finding]:
    analysis = _Analysis.of(ctx.workflow)
    reported: set[tuple[JsonPath, Key]] = set()
    for site in iter_sites(ctx.workflow):
        facts = analysis.facts_at(site)
        if facts is None or "vars" not in site.names:
            continue
        for inner, _, expression in site.value.expressions():
            path = (*site.path, *inner)
            for use in expression.name_uses:
                key: Key = use.path[1:]
                if use.name != "vars" or not key or use.guarded or _covered(key, facts):
                    continue
                if (path, key[:1]) in reported:
                    continue
                reported.add((path, key[:1]))
                yield analysis.finding(ctx, site, path, key, facts)


def reads_without_value(
    workflow: Workflow, scope: Scope, state: str, held: Iterable[str]
) -> list[str]:
    """What a thread parked at ``state`` of ``scope`` would read without a
    value, holding vars with the top-level keys ``held``: the same
    must-analysis as WF401, started there instead of at the scope's start
    (what ``wfdsl migrate`` asks of a run moving to a new version). Each
    entry says where and what, e.g. "state 'ship' reads vars.address"."""
    facts: Facts = frozenset((str(name),) for name in held)
    entry: dict[tuple[int, str], Facts] = {}
    edges: dict[tuple[int, str], tuple[Edge, ...]] = {}
    _solve(scope, facts, entry, edges, start=state)
    analysis = _Analysis(facts, entry, edges, None, ())
    found: list[str] = []
    for site in iter_sites(workflow):
        if site.timing in ("start", "end") or site.scope is None or site.scope.scope is not scope:
            continue
        at = analysis.facts_at(site)
        if at is None or "vars" not in site.names:
            continue
        for _inner, _, expression in site.value.expressions():
            for use in expression.name_uses:
                key: Key = use.path[1:]
                if use.name != "vars" or not key or use.guarded or _covered(key, at):
                    continue
                text = f"{site.where} reads {_text(key)}"
                if text not in found:
                    found.append(text)
    return found


def _covered(key: Key, facts: Iterable[Key]) -> bool:
    """Whether an assignment in ``facts`` gives ``key`` a value (one is a prefix of the other)."""
    return any(key[: len(fact)] == fact[: len(key)] for fact in facts)


def _text(key: Key) -> str:
    return "vars" + "".join(f"[{part}]" if isinstance(part, int) else f".{part}" for part in key)


@dataclass(frozen=True, slots=True)
class _Assigned:
    key: Key
    scope: ScopeInfo | None
    where: str


@dataclass(frozen=True, slots=True)
class _Analysis:
    initial: Facts
    #: (id of the scope, state name) -> facts on entering it; reachable states only.
    entry: Mapping[tuple[int, str], Facts]
    #: Every edge out of every reachable state: (id of scope, state name) -> edges.
    edges: Mapping[tuple[int, str], tuple[Edge, ...]]
    end: Facts | None
    assigned: tuple[_Assigned, ...]

    @classmethod
    def of(cls, workflow: Workflow) -> _Analysis:
        initial = _initial(workflow)
        entry: dict[tuple[int, str], Facts] = {}
        edges: dict[tuple[int, str], tuple[Edge, ...]] = {}
        _solve(workflow.root, initial, entry, edges)
        ends = [
            facts
            for name in workflow.root.states
            for target, facts in edges.get((id(workflow.root), name), ())
            if target is None
        ]
        end = frozenset.intersection(*ends) if ends else None
        return cls(initial, entry, edges, end, tuple(_assignments(workflow, initial)))

    def facts_at(self, site: Site) -> Facts | None:
        if site.timing == "any":
            return self.initial
        if site.timing == "end":
            return self.end
        if site.timing == "start" or site.state is None or site.scope is None:
            return None
        facts = self.entry.get((id(site.scope.scope), site.state.name))
        if facts is not None and site.timing == "exit":
            result = getattr(site.state, "result", None)
            facts = facts | {a.target.parts for a in site.state.set}
            if result is not None:
                facts = facts | {result.parts}
        return facts

    def finding(
        self, ctx: CheckContext, site: Site, path: JsonPath, key: Key, facts: Facts
    ) -> Finding:
        places = [a for a in self.assigned if _covered(key, (a.key,))]
        read = f"{site.where} reads {_text(key)}"
        if not places:
            roots = {str(a.key[0]) for a in self.assigned}
            return ctx.finding(
                "WF402",
                f"{read}, but nothing assigns it: no initial value, `set`, `result` or `as` writes "
                f"{_text(key[:1])}",
                path,
                suggestion=did_you_mean(str(key[0]), roots)
                or "give it an initial value under `vars`, or assign it before the read",
            )
        if site.timing == "any":
            when = (
                "search attributes are recomputed after every transition"
                if site.path[:1] == ("search",)
                else "a handler may be called at any moment of the run"
            )
            return ctx.finding(
                "WF401",
                f"{read}, which has no value when the run starts: {when}",
                path,
                suggestion=f"give {_text(key[:1])} an initial value under `vars`",
            )
        if site.timing == "end":
            return ctx.finding(
                "WF401",
                f"{read}, which is not assigned on every path to an end of the run",
                path,
            )
        assert site.scope is not None and site.state is not None
        message = f"{read}, which is not assigned on every path from the start"
        missing = self._missing_on(site.scope, site.state, key)
        if missing:
            message += f" ({missing})"
        visible = {id(site.scope.scope), *(id(_owned(o, b)) for o, b in site.scope.owners)}
        elsewhere = [p for p in places if p.scope is not None and id(p.scope.scope) not in visible]
        suggestion = None
        if len(elsewhere) == len(places):
            first = elsewhere[0]
            assert first.scope is not None
            suggestion = (
                f"it is assigned only by {first.where} in {describe_scope(first.scope)}, on that "
                "scope's own copy of vars: pass it out through the parallel or map `result`"
            )
        return ctx.finding("WF401", message, path, suggestion=suggestion)

    def _missing_on(self, info: ScopeInfo, state: State, key: Key) -> str:
        """One way in that lacks ``key``, in words, or ''."""
        scope = info.scope
        for name in scope.states:
            for target, facts in self.edges.get((id(scope), name), ()):
                if target == state.name and not _covered(key, facts):
                    return f"not on the way from '{name}'"
        if state.name == scope.start:
            if info.is_root:
                return "not when the run starts"
            return f"not at the start of {describe_scope(info)}"
        return ""


def _owned(owner: ParallelState | MapState, branch: object) -> Scope:
    if isinstance(owner, MapState):
        return owner.do
    return next(b.scope for b in owner.branches if b is branch)


def _initial(workflow: Workflow) -> Facts:
    value = workflow.vars
    if isinstance(value, Constant) and isinstance(value.value, dict):
        return frozenset((str(k),) for k in value.value)
    entries = getattr(value, "entries", ())
    return frozenset((str(k),) for k, _ in entries)


def _solve(
    scope: Scope,
    start_facts: Facts,
    entry: dict[tuple[int, str], Facts],
    edges: dict[tuple[int, str], tuple[Edge, ...]],
    *,
    start: str | None = None,
) -> None:
    """Fixpoint of the must-analysis over ``scope`` (from ``start``, default
    its start state); nested scopes after it converges."""
    first = scope.start if start is None else start
    if first not in scope.states:
        return
    inside: dict[str, Facts] = {first: start_facts}
    todo = [first]
    while todo:
        name = todo.pop()
        for target, facts in _edges(scope.states[name], inside[name]):
            if target is None or target not in scope.states:
                continue
            joined = facts if target not in inside else inside[target] & facts
            if target not in inside or joined != inside[target]:
                inside[target] = joined
                todo.append(target)
    for name, facts in inside.items():
        state = scope.states[name]
        entry[(id(scope), name)] = facts
        edges[(id(scope), name)] = tuple(_edges(state, facts))
        if isinstance(state, ParallelState):
            for branch in state.branches:
                _solve(branch.scope, facts, entry, edges)
        elif isinstance(state, MapState):
            _solve(state.do, facts, entry, edges)


def _edges(state: State, facts: Facts) -> Iterator[Edge]:
    sets = frozenset(a.target.parts for a in state.set)
    for catch in getattr(state, "catch", ()):
        caught = facts | {catch.as_.parts} if catch.as_ is not None else facts
        yield catch.next, caught
    if isinstance(state, WaitState):
        for target, done in _completions(state.condition, facts):
            yield target or state.next, done | sets
        return
    done = facts | sets
    result = getattr(state, "result", None)
    if (
        isinstance(state, TaskState | SubflowState | ParallelState | MapState)
        and result is not None
    ):
        done = done | {result.parts}
    if isinstance(state, ChoiceState):
        for rule in state.choices:
            yield rule.next, done
        if state.default:
            yield state.default, done
    if state.next:
        yield state.next, done
    if state.end or isinstance(state, SucceedState):
        yield None, done


def _completions(node: WaitNode, facts: Facts) -> list[Edge]:
    """How ``node`` can complete: where it goes (None: its parent decides) and what it assigned."""
    if isinstance(node, SignalWait):
        assigned = facts | {node.as_.parts} if node.as_ is not None else facts
        return [(node.next, assigned)]
    if isinstance(node, AnyWait):
        return [
            (target or node.next, done)
            for alt in node.alternatives
            for target, done in _completions(alt, facts)
        ]
    if isinstance(node, AllWait | AtLeastWait):
        musts = [_must(alt) for alt in node.alternatives]
        needed = len(musts) if isinstance(node, AllWait) else node.count
        counted: dict[Key, int] = {}
        for must in musts:
            for key in must:
                counted[key] = counted.get(key, 0) + 1
        done = facts | {key for key, n in counted.items() if n > len(musts) - needed}
        return [(node.next, done)]
    return [(node.next, facts)]


def _must(node: WaitNode) -> Facts:
    """What ``node`` assigns however it completes."""
    completions = [done for _, done in _completions(node, frozenset())]
    return frozenset.intersection(*completions) if completions else frozenset()


def _assignments(workflow: Workflow, initial: Facts) -> Iterator[_Assigned]:
    for key in initial:
        yield _Assigned(key, None, "the initial `vars`")
    for name, handler in workflow.handlers.items():
        for assignment in handler.set:
            yield _Assigned(assignment.target.parts, None, f"handler '{name}'")
    for info in iter_scopes(workflow):
        for state in info.scope.states.values():
            where = f"'{state.name}'"
            for key in _writes(state):
                yield _Assigned(key, info, where)


def _writes(state: State) -> Iterator[Key]:
    for assignment in state.set:
        yield assignment.target.parts
    result = getattr(state, "result", None)
    if result is not None:
        yield result.parts
    for catch in getattr(state, "catch", ()):
        if catch.as_ is not None:
            yield catch.as_.parts
    if isinstance(state, WaitState):
        for node in wait_nodes(state.condition):
            if isinstance(node, SignalWait) and node.as_ is not None:
                yield node.as_.parts
