// The server-rendered SVG graph on a page: mounting a new drawing, zoom, pan,
// fit, selection and keyboard navigation between states. Used by the editor
// and the run page; neither parses the SVG: positions come from the View's
// `layout`, identities from `data-id` / `data-edge`.

const SVG_NS = "http://www.w3.org/2000/svg";
// Scales are screen pixels per drawing unit. The smallest text in the
// drawing is 11 units (details, edge labels): the default view never goes
// below READABLE, so it reads at 11 px or more; past that it fits the width
// and scrolls. Zoom stops where a state is 4x its drawn size, and (zoomed
// out) at a quarter of it, whatever the graph's size: past that a state is
// a few pixels, and the minimap shows the whole of a big graph.
const SMALLEST_TEXT = 11;
const READABLE = 11.2 / SMALLEST_TEXT;
const MAX_SCALE = 4;
const MIN_NODE_SCALE = 0.25;
const MAX_FIT = 1.15;
const BIG_GRAPH = 50; // states: above it, a minimap and a search

export function svgEl(name, attrs = {}) {
  const el = document.createElementNS(SVG_NS, name);
  for (const [key, value] of Object.entries(attrs)) el.setAttribute(key, String(value));
  return el;
}

export function isSynthetic(id) {
  return id.includes("(");
}

// An edge's points with the end(s) at a moved state shifted by (dx, dy).
// Each moved end's neighbouring bend moves along with it on the axis that
// keeps the end's segment vertical or horizontal (a straight line gets two
// bends), so an orthogonal route stays orthogonal while the state is dragged.
export function followEnds(points, { source = false, target = false }, dx, dy) {
  const out = points.map((p) => [p[0], p[1]]);
  if (source && target) return out.map(([x, y]) => [x + dx, y + dy]);
  const i = source ? 0 : out.length - 1;
  const j = source ? 1 : out.length - 2;
  out[i] = [out[i][0] + dx, out[i][1] + dy];
  if (out.length === 2) {
    // A straight line becomes a Z with its middle across the old direction.
    const [[ax, ay], [bx, by]] = out;
    if (Math.abs(points[0][0] - points[1][0]) < 0.5) return [[ax, ay], [ax, (ay + by) / 2], [bx, (ay + by) / 2], [bx, by]];
    if (Math.abs(points[0][1] - points[1][1]) < 0.5) return [[ax, ay], [(ax + bx) / 2, ay], [(ax + bx) / 2, by], [bx, by]];
  }
  if (out.length >= 3) {
    const [ax, ay] = points[i];
    const [bx, by] = points[j];
    if (Math.abs(ax - bx) < 0.5) out[j][0] += dx;
    else if (Math.abs(ay - by) < 0.5) out[j][1] += dy;
  }
  return out;
}

export class GraphView {
  constructor(container, { onSelect = () => {}, onBackground = () => {}, onMove = null } = {}) {
    this.container = container;
    this.onSelect = onSelect;
    this.onBackground = onBackground;
    this.onMove = onMove; // (id, x, y): a state was dragged to a new top-left corner
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
    container.addEventListener("pointerdown", (event) => this.startDrag(event));
    container.addEventListener("pointerover", (event) => this.hover(event, true));
    container.addEventListener("pointerout", (event) => this.hover(event, false));
  }

  // Connection ports show only while the pointer is on their state (or the
  // port itself) and for the selected state.
  hover(event, on) {
    const node = event.target.closest && event.target.closest(".node, .port");
    if (!node || !this.svg) return;
    const id = node.classList.contains("port") ? node.dataset.for : node.dataset.id;
    clearTimeout(this.hoverTimer);
    const apply = () => {
      for (const el of this.svg.querySelectorAll(".port.hot")) if (!on || el.dataset.for !== id) el.classList.remove("hot");
      if (on) for (const el of this.svg.querySelectorAll(`.port[data-for="${CSS.escape(id)}"]`)) el.classList.add("hot");
    };
    // Leaving a state for its port (a few pixels off) keeps the port shown.
    if (on) apply();
    else this.hoverTimer = setTimeout(apply, 400);
  }

  // Drag a state to pin it where it is dropped (the editor stores the
  // position in the document); a press without a move is a click.
  startDrag(event) {
    if (!this.onMove || !this.svg || event.button !== 0) return;
    const el = event.target.closest(".node");
    if (!el || !el.hasAttribute("tabindex")) return;
    const id = el.dataset.id;
    const box = this.nodeBox(id);
    if (!box) return;
    const start = this.toGraph(event.clientX, event.clientY);
    let delta = null;
    let followers = null;
    const move = (e) => {
      const p = this.toGraph(e.clientX, e.clientY);
      const dx = p.x - start.x;
      const dy = p.y - start.y;
      if (!delta && Math.hypot(dx, dy) * (1 / this.scale()) < 4) return;
      delta = { dx, dy };
      el.classList.add("dragging");
      el.setAttribute("transform", `translate(${dx} ${dy})`);
      followers ??= this.followers(id);
      for (const f of followers) f.follow(dx, dy);
    };
    const up = () => {
      window.removeEventListener("pointermove", move);
      window.removeEventListener("pointerup", up);
      if (!delta) return;
      el.classList.remove("dragging");
      this.justPanned = true; // the click that follows is not a selection
      setTimeout(() => (this.justPanned = false), 0);
      this.onMove(id, Math.round(box.x + delta.dx), Math.round(box.y + delta.dy));
    };
    window.addEventListener("pointermove", move);
    window.addEventListener("pointerup", up);
  }

  // What moves with a dragged state: the lines of its edges (each end at
  // the state follows it, the next bend keeps the first segment straight),
  // their hit areas, and what is drawn for the state alone (ports, badges).
  followers(id) {
    const out = [];
    const line = (el, points, ends) => ({
      follow: (dx, dy) => {
        const moved = followEnds(points, ends, dx, dy);
        el.setAttribute("points", moved.map((p) => `${p[0]},${p[1]}`).join(" "));
      },
    });
    for (const edge of this.svg.querySelectorAll(".edge[data-edge]")) {
      const ends = { source: edge.dataset.source === id, target: edge.dataset.target === id };
      if (!ends.source && !ends.target) continue;
      const points = this.edgePoints(Number(edge.dataset.edge)).map((p) => [...p]);
      if (points.length < 2) continue;
      const lines = [edge.querySelector("polyline"), ...this.svg.querySelectorAll(`.edge-hit[data-edge="${CSS.escape(edge.dataset.edge)}"]`)];
      for (const el of lines) if (el) out.push(line(el, points, ends));
    }
    for (const el of this.svg.querySelectorAll(`[data-for="${CSS.escape(id)}"]`)) {
      out.push({ follow: (dx, dy) => el.setAttribute("transform", `translate(${dx} ${dy})`) });
    }
    return out;
  }

  // A View from the API (or the page's initial data). Returns false when it
  // has no drawing, so the caller keeps the last good one.
  mount(view) {
    if (!view || !view.svg) return false;
    const before = this.view?.layout?.nodes;
    this.view = view;
    // A view the user zoomed or panned to follows the states that stayed:
    // if the drawing moved as a whole, so does the view.
    if (this.viewBox && before) {
      const shift = medianShift(before, view.layout?.nodes || {});
      if (shift) this.viewBox = { ...this.viewBox, x: this.viewBox.x + shift.x, y: this.viewBox.y + shift.y };
    }
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
    this.addFinder();
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
    if (layout && layout.width && layout.height) return { x: layout.x || 0, y: layout.y || 0, w: layout.width, h: layout.height };
    const vb = this.svg.viewBox.baseVal;
    if (vb && vb.width) return { x: vb.x, y: vb.y, w: vb.width, h: vb.height };
    const box = this.svg.getBBox();
    return { x: box.x, y: box.y, w: box.width || 100, h: box.height || 100 };
  }

  // The default view. The whole drawing when its text stays readable (never
  // blown up past MAX_FIT); otherwise the full width if that is readable,
  // else readable text from the start of the graph, and the rest scrolls.
  fit() {
    const pad = 12;
    this.viewBox = null;
    const f = this.full;
    const box = { x: f.x - pad, y: f.y - pad, w: f.w + 2 * pad, h: f.h + 2 * pad };
    const rect = this.svg.getBoundingClientRect();
    if (!rect.width || !rect.height) {
      this.setViewBox(box, false);
      return;
    }
    const all = Math.min(rect.width / box.w, rect.height / box.h);
    let scale = Math.min(all, MAX_FIT);
    if (scale < READABLE) scale = Math.max(READABLE, Math.min(rect.width / box.w, MAX_FIT));
    const w = rect.width / scale;
    const h = rect.height / scale;
    let x = box.x + box.w / 2 - w / 2;
    let y = scale === all ? box.y + box.h / 2 - h / 2 : box.y;
    if (w < box.w) {
      // Wider than the pane: start where the graph starts.
      const start = this.nodeBox("(start)");
      const cx = start ? start.x + start.w / 2 : box.x + box.w / 2;
      x = Math.min(Math.max(box.x, cx - w / 2), box.x + box.w - w);
    }
    if (scale !== all && h >= box.h) y = box.y;
    this.setViewBox({ x, y, w, h }, false);
  }

  // Screen pixels per drawing unit that fit the whole drawing.
  fitScale() {
    const rect = this.svg.getBoundingClientRect();
    const f = this.full;
    if (!rect.width || !rect.height || !f.w || !f.h) return 1;
    return Math.min(rect.width / (f.w + 24), rect.height / (f.h + 24));
  }

  setViewBox(box, remember = true) {
    if (remember) this.viewBox = box;
    this.current = box;
    this.svg.setAttribute("viewBox", `${box.x} ${box.y} ${box.w} ${box.h}`);
    const view = this.minimap?.querySelector(".mm-view");
    if (view) {
      for (const [k, v] of Object.entries({ x: box.x, y: box.y, width: box.w, height: box.h })) view.setAttribute(k, v);
    }
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
    const now = 1 / this.scale();
    const target = Math.min(MAX_SCALE, Math.max(MIN_NODE_SCALE, now * factor));
    if (Math.abs(target - now) < 1e-6) return;
    factor = target / now;
    const center = clientX === undefined ? { x: box.x + box.w / 2, y: box.y + box.h / 2 } : this.toGraph(clientX, clientY);
    const w = box.w / factor;
    const h = box.h / factor;
    const x = center.x - (center.x - box.x) / factor;
    const y = center.y - (center.y - box.y) / factor;
    this.setViewBox({ x, y, w, h });
  }

  // Screen pixels per drawing unit now.
  zoomLevel() {
    return 1 / this.scale();
  }

  // Bring a state to the middle of the pane at a readable zoom.
  centerOn(id) {
    const box = this.nodeBox(id);
    if (!box || !this.current) return;
    const rect = this.svg.getBoundingClientRect();
    const scale = Math.max(this.zoomLevel(), READABLE);
    const w = rect.width / scale;
    const h = rect.height / scale;
    this.setViewBox({ x: box.x + box.w / 2 - w / 2, y: box.y + box.h / 2 - h / 2, w, h });
  }

  // ---- big graphs: a minimap and a search box (above BIG_GRAPH states)

  addFinder() {
    this.container.querySelector(".graph-tools")?.remove();
    const nodes = (this.view?.graph?.nodes || []).filter((n) => !isSynthetic(n.id));
    if (nodes.length <= BIG_GRAPH || !this.view?.layout) return;
    const tools = document.createElement("div");
    tools.className = "graph-tools";
    const search = document.createElement("input");
    search.type = "search";
    search.className = "graph-search";
    search.placeholder = `Find a state (${nodes.length})`;
    search.setAttribute("aria-label", "Find a state on the graph");
    const list = document.createElement("datalist");
    list.id = "graph-states-" + Math.random().toString(36).slice(2);
    for (const n of nodes) {
      const option = document.createElement("option");
      option.value = n.id;
      list.append(option);
    }
    search.setAttribute("list", list.id);
    const matches = (text) => {
      const q = text.trim().toLowerCase();
      return q ? nodes.filter((n) => n.id.toLowerCase().includes(q)) : [];
    };
    search.addEventListener("input", () => {
      const found = new Set(matches(search.value).map((n) => n.id));
      for (const el of this.svg.querySelectorAll(".node.match")) el.classList.remove("match");
      for (const id of found) this.nodeElement(id)?.classList.add("match");
      this.drawMinimap();
      const exact = nodes.find((n) => n.id === search.value.trim());
      if (exact) this.centerOn(exact.id);
    });
    search.addEventListener("keydown", (event) => {
      event.stopPropagation();
      if (event.key === "Enter") {
        event.preventDefault();
        const hit = nodes.find((n) => n.id === search.value.trim()) || matches(search.value)[0];
        if (hit) {
          this.centerOn(hit.id);
          this.onSelect({ kind: "node", id: hit.id }, "search");
          this.nodeElement(hit.id)?.focus({ preventScroll: true });
        }
      } else if (event.key === "Escape") {
        search.value = "";
        search.dispatchEvent(new Event("input"));
      }
    });
    const map = document.createElementNS(SVG_NS, "svg");
    map.classList.add("minimap");
    map.setAttribute("role", "img");
    map.setAttribute("aria-label", "Minimap: click or drag to move the view");
    tools.append(search, list, map);
    this.container.append(tools);
    this.minimap = map;
    const jump = (event) => {
      const ctm = map.getScreenCTM();
      if (!ctm) return;
      const p = new DOMPoint(event.clientX, event.clientY).matrixTransform(ctm.inverse());
      const b = this.current;
      this.setViewBox({ x: p.x - b.w / 2, y: p.y - b.h / 2, w: b.w, h: b.h });
    };
    map.addEventListener("pointerdown", (event) => {
      event.stopPropagation();
      jump(event);
      const move = (e) => jump(e);
      const up = () => {
        window.removeEventListener("pointermove", move);
        window.removeEventListener("pointerup", up);
      };
      window.addEventListener("pointermove", move);
      window.addEventListener("pointerup", up);
    });
    for (const el of [tools]) {
      el.addEventListener("click", (event) => event.stopPropagation());
      el.addEventListener("wheel", (event) => event.stopPropagation());
    }
    this.drawMinimap();
  }

  drawMinimap() {
    const map = this.minimap;
    if (!map || !map.isConnected || !this.view?.layout) return;
    const layout = this.view.layout;
    const f = this.full;
    map.setAttribute("viewBox", `${f.x} ${f.y} ${f.w} ${f.h}`);
    map.replaceChildren();
    for (const b of Object.values(layout.containers || {})) map.append(svgEl("rect", { class: "mm-container", x: b.x, y: b.y, width: b.w, height: b.h }));
    const matched = new Set(Array.from(this.svg.querySelectorAll(".node.match"), (el) => el.dataset.id));
    for (const [id, b] of Object.entries(layout.nodes || {})) {
      const cls = "mm-node" + (matched.has(id) ? " mm-match" : "") + (this.selected?.id === id ? " mm-selected" : "");
      map.append(svgEl("rect", { class: cls, x: b.x, y: b.y, width: b.w, height: b.h }));
    }
    const v = this.current;
    if (v) map.append(svgEl("rect", { class: "mm-view", x: v.x, y: v.y, width: v.w, height: v.h }));
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
    if (event.target.closest(".node, .port, .edge-handle, .edge-hit, .graph-tools")) return;
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

  // ---- a run on the graph (designer/API.md, "The run overlay")

  // Paint `overlay`: each state's status (a reached fail state red, an undone
  // state marked undone), the transitions the run took, a short badge per
  // state ("3/3 done, 1 retried", "undone", "paused here") and where a paused
  // run stopped. Called again with each whole new overlay.
  paintRun(overlay) {
    if (!this.svg || !overlay) return;
    this.overlay = overlay;
    const states = overlay.states || {};
    const stopped = overlay.stopped?.state || null;
    for (const el of this.svg.querySelectorAll(".node[tabindex]")) {
      for (const c of [...el.classList]) if (c.startsWith("st-")) el.classList.remove(c);
      const id = el.dataset.id;
      let status = states[id]?.status || "pending";
      if (id === overlay.failed) status = "failed";
      if (id === stopped) status = "paused";
      el.classList.add("st-" + status);
      el.dataset.status = status;
      const label = (el.getAttribute("aria-label") || "").replace(/ \(status [^)]*\)$/, "");
      const badge = states[id]?.badge;
      el.setAttribute("aria-label", `${label} (status ${status}${badge ? ", " + badge : ""})`);
    }
    for (const el of this.svg.querySelectorAll(".edge.taken")) {
      el.classList.remove("taken", "failed-path");
      el.querySelector("title.taken-count")?.remove();
    }
    const edges = this.view?.graph?.edges || [];
    for (const step of overlay.taken || []) {
      // A parallel or map state leaves from its join.
      const found = edges.filter(
        (e) => e.target === step.target && (e.source === step.source || e.source === `${step.source}/(join)`),
      );
      for (const edge of found) {
        const el = this.edgeElement(edge.id);
        if (!el) continue;
        el.classList.add("taken");
        if (step.target === overlay.failed) el.classList.add("failed-path");
        if (step.count > 1) {
          const title = svgEl("title", { class: "taken-count" });
          title.textContent = `taken ${step.count} times`;
          el.prepend(title);
        }
      }
    }
    this.svg.querySelector(".run-notes")?.remove();
    const notes = svgEl("g", { class: "run-notes", "aria-hidden": "true" });
    for (const [id, info] of Object.entries(states)) {
      let text = info.badge;
      if (id === stopped && !text) text = overlay.stopped.reason === "break" ? "breakpoint: paused here" : "paused here";
      if (!text) continue;
      const box = this.nodeBox(id);
      if (!box) continue;
      const kind =
        id === overlay.failed ? "failed" : id === stopped ? "paused" : info.compensated || info.status === "caught" ? "undone" : "done";
      notes.append(this.note(box, text, kind));
    }
    if (stopped && !states[stopped]) {
      const box = this.nodeBox(stopped);
      if (box) notes.append(this.note(box, overlay.stopped.reason === "break" ? "breakpoint: paused here" : "paused here", "paused"));
    }
    this.svg.append(notes);
  }

  // ---- what the flow's `wfdsl test` cases take (designer/API.md, coverage)

  // Dash every transition no case takes and dim every state no case enters;
  // the others say in their tooltip how often the cases took them. Edges are
  // matched by (source, target, kind, label), so a repaint after an edit
  // still marks what the tests took (a new transition is untaken).
  paintCoverage(coverage) {
    this.clearCoverage();
    if (!this.svg || !coverage) return { untaken: 0, unvisited: 0 };
    this.coverage = coverage;
    const key = (e) => `${e.source}\u0000${e.target}\u0000${e.kind}\u0000${e.label ?? ""}`;
    const taken = new Map();
    for (const e of coverage.edges?.list || []) taken.set(key(e), (taken.get(key(e)) || 0) + e.taken);
    let untaken = 0;
    for (const edge of this.view?.graph?.edges || []) {
      const el = this.edgeElement(edge.id);
      if (!el) continue;
      const count = taken.get(key(edge)) || 0;
      el.classList.add(count ? "covered" : "untaken");
      if (!count) untaken += 1;
      const title = svgEl("title", { class: "coverage-count" });
      title.textContent = count ? `the tests take this ${count} time${count === 1 ? "" : "s"}` : "no test takes this";
      el.prepend(title);
    }
    let unvisited = 0;
    const entered = coverage.states?.by_state || {};
    for (const el of this.svg.querySelectorAll(".node[tabindex]")) {
      const count = entered[el.dataset.id];
      if (count === undefined) continue;
      if (!count) {
        el.classList.add("unvisited");
        unvisited += 1;
      }
    }
    return { untaken, unvisited };
  }

  clearCoverage() {
    this.coverage = null;
    if (!this.svg) return;
    for (const el of this.svg.querySelectorAll(".edge.covered, .edge.untaken")) el.classList.remove("covered", "untaken");
    for (const el of this.svg.querySelectorAll(".node.unvisited")) el.classList.remove("unvisited");
    for (const el of this.svg.querySelectorAll("title.coverage-count")) el.remove();
  }

  // A badge above a state's top-right corner: text on a small card.
  note(box, text, kind) {
    const g = svgEl("g", { class: `run-note run-note--${kind}` });
    const width = 6.6 * text.length + 12;
    const x = box.x + box.w - width + 8;
    const y = box.y - 11;
    g.append(svgEl("rect", { x, y, width, height: 17, rx: 8.5 }));
    const label = svgEl("text", { x: x + width / 2, y: y + 12.5, "text-anchor": "middle" });
    label.textContent = text;
    g.append(label);
    return g;
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
    for (const el of this.svg.querySelectorAll(".port.sel")) el.classList.remove("sel");
    if (selection?.kind === "node") {
      for (const el of this.svg.querySelectorAll(`.port[data-for="${CSS.escape(selection.id)}"]`)) el.classList.add("sel");
    }
    if (!selection) return this.drawMinimap();
    const el = selection.kind === "node" ? this.nodeElement(selection.id) : this.edgeElement(selection.index);
    if (el) {
      el.classList.add("selected");
      if (selection.kind === "node") el.setAttribute("aria-pressed", "true");
    }
    this.drawMinimap();
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
    if (event.target.closest && event.target.closest("input, textarea")) return;
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

// The median move of the states two layouts share, or null when they did not move.
function medianShift(before, after) {
  const dx = [];
  const dy = [];
  for (const [id, b] of Object.entries(before)) {
    const a = after[id];
    if (!a || isSynthetic(id)) continue;
    dx.push(a.x - b.x);
    dy.push(a.y - b.y);
  }
  if (!dx.length) return null;
  const mid = (v) => v.sort((p, q) => p - q)[Math.floor(v.length / 2)];
  const shift = { x: mid(dx), y: mid(dy) };
  return shift.x || shift.y ? shift : null;
}
