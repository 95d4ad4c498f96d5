"""Graph export: what build_graph finds in a workflow, and that every format
carries it (Mermaid, DOT, JSON, SVG), escaped, whatever the names hold."""

from __future__ import annotations

import json
import re
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest
from wfdsl.dsl.api import compile_text
from wfdsl.dsl.graph import Edge, Graph, Node, build_graph, to_dot, to_json, to_mermaid
from wfdsl.dsl.layout import back_edges, layout
from wfdsl.dsl.model import Workflow
from wfdsl.dsl.svg import to_svg

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"
SVG = "{http://www.w3.org/2000/svg}"


def compiled(text: str) -> Workflow:
    workflow, findings = compile_text(text, "test.yaml")
    assert workflow is not None, [f.format() for f in findings]
    assert not [f for f in findings if f.severity == "error"], [f.format() for f in findings]
    return workflow


FORK = """
wfdsl: "1"
name: fork
start: route
states:
  route:
    type: choice
    choices:
      - when: ${ input.n > 1 }
        next: fan_out
    default: lines
  fan_out:
    type: parallel
    branches:
      notify:
        start: email
        states:
          email: {type: task, action: log, args: {message: hi}, end: true}
      approve:
        start: wait_ok
        states:
          wait_ok:
            type: wait
            any:
              - {signal: ok, next: done}
              - {timer: 1d, next: done}
          done: {type: succeed}
    catch:
      - errors: [Timeout, HttpError]
        next: failed
    next: lines
  lines:
    type: map
    items: ${ input.items }
    as: line
    do:
      start: one
      states:
        one: {type: task, action: log, args: {message: "${ line }"}, end: true}
    end: true
  failed: {type: fail, error: Broken}
"""


def edge_set(graph: Graph) -> set[tuple[str, str, str, str | None]]:
    return {(e.source, e.target, e.kind, e.label) for e in graph.edges}


def test_nodes_are_thread_paths_with_markers_and_clusters() -> None:
    graph = build_graph(compiled(FORK))
    ids = [n.id for n in graph.nodes]
    for state in (
        "route",
        "fan_out",
        "fan_out/notify/email",
        "fan_out/approve/wait_ok",
        "fan_out/approve/done",
        "lines",
        "lines/one",
        "failed",
    ):
        assert state in ids
    assert {"(start)", "(end)", "fan_out/(join)", "lines/(join)"} <= set(ids)
    assert graph.node("fan_out/approve/wait_ok").type == "wait"
    assert graph.node("fan_out/notify/email").path == (
        "states",
        "fan_out",
        "branches",
        "notify",
        "states",
        "email",
    )
    clusters = {c.id: c for c in graph.clusters}
    assert clusters["fan_out/notify"].kind == "branch"
    assert clusters["lines"].kind == "map" and clusters["lines"].label == "each line"
    assert "fan_out/notify/email" in clusters["fan_out/notify"].nodes
    assert graph.node("lines/one").cluster == "lines"


def test_edges_say_why_they_exist() -> None:
    edges = edge_set(build_graph(compiled(FORK)))
    assert ("(start)", "route", "start", None) in edges
    assert ("route", "fan_out", "choice", "${ input.n > 1 }") in edges
    assert ("route", "lines", "default", "default") in edges
    assert ("fan_out", "fan_out/notify/(start)", "branch", "notify") in edges
    assert ("fan_out/approve/wait_ok", "fan_out/approve/done", "wait", "signal ok") in edges
    assert ("fan_out/approve/wait_ok", "fan_out/approve/done", "wait", "timer 1d") in edges
    assert ("fan_out/approve/done", "fan_out/approve/(end)", "end", None) in edges
    assert ("fan_out/approve/(end)", "fan_out/(join)", "join", None) in edges
    # The normal exit leaves from the join, a catch from the state itself.
    assert ("fan_out/(join)", "lines", "next", None) in edges
    assert ("fan_out", "failed", "catch", "Timeout, HttpError") in edges
    assert ("lines/(join)", "(end)", "end", None) in edges
    assert not any(s == "failed" for s, *_ in edges)  # a fail state ends nothing normally


@pytest.mark.parametrize("example", sorted(EXAMPLES.glob("*.yaml")), ids=lambda p: p.stem)
def test_every_example_exports_in_every_format(example: Path) -> None:
    workflow = compiled(example.read_text(encoding="utf-8"))
    graph = build_graph(workflow)
    ids = {n.id for n in graph.nodes}
    assert {e.source for e in graph.edges} | {e.target for e in graph.edges} <= ids
    states = [n for n in graph.state_nodes()]
    assert {n.id for n in states if "/" not in n.id} == set(workflow.states)

    mermaid = to_mermaid(graph)
    assert mermaid.startswith("flowchart TD\n")
    for n in states:
        assert f'"{n.label}' in mermaid, n.id

    dot = to_dot(graph)
    assert dot.startswith("digraph ") and dot.rstrip().endswith("}")
    assert dot.count("{") == dot.count("}")
    for n in states:
        assert f'"{n.id}" [' in dot

    data = json.loads(to_json(graph))
    assert {n["id"] for n in data["nodes"]} == ids
    assert len(data["edges"]) == len(graph.edges)

    root = ET.fromstring(to_svg(graph))
    drawn = {g.get("data-id") for g in root.iter(f"{SVG}g") if "node" in (g.get("class") or "")}
    assert drawn == ids


HOSTILE = """
wfdsl: "1"
name: hostile
start: a
states:
  a:
    type: choice
    choices:
      - when: ${ input.x == '"]]></svg><script>alert(1)</script>' }
        next: b
    default: b
  b:
    type: fail
    error: "E<&>\\"]"
"""


def test_text_from_the_document_is_escaped_in_every_format() -> None:
    graph = build_graph(compiled(HOSTILE))
    svg = to_svg(graph)
    ET.fromstring(svg)  # well-formed despite the label
    assert "<script>" not in svg
    mermaid = to_mermaid(graph)
    # Inside a quoted label, no raw quote can end it.
    for line in mermaid.splitlines()[1:]:
        for label in re.findall(r'\|"(.*?)"\|', line):
            assert '"' not in label
    assert "<script>" not in mermaid
    dot = to_dot(graph)
    assert '\\"' in dot and dot.count("{") == dot.count("}")
    assert json.loads(to_json(graph))["nodes"]


# ------------------------------------------------------------------ layout


def chain_graph(*edges: tuple[str, str]) -> Graph:
    names = sorted({n for e in edges for n in e}, key=lambda n: (n != "s", n))
    return Graph(
        "g",
        tuple(Node(n, n, "task") for n in names),
        tuple(Edge(s, t, "next") for s, t in edges),
    )


def test_back_edges_are_the_ones_closing_a_loop() -> None:
    graph = chain_graph(("s", "a"), ("a", "b"), ("b", "a"), ("b", "c"))
    assert back_edges(graph) == {2}


def overlaps(a: tuple[float, float, float, float], b: tuple[float, float, float, float]) -> bool:
    return a[0] < b[0] + b[2] and b[0] < a[0] + a[2] and a[1] < b[1] + b[3] and b[1] < a[1] + a[3]


@pytest.mark.parametrize("engine", ["builtin", "graphlay"])
def test_layout_places_every_node_without_overlap_and_draws_every_edge(engine: str) -> None:
    if engine == "graphlay":
        pytest.importorskip("graphlay")  # the `layout` extra; CI installs it
    graph = build_graph(compiled(FORK))
    drawing = layout(graph, engine=engine)  # type: ignore[arg-type]
    assert drawing.engine == engine
    assert set(drawing.nodes) == {n.id for n in graph.nodes}
    assert set(drawing.edges) == set(range(len(graph.edges)))
    boxes = list(drawing.nodes.values())
    for i, a in enumerate(boxes):
        assert a[0] >= 0 and a[1] >= 0 and a[0] + a[2] <= drawing.width
        for b in boxes[i + 1 :]:
            assert not overlaps(a, b)
    # Each cluster box holds its nodes, and no node of another scope.
    for cluster in graph.clusters:
        x, y, w, h = drawing.clusters[cluster.id]
        for n in cluster.nodes:
            nx, ny, nw, nh = drawing.nodes[n]
            assert x <= nx and nx + nw <= x + w and y <= ny and ny + nh <= y + h
    outside = [n for n in graph.nodes if n.cluster is None]
    for cluster in graph.clusters:
        if cluster.parent is None:
            for n in outside:
                assert not overlaps(drawing.clusters[cluster.id], drawing.nodes[n.id]), n.id


def test_builtin_layout_goes_top_down_and_draws_loops_upwards() -> None:
    graph = chain_graph(("s", "a"), ("a", "b"), ("b", "a"), ("b", "c"))
    drawing = layout(graph, engine="builtin")
    y = {n: drawing.nodes[n][1] for n in "sabc"}
    assert y["s"] < y["a"] < y["b"] < y["c"]
    loop = drawing.edges[2]
    assert loop[0][1] < y["b"] + 1 and loop[-1][1] > y["a"]  # leaves b's top, enters a's bottom
    assert drawing.back_edges == {2}


def test_builtin_layout_is_deterministic() -> None:
    graph = build_graph(compiled((EXAMPLES / "approval_chain.yaml").read_text(encoding="utf-8")))
    assert layout(graph, engine="builtin") == layout(graph, engine="builtin")


@pytest.mark.parametrize(
    "text",
    [
        pytest.param(
            'wfdsl: "1"\nname: x\nstart: first\nstates:\n  a: {type: succeed}\n', id="start-typo"
        ),
        pytest.param('wfdsl: "1"\nname: x\nstart: a\nstates: {}\n', id="no-states"),
        pytest.param(
            'wfdsl: "1"\nname: x\nstart: a\nstates:\n  a: {type: set, next: nope}\n', id="next-typo"
        ),
    ],
)
def test_a_dangling_target_is_drawn_as_a_missing_node(text: str) -> None:
    workflow, _ = compile_text(text)
    assert workflow is not None
    graph = build_graph(workflow)
    missing = [n for n in graph.nodes if n.type == "missing"]
    assert len(missing) == 1 and missing[0].label.startswith("missing: ")
    placed = layout(graph)
    assert missing[0].id in placed.nodes


def test_a_choice_branch_and_default_that_end_are_edges_to_the_end_node() -> None:
    graph = build_graph(
        compiled("""
wfdsl: "1"
name: maybe
start: route
states:
  route:
    type: choice
    choices:
      - when: ${ input.skip }
        end: true
      - when: ${ input.work }
        next: work
    end: true
  work: {type: task, action: noop, end: true}
""")
    )
    out = {(e.target, e.kind, e.label) for e in graph.edges if e.source == "route"}
    assert out == {
        ("(end)", "choice", "${ input.skip }"),
        ("work", "choice", "${ input.work }"),
        ("(end)", "default", "default"),
    }
    assert 'n1 -->|"default"| n3' in to_mermaid(graph)  # n3: the end node
