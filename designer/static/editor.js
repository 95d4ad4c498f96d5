// The editor page: the graph and the YAML show one document. Every graph
// edit is a small operation the server applies to the round-trip document
// (so comments and formatting survive); typing is validated as you go; undo
// and redo walk a stack of whole document texts, so every kind of change
// (graph edit, typing, rename) undoes the same way.
import { api, filePath, hideError, readJson, runSegment, showError } from "./api.js";
import { GraphView, isSynthetic, svgEl } from "./graph_view.js";
import { PropertyPanel } from "./properties.js";
import { RunDialog } from "./run_dialog.js";
import { YamlPane } from "./yaml_pane.js";

const data = readJson("editor-data");
const path = data.path;
const fileUrl = "/api/files/" + filePath(path);

const state = {
  text: data.text,
  savedText: data.text,
  view: data.view, // the latest answer, which may not parse
  good: data.view && data.view.svg ? data.view : null, // the last one with a drawing
  selected: null,
  undo: [],
  redo: [],
  undoPushes: 0, // how many undo steps were ever pushed (a mark for typedOver)
  validateSeq: 0,
  coverage: null, // what the flow's test files take, while "Test coverage" is pressed
  busy: Promise.resolve(), // the last queued edit (see edit)
  editing: 0,
};

const $ = (id) => document.getElementById(id);
const graphStatus = $("graph-status");

// One fetch of the schema, for the code editor's completion and hover docs
// and for the property panel's forms.
const schema = api("GET", data.schema_url || "/api/schema");

const pane = new YamlPane($("yaml-pane"), {
  onInput: (text) => typed(text),
  onCursorLine: (line) => selectFromLine(line),
  schema,
  stateNames: () => stateNames(null),
});
pane.setText(state.text);

const graph = new GraphView($("graph"), {
  onSelect: (selection, how) => select(selection, { from: how }),
  onBackground: () => select(null),
  // A dragged state is pinned where it was dropped (x-designer positions).
  onMove: (id, x, y) => edit({ op: "move", state: id, x, y }, { select: { kind: "node", id } }),
});

const panel = new PropertyPanel($("properties-body"), {
  schema,
  edit: (op, options) => edit(op, options),
  // The findings an edit would bring, without applying it (a form checking what is typed).
  preview: (op) => api("POST", fileUrl + "/edit?preview=1", { text: state.text, op }),
  documentData: (text) => api("POST", "/api/data", { text }),
  goToLine: (line) => pane.goToLine(line),
  lines: () => state.text.split("\n"),
  stateNames: (scope) => stateNames(scope),
  findings: () => state.view?.findings || [],
});

// ---------------------------------------------------------------- the view

function applyView(view) {
  state.view = view;
  pane.setMarkers(view.findings || []);
  renderFindings(view.findings || []);
  if (view.loaded && view.svg) {
    state.good = view;
    graph.mount(view);
    decorate();
    if (state.coverage) graph.paintCoverage(state.coverage);
    graphStatus.hidden = true;
    $("graph").classList.remove("stale");
    renderOutline();
    // The selection survives a re-render when its state still exists.
    if (state.selected?.kind === "node" && !findNode(state.selected.id)) state.selected = null;
    if (state.selected?.kind === "edge" && !findEdge(state.selected.index)) state.selected = null;
    select(state.selected, { from: "view" });
  } else {
    const problem = view.loaded ? "The document has errors that stop the graph from being drawn" : "The YAML does not parse";
    // The first error in plain words with its fix, as `wfdsl validate` prints it.
    const first = (view.findings || []).find((f) => f.severity === "error");
    const detail = first
      ? ` at line ${first.line || "?"}${first.col ? ":" + first.col : ""}: ${first.message}${first.suggestion ? `. Fix: ${first.suggestion}` : ""}.`
      : ".";
    graphStatus.textContent = state.good
      ? `${problem}${detail} The graph shows the last good version.`
      : `${problem}${detail} There is no graph yet: fix it and the graph appears.`;
    graphStatus.hidden = false;
    $("graph").classList.add("stale");
  }
}

function findNode(id) {
  return state.good?.graph?.nodes.find((n) => n.id === id) || null;
}

function findEdge(index) {
  return state.good?.graph?.edges.find((e) => e.id === index) || null;
}

function stateNames(scope) {
  const nodes = state.good?.graph?.nodes || [];
  return nodes.filter((n) => !isSynthetic(n.id) && (n.cluster || null) === (scope || null)).map((n) => lastSegment(n.id));
}

function lastSegment(id) {
  return id.split("/").pop();
}

function dotted(pathList) {
  return (pathList || []).join(".");
}

// A finding's JSON path (`$.states.a.next`) in the nodes' dotted form (`states.a.next`).
function findingPath(path) {
  return (path || "").replace(/^\$\.?/, "");
}

// Badges for findings, hit areas for edges, and connection ports: added to
// the server's drawing, never sent back (export strips them).
function decorate() {
  const svg = graph.svg;
  const view = state.good;
  if (!svg || !view?.graph) return;
  const findings = view.findings || [];
  const firstNode = svg.querySelector(".node");
  const hits = svgEl("g", { class: "edge-hits" });
  for (const edge of view.graph.edges) {
    if (!edge.edit && !insertOnEdge(edge)) continue;
    const points = graph.edgePoints(edge.id);
    if (points.length < 2) continue;
    const hit = svgEl("polyline", {
      class: "edge-hit",
      points: points.map((p) => p.join(",")).join(" "),
      "data-edge": edge.id,
    });
    hit.append(svgEl("title"));
    hit.firstChild.textContent = `${edge.source} → ${edge.target}${edge.label ? " (" + edge.label + ")" : ""}`;
    hit.addEventListener("click", (event) => {
      event.stopPropagation();
      select({ kind: "edge", index: edge.id }, { from: "click" });
    });
    hits.append(hit);
  }
  if (firstNode) svg.insertBefore(hits, firstNode);
  else svg.append(hits);

  const overlay = svgEl("g", { class: "overlay" });
  for (const node of view.graph.nodes) {
    if (isSynthetic(node.id)) continue;
    const box = graph.nodeBox(node.id);
    if (!box) continue;
    if (node.findings) {
      const prefix = dotted(node.path);
      const severe = findings.some((f) => {
        const at = findingPath(f.path);
        return f.severity === "error" && at && (at === prefix || at.startsWith(prefix + "."));
      });
      const badge = svgEl("g", { class: `badge badge--${severe ? "error" : "warning"}`, "data-for": node.id });
      badge.append(svgEl("circle", { cx: box.x + box.w - 2, cy: box.y + 2, r: 8 }));
      const label = svgEl("text", { x: box.x + box.w - 2, y: box.y + 6, "text-anchor": "middle" });
      label.textContent = String(node.findings);
      badge.append(label);
      const title = svgEl("title");
      title.textContent = `${node.findings} finding${node.findings === 1 ? "" : "s"}`;
      badge.append(title);
      overlay.append(badge);
    }
    if (["succeed", "fail"].includes(node.type)) continue;
    const port = svgEl("circle", {
      class: "port",
      cx: box.x + box.w / 2,
      cy: box.y + box.h,
      r: 6,
      "data-for": node.id,
    });
    const title = svgEl("title");
    title.textContent = `Drag to connect ${node.label} to another state`;
    port.append(title);
    port.addEventListener("pointerdown", (event) => dragConnection(event, node.id, port));
    overlay.append(port);
  }
  svg.append(overlay);
}

// ---------------------------------------------------------------- selection

function select(selection, { from = "code" } = {}) {
  state.selected = selection;
  graph.select(selection, { focus: from === "key-nav" });
  const overlay = graph.svg?.querySelector(".overlay");
  overlay?.querySelector(".edge-handle")?.remove();
  if (!selection) {
    pane.highlightLines(null);
    panel.clear();
    markOutline(null);
    return;
  }
  if (selection.kind === "node") {
    const node = findNode(selection.id);
    if (!node) return;
    if (node.span) pane.highlightLines(node.span.line, node.span.end_line, { scroll: from !== "yaml" });
    else pane.highlightLines(null);
    panel.showNode(node, state.good);
    markOutline(selection.id);
  } else {
    const edge = findEdge(selection.index);
    if (!edge) return;
    const source = findNode(edge.source);
    if (source?.span) pane.highlightLines(source.span.line, source.span.end_line, { scroll: from !== "yaml" });
    panel.showEdge(edge);
    markOutline(null);
    if (edge.edit && overlay) {
      const points = graph.edgePoints(edge.id);
      const [x, y] = points[points.length - 1];
      const handle = svgEl("circle", { class: "edge-handle", cx: x, cy: y, r: 7, "data-edge": edge.id });
      const title = svgEl("title");
      title.textContent = "Drag onto another state to reconnect this edge";
      handle.append(title);
      handle.addEventListener("pointerdown", (event) => dragReconnect(event, edge, handle));
      overlay.append(handle);
    }
  }
}

// The caret moved in the YAML: select the innermost state around that line.
function selectFromLine(line) {
  const nodes = state.good?.graph?.nodes || [];
  let best = null;
  for (const node of nodes) {
    if (!node.span || isSynthetic(node.id)) continue;
    if (line < node.span.line || line > node.span.end_line) continue;
    if (!best || node.span.end_line - node.span.line < best.span.end_line - best.span.line) best = node;
  }
  if (best && (state.selected?.kind !== "node" || state.selected.id !== best.id)) {
    select({ kind: "node", id: best.id }, { from: "yaml" });
  }
}

// ---------------------------------------------------------------- dragging

function dropTarget(event) {
  for (const el of document.elementsFromPoint(event.clientX, event.clientY)) {
    const node = el.closest && el.closest(".node");
    if (node && graph.svg?.contains(node)) return node.dataset.id;
  }
  return null;
}

// A dashed line follows the pointer; on release over a state, `finish(target)`.
function dragLine(event, from, finish) {
  event.preventDefault();
  event.stopPropagation();
  const svg = graph.svg;
  const line = svgEl("line", { class: "drag-line", x1: from.x, y1: from.y, x2: from.x, y2: from.y });
  svg.append(line);
  let hovered = null;
  const move = (e) => {
    const p = graph.toGraph(e.clientX, e.clientY);
    line.setAttribute("x2", p.x);
    line.setAttribute("y2", p.y);
    const target = dropTarget(e);
    if (target !== hovered) {
      if (hovered) graph.nodeElement(hovered)?.classList.remove("drop-target");
      hovered = target;
      if (hovered) graph.nodeElement(hovered)?.classList.add("drop-target");
    }
  };
  const up = (e) => {
    window.removeEventListener("pointermove", move);
    window.removeEventListener("pointerup", up);
    line.remove();
    if (hovered) graph.nodeElement(hovered)?.classList.remove("drop-target");
    const target = dropTarget(e);
    if (target) finish(target);
  };
  window.addEventListener("pointermove", move);
  window.addEventListener("pointerup", up);
}

function outgoingEdgeName(node) {
  if (node.type === "choice") return "default";
  if (node.type === "wait") return "wait";
  return "next";
}

function dragConnection(event, sourceId, port) {
  const from = { x: Number(port.getAttribute("cx")), y: Number(port.getAttribute("cy")) };
  dragLine(event, from, (target) => {
    if (target === sourceId || target.endsWith("(start)")) return;
    const source = findNode(sourceId);
    const to = isSynthetic(target) ? (target.endsWith("(end)") ? "(end)" : null) : lastSegment(target);
    if (to === null) return;
    edit({ op: "connect", state: sourceId, edge: outgoingEdgeName(source), to }, { select: { kind: "node", id: sourceId } });
  });
}

function dragReconnect(event, edge, handle) {
  const from = { x: Number(handle.getAttribute("cx")), y: Number(handle.getAttribute("cy")) };
  dragLine(event, from, (target) => {
    if (target === edge.target) return;
    const to = isSynthetic(target) ? (target.endsWith("(end)") ? "(end)" : null) : lastSegment(target);
    if (to === null) return;
    edit({ op: "connect", state: edge.edit.state, edge: edge.edit.edge, to }, { select: null });
  });
}

// ---------------------------------------------------------------- edits

// Typing: one undo step per pause in typing (the debounce).
function typed(text) {
  if (text === state.text) return;
  pushUndo(state.text);
  state.text = text;
  updateDirty();
  validate(text);
}

// Take in what was typed but not yet validated, before a graph edit uses it.
function flushTyping() {
  pane.cancelPending();
  if (pane.text !== state.text) {
    pushUndo(state.text);
    state.text = pane.text;
  }
}

async function validate(text) {
  const seq = ++state.validateSeq;
  try {
    const view = await api("POST", fileUrl + "/validate", { text });
    if (seq !== state.validateSeq) return; // a newer text is on its way
    hideError();
    applyView(view);
  } catch (err) {
    if (seq === state.validateSeq) showError(err);
  }
}

// One structural edit on the server; `options.select` says what to select after.
// Edits go one at a time, each from the text the one before it left: an
// edit sent while an earlier one is on its way would start from the text
// before it, and its answer would undo the earlier one (a committed field
// lost when the next click came before the server's reply). The page's
// body[data-edits] counts the edits queued or on their way.
function edit(op, options = {}) {
  return queued(() => editNow(op, options));
}

function queued(work) {
  edits(+1);
  const done = state.busy.then(work).finally(() => edits(-1));
  state.busy = done.catch(() => null);
  return done;
}

function edits(change) {
  state.editing += change;
  document.body.dataset.edits = String(state.editing);
}

async function editNow(op, options) {
  flushTyping();
  if (state.view && !state.view.loaded) {
    showError(new Error("Fix the YAML first: a graph edit needs a document that parses."));
    return null;
  }
  const before = new Set((state.good?.graph?.nodes || []).map((n) => n.id));
  const seq = ++state.validateSeq;
  const sent = state.text;
  const mark = state.undoPushes;
  // What is typed in the YAML while the edit is on its way is kept (see typedOver).
  pane.track();
  let result;
  try {
    // An edit worked out now, from the document as the edits before it left it.
    if (typeof op === "function") op = op(await panel.dataOf(sent));
    if (!op) {
      pane.untrack();
      return null;
    }
    result = await api("POST", fileUrl + "/edit", { text: sent, op });
  } catch (err) {
    pane.untrack();
    showError(err);
    return null;
  }
  const typedMeanwhile = pane.untrack();
  hideError({ notice: true });
  if (typedMeanwhile) return typedOver(op, options, sent, result, typedMeanwhile, mark);
  pushUndo(state.text);
  state.text = result.text;
  pane.setText(result.text);
  updateDirty();
  if ("select" in options) state.selected = options.select;
  if (options.selectNew) {
    const added = (result.graph?.nodes || []).find((n) => !before.has(n.id) && !isSynthetic(n.id));
    if (added) state.selected = { kind: "node", id: added.id };
  }
  if (seq === state.validateSeq) applyView(result);
  // The selected state takes the focus, unless the user is in a form field
  // or the YAML: the next keys typed there must not reach the graph (where
  // Backspace deletes the state).
  const typing = document.activeElement?.closest?.("#properties, #yaml-pane");
  if (state.selected?.kind === "node" && !typing) graph.nodeElement(state.selected.id)?.focus({ preventScroll: true });
  return result;
}

// The user typed in the YAML while an edit was on its way (docs/decisions.md,
// "Typing while an edit is on its way"). Nothing typed is lost: the edit's
// change is applied around the typing when they touch different lines (one
// undo step each: the edit, then the typing); when they touch the same
// lines the typed text wins, and the edit is reported as not applied.
function typedOver(op, options, sent, result, typedMeanwhile, mark) {
  const merged = pane.rebase(sent, result.text, typedMeanwhile);
  pane.cancelPending();
  // The steps each pause in that typing pushed were texts without the edit:
  // all the typing of the held edit is one undo step, after the edit's.
  state.undo.splice(Math.max(0, state.undo.length - (state.undoPushes - mark)));
  pushUndo(sent);
  if (merged) {
    pushUndo(result.text);
    if ("select" in options) state.selected = options.select;
  } else {
    panel.forgetTyped();
    showError(
      new Error(
        `Your change${op.state ? ` to '${op.state}'` : ""} from the form or graph was not applied: ` +
          "you typed in the YAML lines it changes while it was on its way. Your text is kept; make the change again if you still want it.",
      ),
      { notice: true },
    );
  }
  state.text = pane.text;
  updateDirty();
  validate(state.text);
  return merged ? result : null;
}

function pushUndo(text) {
  state.undoPushes++;
  state.undo.push(text);
  if (state.undo.length > 200) state.undo.shift();
  state.redo = [];
  updateHistoryButtons();
}

function undo() {
  return queued(async () => undoNow());
}

function redo() {
  return queued(async () => redoNow());
}

function undoNow() {
  flushTyping();
  if (!state.undo.length) return;
  state.redo.push(state.text);
  restore(state.undo.pop());
}

function redoNow() {
  if (!state.redo.length) return;
  state.undo.push(state.text);
  restore(state.redo.pop());
}

function restore(text) {
  state.text = text;
  pane.setText(text);
  updateDirty();
  updateHistoryButtons();
  validate(text);
}

function updateHistoryButtons() {
  $("undo").disabled = state.undo.length === 0;
  $("redo").disabled = state.redo.length === 0;
}

function updateDirty() {
  const dirty = state.text !== state.savedText;
  $("dirty-flag").hidden = !dirty;
  document.title = (dirty ? "• " : "") + document.title.replace(/^• /, "");
}

// Saving waits for the edits on their way: what was committed is saved.
async function save() {
  await state.busy;
  flushTyping();
  const text = state.text;
  try {
    const result = await api("PUT", fileUrl, { text });
    state.savedText = text;
    updateDirty();
    hideError();
    if (text === state.text) applyView(result.view);
    flash("Saved " + path);
    return true;
  } catch (err) {
    showError(err);
    return false;
  }
}

// "Saved" shows beside the Save button, whatever the graph's own status says.
function flash(message) {
  const note = $("save-status");
  note.textContent = message;
  note.hidden = false;
  clearTimeout(flash.timer);
  flash.timer = setTimeout(() => {
    note.hidden = true;
  }, 2500);
}

// ---------------------------------------------------------------- findings and outline

function renderFindings(findings) {
  const list = $("findings");
  list.replaceChildren();
  const errors = findings.filter((f) => f.severity === "error").length;
  const warnings = findings.filter((f) => f.severity === "warning").length;
  $("findings-summary").textContent = findings.length
    ? `${errors} error${errors === 1 ? "" : "s"}, ${warnings} warning${warnings === 1 ? "" : "s"}`
    : "none";
  $("findings-summary").className = "findings-summary" + (errors ? " has-errors" : warnings ? " has-warnings" : " clean");
  for (const f of findings) {
    const item = document.createElement("li");
    item.className = `finding finding--${f.severity}`;
    const button = document.createElement("button");
    button.type = "button";
    const where = document.createElement("span");
    where.className = "finding-where";
    where.textContent = f.line ? `${f.line}:${f.column || 1}` : "—";
    const code = document.createElement("span");
    code.className = "finding-code";
    code.textContent = f.code || f.severity;
    const message = document.createElement("span");
    message.className = "finding-message";
    message.textContent = f.message + (f.suggestion ? ` (${f.suggestion})` : "");
    button.append(where, code, message);
    button.addEventListener("click", () => {
      if (f.line) pane.goToLine(f.line, f.column || 1);
    });
    item.append(button);
    list.append(item);
  }
}

function renderOutline() {
  const list = $("outline");
  list.replaceChildren();
  const view = state.good;
  if (!view?.graph) return;
  for (const node of view.graph.nodes) {
    if (isSynthetic(node.id)) continue;
    const item = document.createElement("li");
    const button = document.createElement("button");
    button.type = "button";
    button.dataset.id = node.id;
    const targets = view.graph.edges.filter((e) => e.source === node.id).map((e) => lastSegment(e.target));
    button.textContent = node.id;
    const meta = document.createElement("span");
    meta.className = "muted";
    meta.textContent = ` ${node.type}${targets.length ? " → " + targets.join(", ") : ""}`;
    button.append(meta);
    button.addEventListener("click", () => select({ kind: "node", id: node.id }, { from: "key-nav" }));
    item.append(button);
    list.append(item);
  }
}

function markOutline(id) {
  for (const button of $("outline").querySelectorAll("button")) {
    button.classList.toggle("current", button.dataset.id === id);
  }
}

// ---------------------------------------------------------------- palette

// Where a state put on `edge` goes (the add_state op's after/edge/scope),
// or null for an edge nothing can be put on (into a join, out of a succeed).
function insertOnEdge(edge) {
  if (edge.edit) return { after: edge.edit.state, edge: edge.edit.edge };
  if (edge.kind === "end") {
    const source = findNode(edge.source);
    if (!source || isSynthetic(edge.source) || ["succeed", "fail"].includes(source.type)) return null;
    return { after: edge.source, edge: "end" };
  }
  if (edge.kind === "start" && !isSynthetic(edge.target)) {
    const scope = edge.target.includes("/") ? edge.target.slice(0, edge.target.lastIndexOf("/")) : "";
    return { edge: "start", ...(scope ? { scope } : {}) };
  }
  return null;
}

function addOnEdge(type, edge) {
  const where = insertOnEdge(edge);
  if (!where) return null;
  return edit({ op: "add_state", type, ...where }, { selectNew: true });
}

// `after`: a state id, null for none, undefined for the selection (a
// selected edge takes the new state on it).
function addState(type, after) {
  if (after === undefined && state.selected?.kind === "edge") {
    const edge = findEdge(state.selected.index);
    if (edge && insertOnEdge(edge)) return addOnEdge(type, edge);
  }
  const op = { op: "add_state", type };
  const anchor = after !== undefined ? after : state.selected?.kind === "node" ? state.selected.id : null;
  if (anchor && !isSynthetic(anchor)) {
    const node = findNode(anchor);
    if (node && !["succeed", "fail"].includes(node.type)) {
      op.after = lastSegment(anchor);
      if (node.cluster) op.scope = node.cluster;
    }
  }
  return edit(op, { selectNew: true });
}

for (const button of document.querySelectorAll(".palette-item")) {
  button.addEventListener("click", () => addState(button.dataset.type));
  button.addEventListener("dragstart", (event) => {
    event.dataTransfer.setData("application/x-wfdsl-state-type", button.dataset.type);
    event.dataTransfer.effectAllowed = "copy";
  });
}
// The edge under the pointer that a state can be put on, if any.
function dropEdge(event) {
  for (const el of document.elementsFromPoint(event.clientX, event.clientY)) {
    if (el.classList?.contains("edge-hit")) {
      const edge = findEdge(Number(el.dataset.edge));
      if (edge && insertOnEdge(edge)) return { edge, el };
    }
  }
  return null;
}

let hoveredEdge = null;
function markDropEdge(el) {
  if (hoveredEdge === el) return;
  hoveredEdge?.classList.remove("drop-edge");
  hoveredEdge = el;
  hoveredEdge?.classList.add("drop-edge");
}

$("graph").addEventListener("dragover", (event) => {
  if (event.dataTransfer.types.includes("application/x-wfdsl-state-type")) {
    event.preventDefault();
    event.dataTransfer.dropEffect = "copy";
    markDropEdge(dropTarget(event) ? null : dropEdge(event)?.el || null);
  }
});
$("graph").addEventListener("dragleave", (event) => {
  if (!$("graph").contains(event.relatedTarget)) markDropEdge(null);
});
$("graph").addEventListener("drop", (event) => {
  const type = event.dataTransfer.getData("application/x-wfdsl-state-type");
  if (!type) return;
  event.preventDefault();
  markDropEdge(null);
  const target = dropTarget(event);
  // On a state: inserted after it; on an edge: put on that edge, between its
  // two ends; on the empty canvas: wired to nothing.
  if (target && !isSynthetic(target)) return addState(type, target);
  const onEdge = dropEdge(event);
  if (onEdge) return addOnEdge(type, onEdge.edge);
  addState(type, null);
});

// ---------------------------------------------------------------- export and run

function exportSvg() {
  if (!graph.svg) return;
  const copy = graph.svg.cloneNode(true);
  copy.querySelectorAll(".overlay, .edge-hits, .drag-line").forEach((el) => el.remove());
  copy.querySelectorAll(".selected").forEach((el) => el.classList.remove("selected"));
  const f = graph.full;
  copy.setAttribute("viewBox", `${f.x} ${f.y} ${f.w} ${f.h}`);
  copy.setAttribute("width", f.w);
  copy.setAttribute("height", f.h);
  copy.setAttribute("xmlns", "http://www.w3.org/2000/svg");
  const text = '<?xml version="1.0" encoding="UTF-8"?>\n' + new XMLSerializer().serializeToString(copy);
  const url = URL.createObjectURL(new Blob([text], { type: "image/svg+xml" }));
  const link = document.createElement("a");
  link.href = url;
  link.download = lastSegment(path).replace(/\.ya?ml$/, "") + ".svg";
  document.body.append(link);
  link.click();
  link.remove();
  setTimeout(() => URL.revokeObjectURL(url), 1000);
}

const runDialog = $("run-dialog");
const run = new RunDialog({
  dialog: runDialog,
  inputUrl: () => api("GET", fileUrl + "/input"),
  documentData: (text) => api("POST", "/api/data", { text }),
});
$("start-run").addEventListener("click", () => {
  flushTyping();
  run.open(state.text);
});
$("run-cancel").addEventListener("click", () => runDialog.close());
$("run-form").addEventListener("submit", async (event) => {
  event.preventDefault();
  const error = $("run-error");
  error.hidden = true;
  let input;
  try {
    input = JSON.parse($("run-input").value || "{}");
  } catch (err) {
    error.textContent = "The input is not JSON: " + err.message;
    error.hidden = false;
    return;
  }
  if (state.text !== state.savedText && !(await save())) return;
  if ($("run-save-input").checked) {
    try {
      await api("PUT", fileUrl + "/input", { input });
    } catch (err) {
      error.textContent = "The input was not saved: " + err.message;
      error.hidden = false;
      return;
    }
  }
  try {
    const created = await api("POST", "/api/runs", { file: path, input });
    window.location.assign("/runs/" + runSegment(created.run.id));
  } catch (err) {
    const lines = [err.message, ...(err.findings || []).map((f) => (f.line ? `line ${f.line}: ` : "") + f.message)];
    error.textContent = lines.join("\n");
    error.hidden = false;
  }
});

// ---------------------------------------------------------------- toolbar and keys

$("undo").addEventListener("click", undo);
$("redo").addEventListener("click", redo);
$("save").addEventListener("click", save);
$("zoom-in").addEventListener("click", () => graph.zoom(1.25));
$("zoom-out").addEventListener("click", () => graph.zoom(0.8));
$("zoom-fit").addEventListener("click", () => graph.fit());
$("tidy").addEventListener("click", () => edit({ op: "unpin" }));
$("export-svg").addEventListener("click", exportSvg);
$("coverage").addEventListener("click", toggleCoverage);

function isTextField(el) {
  return el && (el.tagName === "TEXTAREA" || (el.tagName === "INPUT" && el.type !== "checkbox") || el.isContentEditable);
}

document.addEventListener("keydown", (event) => {
  const mod = event.ctrlKey || event.metaKey;
  const key = event.key.toLowerCase();
  if (mod && key === "s") {
    event.preventDefault();
    save();
    return;
  }
  // Inside the text the browser's own undo works line by line; ours takes
  // over everywhere else.
  if (isTextField(document.activeElement)) return;
  if (mod && key === "z") {
    event.preventDefault();
    if (event.shiftKey) redo();
    else undo();
  } else if (mod && key === "y") {
    event.preventDefault();
    redo();
  } else if ((event.key === "Delete" || event.key === "Backspace") && state.selected) {
    event.preventDefault();
    removeSelected();
  } else if (event.key === "F2" && state.selected?.kind === "node") {
    event.preventDefault();
    panel.focusName();
  } else if (event.key === "Escape") {
    select(null);
  }
});

function removeSelected() {
  const selection = state.selected;
  if (selection.kind === "node" && !isSynthetic(selection.id)) {
    edit({ op: "delete_state", state: selection.id }, { select: null });
  } else if (selection.kind === "edge") {
    const edge = findEdge(selection.index);
    if (edge?.edit) edit({ op: "connect", state: edge.edit.state, edge: edge.edit.edge, to: null }, { select: null });
  }
}
panel.onDelete = removeSelected;

window.addEventListener("beforeunload", (event) => {
  if (state.text !== state.savedText) {
    event.preventDefault();
    event.returnValue = "";
  }
});

// ---------------------------------------------------------------- start

graph.adoptExisting(state.good);
if (state.view) applyView(state.view);
updateHistoryButtons();
edits(0);
document.body.dataset.ready = "true";

// ------------------------------------------------------------ test coverage

// Run the flow's `wfdsl test` files on the server (the saved file, every
// action mocked) and dash the transitions no case takes; press again to hide.
async function toggleCoverage() {
  const button = $("coverage");
  const note = $("coverage-status");
  if (state.coverage) {
    state.coverage = null;
    graph.clearCoverage();
    button.setAttribute("aria-pressed", "false");
    note.hidden = true;
    return;
  }
  button.disabled = true;
  note.textContent = "running the tests…";
  note.hidden = false;
  try {
    const answer = await api("GET", `${fileUrl}/coverage`);
    note.textContent = coverageSummary(answer);
    if (answer.coverage) {
      state.coverage = answer.coverage;
      graph.paintCoverage(answer.coverage);
      button.setAttribute("aria-pressed", "true");
    }
  } catch (err) {
    note.textContent = `coverage: ${err.message}`;
  } finally {
    button.disabled = false;
  }
}

function coverageSummary(answer) {
  const skipped = answer.skipped?.length ? ` (${answer.skipped.map((s) => `${s.file}: ${s.reason}`).join("; ")})` : "";
  if (!answer.coverage) return `no *.test.yaml in the workspace tests this flow${skipped}`;
  const c = answer.coverage;
  const cases = answer.cases;
  const failed = cases.failed.length ? `, ${cases.failed.length} failing` : "";
  return (
    `${cases.total} case${cases.total === 1 ? "" : "s"}${failed} in ${answer.test_files.join(", ")}: ` +
    `${c.edges.taken}/${c.edges.total} transitions, ${c.states.taken}/${c.states.total} states${skipped}`
  );
}
