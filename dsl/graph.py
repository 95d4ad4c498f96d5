"""The state graph of a compiled workflow, and its export as Mermaid, DOT and JSON.

:func:`build_graph` turns a :class:`~wfdsl.dsl.model.Workflow` into plain
records: one node per state (its id is the state's thread path, the same
``fan_out/notify/email`` the interpreter and the designer use), a start
marker and an end node per scope, a join node per parallel or map state,
edges that say why they exist (``next``, ``choice``, ``default``, ``catch``,
``wait``, ...), and a cluster per parallel branch and map body. Everything
else here only formats that graph; nothing reads files or lays anything
out (``layout.py`` and ``svg.py`` do the drawing).

Ids of the synthetic nodes contain parentheses, which state names cannot
(docs/reference.md §1), so ``(start)``, ``(end)`` and ``fan_out/(join)`` never collide
with a state.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Literal

from .durations import format_duration
from .expressions import CompiledValue, Constant, Expression, Template
from .findings import format_path
from .model import (
    AllWait,
    AnyWait,
    AtLeastWait,
    ChoiceState,
    FailState,
    MapState,
    ParallelState,
    Scope,
    SignalWait,
    State,
    SubflowState,
    SucceedState,
    TaskState,
    TimerWait,
    UntilWait,
    WaitNode,
    WaitState,
    Workflow,
)
from .source import JsonPath

__all__ = [
    "Cluster",
    "Edge",
    "EdgeKind",
    "Graph",
    "Node",
    "NodeKind",
    "build_graph",
    "to_dot",
    "to_json",
    "to_mermaid",
]

EdgeKind = Literal["start", "next", "choice", "default", "catch", "wait", "end", "branch", "join"]
#: A state's ``type`` or one of the synthetic kinds.
NodeKind = str

START = "(start)"
END = "(end)"
JOIN = "(join)"


@dataclass(frozen=True, slots=True)
class Node:
    """A state or a synthetic marker (``start``, ``end``, ``join``)."""

    id: str
    label: str
    type: NodeKind
    path: JsonPath = ()
    detail: str | None = None
    cluster: str | None = None


@dataclass(frozen=True, slots=True)
class Edge:
    """A possible transition; ``label`` is the condition, alternative or errors."""

    source: str
    target: str
    kind: EdgeKind
    label: str | None = None


@dataclass(frozen=True, slots=True)
class Cluster:
    """A parallel branch or a map body: the nodes drawn inside one box."""

    id: str
    label: str
    kind: Literal["branch", "map"]
    parent: str | None = None
    nodes: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class Graph:
    """Nodes in document order, edges in the order each state lists them."""

    name: str
    nodes: tuple[Node, ...]
    edges: tuple[Edge, ...]
    clusters: tuple[Cluster, ...] = ()
    _index: dict[str, Node] = field(default_factory=dict, repr=False, compare=False)

    def node(self, node_id: str) -> Node:
        """The node with that id (``KeyError`` when there is none)."""
        if not self._index:
            self._index.update((n.id, n) for n in self.nodes)
        return self._index[node_id]

    def state_nodes(self) -> Iterator[Node]:
        """The nodes that are states (not markers)."""
        return (n for n in self.nodes if n.type not in ("start", "end", "join"))


# ----------------------------------------------------------------- building


class _Builder:
    def __init__(self) -> None:
        self.nodes: list[Node] = []
        self.edges: list[Edge] = []
        self.clusters: list[Cluster] = []

    def scope(self, scope: Scope, prefix: str, cluster: str | None) -> tuple[str, str]:
        """Add ``scope``'s states; return the ids of its start marker and end node."""
        start, end = prefix + START, prefix + END
        self.nodes.append(Node(start, "start", "start", scope.path, cluster=cluster))
        self.edges.append(Edge(start, prefix + scope.start, "start"))
        for state in scope.states.values():
            self.state(state, prefix, end, cluster)
        self.nodes.append(Node(end, "end", "end", scope.path, cluster=cluster))
        return start, end

    def state(self, state: State, prefix: str, end: str, cluster: str | None) -> None:
        node_id = prefix + state.name
        self.nodes.append(
            Node(node_id, state.name, state.type, state.path, _detail(state), cluster)
        )
        # A parallel or map state completes at its join, so that is where its
        # normal exit (next or end) leaves from; a catch leaves the state itself.
        done = node_id
        if isinstance(state, ParallelState | MapState):
            done = self.fork(state, node_id, cluster)
        for target, kind, label in _exits(state):
            source = done if kind == "next" else node_id
            self.edges.append(Edge(source, prefix + target, kind, label))
        if (state.end and not isinstance(state, ChoiceState)) or isinstance(state, SucceedState):
            self.edges.append(Edge(done, end, "end"))

    def missing_targets(self) -> None:
        """A ``next``/``start`` naming no state (the validator reports it) still
        gets a node, drawn as missing, so the designer can show a broken
        document instead of failing to lay it out."""
        known = {n.id for n in self.nodes}
        clusters = {n.id: n.cluster for n in self.nodes}
        for edge in self.edges:
            if edge.target not in known:
                known.add(edge.target)
                self.nodes.append(
                    Node(
                        edge.target,
                        _missing_label(edge.target),
                        "missing",
                        cluster=clusters.get(edge.source),
                    )
                )

    def fork(self, state: ParallelState | MapState, node_id: str, cluster: str | None) -> str:
        """Add the branches (or the map body) between the state and its join
        node; return the join node's id."""
        join = f"{node_id}/{JOIN}"
        bodies: list[tuple[str, str, Scope, Literal["branch", "map"]]]
        if isinstance(state, ParallelState):
            bodies = [(f"{node_id}/{b.name}", b.name, b.scope, "branch") for b in state.branches]
        else:
            times = f" (x{state.concurrency})" if state.concurrency != 1 else ""
            bodies = [(node_id, f"each {state.as_}{times}", state.do, "map")]
        for cluster_id, label, scope, kind in bodies:
            first = len(self.nodes)
            start, end = self.scope(scope, cluster_id + "/", cluster_id)
            members = tuple(n.id for n in self.nodes[first:] if n.cluster == cluster_id)
            self.clusters.append(Cluster(cluster_id, label, kind, cluster, members))
            self.edges.append(Edge(node_id, start, "branch", label if kind == "branch" else None))
            self.edges.append(Edge(end, join, "join"))
        self.nodes.append(Node(join, "join", "join", state.path, cluster=cluster))
        return join


def _missing_label(node_id: str) -> str:
    name = node_id.rsplit("/", 1)[-1]
    return f"missing: {name}" if name else "missing state"


def build_graph(workflow: Workflow) -> Graph:
    """The graph of ``workflow``: every state of every scope, markers, edges, clusters."""
    builder = _Builder()
    builder.scope(workflow.root, "", None)
    builder.missing_targets()
    # Map-body cluster ids equal the map state's node id; keep clusters listed
    # outermost first, so a renderer can open them in order.
    clusters = sorted(builder.clusters, key=lambda c: c.id.count("/"))
    return Graph(workflow.name, tuple(builder.nodes), tuple(builder.edges), tuple(clusters))


def _exits(state: State) -> Iterator[tuple[str, EdgeKind, str | None]]:
    if isinstance(state, ChoiceState):
        # A branch (or the default) that ends goes to the scope's end node.
        for rule in state.choices:
            yield rule.next or END, "choice", value_text(rule.when)
        if state.default or state.end:
            yield state.default or END, "default", "default"
        return
    if isinstance(state, WaitState):
        yield from _wait_exits(state.condition)
        if state.next:
            yield state.next, "next", None
        return
    if state.next:
        yield state.next, "next", None
    for catch in getattr(state, "catch", ()):
        if catch.next:
            yield catch.next, "catch", ", ".join(catch.errors)


def _wait_exits(node: WaitNode) -> Iterator[tuple[str, EdgeKind, str | None]]:
    if isinstance(node, AnyWait | AllWait | AtLeastWait):
        for alternative in node.alternatives:
            yield from _wait_exits(alternative)
    if node.next:
        yield node.next, "wait", wait_text(node)


def wait_text(node: WaitNode) -> str:
    """A short description of a wait condition: ``signal verified``, ``timer 1d``."""
    if isinstance(node, TimerWait):
        if node.seconds is not None:
            return f"timer {format_duration(node.seconds)}"
        return f"timer {value_text(node.seconds_expr)}"
    if isinstance(node, UntilWait):
        return f"until {value_text(node.at_expr) if node.at_expr else node.at}"
    if isinstance(node, SignalWait):
        return f"signal {node.channel}" + (f" x{node.count}" if node.count != 1 else "")
    inner = ", ".join(wait_text(a) for a in node.alternatives)
    if isinstance(node, AtLeastWait):
        return f"{node.count} of ({inner})"
    return f"{node.kind} ({inner})"


def value_text(value: CompiledValue | None) -> str:
    """How a compiled value reads in the document (``${ vars.total > 1000 }``)."""
    if value is None:
        return ""
    if isinstance(value, Expression):
        return "${ " + value.source + " }"
    if isinstance(value, Template):
        return value.source
    if isinstance(value, Constant):
        return json.dumps(value.value) if not isinstance(value.value, str) else value.value
    return "..."


def _detail(state: State) -> str | None:
    if isinstance(state, TaskState):
        return state.action
    if isinstance(state, SubflowState):
        return state.workflow
    if isinstance(state, WaitState):
        return wait_text(state.condition)
    if isinstance(state, FailState):
        return value_text(state.error)
    return None


# ---------------------------------------------------------------- exporting


def to_json(graph: Graph) -> str:
    """The graph as one JSON document (``path`` as ``$.states.x`` text)."""
    data = {
        "name": graph.name,
        "nodes": [
            {
                "id": n.id,
                "label": n.label,
                "type": n.type,
                "path": format_path(n.path),
                "detail": n.detail,
                "cluster": n.cluster,
            }
            for n in graph.nodes
        ],
        "edges": [
            {"source": e.source, "target": e.target, "kind": e.kind, "label": e.label}
            for e in graph.edges
        ],
        "clusters": [
            {
                "id": c.id,
                "label": c.label,
                "kind": c.kind,
                "parent": c.parent,
                "nodes": list(c.nodes),
            }
            for c in graph.clusters
        ],
    }
    return json.dumps(data, indent=2, ensure_ascii=False) + "\n"


def _mermaid_text(text: str) -> str:
    # Inside a quoted Mermaid label only '"' and entity-like text are special;
    # write them as Mermaid's #...; entities so no user text can end the label.
    out = []
    for ch in text:
        if ch in '"#<>&`' or ord(ch) < 32:
            out.append(f"#{ord(ch)};")
        else:
            out.append(ch)
    return "".join(out)


_MERMAID_SHAPES = {
    "start": ("((", "))"),
    "end": ("(((", ")))"),
    "join": ("[[", "]]"),
    "choice": ("{", "}"),
    "wait": ("[/", "/]"),
    "succeed": ("([", "])"),
    "fail": ("[\\", "/]"),
    "parallel": ("[[", "]]"),
    "map": ("[[", "]]"),
}


def to_mermaid(graph: Graph) -> str:
    """A Mermaid ``flowchart TD``; node ids are n0, n1, ... with the state path as label."""
    ids = {n.id: f"n{i}" for i, n in enumerate(graph.nodes)}
    cluster_ids = {c.id: f"c{i}" for i, c in enumerate(graph.clusters)}
    children: dict[str | None, list[Cluster]] = {}
    for c in graph.clusters:
        children.setdefault(c.parent, []).append(c)
    members: dict[str | None, list[Node]] = {}
    for n in graph.nodes:
        members.setdefault(n.cluster, []).append(n)

    lines = ["flowchart TD"]

    def node_line(n: Node, indent: str) -> str:
        left, right = _MERMAID_SHAPES.get(n.type, ("[", "]"))
        if n.type in ("start", "end", "join"):
            label = " " if n.type != "join" else "join"
        else:
            label = _mermaid_text(n.label) + (
                f"<br/><small>{_mermaid_text(n.detail)}</small>" if n.detail else ""
            )
        return f'{indent}{ids[n.id]}{left}"{label}"{right}'

    def emit(cluster: str | None, indent: str) -> None:
        for n in members.get(cluster, []):
            lines.append(node_line(n, indent))
        for c in children.get(cluster, []):
            lines.append(f'{indent}subgraph {cluster_ids[c.id]}["{_mermaid_text(c.label)}"]')
            emit(c.id, indent + "  ")
            lines.append(f"{indent}end")

    emit(None, "  ")
    for e in graph.edges:
        arrow = "-.->" if e.kind in ("catch", "join", "branch") else "-->"
        label = f'|"{_mermaid_text(e.label)}"|' if e.label else ""
        lines.append(f"  {ids[e.source]} {arrow}{label} {ids[e.target]}")
    return "\n".join(lines) + "\n"


def _dot_text(text: str) -> str:
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n") + '"'


_DOT_SHAPES = {
    "start": 'shape=circle, width=0.25, label="", style=filled, fillcolor=black',
    "end": 'shape=doublecircle, width=0.2, label="", style=filled, fillcolor=black',
    "join": 'shape=box, height=0.1, width=0.8, label="", style=filled, fillcolor=gray40',
    "choice": "shape=diamond",
    "wait": "shape=parallelogram",
    "succeed": 'shape=box, style="rounded,bold"',
    "fail": "shape=octagon",
    "parallel": "shape=box3d",
    "map": "shape=box3d",
}


def to_dot(graph: Graph) -> str:
    """A Graphviz ``digraph``: every id and label quoted and escaped."""
    children: dict[str | None, list[Cluster]] = {}
    for c in graph.clusters:
        children.setdefault(c.parent, []).append(c)
    members: dict[str | None, list[Node]] = {}
    for n in graph.nodes:
        members.setdefault(n.cluster, []).append(n)
    cluster_numbers = {c.id: i for i, c in enumerate(graph.clusters)}

    lines = [f"digraph {_dot_text(graph.name)} {{", "  node [shape=box, style=rounded];"]

    def emit(cluster: str | None, indent: str) -> None:
        for n in members.get(cluster, []):
            attrs = _DOT_SHAPES.get(n.type, "shape=box, style=rounded")
            label = n.label + (f"\n{n.detail}" if n.detail else "")
            if "label=" not in attrs:
                attrs = f"label={_dot_text(label)}, {attrs}"
            lines.append(f"{indent}{_dot_text(n.id)} [{attrs}];")
        for c in children.get(cluster, []):
            lines.append(f"{indent}subgraph cluster_{cluster_numbers[c.id]} {{")
            lines.append(f"{indent}  label={_dot_text(c.label)}; style=dashed;")
            emit(c.id, indent + "  ")
            lines.append(f"{indent}}}")

    emit(None, "  ")
    for e in graph.edges:
        attrs = []
        if e.label:
            attrs.append(f"label={_dot_text(e.label)}")
        if e.kind in ("catch", "branch", "join"):
            attrs.append("style=dashed")
        suffix = f" [{', '.join(attrs)}]" if attrs else ""
        lines.append(f"  {_dot_text(e.source)} -> {_dot_text(e.target)}{suffix};")
    lines.append("}")
    return "\n".join(lines) + "\n"
