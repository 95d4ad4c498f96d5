"""A state graph drawn as standalone SVG text.

Every piece of user text (state names, details, conditions, the workflow
name) goes through :func:`xml.sax.saxutils` escaping, attribute values
included, so a document cannot inject markup into the drawing. Each node is
a ``<g>`` with ``data-id`` (the state path) and ``data-path`` (the JSON path),
which the designer uses to link the drawing and the YAML.
"""

from __future__ import annotations

from xml.sax.saxutils import escape, quoteattr

from .findings import format_path
from .graph import Graph, Node
from .layout import DETAIL_CHARS, Layout, label_chars, layout

__all__ = ["to_svg"]

_FILL = {
    "task": "#e8f0fe",
    "subflow": "#ede7f6",
    "choice": "#fff4e5",
    "wait": "#f3e8fd",
    "parallel": "#e0f2f1",
    "map": "#f0f4c3",
    "set": "#f1f3f4",
    "emit": "#e0f7fa",
    "compensate": "#fde7ef",
    "succeed": "#e6f4ea",
    "fail": "#fce8e6",
}
_STROKE = {
    "parallel": "#00796b",
    "map": "#827717",
    "succeed": "#1e8e3e",
    "fail": "#c5221f",
    "compensate": "#c2185b",
}
_EDGE_COLOUR = {"catch": "#c5221f", "default": "#5f6368", "wait": "#7b1fa2"}


def _short(text: str) -> str:
    return text if len(text) <= DETAIL_CHARS else text[: DETAIL_CHARS - 1] + "…"


def _f(v: float) -> str:
    return f"{v:.1f}".rstrip("0").rstrip(".")


def _shape(kind: str, box: tuple[float, float, float, float]) -> list[str]:
    """The outline of a state of type ``kind``: each type its own shape, the
    main outline first (class ``shape``), decorations after it."""
    x, y, w, h = box
    cx, cy = x + w / 2, y + h / 2
    fill = _FILL.get(kind, "#fff")
    stroke = _STROKE.get(kind, "#5f6368")
    paint = f'fill="{fill}" stroke="{stroke}"'

    def poly(points: list[tuple[float, float]], extra: str = "") -> str:
        coords = " ".join(f"{_f(px)},{_f(py)}" for px, py in points)
        return f'<polygon class="shape" points="{coords}" {paint}{extra}/>'

    def rect(rx: float, extra: str = "") -> str:
        return (
            f'<rect class="shape" x="{_f(x)}" y="{_f(y)}" width="{_f(w)}" height="{_f(h)}" '
            f'rx="{_f(rx)}" {paint}{extra}/>'
        )

    if kind == "choice":
        return [poly([(cx, y), (x + w, cy), (cx, y + h), (x, cy)])]
    if kind == "wait":  # a hexagon: pointed ends
        k = min(14.0, h / 2)
        return [
            poly(
                [
                    (x + k, y),
                    (x + w - k, y),
                    (x + w, cy),
                    (x + w - k, y + h),
                    (x + k, y + h),
                    (x, cy),
                ]
            )
        ]
    if kind == "fail":  # an octagon
        k = min(10.0, h / 3)
        return [
            poly(
                [
                    (x + k, y),
                    (x + w - k, y),
                    (x + w, y + k),
                    (x + w, y + h - k),
                    (x + w - k, y + h),
                    (x + k, y + h),
                    (x, y + h - k),
                    (x, y + k),
                ]
            )
        ]
    if kind == "emit":  # a flag pointing on
        k = min(12.0, h / 2)
        return [
            poly([(x, y), (x + w - k, y), (x + w, cy), (x + w - k, y + h), (x, y + h), (x + k, cy)])
        ]
    if kind == "succeed":  # a pill
        return [rect(h / 2, ' stroke-width="1.6"')]
    if kind == "subflow":  # a call: bars inside both ends
        return [
            rect(6),
            f'<path class="deco" d="M{_f(x + 7)},{_f(y)} V{_f(y + h)} M{_f(x + w - 7)},{_f(y)} '
            f'V{_f(y + h)}" stroke="{stroke}" fill="none"/>',
        ]
    if kind == "compensate":
        return [rect(6, ' stroke-dasharray="5 3"')]
    if kind == "set":
        return [rect(2)]
    if kind == "parallel":  # the container's header: two bars say "at once"
        return [
            rect(6, ' stroke-width="1.6"'),
            f'<path class="deco" d="M{_f(x + 9)},{_f(cy - 6)} V{_f(cy + 6)} M{_f(x + 13)},'
            f'{_f(cy - 6)} V{_f(cy + 6)}" stroke="{stroke}" stroke-width="1.6" fill="none"/>',
        ]
    if kind == "map":  # the container's header: a stack says "for each item"
        return [
            rect(6, ' stroke-width="1.6"'),
            f'<path class="deco" d="M{_f(x + 8)},{_f(cy - 5)} h6 M{_f(x + 8)},{_f(cy)} h6 '
            f'M{_f(x + 8)},{_f(cy + 5)} h6" stroke="{stroke}" stroke-width="1.6" fill="none"/>',
        ]
    if kind == "missing":
        return [rect(6, ' stroke-dasharray="5 4"')]
    return [rect(6)]


def _node(node: Node, box: tuple[float, float, float, float], exits: str = "") -> list[str]:
    x, y, w, h = box
    cx, cy = x + w / 2, y + h / 2
    attrs = f"class={quoteattr(f'node {node.type} node--{node.type}')} data-id={quoteattr(node.id)}"
    attrs += f" data-path={quoteattr(format_path(node.path))}"
    if node.type not in ("start", "end", "join"):
        # Focusable with a spoken name that says where it leads, so the graph
        # works from the keyboard and with a screen reader.
        spoken = f"{node.label}: {node.type}" + (f"; {exits}" if exits else "")
        attrs += f' tabindex="0" role="button" aria-label={quoteattr(spoken)}'
    out = [f"<g {attrs}>", f"<title>{escape(node.id)} ({escape(node.type)})</title>"]
    if node.type == "start":
        out.append(f'<circle cx="{_f(cx)}" cy="{_f(cy)}" r="{_f(w / 2)}" fill="#202124"/>')
    elif node.type == "end":
        out.append(
            f'<circle cx="{_f(cx)}" cy="{_f(cy)}" r="{_f(w / 2)}" fill="#fff" stroke="#202124"/>'
        )
        out.append(f'<circle cx="{_f(cx)}" cy="{_f(cy)}" r="{_f(w / 2 - 4)}" fill="#202124"/>')
    elif node.type == "join":
        out.append(
            f'<rect class="shape" x="{_f(x)}" y="{_f(y)}" width="{_f(w)}" height="{_f(h)}" '
            'rx="3" fill="#5f6368"/>'
        )
    else:
        out.extend(_shape(node.type, box))
        if node.detail:
            out.append(
                f'<text x="{_f(cx)}" y="{_f(y + 19)}" text-anchor="middle" font-weight="bold">'
                f"{escape(node.label)}</text>"
            )
            out.append(
                f'<text x="{_f(cx)}" y="{_f(y + 35)}" text-anchor="middle" font-size="11" '
                f'fill="#5f6368">{escape(_short(node.detail))}</text>'
            )
        else:
            out.append(
                f'<text x="{_f(cx)}" y="{_f(cy + 4)}" text-anchor="middle" font-weight="bold">'
                f"{escape(node.label)}</text>"
            )
    out.append("</g>")
    return out


def to_svg(graph: Graph, drawing: Layout | None = None) -> str:
    """``graph`` as an SVG document (laid out with :func:`layout` unless given)."""
    drawing = drawing or layout(graph)
    x0, y0, width, height = drawing.x, drawing.y, drawing.width, drawing.height
    lines = [
        '<?xml version="1.0" encoding="UTF-8"?>',
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" '
        f'height="{height}" viewBox="{_f(x0)} {_f(y0)} {width} {height}" '
        'font-family="DejaVu Sans, sans-serif" font-size="12">',
        f"<title>{escape(graph.name)}</title>",
        "<defs>",
        '<marker id="arrow" viewBox="0 0 10 10" refX="10" refY="5" markerWidth="8" '
        'markerHeight="8" markerUnits="userSpaceOnUse" orient="auto-start-reverse"><path d="M0,0 L10,5 L0,10 z" '
        'fill="context-stroke"/></marker>',
        "</defs>",
        f'<rect x="{_f(x0)}" y="{_f(y0)}" width="{width}" height="{height}" fill="#fff"/>',
    ]
    # Containers first (a parallel or map state with its bodies and join),
    # then the bodies inside them, so inner boxes paint over outer ones.
    kinds = {n.id: n.type for n in graph.nodes}
    for state, (x, y, w, h) in drawing.containers.items():
        kind = kinds.get(state, "parallel")
        lines.append(
            f"<g class={quoteattr(f'container container--{kind}')} data-id={quoteattr(state)}>"
            f'<rect x="{_f(x)}" y="{_f(y)}" width="{_f(w)}" height="{_f(h)}" rx="10" '
            f'fill="{_FILL.get(kind, "#fff")}" fill-opacity="0.35" '
            f'stroke="{_STROKE.get(kind, "#5f6368")}" stroke-width="1.4"/></g>'
        )
    for cluster in graph.clusters:
        box = drawing.clusters.get(cluster.id)
        if box is None:
            continue
        x, y, w, h = box
        lines.append(
            f"<g class={quoteattr('cluster ' + cluster.kind)} data-id={quoteattr(cluster.id)}>"
            f'<rect x="{_f(x)}" y="{_f(y)}" width="{_f(w)}" height="{_f(h)}" rx="8" fill="#fff" '
            f'fill-opacity="0.7" stroke="#9aa0a6" stroke-dasharray="4 3"/>'
            f'<text x="{_f(x + 8)}" y="{_f(y + 13)}" font-size="11" fill="#5f6368">'
            f"{escape(cluster.label)}</text></g>"
        )
    for i, edge in enumerate(graph.edges):
        points = drawing.edges.get(i)
        if not points:
            continue
        colour = _EDGE_COLOUR.get(edge.kind, "#202124")
        dash = ' stroke-dasharray="5 3"' if edge.kind in ("catch", "branch", "join") else ""
        coords = " ".join(f"{_f(px)},{_f(py)}" for px, py in points)
        back = " edge--back" if i in drawing.back_edges else ""
        lines.append(
            f"<g class={quoteattr(f'edge {edge.kind} edge--{edge.kind}{back}')} "
            f'data-edge="{i}" data-source={quoteattr(edge.source)} '
            f"data-target={quoteattr(edge.target)}>"
            f'<polyline points="{coords}" fill="none" stroke="{colour}"{dash} '
            'stroke-linejoin="round" marker-end="url(#arrow)"/>'
        )
        label = drawing.labels.get(i)
        if edge.label and label:
            # Placed by the layout beside the edge, clear of nodes and edges.
            lx, ly, lw, lh = label
            fits = label_chars(label, edge.label, drawing.metrics)
            text = edge.label if len(edge.label) <= fits else edge.label[: fits - 1] + "…"
            lines.append(
                f'<text x="{_f(lx + lw / 2)}" y="{_f(ly + lh - 4)}" text-anchor="middle" '
                f'font-size="11" fill="{colour}">{escape(text)}</text>'
                f"<title>{escape(edge.label)}</title>"
            )
        lines.append("</g>")
    exits: dict[str, list[str]] = {}
    for edge in graph.edges:
        target = graph.node(edge.target).label if edge.kind != "end" else "end"
        exits.setdefault(edge.source, []).append(
            f"{edge.label} to {target}" if edge.label else f"to {target}"
        )
    for node in graph.nodes:
        lines.extend(_node(node, drawing.nodes[node.id], ", ".join(exits.get(node.id, ()))))
    lines.append("</svg>")
    return "\n".join(lines) + "\n"
