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
"""

from __future__ import annotations

import importlib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Literal

from .graph import Graph, Node

__all__ = ["Box", "Layout", "Point", "layout", "node_size"]

Box = tuple[float, float, float, float]
"""``(x, y, width, height)``; ``x, y`` is the top-left corner, y grows downwards."""
Point = tuple[float, float]

MARGIN = 20.0
LAYER_GAP = 56.0
NODE_GAP = 28.0
CLUSTER_PAD = 14.0
CLUSTER_HEADER = 16.0
DUMMY_WIDTH = 8.0
CHAR_WIDTH = 7.0
DETAIL_CHARS = 40


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


def node_size(node: Node) -> tuple[float, float]:
    """The box a node needs for its label (and detail line) at 12px text."""
    if node.type in ("start", "end"):
        return 22.0, 22.0
    if node.type == "join":
        return 64.0, 8.0
    chars = max(len(node.label), min(len(node.detail or ""), DETAIL_CHARS))
    return max(90.0, CHAR_WIDTH * chars + 28.0), (44.0 if node.detail else 30.0)


def layout(graph: Graph, *, engine: Literal["auto", "builtin", "graphlay"] = "auto") -> Layout:
    """Lay ``graph`` out top to bottom. ``engine="auto"`` uses graphlay when installed."""
    if engine != "builtin":
        try:
            graphlay = importlib.import_module("graphlay")
        except ImportError:
            if engine == "graphlay":
                raise
        else:
            return _with_graphlay(graph, graphlay)
    return _Builtin(graph).run()


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


def _cluster_boxes(graph: Graph, nodes: Mapping[str, Box]) -> dict[str, Box]:
    """Boxes around each cluster's nodes and inner clusters, innermost first."""
    chains = _chains(graph)
    boxes: dict[str, Box] = {}
    for cluster in sorted(
        graph.clusters, key=lambda c: -len(chains.get(c.id, ())) - c.id.count("/")
    ):
        inside = [nodes[n] for n, ch in chains.items() if cluster.id in ch and n in nodes]
        inside += [boxes[c.id] for c in graph.clusters if c.parent == cluster.id and c.id in boxes]
        if not inside:
            continue
        left = min(b[0] for b in inside) - CLUSTER_PAD
        top = min(b[1] for b in inside) - CLUSTER_PAD - CLUSTER_HEADER
        right = max(b[0] + b[2] for b in inside) + CLUSTER_PAD
        bottom = max(b[1] + b[3] for b in inside) + CLUSTER_PAD
        boxes[cluster.id] = (left, top, right - left, bottom - top)
    return boxes


def _finish(
    graph: Graph,
    nodes: dict[str, Box],
    edges: dict[int, tuple[Point, ...]],
    back: frozenset[int],
    engine: str,
    clusters: dict[str, Box] | None = None,
) -> Layout:
    """Add cluster boxes (unless the engine gave them) and move everything so
    the drawing starts at the margin."""
    if clusters is None:
        clusters = _cluster_boxes(graph, nodes)
    boxes = [*nodes.values(), *clusters.values()]
    points = [p for line in edges.values() for p in line]
    if not boxes:
        return Layout({}, {}, {}, 2 * MARGIN, 2 * MARGIN, back, engine)
    min_x = min([b[0] for b in boxes] + [p[0] for p in points])
    min_y = min([b[1] for b in boxes] + [p[1] for p in points])
    max_x = max([b[0] + b[2] for b in boxes] + [p[0] for p in points])
    max_y = max([b[1] + b[3] for b in boxes] + [p[1] for p in points])
    dx, dy = MARGIN - min_x, MARGIN - min_y

    def move(b: Box) -> Box:
        return (round(b[0] + dx, 1), round(b[1] + dy, 1), round(b[2], 1), round(b[3], 1))

    return Layout(
        nodes={k: move(b) for k, b in nodes.items()},
        edges={
            k: tuple((round(x + dx, 1), round(y + dy, 1)) for x, y in line)
            for k, line in edges.items()
        },
        clusters={k: move(b) for k, b in clusters.items()},
        width=round(max_x - min_x + 2 * MARGIN, 1),
        height=round(max_y - min_y + 2 * MARGIN, 1),
        back_edges=back,
        engine=engine,
    )


# ----------------------------------------------------------------- graphlay


def _with_graphlay(graph: Graph, graphlay: Any) -> Layout:
    request = graphlay.Graph()
    # Clusters are graphlay compound nodes, so it keeps their members
    # together; their ids hold brackets, which no state name can.
    index: dict[str, int] = {}
    for c in graph.clusters:
        fields = {"parent": index[c.parent]} if c.parent in index else {}
        index[c.id] = request.node(f"[cluster]{c.id}", label=c.label, **fields)
    for n in graph.nodes:
        w, h = node_size(n)
        fields = {"parent": index[n.cluster]} if n.cluster in index else {}
        request.node(n.id, width=w, height=h, label=n.label, **fields)
    for e in graph.edges:
        request.edge(e.source, e.target)
    options = {
        "direction": "topbottom",
        "effort": "fast" if len(graph.nodes) > 150 else "balanced",
        "spacing": {"compound_header": CLUSTER_HEADER, "compound_padding": CLUSTER_PAD},
    }
    result = graphlay.layout(request, options=options)

    def box(placed: Mapping[str, Any]) -> Box:
        cx, cy = placed["center"]["x"], placed["center"]["y"]
        w, h = placed["size"]["width"], placed["size"]["height"]
        return (cx - w / 2, cy - h / 2, w, h)

    clusters = {c.id: box(result.nodes[index[c.id]]) for c in graph.clusters}
    placed_nodes = result.nodes[len(graph.clusters) :]
    nodes = {n.id: box(p) for n, p in zip(graph.nodes, placed_nodes, strict=True)}
    edges = {
        i: tuple((p["x"], p["y"]) for p in drawn["points"]) for i, drawn in enumerate(result.edges)
    }
    return _finish(graph, nodes, edges, back_edges(graph), "graphlay", clusters)


# ------------------------------------------------------------------ builtin


class _Builtin:
    """The layered layout of the module docstring; ``\0`` starts a dummy's id."""

    def __init__(self, graph: Graph) -> None:
        self.graph = graph
        self.back = back_edges(graph)
        self.size: dict[str, tuple[float, float]] = {n.id: node_size(n) for n in graph.nodes}
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

    def run(self) -> Layout:
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
        return _finish(self.graph, nodes, edges, self.back, "builtin")

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
