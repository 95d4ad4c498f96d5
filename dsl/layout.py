"""Coordinates for a state graph: boxes for nodes and clusters, polylines for edges.

:func:`layout` is what the SVG export and the designer call. It uses
graphlay (the optional ``layout`` extra) when it is installed and otherwise a
small layered layout of our own, in pure Python:

1. back edges: a depth-first search from the start marker, in document order,
   so a loop's edge back to an earlier state is the one drawn upwards;
2. layers: the longest path from the sources over the remaining edges, with
   a dummy node at every layer a long edge crosses;
3. order within a layer: barycentre sweeps, nodes of one cluster (parallel
   branch, map body) kept together;
4. x: each node pulled towards its neighbours' centres, then pushed apart;
5. edges: straight segments through their dummies; back edges on a lane to
   the right of everything they pass.

Deterministic: the same graph gives the same layout, whatever the hash seed.

Both engines then go through the same finishing steps: a container box per
``parallel`` and ``map`` state (its header node, its branches and its join),
edge labels placed beside their edge where they hit no edge, node or other
label (:func:`place_labels`), and user pins (``x-designer`` positions).
"""

from __future__ import annotations

import importlib
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

from .graph import Graph, Node
from .text_metrics import ESTIMATE, TextMetrics

__all__ = [
    "Box",
    "Layout",
    "Point",
    "label_chars",
    "label_size",
    "layout",
    "node_size",
    "place_labels",
]

Box = tuple[float, float, float, float]
"""``(x, y, width, height)``; ``x, y`` is the top-left corner, y grows downwards."""
Point = tuple[float, float]

MARGIN = 20.0
LAYER_GAP = 56.0
NODE_GAP = 28.0
CLUSTER_PAD = 14.0
CLUSTER_HEADER = 16.0
DUMMY_WIDTH = 8.0
# Text widths without a measurement (text_metrics.ESTIMATE): bold 12 px
# state names, a little over DejaVu Sans' widest average; 11 px other text.
CHAR_WIDTH = ESTIMATE.label_other
DETAIL_WIDTH = ESTIMATE.detail_other
DETAIL_CHARS = 40
LABEL_HEIGHT = 15.0
LABEL_PAD = 8.0
LABEL_GAP = 5.0
#: The most edges one node may have (in or out) for graphlay: its router
#: grows steeply with one node's fan-out (100 edges ~0.1 s, 150 ~0.6 s,
#: 400 ~25 s) while it holds the GIL. Past it, the builtin layout.
GRAPHLAY_MAX_DEGREE = 100


@dataclass(frozen=True, slots=True)
class Layout:
    """Where everything goes. ``edges`` is keyed by the edge's index in ``graph.edges``."""

    nodes: Mapping[str, Box]
    edges: Mapping[int, tuple[Point, ...]]
    clusters: Mapping[str, Box]
    width: float
    height: float
    back_edges: frozenset[int] = frozenset()
    engine: str = "builtin"
    labels: Mapping[int, Box] = field(default_factory=dict)
    """Each labelled edge's label box, keyed like ``edges``."""
    containers: Mapping[str, Box] = field(default_factory=dict)
    """For each parallel or map state: the box holding it, its bodies and its join."""
    x: float = 0.0
    y: float = 0.0
    """The drawing's top-left corner (0, 0 unless pinned nodes lie further out)."""
    metrics: TextMetrics = ESTIMATE
    """The text widths the boxes were sized for (the SVG cuts labels by them)."""


def label_size(text: str, metrics: TextMetrics = ESTIMATE) -> tuple[float, float]:
    """The box an edge label needs (11 px text, cut to DETAIL_CHARS)."""
    return metrics.width(text[:DETAIL_CHARS]) + LABEL_PAD, LABEL_HEIGHT


def label_chars(box: Box, text: str | None = None, metrics: TextMetrics = ESTIMATE) -> int:
    """How many characters of a label (``text``, by ``metrics``) fit in its placed box."""
    if text is None or not metrics.detail:
        return max(1, round((box[2] - LABEL_PAD) / metrics.detail_other))
    return max(1, metrics.fits(text, box[2] - LABEL_PAD))


def node_size(node: Node, metrics: TextMetrics = ESTIMATE) -> tuple[float, float]:
    """The box a node needs for its label (and detail line) at 12px text."""
    if node.type in ("start", "end"):
        return 22.0, 22.0
    if node.type == "join":
        return 64.0, 8.0
    width = max(
        metrics.width(node.label, "label"), metrics.width((node.detail or "")[:DETAIL_CHARS])
    )
    if node.type == "choice":  # a diamond: the text sits in its middle half
        return max(110.0, width * 1.5 + 24.0), 46.0
    if node.type in ("parallel", "map"):  # room for the glyph left of the text
        return max(96.0, width + 56.0), (46.0 if node.detail else 32.0)
    return max(96.0, width + 32.0), (46.0 if node.detail else 32.0)


def layout(
    graph: Graph,
    *,
    engine: Literal["auto", "builtin", "graphlay"] = "auto",
    pins: Mapping[str, Point] | None = None,
    keep: Mapping[str, Box] | None = None,
    metrics: TextMetrics | None = None,
) -> Layout:
    """Lay ``graph`` out top to bottom.

    ``engine="auto"`` uses graphlay when it is installed and no node has more
    than :data:`GRAPHLAY_MAX_DEGREE` edges. ``pins`` puts nodes at a
    top-left corner of the user's choosing (the ``x-designer`` positions, in
    the coordinates of the drawing without pins); their edges are drawn
    again, nothing else moves. ``keep`` is the node boxes of the drawing
    this one replaces (the same document before an edit): the states an edit
    did not touch stay where they were (see :func:`_stabilise`).
    ``metrics``: how wide the text is (the browser's own measurement, see
    :mod:`.text_metrics`); without it, an estimate.
    """
    text = metrics or ESTIMATE
    use = engine
    graphlay: Any = None
    if engine != "builtin":
        try:
            graphlay = importlib.import_module("graphlay")
        except ImportError:
            if engine == "graphlay":
                raise
            use = "builtin"
        else:
            if engine == "auto":
                use = "graphlay" if _max_degree(graph) <= GRAPHLAY_MAX_DEGREE else "builtin"
    raw = (
        _with_graphlay(graph, graphlay, text) if use == "graphlay" else _Builtin(graph, text).run()
    )
    return _finish(graph, raw, pins or {}, keep, graphlay if use == "graphlay" else None, text)


def _max_degree(graph: Graph) -> int:
    degree: dict[str, int] = {}
    for e in graph.edges:
        degree[e.source] = degree.get(e.source, 0) + 1
        degree[e.target] = degree.get(e.target, 0) + 1
    return max(degree.values(), default=0)


# ------------------------------------------------------------------ helpers


def back_edges(graph: Graph) -> frozenset[int]:
    """Indices of the edges that close a cycle, found by DFS in document order."""
    out: dict[str, list[int]] = {n.id: [] for n in graph.nodes}
    for i, e in enumerate(graph.edges):
        out[e.source].append(i)
    state: dict[str, int] = {}  # 1 on the stack, 2 done
    back: set[int] = set()
    for root in (n.id for n in graph.nodes):
        if root in state:
            continue
        state[root] = 1
        stack: list[tuple[str, int]] = [(root, 0)]
        while stack:
            node, k = stack[-1]
            if k == len(out[node]):
                state[node] = 2
                stack.pop()
                continue
            stack[-1] = (node, k + 1)
            i = out[node][k]
            target = graph.edges[i].target
            seen = state.get(target)
            if seen == 1:
                back.add(i)
            elif seen is None:
                state[target] = 1
                stack.append((target, 0))
    return frozenset(back)


def _chains(graph: Graph) -> dict[str, tuple[str, ...]]:
    """Each node's clusters, outermost first."""
    parent = {c.id: c.parent for c in graph.clusters}

    def chain(cluster: str | None) -> tuple[str, ...]:
        out: list[str] = []
        while cluster is not None:
            out.append(cluster)
            cluster = parent.get(cluster)
        return tuple(reversed(out))

    return {n.id: chain(n.cluster) for n in graph.nodes}


CONTAINER = "[state]"


@dataclass(frozen=True, slots=True)
class _Group:
    """A box drawn around nodes: a cluster (branch, map body) or a container
    (``[state]`` + a parallel or map state's id)."""

    id: str
    parent: str | None
    nodes: tuple[str, ...]


def _groups(graph: Graph) -> dict[str, _Group]:
    """Clusters and containers with their parents, outermost first.

    A container holds a parallel or map state, its join and its bodies; a
    body's parent is that container, a container's parent the cluster the
    state sits in."""
    owner: dict[str, str] = {}
    cluster_of = {n.id: n.cluster for n in graph.nodes}
    for e in graph.edges:
        if e.kind == "branch":
            body = cluster_of.get(e.target)
            if body is not None:
                owner[body] = e.source
    groups: dict[str, _Group] = {}
    forks = [n for n in graph.nodes if n.type in ("parallel", "map") and n.id in owner.values()]
    members: dict[str | None, list[str]] = {}
    for n in graph.nodes:
        members.setdefault(n.cluster, []).append(n.id)
    in_container: set[str] = set()
    for n in forks:
        join = f"{n.id}/(join)"
        inside = (n.id, join) if join in cluster_of else (n.id,)
        in_container.update(inside)
        groups[CONTAINER + n.id] = _Group(CONTAINER + n.id, n.cluster, inside)
    for c in graph.clusters:
        parent = CONTAINER + owner[c.id] if c.id in owner else c.parent
        nodes = tuple(m for m in members.get(c.id, ()) if m not in in_container)
        groups[c.id] = _Group(c.id, parent, nodes)
    depth: dict[str, int] = {}

    def level(g: str | None) -> int:
        if g is None or g not in groups:
            return 0
        if g not in depth:
            depth[g] = 1 + level(groups[g].parent)
        return depth[g]

    return dict(sorted(groups.items(), key=lambda kv: level(kv[0])))


def _group_boxes(groups: Mapping[str, _Group], nodes: Mapping[str, Box]) -> dict[str, Box]:
    """A box around each group's nodes and inner groups, innermost first."""
    boxes: dict[str, Box] = {}
    children: dict[str | None, list[str]] = {}
    for g in groups.values():
        children.setdefault(g.parent, []).append(g.id)
    for g in reversed(list(groups.values())):
        inside = [nodes[n] for n in g.nodes if n in nodes]
        inside += [boxes[k] for k in children.get(g.id, ()) if k in boxes]
        if not inside:
            continue
        left = min(b[0] for b in inside) - CLUSTER_PAD
        top = min(b[1] for b in inside) - CLUSTER_PAD - CLUSTER_HEADER
        right = max(b[0] + b[2] for b in inside) + CLUSTER_PAD
        bottom = max(b[1] + b[3] for b in inside) + CLUSTER_PAD
        if g.id.startswith(CONTAINER):
            top += CLUSTER_HEADER  # the state itself is the container's header
        boxes[g.id] = (left, top, right - left, bottom - top)
    return boxes


@dataclass(frozen=True, slots=True)
class _Raw:
    """What an engine placed, before the common finishing steps."""

    nodes: dict[str, Box]
    edges: dict[int, tuple[Point, ...]]
    back: frozenset[int]
    engine: str


def _elbow(a: Box, b: Box, right: float) -> tuple[Point, ...]:
    """An orthogonal route from ``a``'s bottom to ``b``'s top, round the right
    of everything when ``b`` is not below ``a``."""
    ax, ay = a[0] + a[2] / 2, a[1] + a[3]
    bx, by = b[0] + b[2] / 2, b[1]
    if by > ay + 2 * LABEL_GAP:
        mid = (ay + by) / 2
        return ((ax, ay), (ax, mid), (bx, mid), (bx, by))
    return ((ax, ay), (ax, ay + 12), (right, ay + 12), (right, by - 12), (bx, by - 12), (bx, by))


def _finish(
    graph: Graph,
    raw: _Raw,
    pins: Mapping[str, Point],
    keep: Mapping[str, Box] | None = None,
    graphlay: Any = None,
    metrics: TextMetrics = ESTIMATE,
) -> Layout:
    """Containers, stability, pins and labels; then everything moved so the
    drawing starts at the margin (unless pins or kept places hold it)."""
    groups = _groups(graph)
    nodes = dict(raw.nodes)
    edges = dict(raw.edges)
    boxes = _group_boxes(groups, nodes)
    dx, dy = _origin_shift([*nodes.values(), *boxes.values()], edges)
    nodes = {k: _moved(b, dx, dy) for k, b in nodes.items()}
    boxes = {k: _moved(b, dx, dy) for k, b in boxes.items()}
    edges = {k: tuple((x + dx, y + dy) for x, y in line) for k, line in edges.items()}
    framed = False
    if keep:
        stable = _stabilise(graph, groups, nodes, edges, keep, graphlay, metrics)
        if stable is not None:
            nodes, edges = stable
            boxes = _group_boxes(groups, nodes)
            framed = True
    moved = {n for n, p in pins.items() if n in nodes}
    if moved:
        for n in moved:
            x, y = pins[n]
            nodes[n] = (float(x), float(y), nodes[n][2], nodes[n][3])
        right = max(b[0] + b[2] for b in nodes.values()) + 2 * LABEL_GAP
        for i, e in enumerate(graph.edges):
            if (e.source in moved or e.target in moved) and e.source != e.target:
                edges[i] = _elbow(nodes[e.source], nodes[e.target], right)
        boxes = _group_boxes(groups, nodes)
    labels = place_labels(graph, nodes, edges, metrics)
    if not moved and not framed:
        # Labels beside the outermost edges may reach past the margin.
        ex, ey = _origin_shift([*nodes.values(), *boxes.values(), *labels.values()], edges)
        nodes = {k: _moved(b, ex, ey) for k, b in nodes.items()}
        boxes = {k: _moved(b, ex, ey) for k, b in boxes.items()}
        labels = {k: _moved(b, ex, ey) for k, b in labels.items()}
        edges = {k: tuple((x + ex, y + ey) for x, y in line) for k, line in edges.items()}
    everything = [*nodes.values(), *boxes.values(), *labels.values()]
    points = [p for line in edges.values() for p in line]
    if everything:
        min_x = min([b[0] for b in everything] + [p[0] for p in points])
        min_y = min([b[1] for b in everything] + [p[1] for p in points])
        max_x = max([b[0] + b[2] for b in everything] + [p[0] for p in points])
        max_y = max([b[1] + b[3] for b in everything] + [p[1] for p in points])
    else:
        min_x = min_y = MARGIN
        max_x = max_y = MARGIN
    # Pins may put a node left of or above the rest: the drawing grows that way.
    x0 = min(0.0, min_x - MARGIN)
    y0 = min(0.0, min_y - MARGIN)

    def r(b: Box) -> Box:
        return (round(b[0], 1), round(b[1], 1), round(b[2], 1), round(b[3], 1))

    return Layout(
        nodes={k: r(b) for k, b in nodes.items()},
        edges={k: tuple((round(x, 1), round(y, 1)) for x, y in line) for k, line in edges.items()},
        clusters={k: r(b) for k, b in boxes.items() if not k.startswith(CONTAINER)},
        width=round(max_x + MARGIN - x0, 1),
        height=round(max_y + MARGIN - y0, 1),
        back_edges=raw.back,
        engine=raw.engine,
        labels={k: r(b) for k, b in labels.items()},
        containers={k[len(CONTAINER) :]: r(b) for k, b in boxes.items() if k.startswith(CONTAINER)},
        x=round(x0, 1),
        y=round(y0, 1),
        metrics=metrics,
    )


def _origin_shift(boxes: list[Box], edges: Mapping[int, tuple[Point, ...]]) -> tuple[float, float]:
    points = [p for line in edges.values() for p in line]
    if not boxes:
        return 0.0, 0.0
    min_x = min([b[0] for b in boxes] + [p[0] for p in points])
    min_y = min([b[1] for b in boxes] + [p[1] for p in points])
    return MARGIN - min_x, MARGIN - min_y


def _moved(b: Box, dx: float, dy: float) -> Box:
    return (b[0] + dx, b[1] + dy, b[2], b[3])


# ---------------------------------------------------------------- stability


def _stabilise(
    graph: Graph,
    groups: Mapping[str, _Group],
    nodes: Mapping[str, Box],
    edges: Mapping[int, tuple[Point, ...]],
    keep: Mapping[str, Box],
    graphlay: Any,
    metrics: TextMetrics = ESTIMATE,
) -> tuple[dict[str, Box], dict[int, tuple[Point, ...]]] | None:
    """The fresh layout ``nodes``/``edges`` made to keep ``keep``'s places.

    The fresh drawing is first moved onto the old one (the median shift of
    the states both have); if that already puts every shared state where it
    was, that is the answer. Otherwise every shared state of the same size
    keeps its old box, each new (or resized) state keeps where the fresh
    layout put it relative to a neighbour that stayed, and a new state that
    lands on others pushes the states below it down, all by the same amount
    (what an insertion in a top-down flow looks like). Edges are routed
    again round the boxes. None when no clean drawing comes out that way
    (states overlapping, a state inside a box it does not belong to): the
    fresh layout then stands.
    """
    shared = [n for n in nodes if n in keep and _same_size(nodes[n], keep[n])]
    if not shared:
        return None
    sx = _median([keep[n][0] - nodes[n][0] for n in shared])
    sy = _median([keep[n][1] - nodes[n][1] for n in shared])
    fresh = {k: _moved(b, sx, sy) for k, b in nodes.items()}
    fresh_edges = {k: tuple((x + sx, y + sy) for x, y in line) for k, line in edges.items()}
    if all(_near(fresh[n], keep[n]) for n in shared):
        # Exactly where they were: "near" is within rounding, and a state
        # a tenth off the drawing before is a state that moved.
        return {k: keep[k] if k in shared else b for k, b in fresh.items()}, fresh_edges
    placed = {n: keep[n] for n in shared}
    anchors: dict[str, list[str]] = {}
    for e in graph.edges:
        anchors.setdefault(e.target, []).append(e.source)
        anchors.setdefault(e.source, []).append(e.target)
    for n, box in fresh.items():
        if n in placed:
            continue
        old = keep.get(n)
        if old is not None:  # resized: same centre, same top
            placed[n] = (old[0] + old[2] / 2 - box[2] / 2, old[1], box[2], box[3])
            continue
        near = next((a for a in anchors.get(n, ()) if a in keep and a in shared), None)
        if near is None:
            placed[n] = box
        else:
            ox, oy = keep[near][0] - fresh[near][0], keep[near][1] - fresh[near][1]
            placed[n] = _moved(box, ox, oy)
    new = [n for n in fresh if n not in keep]
    for _ in range(len(new) + 1):
        clash = _first_clash(placed, new)
        if clash is None:
            break
        n, other = clash
        top = placed[n][1]
        dy = placed[n][1] + placed[n][3] + LAYER_GAP - placed[other][1]
        for k, b in list(placed.items()):
            if k != n and b[1] >= top - 0.5:
                placed[k] = _moved(b, 0.0, dy)
    else:
        return None
    if _first_clash(placed, list(placed)) is not None or not _groups_clean(groups, placed):
        return None
    routed = _route(graph, placed, graphlay, metrics)
    if routed is None:
        return None
    return placed, routed


def _same_size(a: Box, b: Box) -> bool:
    return abs(a[2] - b[2]) < 0.5 and abs(a[3] - b[3]) < 0.5


def _near(a: Box, b: Box) -> bool:
    return abs(a[0] - b[0]) < 0.5 and abs(a[1] - b[1]) < 0.5


def _median(values: list[float]) -> float:
    ordered = sorted(values)
    return ordered[len(ordered) // 2]


def _first_clash(nodes: Mapping[str, Box], movers: list[str]) -> tuple[str, str] | None:
    """A node of ``movers`` overlapping another node (with a little room), if any."""
    room = NODE_GAP / 2
    for n in movers:
        a = nodes[n]
        grown = (a[0] - room, a[1] - room, a[2] + 2 * room, a[3] + 2 * room)
        for other, b in nodes.items():
            if other != n and _overlap(grown, b):
                # Report the one lower down, which is the one to push.
                return (n, other) if b[1] >= a[1] else (other, n)
    return None


def _groups_clean(groups: Mapping[str, _Group], nodes: Mapping[str, Box]) -> bool:
    """No node inside a cluster or container box it does not belong to."""
    boxes = _group_boxes(groups, nodes)
    inside: dict[str, set[str]] = {g: set() for g in groups}
    children: dict[str | None, list[str]] = {}
    for g in groups.values():
        children.setdefault(g.parent, []).append(g.id)

    def members(g: str) -> set[str]:
        if not inside[g]:
            inside[g] = set(groups[g].nodes)
            for c in children.get(g, ()):
                inside[g] |= members(c)
        return inside[g]

    for key, box in boxes.items():
        own = members(key)
        if any(n not in own and _overlap(box, b) for n, b in nodes.items()):
            return False
    return True


def _route(
    graph: Graph, nodes: Mapping[str, Box], graphlay: Any, metrics: TextMetrics = ESTIMATE
) -> dict[int, tuple[Point, ...]] | None:
    """Edges routed round boxes that stay where they are: graphlay's
    ``reroute`` over a flat copy of the graph (it takes no compound nodes),
    else orthogonal elbows."""
    if graphlay is None:
        right = max(b[0] + b[2] for b in nodes.values()) + 2 * LABEL_GAP
        out: dict[int, tuple[Point, ...]] = {}
        for i, e in enumerate(graph.edges):
            if e.source == e.target:
                continue
            out[i] = _elbow(nodes[e.source], nodes[e.target], right)
        return out
    request = graphlay.Graph()
    for n in graph.nodes:
        x, y, w, h = nodes[n.id]
        request.node(n.id, width=w, height=h, position={"x": x + w / 2, "y": y + h / 2})
    for e in graph.edges:
        extra: dict[str, Any] = {}
        if e.label:
            lw, lh = label_size(e.label, metrics)
            extra["label_size"] = {"width": lw + 2 * LABEL_GAP, "height": lh + LABEL_GAP}
        request.edge(e.source, e.target, **extra)
    try:
        result = graphlay.reroute(request, options={"direction": "topbottom"})
    except ValueError:  # graphlay.GraphlayError
        return None
    return {
        i: tuple((p["x"], p["y"]) for p in drawn["points"]) for i, drawn in enumerate(result.edges)
    }


# ------------------------------------------------------------------ labels


class _Grid:
    """Boxes and segments bucketed by cell, for collision tests near a point."""

    CELL = 64.0
    MOST_CELLS = 4096
    HUGE = (1 << 62, 1 << 62)

    def __init__(self) -> None:
        self.boxes: dict[tuple[int, int], list[tuple[Box, object]]] = {}
        self.segments: dict[tuple[int, int], list[tuple[Point, Point, object]]] = {}

    def cells(self, b: Box) -> Iterator[tuple[int, int]]:
        c = self.CELL
        x0, x1 = int(b[0] // c), int((b[0] + b[2]) // c)
        y0, y1 = int(b[1] // c), int((b[1] + b[3]) // c)
        if (x1 - x0 + 1) * (y1 - y0 + 1) > self.MOST_CELLS:
            yield self.HUGE  # one shared cell for whatever spans too many
            return
        for i in range(x0, x1 + 1):
            for j in range(y0, y1 + 1):
                yield i, j

    def add_box(self, b: Box, tag: object) -> None:
        for cell in self.cells(b):
            self.boxes.setdefault(cell, []).append((b, tag))

    def add_segment(self, p: Point, q: Point, tag: object) -> None:
        b = (min(p[0], q[0]), min(p[1], q[1]), abs(q[0] - p[0]), abs(q[1] - p[1]))
        for cell in self.cells(b):
            self.segments.setdefault(cell, []).append((p, q, tag))

    def hits(self, b: Box) -> int:
        seen: set[object] = set()
        count = 0
        for cell in [*self.cells(b), self.HUGE]:
            for other, tag in self.boxes.get(cell, ()):
                if ("box", tag) not in seen and _overlap(b, other):
                    seen.add(("box", tag))
                    count += 1
            for p, q, tag in self.segments.get(cell, ()):
                key = ("edge", tag, p, q)
                if key not in seen and _segment_hits(p, q, b):
                    seen.add(key)
                    count += 1
        return count


def _overlap(a: Box, b: Box) -> bool:
    return a[0] < b[0] + b[2] and b[0] < a[0] + a[2] and a[1] < b[1] + b[3] and b[1] < a[1] + a[3]


def _segment_hits(p: Point, q: Point, b: Box) -> bool:
    """Whether segment p-q passes through box b (Liang-Barsky clipping)."""
    t0, t1 = 0.0, 1.0
    dx, dy = q[0] - p[0], q[1] - p[1]
    for pp, qq in (
        (-dx, p[0] - b[0]),
        (dx, b[0] + b[2] - p[0]),
        (-dy, p[1] - b[1]),
        (dy, b[1] + b[3] - p[1]),
    ):
        if pp == 0:
            if qq < 0:
                return False
            continue
        t = qq / pp
        if pp < 0:
            if t > t1:
                return False
            t0 = max(t0, t)
        else:
            if t < t0:
                return False
            t1 = min(t1, t)
    return True


def _candidates(line: tuple[Point, ...], w: float, h: float) -> Iterator[Box]:
    """Label boxes beside each segment of ``line``, the first segments first,
    nearest the middle of a segment first, then further out."""
    fractions = (0.5, 0.3, 0.7, 0.15, 0.85, *(k / 20 for k in range(1, 20)))
    for step in (0.0, 1.0, 2.5, 5.0, 9.0):
        gap = LABEL_GAP + step * LABEL_GAP * 2
        for k in range(len(line) - 1):
            (ax, ay), (bx, by) = line[k], line[k + 1]
            if abs(bx - ax) < 0.5 and abs(by - ay) < 0.5:
                continue
            vertical = abs(bx - ax) < abs(by - ay)
            for f in fractions:
                x, y = ax + (bx - ax) * f, ay + (by - ay) * f
                if vertical:
                    yield (x + gap, y - h / 2, w, h)
                    yield (x - gap - w, y - h / 2, w, h)
                else:
                    yield (x - w / 2, y - gap - h, w, h)
                    yield (x - w / 2, y + gap, w, h)


def place_labels(
    graph: Graph,
    nodes: Mapping[str, Box],
    edges: Mapping[int, tuple[Point, ...]],
    metrics: TextMetrics = ESTIMATE,
) -> dict[int, Box]:
    """A box for every edge label, beside its edge: the first candidate that
    touches no node, no edge (its own included) and no label placed before;
    failing that, the one that touches fewest."""
    grid = _Grid()
    pad = 2.0
    for n, b in nodes.items():
        grid.add_box((b[0] - pad, b[1] - pad, b[2] + 2 * pad, b[3] + 2 * pad), n)
    for i, drawn in edges.items():
        for k in range(len(drawn) - 1):
            grid.add_segment(drawn[k], drawn[k + 1], i)
    out: dict[int, Box] = {}
    for i, e in enumerate(graph.edges):
        line = edges.get(i)
        if not e.label or not line or len(line) < 2:
            continue
        best: Box | None = None
        best_hits = 1 << 30
        # Full text first; where no spot is clear, a shorter text (the
        # drawing cuts it with an ellipsis and keeps the whole as a tooltip).
        for chars in (DETAIL_CHARS, 22, 12):
            if chars < DETAIL_CHARS and chars >= len(e.label):
                continue
            w, h = label_size(e.label[:chars], metrics)
            for box in _candidates(line, w, h):
                hits = grid.hits(box)
                if hits < best_hits:
                    best, best_hits = box, hits
                    if hits == 0:
                        break
            if best_hits == 0:
                break
        if best is None:  # a line of one point: the label goes beside it
            w, h = label_size(e.label, metrics)
            best = (line[0][0] + LABEL_GAP, line[0][1] - h / 2, w, h)
        out[i] = best
        grid.add_box(best, ("label", i))
    return out


# ----------------------------------------------------------------- graphlay


def _with_graphlay(graph: Graph, graphlay: Any, metrics: TextMetrics = ESTIMATE) -> _Raw:
    request = graphlay.Graph()
    # Clusters and containers are graphlay compound nodes, so it keeps their
    # members together; their ids hold brackets, which no state name can.
    groups = _groups(graph)
    index: dict[str, int] = {}
    for g in groups.values():
        fields = {"parent": index[g.parent]} if g.parent in index else {}
        index[g.id] = request.node(f"[group]{g.id}", label=g.id, **fields)
    home: dict[str, str] = {}
    for g in groups.values():
        for member in g.nodes:
            home[member] = g.id
    for n in graph.nodes:
        w, h = node_size(n, metrics)
        where = home.get(n.id)
        parent = {"parent": index[where]} if where in index else {}
        request.node(n.id, width=w, height=h, label=n.label, **parent)
    for e in graph.edges:
        extra: dict[str, Any] = {}
        if e.label:
            lw, lh = label_size(e.label, metrics)
            extra["label_size"] = {"width": lw + 2 * LABEL_GAP, "height": lh + LABEL_GAP}
        request.edge(e.source, e.target, **extra)
    options = {
        "direction": "topbottom",
        "effort": "fast" if len(graph.nodes) > 150 else "balanced",
        "spacing": {
            "compound_header": CLUSTER_HEADER,
            "compound_padding": CLUSTER_PAD,
            "node_gap": 40.0,
        },
    }
    result = graphlay.layout(request, options=options)

    def box(placed: Mapping[str, Any]) -> Box:
        cx, cy = placed["center"]["x"], placed["center"]["y"]
        w, h = placed["size"]["width"], placed["size"]["height"]
        return (cx - w / 2, cy - h / 2, w, h)

    # Group boxes are drawn tight round their members (by _finish): graphlay's
    # compound boxes keep a spare rank at the top where edges come in.
    placed_nodes = result.nodes[len(groups) :]
    nodes = {n.id: box(p) for n, p in zip(graph.nodes, placed_nodes, strict=True)}
    edges = {
        i: tuple((p["x"], p["y"]) for p in drawn["points"]) for i, drawn in enumerate(result.edges)
    }
    return _Raw(nodes, edges, back_edges(graph), "graphlay")


# ------------------------------------------------------------------ builtin


class _Builtin:
    """The layered layout of the module docstring; ``\0`` starts a dummy's id."""

    def __init__(self, graph: Graph, metrics: TextMetrics = ESTIMATE) -> None:
        self.graph = graph
        self.back = back_edges(graph)
        self.size: dict[str, tuple[float, float]] = {
            n.id: node_size(n, metrics) for n in graph.nodes
        }
        self.chain = _chains(graph)
        self.order_of = {n.id: i for i, n in enumerate(graph.nodes)}
        # Each edge as it points in the layering: back edges reversed, so a
        # loop is laid out like any other edge and drawn against its arrow.
        self.directed = [
            (i, e.target, e.source) if i in self.back else (i, e.source, e.target)
            for i, e in enumerate(graph.edges)
            if e.source != e.target
        ]
        self.adjacent: list[tuple[str, str]] = []

    def run(self) -> _Raw:
        layer = self.assign_layers()
        dummies = self.add_dummies(layer)
        layers = self.order(layer)
        x = self.place_x(layers)
        self.clear_clusters(layers, layer, x)
        y = self.place_y(layers)
        nodes: dict[str, Box] = {}
        for n in self.graph.nodes:
            w, h = self.size[n.id]
            nodes[n.id] = (x[n.id] - w / 2, y[layer[n.id]], w, h)
        edges = self.route(nodes, dummies, x, y, layer)
        return _Raw(nodes, edges, self.back, "builtin")

    def assign_layers(self) -> dict[str, int]:
        incoming: dict[str, int] = {n.id: 0 for n in self.graph.nodes}
        out: dict[str, list[str]] = {n.id: [] for n in self.graph.nodes}
        for _, s, t in self.directed:
            incoming[t] += 1
            out[s].append(t)
        layer = {n.id: 0 for n in self.graph.nodes}
        ready = [n.id for n in self.graph.nodes if incoming[n.id] == 0]
        while ready:
            node = ready.pop(0)
            for t in out[node]:
                layer[t] = max(layer[t], layer[node] + 1)
                incoming[t] -= 1
                if incoming[t] == 0:
                    ready.append(t)
        return layer

    def add_dummies(self, layer: dict[str, int]) -> dict[int, list[str]]:
        """A dummy node per layer crossed by a long edge, listed per edge top-down."""
        dummies: dict[int, list[str]] = {}
        for i, s, t in self.directed:
            chain: list[str] = []
            previous = s
            common = _common(self.chain[s], self.chain[t])
            for k in range(layer[s] + 1, layer[t]):
                d = f"\0{i}/{k}"
                layer[d] = k
                self.size[d] = (DUMMY_WIDTH, 0.0)
                self.chain[d] = common
                self.order_of[d] = self.order_of[s]
                chain.append(d)
                self.adjacent.append((previous, d))
                previous = d
            self.adjacent.append((previous, t))
            dummies[i] = chain
        return dummies

    def neighbours(self) -> tuple[dict[str, list[str]], dict[str, list[str]]]:
        up: dict[str, list[str]] = {n: [] for n in self.size}
        down: dict[str, list[str]] = {n: [] for n in self.size}
        for s, t in self.adjacent:
            down[s].append(t)
            up[t].append(s)
        return up, down

    def order(self, layer: dict[str, int]) -> list[list[str]]:
        depth = max(layer.values(), default=-1) + 1
        layers: list[list[str]] = [[] for _ in range(depth)]
        for node in sorted(layer, key=lambda n: self.order_of[n]):
            layers[layer[node]].append(node)
        up, down = self.neighbours()
        for sweep in range(8):
            downwards = sweep % 2 == 0
            rows = range(1, depth) if downwards else range(depth - 2, -1, -1)
            for r in rows:
                fixed = layers[r - 1] if downwards else layers[r + 1]
                pos = {n: i for i, n in enumerate(fixed)}
                layers[r] = self.sorted_row(layers[r], up if downwards else down, pos)
        return layers

    def sorted_row(
        self, row: list[str], neighbours: dict[str, list[str]], pos: dict[str, int]
    ) -> list[str]:
        bary: dict[str, float] = {}
        for i, n in enumerate(row):
            near = [pos[m] for m in neighbours[n] if m in pos]
            bary[n] = sum(near) / len(near) if near else float(i)
        # Keep each cluster together: compare by the mean of the cluster's
        # members in this row at every level of nesting, then by the node's own.
        totals: dict[str, list[float]] = {}
        for n in row:
            for c in self.chain[n]:
                totals.setdefault(c, []).append(bary[n])
        mean = {c: sum(v) / len(v) for c, v in totals.items()}
        levels = max((len(self.chain[n]) for n in row), default=0)

        def key(n: str) -> tuple[tuple[float, str], ...]:
            # A node outside a cluster sorts by its own barycentre at that
            # level, so it may sit on either side of the cluster, not inside.
            chain = self.chain[n]
            return (
                *(
                    (mean[chain[k]], chain[k]) if k < len(chain) else (bary[n], "")
                    for k in range(levels)
                ),
                (bary[n], n),
            )

        return sorted(row, key=key)

    def gap(self, a: str, b: str) -> float:
        ca, cb = self.chain[a], self.chain[b]
        shared = len(_common(ca, cb))
        return NODE_GAP + CLUSTER_PAD * ((len(ca) - shared) + (len(cb) - shared))

    def place_x(self, layers: list[list[str]]) -> dict[str, float]:
        x: dict[str, float] = {}
        for row in layers:
            left = 0.0
            for n in row:
                w = self.size[n][0]
                x[n] = left + w / 2
                left += w + NODE_GAP
        up, down = self.neighbours()
        for sweep in range(8):
            neighbours = up if sweep % 2 == 0 else down
            rows = layers if sweep % 2 == 0 else list(reversed(layers))
            for row in rows:
                want = [
                    sum(x[m] for m in neighbours[n]) / len(neighbours[n]) if neighbours[n] else x[n]
                    for n in row
                ]
                x.update(zip(row, self.pack(row, want), strict=True))
        return x

    def pack(self, row: list[str], want: list[float]) -> list[float]:
        """Centres as close to ``want`` as the order and the gaps allow."""
        half = [self.size[n][0] / 2 for n in row]
        need = [half[i - 1] + half[i] + self.gap(row[i - 1], row[i]) for i in range(1, len(row))]
        left = list(want)
        for i in range(1, len(row)):
            left[i] = max(left[i], left[i - 1] + need[i - 1])
        right = list(want)
        for i in range(len(row) - 2, -1, -1):
            right[i] = min(right[i], right[i + 1] - need[i])
        mid = [(a + b) / 2 for a, b in zip(left, right, strict=True)]
        for i in range(1, len(row)):
            mid[i] = max(mid[i], mid[i - 1] + need[i - 1])
        return mid

    def clear_clusters(
        self, layers: list[list[str]], layer: dict[str, int], x: dict[str, float]
    ) -> None:
        """Push nodes that are not in a cluster out of its box, row by row.

        A cluster's box spans every row of its members at the width of its
        widest row, so a neighbour that is clear of the members of its own row
        may still sit inside the box."""
        parent = {c.id: c.parent for c in self.graph.clusters}

        def depth(cluster: str | None) -> int:
            return 0 if cluster is None else 1 + depth(parent.get(cluster))

        for cluster in sorted(self.graph.clusters, key=lambda c: -depth(c.id)):
            inside = [n for n in x if cluster.id in self.chain[n]]
            if not inside:
                continue
            nested = max(len(self.chain[n]) for n in inside) - depth(cluster.id)
            pad = CLUSTER_PAD * (1 + nested)
            left = min(x[n] - self.size[n][0] / 2 for n in inside) - pad
            right = max(x[n] + self.size[n][0] / 2 for n in inside) + pad
            rows = {layer[n] for n in inside}
            for r in range(min(rows), max(rows) + 1):
                row = layers[r]
                members = [i for i, n in enumerate(row) if cluster.id in self.chain[n]]
                if not members:
                    continue
                before, after = row[: members[0]], row[members[-1] + 1 :]
                if before:
                    last = before[-1]
                    overlap = x[last] + self.size[last][0] / 2 + NODE_GAP / 2 - left
                    if overlap > 0:
                        for n in before:
                            x[n] -= overlap
                if after:
                    first = after[0]
                    overlap = right - (x[first] - self.size[first][0] / 2 - NODE_GAP / 2)
                    if overlap > 0:
                        for n in after:
                            x[n] += overlap

    def place_y(self, layers: list[list[str]]) -> list[float]:
        y: list[float] = []
        top = 0.0
        for row in layers:
            height = max((self.size[n][1] for n in row), default=0.0)
            y.append(top)
            top += height + LAYER_GAP
        return y

    def route(
        self,
        nodes: Mapping[str, Box],
        dummies: Mapping[int, list[str]],
        x: Mapping[str, float],
        y: Sequence[float],
        layer: Mapping[str, int],
    ) -> dict[int, tuple[Point, ...]]:
        """Straight segments from a bottom port through the dummies to a top port
        (for a back edge: top of its source to bottom of its target)."""
        # Ports along each side, ordered by where the edge goes, so edges
        # leaving one node do not cross right at the node.
        bottom: dict[str, list[tuple[float, int]]] = {}
        top: dict[str, list[tuple[float, int]]] = {}
        for i, s, t in self.directed:
            chain = dummies[i]
            below = x[chain[0]] if chain else x[t]
            above = x[chain[-1]] if chain else x[s]
            bottom.setdefault(s, []).append((below, i))
            top.setdefault(t, []).append((above, i))

        def port(node: str, i: int, side: dict[str, list[tuple[float, int]]]) -> float:
            bx, _, w, _ = nodes[node]
            ordered = sorted(side[node])
            k = next(j for j, (_, edge) in enumerate(ordered) if edge == i)
            return bx + w * (k + 1) / (len(ordered) + 1)

        edges: dict[int, tuple[Point, ...]] = {}
        for i, s, t in self.directed:
            _, sy, _, sh = nodes[s]
            _, ty, _, _ = nodes[t]
            via = [(x[d], y[layer[d]]) for d in dummies[i]]
            line = [(port(s, i, bottom), sy + sh), *via, (port(t, i, top), ty)]
            edges[i] = tuple(reversed(line)) if i in self.back else tuple(line)
        for i, e in enumerate(self.graph.edges):
            if e.source == e.target:
                bx, by, w, h = nodes[e.source]
                r = bx + w
                edges[i] = (
                    (r, by + h / 3),
                    (r + 16, by + h / 3),
                    (r + 16, by + 2 * h / 3),
                    (r, by + 2 * h / 3),
                )
        return edges


def _common(a: tuple[str, ...], b: tuple[str, ...]) -> tuple[str, ...]:
    n = 0
    while n < min(len(a), len(b)) and a[n] == b[n]:
        n += 1
    return a[:n]
