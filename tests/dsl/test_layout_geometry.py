"""Layout quality measured by geometry, not by eye: over every example and
generated documents of 50, 100 and 200 states, no edge label lies on an edge,
a node or another label, no two nodes overlap, and parallel and map states
are containers that hold their branches and their join. The browser test
(tests/designer/browser/test_browser_graph.py) measures the same on what
Chromium draws, with real text widths and the on-screen text size."""

from __future__ import annotations

import itertools
from pathlib import Path

import pytest
from layout_corpus import generated_workflow
from wfdsl.dsl.api import compile_text
from wfdsl.dsl.graph import Graph, build_graph
from wfdsl.dsl.layout import Box, Layout, layout
from wfdsl.dsl.text_metrics import ESTIMATE, TextMetrics, parse_metrics

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"
DOCUMENTS = {p.name: p for p in sorted(EXAMPLES.glob("*.yaml"))}
SIZES = (50, 100, 200)
#: What Chromium measured for the graph's font here (the wfdsl_text cookie,
#: tests/designer/browser/test_browser_graph.py writes it to the artifacts):
#: the layout is checked with the widths a browser sends, and the estimate.
MEASURED = parse_metrics(
    (Path(__file__).parent / "chromium_text_metrics.txt").read_text(encoding="utf-8").strip()
)
assert MEASURED is not None
METRICS = [pytest.param(ESTIMATE, id="estimate"), pytest.param(MEASURED, id="chromium")]


def text_of(name: str) -> str:
    if name in DOCUMENTS:
        return DOCUMENTS[name].read_text(encoding="utf-8")
    return generated_workflow(int(name.removeprefix("generated_")))


def graph_of(name: str) -> Graph:
    workflow, findings = compile_text(text_of(name), name)
    assert workflow is not None, [f.format() for f in findings]
    return build_graph(workflow)


def overlap(a: Box, b: Box) -> bool:
    return a[0] < b[0] + b[2] and b[0] < a[0] + a[2] and a[1] < b[1] + b[3] and b[1] < a[1] + a[3]


def crosses(p: tuple[float, float], q: tuple[float, float], b: Box) -> bool:
    """Whether the axis-parallel or slanted segment p-q passes through box b
    (sampled every 2 units: exact enough for boxes at least 10 units tall)."""
    steps = max(1, int(max(abs(q[0] - p[0]), abs(q[1] - p[1])) / 2))
    for k in range(steps + 1):
        x = p[0] + (q[0] - p[0]) * k / steps
        y = p[1] + (q[1] - p[1]) * k / steps
        if b[0] < x < b[0] + b[2] and b[1] < y < b[1] + b[3]:
            return True
    return False


def shrink(b: Box, d: float = 1.0) -> Box:
    return (b[0] + d, b[1] + d, b[2] - 2 * d, b[3] - 2 * d)


def overlaps(graph: Graph, drawing: Layout) -> dict[str, int]:
    labels = {i: shrink(b) for i, b in drawing.labels.items()}
    nodes = list(drawing.nodes.values())
    segments = [
        (line[k], line[k + 1]) for line in drawing.edges.values() for k in range(len(line) - 1)
    ]
    return {
        "label_edge": sum(any(crosses(p, q, b) for p, q in segments) for b in labels.values()),
        "label_node": sum(any(overlap(b, n) for n in nodes) for b in labels.values()),
        "label_label": sum(overlap(a, b) for a, b in itertools.combinations(labels.values(), 2)),
        "node_node": sum(
            overlap(shrink(a), shrink(b)) for a, b in itertools.combinations(nodes, 2)
        ),
    }


NAMES = [*DOCUMENTS, *(f"generated_{n}" for n in SIZES)]


@pytest.mark.parametrize("metrics", METRICS)
@pytest.mark.parametrize("name", NAMES)
def test_no_label_or_node_overlaps_anything(name: str, metrics: TextMetrics) -> None:
    graph = graph_of(name)
    drawing = layout(graph, metrics=metrics)
    assert drawing.engine == "graphlay"  # a real layered layout at every size
    labelled = {i for i, e in enumerate(graph.edges) if e.label}
    assert set(drawing.labels) == labelled
    assert overlaps(graph, drawing) == dict.fromkeys(
        ("label_edge", "label_node", "label_label", "node_node"), 0
    )


@pytest.mark.parametrize("name", NAMES)
def test_parallel_and_map_states_hold_their_branches_and_join(name: str) -> None:
    graph = graph_of(name)
    drawing = layout(graph)
    forks = [n for n in graph.nodes if n.type in ("parallel", "map")]
    assert set(drawing.containers) == {n.id for n in forks}
    for fork in forks:
        box = drawing.containers[fork.id]
        inside = [fork.id, f"{fork.id}/(join)"]
        inside += [
            m
            for c in graph.clusters
            if c.id == fork.id or c.id.startswith(fork.id + "/")
            for m in c.nodes
        ]
        for member in inside:
            n = drawing.nodes[member]
            assert box[0] <= n[0] and n[0] + n[2] <= box[0] + box[2], (fork.id, member)
            assert box[1] <= n[1] and n[1] + n[3] <= box[1] + box[3], (fork.id, member)
        # The state heads its container; the join closes it.
        header, join = drawing.nodes[fork.id], drawing.nodes[f"{fork.id}/(join)"]
        assert all(drawing.nodes[m][1] >= header[1] for m in inside)
        assert all(drawing.nodes[m][1] <= join[1] for m in inside)
        outside = [
            n.id for n in graph.nodes if n.id not in inside and not n.id.startswith(fork.id + "/")
        ]
        for other in outside:
            assert not overlap(shrink(box), drawing.nodes[other]), (fork.id, other)


def test_each_state_type_is_drawn_in_its_own_shape_and_colour() -> None:
    from wfdsl.dsl.svg import _shape

    box = (0.0, 0.0, 120.0, 40.0)
    kinds = ["task", "subflow", "choice", "wait", "parallel", "map", "set", "emit"]
    kinds += ["compensate", "succeed", "fail"]
    drawn = {k: "".join(_shape(k, box)) for k in kinds}
    assert len(set(drawn.values())) == len(kinds)
    fills = {k: v.split('fill="', 1)[1].split('"', 1)[0] for k, v in drawn.items()}
    assert len({fills["parallel"], fills["map"], fills["succeed"]}) == 3


def test_pins_move_only_the_pinned_node_and_its_edges() -> None:
    graph = graph_of("order_saga.yaml")
    free = layout(graph)
    state = next(n.id for n in graph.state_nodes())
    x, y = free.nodes[state][0] + 400, free.nodes[state][1] + 30
    pinned = layout(graph, pins={state: (x, y)})
    assert pinned.nodes[state][:2] == (x, y)
    assert {k: b for k, b in pinned.nodes.items() if k != state} == {
        k: b for k, b in free.nodes.items() if k != state
    }
    touching = {i for i, e in enumerate(graph.edges) if state in (e.source, e.target)}
    for i, line in pinned.edges.items():
        if i not in touching:
            assert line == free.edges[i]
    # Edges leave and reach the pinned node where it now is.
    for i in touching:
        e, line = graph.edges[i], pinned.edges[i]
        end = line[0] if e.source == state else line[-1]
        bx, by, bw, bh = pinned.nodes[state]
        assert bx <= end[0] <= bx + bw and by - 0.1 <= end[1] <= by + bh + 0.1


INSERTS = [
    ("order_saga.yaml", "reserve_inventory"),
    ("approval_chain.yaml", "acknowledge"),
    ("signup.yaml", "send_verification"),
    ("map_fanout.yaml", "summarize"),
    ("api_orchestration.yaml", "call_a"),
    ("refund_approval.yaml", None),
]


@pytest.mark.parametrize(("name", "after"), INSERTS)
def test_an_added_state_leaves_the_others_where_they_were(name: str, after: str | None) -> None:
    from wfdsl.designer.edits import apply_edit

    text = text_of(name)
    if after is None:  # the middle state of the document
        states = [n.id for n in graph_of(name).state_nodes() if "/" not in n.id]
        after = states[len(states) // 2]
    edited = apply_edit(text, {"op": "add_state", "type": "task", "after": after})
    before_graph, (after_workflow, _) = graph_of(name), compile_text(edited, name)
    assert after_workflow is not None
    after_graph = build_graph(after_workflow)
    before = layout(before_graph)
    kept = layout(after_graph, keep=before.nodes)
    (added,) = {n.id for n in after_graph.nodes} - set(before.nodes)
    top = kept.nodes[added][1]
    for node, box in before.nodes.items():
        now = kept.nodes[node]
        assert now[0] == box[0], node  # no state moves sideways
        if box[1] < top:
            assert now == box, node  # above the new state: exactly where it was
        else:
            assert now[1] >= box[1], node  # below it: pushed down, if at all
    # Everything below moved by one amount: the arrangement stays.
    shifts = {kept.nodes[n][1] - b[1] for n, b in before.nodes.items() if b[1] >= top}
    assert len(shifts) <= 1, shifts
    assert overlaps(after_graph, kept) == dict.fromkeys(
        ("label_edge", "label_node", "label_label", "node_node"), 0
    )
    # A fresh layout (Tidy) is the plain one.
    assert layout(after_graph, keep=None) == layout(after_graph)


def test_a_pin_far_away_is_drawn_and_one_past_any_drawing_is_ignored() -> None:
    import json

    from wfdsl.designer.edits import apply_edit
    from wfdsl.designer.view import document_view

    text = text_of("signup.yaml")
    for x, drawn in ((999_999.0, True), (1e300, False)):
        moved = apply_edit(text, {"op": "move", "state": "remind", "x": x, "y": x})
        view = document_view(moved)
        json.dumps(view, allow_nan=False)  # a finite drawing, every number JSON
        assert (view["layout"]["nodes"]["remind"]["x"] == x) is drawn
        assert len(view["layout"]["edges"]) == len(view["graph"]["edges"])
