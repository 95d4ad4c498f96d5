"""Geometry of the graph as Chromium draws it: what overlaps what, and how
large the smallest text is on screen. Measured from the rendered SVG (real
text boxes from getBBox), so it judges the drawing a user sees, whatever the
layout code believes.

``measure(page)`` returns counts:

- ``label_edge``: edge labels whose box a drawn edge passes through (its own
  edge included: a label on its line hides it);
- ``label_node``: edge labels overlapping a node (state or marker);
- ``label_label``: pairs of edge labels overlapping each other;
- ``node_node``: pairs of nodes overlapping;
- ``edge_node``: edges passing through a node that is not one of their ends;
- ``min_text_px``: the smallest text (any label in the graph) at the current
  view, in CSS pixels: its font size times the screen scale;
- ``states``: how many states are drawn.
"""

from __future__ import annotations

from typing import Any

__all__ = ["MEASURE_JS", "measure"]

MEASURE_JS = r"""
() => {
  const svg = document.querySelector('#graph svg');
  const inset = (b, d) => ({x: b.x + d, y: b.y + d, w: b.w - 2 * d, h: b.h - 2 * d});
  const box = (el) => { const b = el.getBBox(); return {x: b.x, y: b.y, w: b.width, h: b.height}; };
  // Boxes are in the coordinates of the drawing (the svg's user space); a
  // node inside a transformed group is mapped through its transform.
  const toRoot = (el, b) => {
    const m = svg.getScreenCTM().inverse().multiply(el.getScreenCTM());
    const p = new DOMPoint(b.x, b.y).matrixTransform(m);
    const q = new DOMPoint(b.x + b.w, b.y + b.h).matrixTransform(m);
    return {x: Math.min(p.x, q.x), y: Math.min(p.y, q.y), w: Math.abs(q.x - p.x), h: Math.abs(q.y - p.y)};
  };
  const overlap = (a, b) => a.x < b.x + b.w && b.x < a.x + a.w && a.y < b.y + b.h && b.y < a.y + a.h;
  const segHits = (p, q, b) => {
    // Liang-Barsky clip of segment p-q against box b.
    let t0 = 0, t1 = 1;
    const dx = q[0] - p[0], dy = q[1] - p[1];
    const checks = [[-dx, p[0] - b.x], [dx, b.x + b.w - p[0]], [-dy, p[1] - b.y], [dy, b.y + b.h - p[1]]];
    for (const [pp, qq] of checks) {
      if (pp === 0) { if (qq < 0) return false; continue; }
      const r = qq / pp;
      if (pp < 0) { if (r > t1) return false; if (r > t0) t0 = r; }
      else { if (r < t0) return false; if (r < t1) t1 = r; }
    }
    return true;
  };
  const nodes = [];
  for (const g of svg.querySelectorAll('.node')) {
    const shape = g.querySelector('rect, polygon, circle, path');
    if (!shape) continue;
    nodes.push({id: g.dataset.id, box: toRoot(shape, box(shape))});
  }
  const edges = [];
  for (const g of svg.querySelectorAll('.edge')) {
    const line = g.querySelector('polyline, path');
    if (!line) continue;
    let points = [];
    if (line.tagName === 'polyline') points = Array.from(line.points, (p) => [p.x, p.y]);
    else {
      const n = Math.max(2, Math.ceil(line.getTotalLength() / 4));
      for (let i = 0; i <= n; i++) { const p = line.getPointAtLength(line.getTotalLength() * i / n); points.push([p.x, p.y]); }
    }
    const m = svg.getScreenCTM().inverse().multiply(line.getScreenCTM());
    points = points.map(([x, y]) => { const p = new DOMPoint(x, y).matrixTransform(m); return [p.x, p.y]; });
    const labels = [...g.querySelectorAll('text')].map((t) => toRoot(t, box(t)));
    edges.push({id: g.dataset.edge, source: g.dataset.source, target: g.dataset.target, points, labels});
  }
  const labels = edges.flatMap((e) => e.labels.map((b) => ({edge: e.id, box: inset(b, 1)})));
  let label_edge = 0, label_node = 0, label_label = 0, node_node = 0, edge_node = 0;
  const examples = [];
  for (const l of labels) {
    if (edges.some((e) => e.points.some((p, i) => i > 0 && segHits(e.points[i - 1], p, l.box)))) { label_edge++; examples.push('label-edge ' + l.edge); }
    if (nodes.some((n) => overlap(l.box, n.box))) { label_node++; examples.push('label-node ' + l.edge); }
  }
  for (let i = 0; i < labels.length; i++)
    for (let j = i + 1; j < labels.length; j++) if (overlap(labels[i].box, labels[j].box)) label_label++;
  for (let i = 0; i < nodes.length; i++)
    for (let j = i + 1; j < nodes.length; j++) if (overlap(inset(nodes[i].box, 1), inset(nodes[j].box, 1))) { node_node++; examples.push('node-node ' + nodes[i].id + ' ' + nodes[j].id); }
  for (const e of edges) {
    const inner = e.points.slice(1, -1);
    for (const n of nodes) {
      if (n.id === e.source || n.id === e.target) continue;
      const b = inset(n.box, 2);
      if (e.points.some((p, i) => i > 0 && segHits(e.points[i - 1], p, b))) { edge_node++; examples.push('edge-node ' + e.id + ' ' + n.id); }
    }
  }
  let min_text_px = Infinity;
  for (const t of svg.querySelectorAll('text')) {
    if (t.closest('.minimap')) continue;
    const size = parseFloat(getComputedStyle(t).fontSize);
    const ctm = t.getScreenCTM();
    if (!ctm || !t.textContent.trim()) continue;
    const px = size * Math.hypot(ctm.a, ctm.b);
    if (px < min_text_px) min_text_px = px;
  }
  return {
    states: svg.querySelectorAll('.node[tabindex]').length,
    label_edge, label_node, label_label, node_node, edge_node,
    min_text_px: Math.round(min_text_px * 10) / 10,
    examples: examples.slice(0, 12),
  };
}
"""


def measure(page: Any) -> dict[str, Any]:
    """The counts of this module's docstring for the graph on ``page``."""
    result: dict[str, Any] = page.evaluate(MEASURE_JS)
    return result
