// The run page's history: rows that open to their payloads, filters by state
// and event type, live appends. A run may hold 100,000 events, so the list
// holds pieces of it: the page starts with the first and the newest events
// and a gap row between them ("1,234 events not shown · show the next ·
// show earlier") that loads a page at a time. The list never holds more
// than MAX_ROWS rows: past that, the rows farthest from what was just loaded
// or appended go back into a gap. A filter over a list that holds every
// event hides rows; over a list with gaps it asks the server
// (GET /api/runs/{id}/history?state=&type=&limit=&newest=) and the rows are
// the matching events, in the same pieces.
import { api, formatTime, toDate } from "./api.js";

/** The most event rows the list holds at once. */
export const MAX_ROWS = 600;
/** Events a gap's button loads at a time. */
const PAGE = 200;
/** The first events a (filtered) list starts with and keeps while following the newest. */
const HEAD = 50;
/** The newest events a filtered list starts with. */
const TAIL = 200;

const isGap = (el) => Boolean(el && el.classList.contains("history-gap"));

export function nodeOf(e) {
  return e.node ?? (e.state ? e.state.replace(/\[\d+\]/g, "") : "");
}

export class HistoryView {
  constructor({ list, count, stateSelect, typeSelect, base, total, lastSeq, onError }) {
    this.list = list;
    this.count = count;
    this.stateSelect = stateSelect;
    this.typeSelect = typeSelect;
    this.base = base;
    this.total = total; // events in the run's history (as far as this page knows)
    this.lastSeq = lastSeq; // the newest event seen
    this.onError = onError || (() => {});
    this.serverFiltered = false; // the rows are the server's matches of this.filter
    this.filter = { state: "", type: "" };
    this.matched = 0; // with serverFiltered: how many events match the filter
    this.generation = 0; // a reply of an earlier filter is dropped
    this.busy = null; // the load in flight (one at a time)
    list.addEventListener("click", (event) => {
      const button = event.target.closest("[data-load]");
      if (button) this.load(button.closest(".history-gap"), button.dataset.load);
    });
    stateSelect.addEventListener("change", () => this.applyFilter());
    typeSelect.addEventListener("change", () => this.applyFilter());
    this.showCount();
  }

  rows() {
    return [...this.list.querySelectorAll(":scope > li.event")];
  }

  gaps() {
    return [...this.list.querySelectorAll(":scope > li.history-gap")];
  }

  // Whether every event of the run is in the list (no gap).
  complete() {
    return !this.list.querySelector(":scope > li.history-gap");
  }

  matches(e, filter = this.filter) {
    return (!filter.state || nodeOf(e) === filter.state) && (!filter.type || e.type === filter.type);
  }

  // ---- rows and gaps
  makeRow(e) {
    const node = nodeOf(e);
    const item = document.createElement("li");
    item.className = `event event--${e.type}`;
    item.dataset.seq = String(e.seq);
    item.dataset.type = e.type;
    item.dataset.state = node || "";
    const details = document.createElement("details");
    const summary = document.createElement("summary");
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
    const st = document.createElement("span");
    st.className = "event-state";
    st.textContent = e.state || "";
    summary.append(seq, at, type, st);
    const data = document.createElement("pre");
    data.className = "code event-data";
    data.textContent = JSON.stringify(e.data ?? {}, null, 2);
    details.append(summary, data);
    item.append(details);
    return item;
  }

  // A gap row (run.html renders the same): the seqs it lies between
  // (`before` "" for "up to the newest") and how many events it hides.
  makeGap(after, before, count) {
    const gap = document.createElement("li");
    gap.className = "history-gap";
    const words = document.createElement("span");
    words.className = "gap-words";
    const later = document.createElement("button");
    later.type = "button";
    later.className = "link-button";
    later.dataset.load = "later";
    const earlier = later.cloneNode();
    earlier.dataset.load = "earlier";
    gap.append(words, " ", later, " · ", earlier);
    this.setGap(gap, after, before, count);
    return gap;
  }

  setGap(gap, after, before, count) {
    if (count <= 0) {
      gap.remove();
      return;
    }
    gap.dataset.after = String(after);
    gap.dataset.before = before === "" || before === null || before === undefined ? "" : String(before);
    gap.dataset.count = String(count);
    const which = this.serverFiltered ? "matching event" : "event";
    gap.querySelector(".gap-words").textContent = `${count} ${which}${count === 1 ? "" : "s"} not shown`;
    const n = Math.min(PAGE, count);
    gap.querySelector("[data-load='later']").textContent = `show the next ${n}`;
    gap.querySelector("[data-load='earlier']").textContent = gap.dataset.before ? `show the ${n} before #${gap.dataset.before}` : `show the newest ${n}`;
  }

  // Put `row` back into a gap (merging with a neighbouring gap).
  drop(row) {
    const prev = row.previousElementSibling;
    const next = row.nextElementSibling;
    const seqOf = (el) => (el ? el.dataset.seq : "");
    if (isGap(prev) && isGap(next)) {
      this.setGap(prev, prev.dataset.after, next.dataset.before, Number(prev.dataset.count) + 1 + Number(next.dataset.count));
      next.remove();
    } else if (isGap(prev)) {
      this.setGap(prev, prev.dataset.after, seqOf(next), Number(prev.dataset.count) + 1);
    } else if (isGap(next)) {
      this.setGap(next, prev ? prev.dataset.seq : 0, next.dataset.before, Number(next.dataset.count) + 1);
    } else {
      row.before(this.makeGap(prev ? prev.dataset.seq : 0, seqOf(next), 1));
    }
    row.remove();
  }

  // Bound the list: drop the rows farthest from `anchor` (a row just
  // loaded or appended); while the anchor is past the first page, that
  // page stays (what a reader of a live run looks back to).
  trim(anchor) {
    const rows = this.rows();
    while (rows.length > MAX_ROWS) {
      const at = Math.max(0, rows.indexOf(anchor));
      const keep = Math.min(HEAD, at);
      const victim = at - keep > rows.length - 1 - at ? keep : rows.length - 1;
      this.drop(rows[victim]);
      rows.splice(victim, 1);
    }
  }

  // ---- loading
  query(params, filter) {
    const q = new URLSearchParams();
    for (const [k, v] of Object.entries(params)) if (v !== "" && v !== null && v !== undefined) q.set(k, String(v));
    if (filter.state) q.set("state", filter.state);
    if (filter.type) q.set("type", filter.type);
    return `${this.base}/history?${q}`;
  }

  // Fill part of `gap`: "earlier" the events just before its end, "later"
  // those just after its start.
  async load(gap, which) {
    if (!gap || this.busy) return;
    const generation = this.generation;
    const filter = this.serverFiltered ? this.filter : { state: "", type: "" };
    const before = gap.dataset.before || this.lastSeq + 1;
    const url = this.query({ after: gap.dataset.after, before, limit: PAGE, newest: which === "earlier" ? 1 : "" }, filter);
    gap.classList.add("loading");
    this.busy = api("GET", url);
    let reply;
    try {
      reply = await this.busy;
    } catch (err) {
      this.onError(err);
      return;
    } finally {
      this.busy = null;
      gap.classList.remove("loading");
    }
    if (generation !== this.generation || !gap.isConnected) return;
    const rows = (reply.events || []).filter((e) => !this.list.querySelector(`:scope > li[data-seq="${e.seq}"]`)).map((e) => this.makeRow(e));
    if (!rows.length) {
      gap.remove();
      this.showCount();
      return;
    }
    const rest = Math.max(0, (reply.matched ?? rows.length) - rows.length);
    if (which === "earlier") {
      gap.after(...rows);
      this.setGap(gap, gap.dataset.after, rows[0].dataset.seq, rest);
    } else {
      gap.before(...rows);
      this.setGap(gap, rows[rows.length - 1].dataset.seq, gap.dataset.before, rest);
    }
    // The reader goes up (earlier) or down (later): the far end goes.
    this.trim(which === "earlier" ? rows[0] : rows[rows.length - 1]);
    this.hideUnmatched();
    this.showCount();
  }

  // The list for `filter` from the server: its first matches, a gap, its newest.
  async reset(filter) {
    const generation = ++this.generation;
    let first;
    let newest = null;
    try {
      first = await api("GET", this.query({ limit: HEAD + TAIL }, filter));
      if ((first.matched ?? 0) > HEAD + TAIL) {
        const head = first.events.slice(0, HEAD);
        newest = await api("GET", this.query({ after: head[head.length - 1].seq, limit: TAIL, newest: 1 }, filter));
      }
    } catch (err) {
      this.onError(err);
      return;
    }
    if (generation !== this.generation) return; // another filter was chosen meanwhile
    this.serverFiltered = Boolean(filter.state || filter.type);
    this.filter = filter;
    const parts = [];
    if (newest) {
      const head = first.events.slice(0, HEAD);
      const tail = newest.events;
      parts.push(...head.map((e) => this.makeRow(e)));
      const count = (first.matched ?? 0) - head.length - tail.length;
      if (count > 0) parts.push(this.makeGap(head[head.length - 1].seq, tail.length ? tail[0].seq : "", count));
      parts.push(...tail.map((e) => this.makeRow(e)));
    } else {
      parts.push(...first.events.map((e) => this.makeRow(e)));
    }
    this.list.replaceChildren(...parts);
    this.matched = this.serverFiltered ? first.matched ?? 0 : 0;
    const seqs = this.rows().map((r) => Number(r.dataset.seq));
    this.lastSeq = Math.max(this.lastSeq, ...seqs);
    this.showCount();
  }

  // ---- filters
  ensureOption(select, value) {
    let option = [...select.options].find((o) => o.value === value);
    if (!option) {
      option = new Option(value, value);
      const later = [...select.options].slice(1).find((o) => o.value > value);
      select.insertBefore(option, later || null);
    }
    return option;
  }

  setFilter({ state = null, type = null } = {}) {
    if (state !== null) this.ensureOption(this.stateSelect, state).selected = true;
    if (type !== null) this.ensureOption(this.typeSelect, type).selected = true;
    return this.applyFilter();
  }

  applyFilter() {
    const filter = { state: this.stateSelect.value, type: this.typeSelect.value };
    const any = Boolean(filter.state || filter.type);
    if (!this.serverFiltered && this.complete()) {
      // Every event is here: hide the others.
      this.filter = filter;
      this.hideUnmatched();
      this.showCount();
      return Promise.resolve();
    }
    if (!any && !this.serverFiltered) {
      this.filter = filter;
      this.hideUnmatched();
      this.showCount();
      return Promise.resolve();
    }
    return this.reset(filter);
  }

  hideUnmatched() {
    for (const row of this.rows()) {
      const hide = this.serverFiltered ? false : (this.filter.state && row.dataset.state !== this.filter.state) || (this.filter.type && row.dataset.type !== this.filter.type);
      row.hidden = Boolean(hide);
    }
  }

  showCount() {
    const any = this.filter.state || this.filter.type;
    let shown;
    if (!any) shown = null;
    else if (this.serverFiltered) shown = this.matched;
    else shown = this.rows().filter((r) => !r.hidden).length;
    this.count.textContent = shown === null ? `${this.total} events` : `${shown} of ${this.total} events`;
    this.list.dataset.rows = String(this.rows().length);
  }

  // ---- live
  // New events from the live stream (or a fetch of what it missed).
  append(events) {
    let last = null;
    for (const e of events) {
      if (e.seq <= this.lastSeq) continue;
      this.lastSeq = e.seq;
      this.total++;
      const node = nodeOf(e);
      if (node) this.ensureOption(this.stateSelect, node);
      this.ensureOption(this.typeSelect, e.type);
      if (this.serverFiltered && !this.matches(e)) continue;
      if (this.serverFiltered) this.matched++;
      if (this.list.querySelector(`:scope > li[data-seq="${e.seq}"]`)) continue; // a reset brought it
      const end = this.list.lastElementChild;
      if (isGap(end) && end.dataset.before === "") {
        // The reader looks at older events: the newest wait in the gap.
        this.setGap(end, end.dataset.after, "", Number(end.dataset.count) + 1);
        continue;
      }
      const row = this.makeRow(e);
      row.classList.add("new");
      this.list.append(row);
      last = row;
    }
    if (last) this.trim(last);
    if (this.filter.state || this.filter.type) {
      if (!this.serverFiltered && !this.complete()) {
        this.reset(this.filter); // the list has gaps now: the server filters
        return;
      }
      this.hideUnmatched();
    }
    this.showCount();
    if (last && !isGap(this.list.lastElementChild)) {
      const shown = [...this.rows()].reverse().find((row) => !row.hidden);
      shown?.scrollIntoView({ block: "nearest" });
    }
  }
}
