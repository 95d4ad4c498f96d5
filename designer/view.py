"""What the editor shows for one document: findings, graph, layout and SVG.

:func:`document_view` is the ``View`` of designer/API.md. It is built from
the text alone (no file, no store), so validate, edit, save and the run page
all answer with the same shape. While the text does not load there is no
graph; the page keeps the last good one.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Mapping
from typing import Any

from wfdsl.dsl.api import compile_text
from wfdsl.dsl.findings import Finding, format_path, has_errors
from wfdsl.dsl.graph import Graph, build_graph
from wfdsl.dsl.layout import Box, Layout, Point, layout
from wfdsl.dsl.loader import parse_document
from wfdsl.dsl.source import SourceMap
from wfdsl.dsl.svg import to_svg
from wfdsl.dsl.text_metrics import TextMetrics

from .edits import state_slots

__all__ = ["document_view", "graph_json", "render"]


def render(
    graph: Graph,
    pins: Mapping[str, Any] | None = None,
    keep: Mapping[str, Box] | None = None,
    metrics: TextMetrics | None = None,
) -> tuple[Layout, str]:
    """Layout (with pinned positions applied) and inline SVG (no XML prolog).

    graphlay lays out graphs of every size; only a node with more than
    ``GRAPHLAY_MAX_DEGREE`` edges (a 150-way choice) sends the graph to the
    builtin layout, since graphlay's native call holds the GIL for seconds
    on such a fan-out."""
    drawing = layout(graph, pins=_valid_pins(pins or {}), keep=keep, metrics=metrics)
    svg = to_svg(graph, drawing)
    if svg.startswith("<?xml"):
        svg = svg.split("\n", 1)[1]
    return drawing, svg


#: Pins further out than this are ignored: no drawing is that large, and a
#: pin at 1e300 would make the drawing's size infinite.
PIN_LIMIT = 1_000_000.0


def _valid_pins(pins: Mapping[str, Any]) -> dict[str, Point]:
    """The ``[x, y]`` pairs of numbers among the document's positions."""
    out: dict[str, Point] = {}
    for node_id, point in pins.items():
        if not isinstance(node_id, str) or not isinstance(point, list | tuple) or len(point) != 2:
            continue
        x, y = point
        if all(
            isinstance(v, int | float) and not isinstance(v, bool) and abs(v) <= PIN_LIMIT
            for v in (x, y)
        ):
            out[node_id] = (float(x), float(y))
    return out


def _spans(source: SourceMap, paths: set[tuple[str | int, ...]]) -> dict[Any, dict[str, int]]:
    """First and last YAML line of each node in ``paths``: from its key to the
    last line any node under it starts or (scalars) ends on. A block
    mapping's own end mark sits on the next key, past blank and comment
    lines, so it is not used."""
    lines: dict[tuple[str | int, ...], list[int]] = {}
    parents = {path[:-1] for path in source if path}
    for path in source:
        span = source.node(path)
        if span is None:
            continue
        first = span.key.line if span.key is not None else span.value.line
        last = span.value.line
        leaf = path not in parents
        if leaf and span.value.end_line is not None and (span.value.end_col or 1) > 1:
            last = max(last, span.value.end_line)
        for k in range(len(path), 0, -1):
            prefix = path[:k]
            if prefix in paths:
                have = lines.get(prefix)
                if have is None:
                    lines[prefix] = [first, last]
                else:
                    have[0], have[1] = min(have[0], first), max(have[1], last)
    return {p: {"line": a, "end_line": b} for p, (a, b) in lines.items()}


def graph_json(
    graph: Graph,
    drawing: Layout,
    *,
    data: Any = None,
    source: SourceMap | None = None,
    findings: list[Finding] | None = None,
) -> tuple[dict[str, Any], dict[str, Any]]:
    """The graph and layout parts of a View (API.md)."""
    # Findings at or under each path (a node's badge counts those under its
    # state): every prefix of a finding's path, so each node is one lookup.
    counts: dict[tuple[str | int, ...], int] = {}
    for f in findings or ():
        if f.severity in ("error", "warning"):
            for end in range(1, len(f.path) + 1):
                counts[f.path[:end]] = counts.get(f.path[:end], 0) + 1
    spans = _spans(source, {n.path for n in graph.state_nodes()}) if source is not None else {}
    nodes = []
    for n in graph.nodes:
        badge = counts.get(tuple(n.path), 0) if n.path else 0
        if n.type in ("start", "end", "join"):
            badge = 0
        nodes.append(
            {
                "id": n.id,
                "label": n.label,
                "type": n.type,
                "path": list(n.path),
                "json_path": format_path(n.path),
                "span": spans.get(n.path) if n.type not in ("start", "end", "join") else None,
                "cluster": n.cluster,
                "detail": n.detail,
                "findings": badge,
            }
        )
    addresses = _edge_addresses(graph, data)
    edges = [
        {
            "id": i,
            "source": e.source,
            "target": e.target,
            "kind": e.kind,
            "label": e.label,
            "back": i in drawing.back_edges,
            "edit": addresses.get(i),
        }
        for i, e in enumerate(graph.edges)
    ]
    clusters = [
        {"id": c.id, "label": c.label, "kind": c.kind, "parent": c.parent, "nodes": list(c.nodes)}
        for c in graph.clusters
    ]

    def box(b: Box) -> dict[str, float]:
        return {"x": b[0], "y": b[1], "w": b[2], "h": b[3]}

    placed = {
        "x": drawing.x,
        "y": drawing.y,
        "width": drawing.width,
        "height": drawing.height,
        "engine": drawing.engine,
        "nodes": {k: box(b) for k, b in drawing.nodes.items()},
        "edges": [
            {
                "id": i,
                "points": [list(p) for p in pts],
                **({"label": box(drawing.labels[i])} if i in drawing.labels else {}),
            }
            for i, pts in drawing.edges.items()
        ],
        "clusters": {k: box(b) for k, b in drawing.clusters.items()},
        "containers": {k: box(b) for k, b in drawing.containers.items()},
    }
    return (
        {"name": graph.name, "nodes": nodes, "edges": edges, "clusters": clusters},
        placed,
    )


def _edge_addresses(graph: Graph, data: Any) -> dict[int, dict[str, str]]:
    """For each edge a ``connect`` op can move: ``{"state": thread path, "edge": address}``.

    Walks each state's references in the order dsl/graph.py emits its edges,
    so the n-th reference of a state is its n-th non-synthetic edge.
    """
    if not isinstance(data, Mapping):
        return {}
    out: dict[int, dict[str, str]] = {}
    by_state: dict[str, list[int]] = {}
    for i, e in enumerate(graph.edges):
        if e.kind in ("next", "choice", "default", "catch", "wait"):
            owner = e.source.removesuffix("/(join)") if e.kind == "next" else e.source
            by_state.setdefault(owner, []).append(i)
    for node in graph.state_nodes():
        state = _at(data, node.path)
        slots = [address for address, (holder, key) in state_slots(state) if holder.get(key)]
        for index, address in zip(by_state.get(node.id, ()), slots, strict=False):
            out[index] = {"state": node.id, "edge": address}
    return out


def _at(data: Any, path: tuple[str | int, ...]) -> Any:
    for part in path:
        try:
            data = data[part]
        except (KeyError, IndexError, TypeError):
            return None
    return data


def pins_of(data: Any) -> Mapping[str, Any]:
    block = data.get("x-designer") if isinstance(data, Mapping) else None
    positions = block.get("positions") if isinstance(block, Mapping) else None
    return positions if isinstance(positions, Mapping) else {}


#: The last drawing of each file (its node boxes), so the next view of the
#: same file (after an edit, while typing) keeps the states it did not touch
#: where they were. A few files' worth: one editor rarely has more open.
_LAST: OrderedDict[str, Mapping[str, Box]] = OrderedDict()
_LAST_FILES = 32
_LAST_LOCK = threading.Lock()


def _last_drawing(file: str | None, fresh: bool) -> Mapping[str, Box] | None:
    if file is None or fresh:
        return None
    with _LAST_LOCK:
        return _LAST.get(file)


def _remember(file: str | None, drawing: Layout) -> None:
    if file is None:
        return
    with _LAST_LOCK:
        _LAST[file] = drawing.nodes
        _LAST.move_to_end(file)
        while len(_LAST) > _LAST_FILES:
            _LAST.popitem(last=False)


def document_view(
    text: str,
    file: str | None = None,
    *,
    fresh: bool = False,
    metrics: TextMetrics | None = None,
) -> dict[str, Any]:
    """The View of API.md for ``text``.

    With a ``file``, the drawing keeps the places of the last one drawn for
    that file (states an edit did not touch stay put); ``fresh`` lays it out
    anew (the editor's Tidy). ``metrics``: the browser's text widths (the
    ``wfdsl_text`` cookie, :func:`text_metrics_of`), else an estimate."""
    workflow, findings = compile_text(text, file)
    view: dict[str, Any] = {
        "ok": not has_errors(findings),
        "loaded": workflow is not None,
        "findings": [f.to_json() for f in findings],
        "graph": None,
        "layout": None,
        "svg": None,
    }
    if workflow is None:
        return view
    loaded = parse_document(text, file)
    graph = build_graph(workflow)
    drawing, svg = render(graph, pins_of(loaded.data), _last_drawing(file, fresh), metrics)
    _remember(file, drawing)
    view["graph"], view["layout"] = graph_json(
        graph, drawing, data=loaded.data, source=loaded.source_map, findings=findings
    )
    view["svg"] = svg
    return view
