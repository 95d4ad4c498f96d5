// The server-rendered SVG graph on a page: mounting a new drawing, zoom, pan,
// fit, selection and keyboard navigation between states. Used by the editor
// and the run page; neither parses the SVG: positions come from the View's
// `layout`, identities from `data-id` / `data-edge`.

const SVG_NS = "http://www.w3.org/2000/svg";
const MIN_SCALE = 0.1;
const MAX_SCALE = 8;
const MAX_FIT = 1.15;

export function svgEl(name, attrs = {}) {
  const el = document.createElementNS(SVG_NS, name);
  for (const [key, value] of Object.entries(attrs)) el.setAttribute(key, String(value));
  return el;
}

export function isSynthetic(id) {
  return id.includes("(");
}

export class GraphView {
  constructor(container, { onSelect = () => {}, onBackground = () => {} } = {}) {
    this.container = container;
    this.onSelect = onSelect;
    this.onBackground = onBackground;
    this.svg = null;
    this.view = null;
    this.viewBox = null; // {x, y, w, h} the user zoomed/panned to; null = fit
    this.selected = null;
    this.panning = null;

    container.addEventListener("click", (event) => {
      if (this.justPanned) {
        this.justPanned = false;
        return;
      }
      const node = event.target.closest(".node");
      if (node && this.container.contains(node)) {
        this.onSelect({ kind: "node", id: node.dataset.id }, "click");
      } else if (!event.target.closest(".edge-hit, .port, .edge-handle")) {
        this.onBackground();
      }
    });
    container.addEventListener("focusin", (event) => {
      const node = event.target.closest && event.target.closest(".node");
      if (node && this.container.contains(node)) this.rove(node);
      if (node && this.selected?.id !== node.dataset.id) this.onSelect({ kind: "node", id: node.dataset.id }, "focus");
    });
    container.addEventListener("keydown", (event) => this.onKey(event));
    container.addEventListener("wheel", (event) => this.onWheel(event), { passive: false });
    container.addEventListener("pointerdown", (event) => this.startPan(event));
  }

  // A View from the API (or the page's initial data). Returns false when it
  // has no drawing, so the caller keeps the last good one.
  mount(view) {
    if (!view || !view.svg) return false;
    this.view = view;
    const template = document.createElement("template");
    template.innerHTML = view.svg.trim();
    const svg = template.content.querySelector("svg");
    if (!svg) return false;
    this.container.replaceChildren(svg);
    this.adopt(svg);
    return true;
  }

  // The drawing already in the page (rendered by the template).
  adoptExisting(view) {
    this.view = view;
    const svg = this.container.querySelector("svg");
    if (svg) this.adopt(svg);
  }

  adopt(svg) {
    this.svg = svg;
    svg.removeAttribute("width");
    svg.removeAttribute("height");
    svg.setAttribute("preserveAspectRatio", "xMidYMid meet");
    svg.classList.add("graph-svg");
    svg.setAttribute("role", "group");
    const name = this.view?.graph?.name;
    svg.setAttribute("aria-label", name ? `Graph of ${name}` : "Workflow graph");
    this.full = this.fullBox();
    if (this.viewBox) {
      this.applyViewBox();
    } else {
      this.fit();
    }
    if (this.selected) this.markSelected(this.selected);
    this.rove(null);
  }

  // One Tab stop for the whole graph (the selected state, else the first):
  // the arrow keys move inside it (the roving tabindex of WAI-ARIA).
  rove(node) {
    const nodes = this.focusableNodes();
    const stop =
      node || (this.selected?.kind === "node" && this.nodeElement(this.selected.id)) || nodes.find((n) => n.getAttribute("tabindex") === "0") || nodes[0];
    for (const el of nodes) el.setAttribute("tabindex", el === stop ? "0" : "-1");
  }

  fullBox() {
    const layout = this.view?.layout;
    if (layout && layout.width && layout.height) return { x: 0, y: 0, w: layout.width, h: layout.height };
    const vb = this.svg.viewBox.baseVal;
    if (vb && vb.width) return { x: vb.x, y: vb.y, w: vb.width, h: vb.height };
    const box = this.svg.getBBox();
    return { x: box.x, y: box.y, w: box.width || 100, h: box.height || 100 };
  }

  // The whole drawing, but never blown up past MAX_FIT: a small graph keeps
  // readable text at the top centre instead of filling the pane.
  fit() {
    const pad = 12;
    this.viewBox = null;
    const f = this.full;
    let box = { x: f.x - pad, y: f.y - pad, w: f.w + 2 * pad, h: f.h + 2 * pad };
    const rect = this.svg.getBoundingClientRect();
    if (rect.width && rect.height && Math.min(rect.width / box.w, rect.height / box.h) > MAX_FIT) {
      const w = rect.width / MAX_FIT;
      const h = rect.height / MAX_FIT;
      box = { x: f.x + f.w / 2 - w / 2, y: f.y - pad, w, h };
    }
    this.setViewBox(box, false);
  }

  setViewBox(box, remember = true) {
    if (remember) this.viewBox = box;
    this.current = box;
    this.svg.setAttribute("viewBox", `${box.x} ${box.y} ${box.w} ${box.h}`);
  }

  applyViewBox() {
    this.setViewBox(this.viewBox);
  }

  // Graph units per screen pixel (the SVG keeps its aspect ratio).
  scale() {
    const rect = this.svg.getBoundingClientRect();
    if (!rect.width || !rect.height) return 1;
    return Math.max(this.current.w / rect.width, this.current.h / rect.height);
  }

  zoom(factor, clientX, clientY) {
    if (!this.svg) return;
    const box = this.current;
    const fullScale = Math.max(this.full.w, this.full.h);
    const newW = box.w / factor;
    const ratio = Math.max(newW, box.h / factor) / fullScale;
    if (ratio < 1 / MAX_SCALE || ratio > 1 / MIN_SCALE) return;
    const center = clientX === undefined ? { x: box.x + box.w / 2, y: box.y + box.h / 2 } : this.toGraph(clientX, clientY);
    const w = box.w / factor;
    const h = box.h / factor;
    const x = center.x - (center.x - box.x) / factor;
    const y = center.y - (center.y - box.y) / factor;
    this.setViewBox({ x, y, w, h });
  }

  toGraph(clientX, clientY) {
    const ctm = this.svg.getScreenCTM();
    if (!ctm) return { x: 0, y: 0 };
    const point = new DOMPoint(clientX, clientY).matrixTransform(ctm.inverse());
    return { x: point.x, y: point.y };
  }

  onWheel(event) {
    if (!this.svg) return;
    event.preventDefault();
    if (event.ctrlKey || event.metaKey) {
      this.zoom(Math.exp(-event.deltaY / 300), event.clientX, event.clientY);
    } else {
      const s = this.scale();
      const b = this.current;
      this.setViewBox({ x: b.x + event.deltaX * s, y: b.y + event.deltaY * s, w: b.w, h: b.h });
    }
  }

  startPan(event) {
    if (!this.svg || event.button !== 0) return;
    if (event.target.closest(".node, .port, .edge-handle, .edge-hit")) return;
    const start = { x: event.clientX, y: event.clientY, box: { ...this.current }, s: this.scale() };
    let moved = false;
    const move = (e) => {
      const dx = e.clientX - start.x;
      const dy = e.clientY - start.y;
      if (!moved && Math.hypot(dx, dy) < 4) return;
      moved = true;
      this.container.classList.add("panning");
      this.setViewBox({ x: start.box.x - dx * start.s, y: start.box.y - dy * start.s, w: start.box.w, h: start.box.h });
    };
    const up = () => {
      window.removeEventListener("pointermove", move);
      window.removeEventListener("pointerup", up);
      this.container.classList.remove("panning");
      this.justPanned = moved;
    };
    window.addEventListener("pointermove", move);
    window.addEventListener("pointerup", up);
  }

  nodeElement(id) {
    if (!this.svg) return null;
    return this.svg.querySelector(`.node[data-id="${CSS.escape(id)}"]`);
  }

  edgeElement(index) {
    if (!this.svg) return null;
    return this.svg.querySelector(`.edge[data-edge="${CSS.escape(String(index))}"]`);
  }

  nodeBox(id) {
    const box = this.view?.layout?.nodes?.[id];
    if (box) return box;
    const el = this.nodeElement(id);
    if (!el) return null;
    const b = el.getBBox();
    return { x: b.x, y: b.y, w: b.width, h: b.height };
  }

  edgePoints(index) {
    const edges = this.view?.layout?.edges || [];
    const entry = edges.find((e) => e.id === index) || edges[index];
    if (entry && entry.points) return entry.points;
    const line = this.edgeElement(index)?.querySelector("polyline, path");
    if (line && line.points) return Array.from(line.points, (p) => [p.x, p.y]);
    return [];
  }

  select(selection, { focus = false } = {}) {
    this.selected = selection;
    this.markSelected(selection);
    if (selection?.kind === "node") this.rove(this.nodeElement(selection.id));
    if (focus && selection?.kind === "node") this.nodeElement(selection.id)?.focus({ preventScroll: true });
    if (selection?.kind === "node") this.reveal(selection.id);
  }

  markSelected(selection) {
    if (!this.svg) return;
    for (const el of this.svg.querySelectorAll(".selected")) el.classList.remove("selected");
    for (const el of this.svg.querySelectorAll("[aria-pressed]")) el.removeAttribute("aria-pressed");
    if (!selection) return;
    const el = selection.kind === "node" ? this.nodeElement(selection.id) : this.edgeElement(selection.index);
    if (el) {
      el.classList.add("selected");
      if (selection.kind === "node") el.setAttribute("aria-pressed", "true");
    }
  }

  // Pan just enough to bring a node into view (keyboard navigation).
  reveal(id) {
    const box = this.nodeBox(id);
    if (!box || !this.current) return;
    const b = this.current;
    let { x, y } = b;
    if (box.x < b.x) x = box.x - 20;
    else if (box.x + box.w > b.x + b.w) x = box.x + box.w - b.w + 20;
    if (box.y < b.y) y = box.y - 20;
    else if (box.y + box.h > b.y + b.h) y = box.y + box.h - b.h + 20;
    if (x !== b.x || y !== b.y) this.setViewBox({ x, y, w: b.w, h: b.h }, this.viewBox !== null);
  }

  focusableNodes() {
    return this.svg ? Array.from(this.svg.querySelectorAll(".node[tabindex]")) : [];
  }

  // The nearest state in the arrow's direction, judged by box centres; a
  // state straight ahead beats a closer one off to the side.
  neighbour(id, direction) {
    const from = this.nodeBox(id);
    if (!from) return null;
    const fx = from.x + from.w / 2;
    const fy = from.y + from.h / 2;
    let best = null;
    let bestScore = Infinity;
    for (const el of this.focusableNodes()) {
      const other = el.dataset.id;
      if (other === id) continue;
      const box = this.nodeBox(other);
      if (!box) continue;
      const dx = box.x + box.w / 2 - fx;
      const dy = box.y + box.h / 2 - fy;
      const [along, across] = {
        ArrowDown: [dy, dx],
        ArrowUp: [-dy, dx],
        ArrowRight: [dx, dy],
        ArrowLeft: [-dx, dy],
      }[direction];
      if (along <= 1) continue;
      const score = along + 2 * Math.abs(across);
      if (score < bestScore) {
        bestScore = score;
        best = other;
      }
    }
    return best;
  }

  onKey(event) {
    const node = event.target.closest && event.target.closest(".node");
    if (event.key.startsWith("Arrow") && node) {
      const next = this.neighbour(node.dataset.id, event.key);
      event.preventDefault();
      if (next) {
        this.nodeElement(next)?.focus({ preventScroll: true });
      }
    } else if ((event.key === "Enter" || event.key === " ") && node) {
      event.preventDefault();
      this.onSelect({ kind: "node", id: node.dataset.id }, "key");
    } else if (event.key === "Home" && node) {
      event.preventDefault();
      this.focusableNodes()[0]?.focus();
    } else if (event.key === "End" && node) {
      event.preventDefault();
      this.focusableNodes().at(-1)?.focus();
    } else if ((event.key === "+" || event.key === "=") && !event.ctrlKey) {
      event.preventDefault();
      this.zoom(1.25);
    } else if (event.key === "-" && !event.ctrlKey) {
      event.preventDefault();
      this.zoom(0.8);
    } else if (event.key === "0" && !event.ctrlKey) {
      event.preventDefault();
      this.fit();
    }
  }
}
