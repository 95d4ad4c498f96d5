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
from .layout import DETAIL_CHARS, Layout, layout

__all__ = ["to_svg"]

_FILL = {
    "task": "#e8f0fe",
    "choice": "#fff4e5",
    "wait": "#f3e8fd",
    "parallel": "#e6f4ea",
    "map": "#e6f4ea",
    "succeed": "#e6f4ea",
    "fail": "#fce8e6",
    "set": "#f1f3f4",
    "emit": "#e8f7fb",
    "subflow": "#e8f0fe",
    "compensate": "#fce8e6",
}
_EDGE_COLOUR = {"catch": "#c5221f", "default": "#5f6368", "wait": "#7b1fa2"}


def _short(text: str) -> str:
    return text if len(text) <= DETAIL_CHARS else text[: DETAIL_CHARS - 1] + "…"


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
        out.append(f'<circle cx="{cx}" cy="{cy}" r="{w / 2}" fill="#202124"/>')
    elif node.type == "end":
        out.append(f'<circle cx="{cx}" cy="{cy}" r="{w / 2}" fill="#fff" stroke="#202124"/>')
        out.append(f'<circle cx="{cx}" cy="{cy}" r="{w / 2 - 4}" fill="#202124"/>')
    elif node.type == "join":
        out.append(f'<rect x="{x}" y="{y}" width="{w}" height="{h}" rx="2" fill="#5f6368"/>')
    else:
        fill = _FILL.get(node.type, "#fff")
        if node.type == "choice":
            points = f"{cx},{y} {x + w},{cy} {cx},{y + h} {x},{cy}"
            out.append(f'<polygon points="{points}" fill="{fill}" stroke="#5f6368"/>')
        else:
            rx = 14 if node.type in ("succeed", "fail") else 6
            out.append(
                f'<rect x="{x}" y="{y}" width="{w}" height="{h}" rx="{rx}" '
                f'fill="{fill}" stroke="#5f6368"/>'
            )
        if node.detail:
            out.append(
                f'<text x="{cx}" y="{y + 18}" text-anchor="middle" font-weight="bold">'
                f"{escape(node.label)}</text>"
            )
            out.append(
                f'<text x="{cx}" y="{y + 34}" text-anchor="middle" font-size="11" '
                f'fill="#5f6368">{escape(_short(node.detail))}</text>'
            )
        else:
            out.append(
                f'<text x="{cx}" y="{cy + 4}" text-anchor="middle" font-weight="bold">'
                f"{escape(node.label)}</text>"
            )
    out.append("</g>")
    return out


def to_svg(graph: Graph, drawing: Layout | None = None) -> str:
    """``graph`` as an SVG document (laid out with :func:`layout` unless given)."""
    drawing = drawing or layout(graph)
    lines = [
        '<?xml version="1.0" encoding="UTF-8"?>',
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{drawing.width}" '
        f'height="{drawing.height}" viewBox="0 0 {drawing.width} {drawing.height}" '
        'font-family="sans-serif" font-size="12">',
        f"<title>{escape(graph.name)}</title>",
        "<defs>",
        '<marker id="arrow" viewBox="0 0 10 10" refX="10" refY="5" markerWidth="7" '
        'markerHeight="7" orient="auto-start-reverse"><path d="M0,0 L10,5 L0,10 z" '
        'fill="context-stroke"/></marker>',
        "</defs>",
        f'<rect width="{drawing.width}" height="{drawing.height}" fill="#fff"/>',
    ]
    for cluster in graph.clusters:
        box = drawing.clusters.get(cluster.id)
        if box is None:
            continue
        x, y, w, h = box
        lines.append(
            f"<g class={quoteattr('cluster ' + cluster.kind)} data-id={quoteattr(cluster.id)}>"
            f'<rect x="{x}" y="{y}" width="{w}" height="{h}" rx="8" fill="none" '
            f'stroke="#9aa0a6" stroke-dasharray="4 3"/>'
            f'<text x="{x + 8}" y="{y + 13}" font-size="11" fill="#5f6368">'
            f"{escape(cluster.label)}</text></g>"
        )
    for i, edge in enumerate(graph.edges):
        points = drawing.edges.get(i)
        if not points:
            continue
        colour = _EDGE_COLOUR.get(edge.kind, "#202124")
        dash = ' stroke-dasharray="5 3"' if edge.kind in ("catch", "branch", "join") else ""
        coords = " ".join(f"{px},{py}" for px, py in points)
        back = " edge--back" if i in drawing.back_edges else ""
        lines.append(
            f"<g class={quoteattr(f'edge {edge.kind} edge--{edge.kind}{back}')} "
            f'data-edge="{i}" data-source={quoteattr(edge.source)} '
            f"data-target={quoteattr(edge.target)}>"
            f'<polyline points="{coords}" fill="none" stroke="{colour}"{dash} '
            'marker-end="url(#arrow)"/>'
        )
        if edge.label:
            # Halfway along the first segment, written away from the edge's
            # direction, so labels of edges fanning out of one node part too.
            (ax, ay), (bx, by) = points[0], points[1]
            lx, ly = ax + (bx - ax) * 0.5, ay + (by - ay) * 0.5
            anchor, shift = ("end", -4) if bx < ax - 1 else ("start", 4)
            lines.append(
                f'<text x="{lx + shift:.1f}" y="{ly:.1f}" text-anchor="{anchor}" font-size="10" '
                f'fill="{colour}" stroke="#fff" stroke-width="3" paint-order="stroke">'
                f"{escape(_short(edge.label))}</text>"
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
