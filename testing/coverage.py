"""Coverage: which states and edges of a flow's graph the cases took.

The edges are the graph's own (:func:`wfdsl.dsl.graph.build_graph`: ``start``,
``next``, ``choice``, ``default``, ``catch``, ``wait`` alternatives such as
``timer 1d`` or ``signal verified``, ``end``, ``branch``, ``join``), read off
each case's history:

- a ``state_entered`` after another in the same thread is the edge between
  them; the event just before decides between edges to the same target (an
  ``action_failed`` that no retry followed takes the ``catch`` edge; a
  ``timer_fired`` or ``signal_consumed`` names the wait alternative);
- the first state of a scope takes its ``start`` edge (and, in a branch or
  map body, the fork's ``branch`` edge); a ``branch_completed`` or
  ``run_completed`` takes the last state's ``end`` edge (and the ``join``).

A choice whose rule and ``default`` lead to the same state counts the first
such edge. Beside the graph, every task that may retry has two *retry
paths*: ``retry`` (a retry was scheduled) and ``retries exhausted`` (an
attempt after the first failed for good). Child runs of a subflow count for
their own flow only when a test file of that flow runs them.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

from wfdsl.dsl.graph import Edge, Graph, build_graph, wait_text
from wfdsl.dsl.model import TaskState, WaitNode, WaitState, Workflow
from wfdsl.dsl.stategraph import alternatives, iter_scopes, wait_nodes
from wfdsl.interpreter.store.records import Event

from .mocks import scope_free

__all__ = ["FlowCoverage", "RetryPath", "collect", "edge_name"]


@dataclass(frozen=True, slots=True)
class RetryPath:
    state: str
    kind: str  # "retry" or "retries exhausted"


@dataclass(slots=True)
class FlowCoverage:
    """What the cases of one flow took, summed over cases."""

    flow: str
    workflow: Workflow
    graph: Graph
    states: dict[str, int] = field(default_factory=dict)  # state id -> times entered
    edges: dict[int, int] = field(default_factory=dict)  # edge index -> times taken
    retries: dict[RetryPath, int] = field(default_factory=dict)

    @classmethod
    def of(cls, flow: str, workflow: Workflow) -> FlowCoverage:
        graph = build_graph(workflow)
        cov = cls(flow, workflow, graph)
        cov.states = {n.id: 0 for n in graph.state_nodes()}
        cov.edges = dict.fromkeys(range(len(graph.edges)), 0)
        cov.retries = {p: 0 for p in _retry_paths(workflow)}
        return cov

    def add(self, history: Sequence[Event]) -> None:
        _Walk(self).run(history)

    @property
    def edges_taken(self) -> int:
        return sum(1 for n in self.edges.values() if n)

    @property
    def states_taken(self) -> int:
        return sum(1 for n in self.states.values() if n)

    @property
    def retries_taken(self) -> int:
        return sum(1 for n in self.retries.values() if n)

    def untaken_edges(self) -> list[Edge]:
        return [self.graph.edges[i] for i, n in self.edges.items() if not n]

    def to_json(self) -> dict[str, Any]:
        return {
            "flow": self.flow,
            "workflow": self.workflow.name,
            "states": {
                "total": len(self.states),
                "taken": self.states_taken,
                "by_state": self.states,
            },
            "edges": {
                "total": len(self.edges),
                "taken": self.edges_taken,
                "list": [
                    {
                        "source": e.source,
                        "target": e.target,
                        "kind": e.kind,
                        "label": e.label,
                        "taken": self.edges[i],
                    }
                    for i, e in enumerate(self.graph.edges)
                ],
            },
            "retries": {
                "total": len(self.retries),
                "taken": self.retries_taken,
                "list": [
                    {"state": p.state, "kind": p.kind, "taken": n} for p, n in self.retries.items()
                ],
            },
        }


def edge_name(edge: Edge) -> str:
    label = f" [{edge.kind}{': ' + edge.label if edge.label else ''}]"
    return f"{edge.source} -> {edge.target}{label}"


def collect(items: Iterable[tuple[str, Workflow, Sequence[Event]]]) -> list[FlowCoverage]:
    """Coverage per flow file from (flow file, workflow, history) of each case."""
    by_flow: dict[str, FlowCoverage] = {}
    for flow, workflow, history in items:
        cov = by_flow.get(flow)
        if cov is None:
            cov = by_flow[flow] = FlowCoverage.of(flow, workflow)
        cov.add(history)
    return list(by_flow.values())


def _retry_paths(workflow: Workflow) -> list[RetryPath]:
    out = []
    for info in iter_scopes(workflow):
        prefix = "".join(o.name + "/" + (b.name + "/" if b else "") for o, b in info.owners)
        for state in info.scope.states.values():
            if isinstance(state, TaskState) and any(p.max_attempts != 1 for p in state.retry):
                out += [RetryPath(prefix + state.name, "retry")]
                out += [RetryPath(prefix + state.name, "retries exhausted")]
    return out


def _state_at(workflow: Workflow, node_id: str) -> Any:
    """The compiled state of a graph node id (``fan_out/b/call_b``, ``each/charge``)."""
    for info in iter_scopes(workflow):
        prefix = "".join(o.name + "/" + (b.name + "/" if b else "") for o, b in info.owners)
        if node_id.startswith(prefix):
            state = info.scope.states.get(node_id[len(prefix) :])
            if state is not None:
                return state
    return None


class _Walk:
    def __init__(self, cov: FlowCoverage) -> None:
        self.cov = cov
        self.graph = cov.graph
        self.last: dict[str, str] = {}  # thread instance -> last state path entered
        self.hint: dict[str, Any] = {}  # thread instance -> ("catch",) or ("wait", node number)
        self.failed_for_good: tuple[str, int] | None = None  # (state, attempt) of a last failure

    def take(self, index: int | None) -> None:
        if index is not None:
            self.cov.edges[index] += 1

    def find(self, source: set[str], target: str, kinds: Iterable[str] | None = None) -> list[int]:
        wanted = None if kinds is None else set(kinds)
        return [
            i
            for i, e in enumerate(self.graph.edges)
            if e.source in source and e.target == target and (wanted is None or e.kind in wanted)
        ]

    def run(self, history: Sequence[Event]) -> None:
        for event in history:
            state = event.state or ""
            inst = state.rsplit("/", 1)[0] if "/" in state else ""
            if event.type == "state_entered":
                self.entered(state, inst)
            elif event.type == "action_failed":
                self.hint[inst] = ("catch",)
                self.failed_for_good = (state, int(event.data.get("attempt", 1)))
            elif event.type == "retry_scheduled":
                self.hint.pop(inst, None)
                path = RetryPath(scope_free(state), "retry")
                if path in self.cov.retries:
                    self.cov.retries[path] += 1
                self.failed_for_good = None
            elif event.type in ("timer_fired", "signal_consumed") and "node" in event.data:
                self.hint[inst] = ("wait", int(event.data["node"]))
            elif event.type == "action_completed":
                self.hint.pop(inst, None)
            elif event.type == "branch_completed":
                self.ended(state)
            elif event.type == "run_completed":
                self.ended("")
            if event.type in ("state_entered", "run_failed", "branch_completed"):
                self.exhausted()

    def exhausted(self) -> None:
        failed = self.failed_for_good
        self.failed_for_good = None
        if failed is not None and failed[1] > 1:
            path = RetryPath(scope_free(failed[0]), "retries exhausted")
            if path in self.cov.retries:
                self.cov.retries[path] += 1

    def entered(self, state: str, inst: str) -> None:
        node = scope_free(state)
        if node in self.cov.states:
            self.cov.states[node] += 1
        prev = self.last.get(inst)
        self.last[inst] = state
        if prev is None:
            start = (scope_free(inst) + "/" if inst else "") + "(start)"
            for i in self.find({start}, node, ["start"]):
                self.take(i)
            for i, e in enumerate(self.graph.edges):
                if e.kind == "branch" and e.target == start and _owns(e, inst):
                    self.take(i)
            return
        source = scope_free(prev)
        candidates = self.find({source, f"{source}/(join)"}, node)
        if not candidates:
            return
        hint = self.hint.pop(inst, None)
        self.take(self.choose(candidates, source, hint))

    def choose(self, candidates: list[int], source: str, hint: Any) -> int:
        edges = self.graph.edges
        if hint is not None and hint[0] == "catch":
            for i in candidates:
                if edges[i].kind == "catch":
                    return i
        if hint is not None and hint[0] == "wait":
            state = _state_at(self.cov.workflow, source)
            if isinstance(state, WaitState):
                decider = _deciding_node(state.condition, hint[1])
                if decider is not None:
                    text = wait_text(decider)
                    for i in candidates:
                        if edges[i].kind == "wait" and edges[i].label == text:
                            return i
                for i in candidates:
                    if edges[i].kind == "next":
                        return i
        for i in candidates:
            if edges[i].kind != "catch":
                return i
        return candidates[0]

    def ended(self, inst: str) -> None:
        last = self.last.get(inst)
        if last is None:
            return
        source = scope_free(last)
        end = (scope_free(inst) + "/" if inst else "") + "(end)"
        for i in self.find({source, f"{source}/(join)"}, end, ["end"]):
            self.take(i)
        if inst:
            for i, e in enumerate(self.graph.edges):
                if e.kind == "join" and e.source == end:
                    self.take(i)
                    break


def _owns(edge: Edge, inst: str) -> bool:
    """Whether a ``branch`` edge forks into the thread instance ``inst``."""
    return scope_free(inst).startswith(edge.source)


def _deciding_node(root: WaitNode, number: int) -> WaitNode | None:
    """The node whose ``next`` decides where a wait goes when node ``number``
    (depth-first, as the history counts) completes: the deepest on the way to
    it that names one."""
    nodes = list(wait_nodes(root))
    if not 0 <= number < len(nodes):
        return None
    target = nodes[number]

    def way(node: WaitNode) -> list[WaitNode] | None:
        if node is target:
            return [node]
        for alternative in alternatives(node):
            found = way(alternative)
            if found is not None:
                return [node, *found]
        return None

    path = way(root) or []
    named = [n for n in path if n.next]
    return named[-1] if named else None
