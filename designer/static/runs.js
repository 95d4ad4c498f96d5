// The runs list (readable times) and the run page: the definition graph with
// a live status overlay pushed over Server-Sent Events, the history as a
// timeline, the run's data, and the controls.
import { api, formatEpochs, formatTime, hideError, readJson, runSegment, showError, toDate } from "./api.js";
import { GraphView } from "./graph_view.js";

formatEpochs();

const STATUS_CLASSES = ["pending", "active", "waiting", "completed", "failed", "compensating"].map((s) => "st-" + s);
const FINISHED = new Set(["completed", "failed", "cancelled"]);

const data = readJson("run-data");
if (data) runPage(data);


function runPage(initial) {
  const $ = (id) => document.getElementById(id);
  const runId = initial.run.id;
  const base = "/api/runs/" + runSegment(runId);
  const states = { ...(initial.states || {}) };
  let run = initial.run;
  let lastSeq = Math.max(0, ...(initial.events || []).map((e) => e.seq));

  const graph = new GraphView($("graph"), { onSelect: (sel) => graph.select(sel) });
  if (initial.view && initial.view.svg) {
    graph.adoptExisting(initial.view);
  }
  offerChannels(initial.view);
  paintStates(states);
  showRun(run);

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
    for (const form of ["signal-form", "call-form"]) {
      $(form).querySelector("button[type=submit]").disabled = finished;
    }
  }

  function addEvents(events) {
    const list = $("timeline");
    for (const e of events) {
      if (e.seq <= lastSeq) continue;
      lastSeq = e.seq;
      const item = document.createElement("li");
      item.className = `event event--${e.type} new`;
      item.dataset.seq = String(e.seq);
      const seq = document.createElement("span");
      seq.className = "event-seq";
      seq.textContent = String(e.seq);
      const at = document.createElement("time");
      const date = toDate(e.at ?? e.time);
      if (date) {
        at.dateTime = date.toISOString();
        at.textContent = formatTime(date);
        at.title = date.toISOString();
      }
      const type = document.createElement("span");
      type.className = "event-type";
      type.textContent = e.type;
      item.append(seq, at, type);
      if (e.state) {
        const st = document.createElement("span");
        st.className = "event-state";
        st.textContent = e.state;
        item.append(st);
      }
      list.append(item);
    }
    list.lastElementChild?.scrollIntoView({ block: "nearest" });
  }

  // Live updates. EventSource reconnects by itself and sends Last-Event-ID,
  // so nothing is missed across a dropped connection.
  const live = $("live-flag");
  if (FINISHED.has(run.status)) {
    live.textContent = "finished";
  } else {
    const source = new EventSource(base + "/events" + (lastSeq ? `?after=${lastSeq}` : ""));
    source.addEventListener("open", () => {
      live.textContent = "live";
      live.classList.add("live");
    });
    source.addEventListener("error", () => {
      live.textContent = "reconnecting…";
      live.classList.remove("live");
    });
    source.addEventListener("snapshot", (message) => {
      const payload = JSON.parse(message.data);
      Object.assign(states, payload.states || {});
      paintStates(payload.states || {});
      if (payload.run) showRun(payload.run);
    });
    source.addEventListener("delta", (message) => {
      const payload = JSON.parse(message.data);
      Object.assign(states, payload.states || {});
      paintStates(payload.states || {});
      if (payload.run) showRun(payload.run);
      addEvents(payload.events || []);
    });
    source.addEventListener("end", (message) => {
      const payload = JSON.parse(message.data);
      if (payload.run) showRun(payload.run);
      source.close();
      live.textContent = "finished";
      live.classList.remove("live");
      // The last events (the run's end) may have come with the final delta
      // or not at all: fetch what is missing once.
      api("GET", `${base}/history?after=${lastSeq}`).then((h) => addEvents(h.events || [])).catch(() => {});
      api("GET", base).then((r) => {
        paintStates(r.states || {});
        showRun(r.run);
      }).catch(() => {});
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
