// The run page's state panel (what the run did in one state: input, output,
// error with details, attempts with timings and idempotency keys, a waiting
// timer's due time in words) and its failure banner. Built from the JSON of
// GET /api/runs/{id}/state and the run's Failure (designer/API.md).

import { formatTime, toDate } from "./api.js";

function el(tag, attrs = {}, ...children) {
  const node = document.createElement(tag);
  for (const [key, value] of Object.entries(attrs)) {
    if (value === null || value === undefined || value === false) continue;
    if (key === "class") node.className = value;
    else if (key === "text") node.textContent = value;
    else node.setAttribute(key, value === true ? "" : String(value));
  }
  for (const child of children) {
    if (child === null || child === undefined || child === false) continue;
    node.append(child instanceof Node ? child : document.createTextNode(String(child)));
  }
  return node;
}

function json(value, name = "") {
  return el("pre", { class: name ? `code ${name}` : "code", text: JSON.stringify(value ?? null, null, 2) });
}

// ``1d``, ``2h30m``, ``1m30s``, ``0.5s``: the DSL's own duration words (as the CLI prints them).
export function duration(seconds) {
  const s = Math.abs(Number(seconds) || 0);
  if (s > 0 && s < 1) return `${Number((s * 1000).toPrecision(2))}ms`; // an attempt's time
  if (s < 60 && s !== Math.round(s)) return `${Number(s.toPrecision(3))}s`;
  let rest = Math.round(s);
  let out = "";
  for (const [unit, size] of [["d", 86400], ["h", 3600], ["m", 60]]) {
    if (rest >= size) {
      out += `${Math.floor(rest / size)}${unit}`;
      rest %= size;
    }
  }
  if (rest || !out) out += `${rest}s`;
  return out;
}

// A due time for people: the local date and time, and how far it is from the
// engine's `now` ("in 23h59m", "2m ago").
export function dueWords(due, now) {
  const date = toDate(due);
  if (!date) return "";
  const when = date.toLocaleString(undefined, {
    weekday: "short", day: "numeric", month: "short", hour: "2-digit", minute: "2-digit",
    hour12: false, timeZoneName: "short",
  });
  if (now === null || now === undefined) return when;
  const delta = Number(due) - Number(now);
  const relative = Math.abs(delta) < 1 ? "now" : delta > 0 ? `in ${duration(delta)}` : `${duration(delta)} ago`;
  return `${when} (${relative})`;
}

// A wait condition (the engine's WaitFor as JSON) in words, as `wfdsl runs
// show` says it: "signal `ready` or timer 24h (due Thu 2 Jan, 00:00 UTC (in 23h59m))".
export function describeWait(node, now) {
  if (!node) return "";
  if (node.kind === "signal") {
    const what = `signal \`${node.channel}\``;
    return node.count > 1 ? `${node.count} × ${what}` : what;
  }
  if (node.kind === "timer" || node.kind === "until") {
    const when = node.due !== null && node.due !== undefined ? dueWords(node.due, now) : "";
    if (node.kind === "until") return when ? `the time ${when}` : "a time";
    const length = node.seconds !== null && node.seconds !== undefined ? `timer ${duration(node.seconds)}` : "timer";
    return when ? `${length}, due ${when}` : length;
  }
  const alternatives = node.alternatives || [];
  const pending = alternatives.filter((a) => !a.done);
  const shown = pending.length ? pending : alternatives;
  const parts = shown.map((a) => ((a.alternatives || []).length ? `(${describeWait(a, now)})` : describeWait(a, now)));
  if (node.kind === "any") return parts.join(" or ");
  if (node.kind === "all") return parts.join(" and ");
  const need = Math.max(0, (node.count || 1) - (alternatives.length - pending.length));
  return `${need} more of: ${parts.join(", ")}`;
}

function time(epoch) {
  const date = toDate(epoch);
  if (!date) return el("span", { class: "muted", text: "—" });
  return el("time", { datetime: date.toISOString(), title: date.toISOString(), text: date.toLocaleString(undefined, { hour12: false }) });
}

function errorBlock(error, caught) {
  if (!error) return null;
  const block = el("div", { class: "state-error" + (caught ? " is-caught" : "") });
  block.append(
    el("p", { class: "state-error-line" },
      el("span", { class: "mono state-error-name", text: error.name || "Error" }),
      ": ",
      el("span", { class: "state-error-message", text: error.message || "" }),
      caught ? el("span", { class: "tag tag--caught", text: "caught" }) : null),
  );
  if (error.details) {
    block.append(el("h4", { text: "Details" }), json(error.details));
  }
  return block;
}

function clock(epoch) {
  const date = toDate(epoch);
  if (!date) return el("span", { class: "muted", text: "—" });
  return el("time", { datetime: date.toISOString(), title: date.toLocaleString(undefined, { hour12: false }), text: date.toLocaleTimeString(undefined, { hour12: false }) });
}

// One attempt a line: "#2 completed · 09:20:11 · took 0.2s", its error and
// retry under it, its idempotency key last.
function attemptsList(attempts, caption, shown = null) {
  if (!attempts.length) return null;
  const list = el("ol", { class: "attempts", "aria-label": caption });
  for (const a of attempts) {
    const took = a.seconds === null || a.seconds === undefined ? "running" : `took ${duration(a.seconds)}`;
    const item = el("li", { class: `attempt attempt--${a.outcome}`, "data-attempt": a.attempt },
      el("p", { class: "attempt-line" },
        el("span", { class: "mono", text: `#${a.attempt}` }), " ",
        el("span", { class: `outcome outcome--${a.outcome}`, text: a.outcome }),
        " · ", clock(a.started_at), " · ", took,
        a.action ? el("span", { class: "muted mono", text: ` ${a.action}` }) : null));
    if (a.error) {
      item.append(el("p", { class: "attempt-error" }, el("span", { class: "mono", text: a.error.name }), `: ${a.error.message || ""}`));
      // The visit's own error shows its details already.
      const same = shown && JSON.stringify(shown.details) === JSON.stringify(a.error.details);
      if (a.error.details && !same) item.append(json(a.error.details, "attempt-details"));
    }
    if (a.retry) item.append(el("p", { class: "attempt-retry muted", text: `retried after ${duration(a.retry.delay || 0)}` }));
    if (a.outcome === "skipped" && a.result) item.append(el("p", { class: "muted", text: String(a.result) }));
    if (a.key) item.append(el("p", { class: "attempt-key" }, el("span", { class: "muted", text: "key " }), el("code", { class: "key", text: a.key })));
    list.append(item);
  }
  return [el("h4", { text: caption }), list];
}

function visitBlock(visit, detail, index, count) {
  const section = el("section", { class: "visit", "data-thread": visit.thread });
  const add = (...parts) => section.append(...parts.filter((p) => p !== null && p !== undefined));
  const title = count > 1 ? `Visit ${index + 1} of ${count}` : "Visit";
  const where = visit.item !== null && visit.item !== undefined ? ` · item ${visit.item}` : "";
  add(el("h3", { class: "visit-title" }, `${title}${where}`));
  const took = visit.left_at !== null && visit.left_at !== undefined ? duration(visit.left_at - visit.entered_at) : null;
  add(el("p", { class: "visit-times" }, "Entered ", time(visit.entered_at),
    took !== null ? ` · left after ${took}` : " · still here"));
  if (visit.waiting) {
    const words = visit.waiting.for ? "Waiting for " + describeWait(visit.waiting.for, detail.now) : `Next try ${dueWords(visit.waiting.due, detail.now)}`;
    add(el("p", { class: "state-waiting", role: "status" }, words));
  }
  add(errorBlock(visit.error, visit.caught));
  add(...(attemptsList(visit.attempts, "Attempts", visit.error) || []));
  add(...(attemptsList(visit.undo, "Undo (compensation)") || []));
  if (visit.input !== null && visit.input !== undefined) add(el("h4", { text: "Input" }), json(visit.input, "state-input"));
  if (visit.output !== null && visit.output !== undefined) add(el("h4", { text: "Output" }), json(visit.output, "state-output"));
  if (visit.vars) add(el("h4", { text: "Vars written" }), json(visit.vars, "state-vars"));
  return section;
}

// Fill `container` with one state's detail (newest visit first; older ones folded).
export function renderStatePanel(container, detail, { onHistory } = {}) {
  container.replaceChildren();
  const head = el("div", { class: "state-head" },
    el("h3", { class: "state-name mono", id: "state-name", text: detail.path }),
    el("span", { class: "muted", text: detail.type || "" }),
    el("span", { class: `pill pill--${detail.status}`, id: "state-status", text: detail.status }));
  container.append(head);
  if (onHistory) {
    const button = el("button", { type: "button", class: "link-button", id: "state-history", text: "Show its history" });
    button.addEventListener("click", () => onHistory(detail.path));
    container.append(button);
  }
  const visits = detail.visits || [];
  if (!visits.length) {
    container.append(el("p", { class: "muted", text: "The run has not reached this state." }));
    return;
  }
  const newest = visits.length - 1;
  container.append(visitBlock(visits[newest], detail, newest, visits.length));
  if (visits.length > 1) {
    const older = el("details", { class: "older-visits" }, el("summary", { text: `${visits.length - 1} earlier visit${visits.length > 2 ? "s" : ""}` }));
    for (let i = newest - 1; i >= 0; i--) older.append(visitBlock(visits[i], detail, i, visits.length));
    container.append(older);
  }
}

// The failure banner's content (run.html renders the same on load); its
// state names are buttons with data-state, handled by the page.
export function renderFailure(banner, failure) {
  banner.replaceChildren();
  if (!failure) {
    banner.hidden = true;
    return;
  }
  const stateLink = (state) => el("button", { type: "button", class: "link-button mono", "data-state": state, text: state });
  banner.append(el("p", { class: "failure-line" },
    el("strong", {}, "Failed"), failure.state ? " at " : "", failure.state ? stateLink(failure.state) : null, ": ",
    el("span", { class: "mono failure-error", text: failure.error || "Error" }), " — ",
    el("span", { class: "failure-message", text: failure.message || "" })));
  if (failure.cause) {
    banner.append(el("p", { class: "failure-cause" }, "Caused by ",
      el("span", { class: "mono", text: failure.cause.error }), " in ", stateLink(failure.cause.state), ": ",
      el("span", { text: failure.cause.message || "" })));
  }
  if (failure.details) banner.append(el("details", {}, el("summary", { text: "Details" }), json(failure.details)));
  banner.hidden = false;
}

function lineageTime(epoch) {
  const date = toDate(epoch);
  return date ? el("time", { datetime: date.toISOString(), title: date.toISOString(), text: formatTime(date) }) : "";
}

// The lineage lines under the run's head (run.html renders the same on
// load): "Forked from o8 at #12 (charge)", "Redriven by … at …, from
// charge", "Forks: o8-a at #12 (charge) completed, …".
export function renderLineage(box, { forked_from: origin = null, redrives = [], forks = [] } = {}) {
  box.replaceChildren();
  const runLink = (id) => el("a", { class: "mono", href: "/runs/" + encodeURIComponent(id).replace(/%2F/g, "/"), text: id });
  const mono = (text) => el("span", { class: "mono", text });
  if (origin) {
    const execution = origin.execution && origin.execution > 1 ? ` (execution ${origin.execution})` : "";
    const set = Object.keys(origin.set || {});
    box.append(el("p", { id: "run-origin" }, "Forked from ", runLink(origin.run), execution, " at ", mono(`#${origin.seq}`),
      origin.state ? " (" : null, origin.state ? mono(origin.state) : null, origin.state ? ")" : null,
      set.length ? `, with ${set.join(", ")} set` : null));
  }
  if (redrives.length) {
    const last = redrives[redrives.length - 1];
    const times = redrives.length > 1 ? ` ${redrives.length} times, last` : "";
    box.append(el("p", { id: "run-redriven" }, `Redriven${times} by `, el("strong", { class: "redrive-by", text: last.by || "someone" }), " ", lineageTime(last.at),
      last.state ? ", from " : null, last.state ? mono(last.state) : null,
      last.failed_seq ? ", where it had failed (entered at " : null, last.failed_seq ? mono(`#${last.failed_seq}`) : null, last.failed_seq ? ")" : null));
  }
  if (forks.length) {
    const line = el("p", { id: "run-forks" }, "Forks: ");
    forks.forEach((f, i) => {
      if (i) line.append(", ");
      line.append(el("span", { class: "fork", "data-run": f.id }, runLink(f.id), " at ", mono(`#${f.seq}`),
        f.state ? " (" : null, f.state ? mono(f.state) : null, f.state ? ") " : " ",
        el("span", { class: `pill pill--${f.status}`, text: f.status })));
    });
    box.append(line);
  }
  box.hidden = !box.children.length;
}
