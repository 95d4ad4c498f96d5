// The runs list (readable times) and the run page: the definition graph with
// a live status overlay pushed over Server-Sent Events, a state panel for the
// state clicked (run_panel.js), the failure at the top, the history as rows
// that open to their payloads with filters by state and event type, the
// run's data, and the controls.
import { api, formatEpochs, hideError, readJson, runSegment, showError } from "./api.js";
import { GraphView, isSynthetic } from "./graph_view.js";
import { HistoryView } from "./run_history.js";
import { renderFailure, renderLineage, renderStatePanel } from "./run_panel.js";

formatEpochs();

const STATUSES = ["pending", "active", "waiting", "paused", "completed", "caught", "failed", "compensating", "compensated", "cancelled"];
const STATUS_CLASSES = STATUSES.map((s) => "st-" + s);
const FINISHED = new Set(["completed", "failed", "cancelled"]);

const data = readJson("run-data");
if (data) runPage(data);


function runPage(initial) {
  const $ = (id) => document.getElementById(id);
  const runId = initial.run.id;
  const base = "/api/runs/" + runSegment(runId);
  const states = { ...(initial.states || {}) };
  let run = initial.run;

  let overlay = initial.overlay || null;
  const lineage = { forked_from: initial.forked_from || null, redrives: [...(initial.redrives || [])], forks: initial.forks || [] };
  let shownState = null; // the node the state panel shows
  const graph = new GraphView($("graph"), { onSelect: (sel) => selectState(sel?.kind === "node" ? sel.id : null) });
  if (initial.view && initial.view.svg) {
    graph.adoptExisting(initial.view);
  }
  offerChannels(initial.view);
  paintStates(states);
  paintOverlay();
  showRun(run);
  const history = new HistoryView({
    list: $("timeline"),
    count: $("history-count"),
    stateSelect: $("filter-state"),
    typeSelect: $("filter-type"),
    base,
    total: initial.history?.total ?? (initial.events || []).length,
    lastSeq: Math.max(0, ...(initial.events || []).map((e) => e.seq)),
    onError: showError,
  });
  $("history-filters").addEventListener("submit", (event) => event.preventDefault());
  // A failed run opens on the state it failed at, a paused one where it stopped.
  const opening = initial.failure?.state || initial.overlay?.stopped?.state;
  if (opening) selectState(opening, { quiet: true });

  // The overlay's extras (badges, the path taken, where it stopped) are the
  // graph's to draw (designer/API.md, "The run overlay").
  function paintOverlay() {
    if (overlay && typeof graph.paintRun === "function") graph.paintRun(overlay);
  }

  // ---- the state panel
  async function selectState(id, { quiet = false } = {}) {
    if (!id || isSynthetic(id)) return;
    graph.select({ kind: "node", id });
    shownState = id;
    await refreshState(quiet);
  }

  async function refreshState(quiet = true) {
    if (!shownState) return;
    const id = shownState;
    try {
      const detail = await api("GET", `${base}/state?path=${encodeURIComponent(id)}`);
      if (shownState !== id) return; // another state was clicked meanwhile
      renderStatePanel($("state-body"), detail, { onHistory: (node) => filterHistory({ state: node }) });
      $("state-panel").dataset.state = id;
      if (!quiet) $("state-panel").scrollIntoView({ block: "nearest" });
    } catch (err) {
      showError(err);
    }
  }

  for (const id of ["run-failure", "run-stopped"]) {
    $(id).addEventListener("click", (event) => {
      const button = event.target.closest("[data-state]");
      if (button) selectState(button.dataset.state);
    });
  }

  // "Stopped at a breakpoint before charge": where a paused run waits.
  function showStopped(stopped) {
    const line = $("run-stopped");
    line.replaceChildren();
    line.hidden = !stopped;
    if (!stopped) return;
    const words = stopped.reason === "break" ? "Stopped at a breakpoint before " : stopped.reason === "step" ? "Paused after a step, at " : "Paused at ";
    const button = document.createElement("button");
    button.type = "button";
    button.className = "link-button mono";
    button.dataset.state = stopped.state;
    button.textContent = stopped.state;
    line.append(words, button, ". Resume or Step in Controls.");
  }

  // ---- history (run_history.js): "Show its history" filters by a state
  function filterHistory({ state = null, type = null } = {}) {
    history.setFilter({ state, type });
    $("timeline").closest(".pane-history").scrollIntoView({ block: "nearest" });
  }

  function paintStates(changed) {
    for (const [path, status] of Object.entries(changed)) {
      const el = graph.nodeElement(path);
      if (!el) continue;
      el.classList.remove(...STATUS_CLASSES);
      el.classList.add("st-" + status);
      el.dataset.status = status;
      const label = el.getAttribute("aria-label") || "";
      el.setAttribute("aria-label", label.replace(/ \(status [a-z]+\)$/, "") + ` (status ${status})`);
    }
  }

  function showRun(r) {
    run = r;
    const pill = $("run-status");
    pill.textContent = r.status;
    pill.className = "pill pill--" + r.status;
    document.body.dataset.runStatus = r.status;
    $("run-vars").textContent = JSON.stringify(r.vars ?? null, null, 2);
    $("run-output").textContent = JSON.stringify(r.output ?? null, null, 2);
    $("run-error").textContent = JSON.stringify(r.error ?? null, null, 2);
    $("run-error").classList.toggle("is-error", Boolean(r.error));
    const finished = FINISHED.has(r.status);
    for (const id of ["pause", "resume", "step", "cancel"]) $(id).disabled = finished;
    $("pause").disabled = finished || r.status === "paused";
    $("resume").disabled = finished || r.status !== "paused";
    $("step").disabled = finished || r.status !== "paused";
    $("signal-form").querySelector("button[type=submit]").disabled = finished;
    // An ended run takes no signal and no control: out of the way of the
    // state panel. A handler call stays (a query answers on an ended run).
    for (const el of document.querySelectorAll(".live-only")) el.hidden = finished;
    // A failed run can be restarted where it failed (wfdsl redrive).
    $("redrive-row").hidden = r.status !== "failed";
  }

  function addEvents(events) {
    history.append(events);
    for (const e of events) {
      if (e.type !== "run_redriven" || lineage.redrives.some((r) => r.seq === e.seq)) continue;
      lineage.redrives.push({ seq: e.seq, at: e.time, by: e.data?.by, state: e.data?.state || e.state, failed_seq: e.data?.failed_seq });
      renderLineage($("run-lineage"), lineage);
    }
  }

  function update(payload) {
    Object.assign(states, payload.states || {});
    paintStates(payload.states || {});
    if (payload.overlay) {
      overlay = payload.overlay;
      paintStates(Object.fromEntries(Object.entries(overlay.states || {}).map(([k, v]) => [k, v.status])));
      paintOverlay();
      showStopped(overlay.stopped);
    }
    if (payload.run) showRun(payload.run);
    if ("failure" in payload) renderFailure($("run-failure"), payload.failure);
    if ("forks" in payload) {
      lineage.forks = payload.forks || [];
      renderLineage($("run-lineage"), lineage);
    }
    if (shownState) refreshState();
  }

  // Live updates. EventSource reconnects by itself and sends Last-Event-ID,
  // so nothing is missed across a dropped connection.
  const live = $("live-flag");
  let source = null;
  if (FINISHED.has(run.status)) {
    live.textContent = "finished";
  } else {
    connectLive();
  }

  function connectLive() {
    if (source) return;
    // Always with `after`: events committed between this page's rendering
    // and the stream's start come first (a run started a moment ago).
    source = new EventSource(`${base}/events?after=${history.lastSeq}`);
    source.addEventListener("open", () => {
      live.textContent = "live";
      live.classList.add("live");
    });
    source.addEventListener("error", () => {
      live.textContent = "reconnecting…";
      live.classList.remove("live");
    });
    source.addEventListener("snapshot", (message) => {
      update(JSON.parse(message.data));
    });
    source.addEventListener("delta", (message) => {
      const payload = JSON.parse(message.data);
      addEvents(payload.events || []);
      update(payload);
    });
    source.addEventListener("end", (message) => {
      const payload = JSON.parse(message.data);
      update(payload);
      source.close();
      source = null;
      live.textContent = "finished";
      live.classList.remove("live");
      // The last events (the run's end) may have come with the final delta
      // or not at all: fetch what is missing once.
      api("GET", `${base}/history?after=${history.lastSeq}`).then((h) => addEvents(h.events || [])).catch(() => {});
      api("GET", base).then((r) => update(r)).catch(() => {});
    });
  }

  // ---- controls
  async function control(action, body) {
    try {
      const result = await api("POST", `${base}/${action}`, body);
      hideError();
      if (result.run) showRun(result.run);
      return result;
    } catch (err) {
      showError(err);
      return null;
    }
  }

  function parseJson(text, what) {
    try {
      return text.trim() ? JSON.parse(text) : null;
    } catch (err) {
      showError(new Error(`${what} is not JSON: ${err.message}`));
      return undefined;
    }
  }

  $("signal-form").addEventListener("submit", async (event) => {
    event.preventDefault();
    const form = event.currentTarget;
    const payload = parseJson(form.elements.data.value, "The signal's data");
    if (payload === undefined) return;
    const body = { channel: form.elements.channel.value.trim() };
    if (payload !== null) body.data = payload;
    const done = await control("signal", body);
    if (done) flashButton(form.querySelector("button[type=submit]"), "Sent");
  });

  $("call-form").addEventListener("submit", async (event) => {
    event.preventDefault();
    const form = event.currentTarget;
    const args = parseJson(form.elements.args.value, "The handler's args");
    if (args === undefined) return;
    const body = { handler: form.elements.handler.value.trim() };
    if (args !== null) body.args = args;
    const result = await control("call", body);
    $("call-result").textContent = result ? "→ " + JSON.stringify(result.result) : "";
  });

  $("pause").addEventListener("click", () => control("pause", {}));
  $("resume").addEventListener("click", () => control("resume", {}));
  $("step").addEventListener("click", () => control("step", {}));

  // Redriving asks twice too; the run then goes on live on this page.
  const redrive = $("redrive");
  redrive.addEventListener("click", async () => {
    if (!redrive.classList.contains("armed")) {
      redrive.classList.add("armed");
      redrive.textContent = "Confirm: redrive from the failed state";
      setTimeout(() => {
        redrive.classList.remove("armed");
        redrive.textContent = "Redrive";
      }, 4000);
      return;
    }
    redrive.classList.remove("armed");
    redrive.textContent = "Redrive";
    const result = await control("redrive", {});
    if (!result?.run) return;
    if (!FINISHED.has(result.run.status)) {
      renderFailure($("run-failure"), null);
      connectLive();
      return;
    }
    // A quick run may have ended again before the reply was written: show
    // that end (its events, its failure or none) as the live stream would.
    api("GET", `${base}/history?after=${history.lastSeq}`).then((h) => addEvents(h.events || [])).catch(() => {});
    api("GET", base).then((r) => update(r)).catch(() => {});
  });

  // Cancelling asks twice: the first click arms the button for a few seconds.
  const cancel = $("cancel");
  cancel.addEventListener("click", async () => {
    if (!cancel.classList.contains("armed")) {
      cancel.classList.add("armed");
      cancel.textContent = $("compensate").checked ? "Confirm: cancel and compensate" : "Confirm: cancel run";
      setTimeout(() => {
        cancel.classList.remove("armed");
        cancel.textContent = "Cancel run";
      }, 4000);
      return;
    }
    cancel.classList.remove("armed");
    cancel.textContent = "Cancel run";
    await control("cancel", { compensate: $("compensate").checked });
  });
}

// Channels the definition waits on, offered as suggestions: from the wait
// edges' labels ("signal verified") of the drawing.
function offerChannels(view) {
  const list = document.getElementById("channel-list");
  if (!list || !view?.graph) return;
  const names = new Set();
  for (const edge of view.graph.edges || []) {
    const match = /signal\s+([\w.-]+)/.exec(edge.label || "");
    if (match) names.add(match[1]);
  }
  for (const node of view.graph.nodes || []) {
    const match = /signal\s+([\w.-]+)/.exec(node.detail || "");
    if (match) names.add(match[1]);
  }
  for (const name of [...names].sort()) {
    const option = document.createElement("option");
    option.value = name;
    list.append(option);
  }
  const input = document.querySelector("#signal-form input[name=channel]");
  if (input && names.size === 1) input.value = [...names][0];
}

function flashButton(button, text) {
  const original = button.textContent;
  button.textContent = text;
  setTimeout(() => {
    button.textContent = original;
  }, 1200);
}
