// Forms for the structured fields of a state and of the workflow: choice
// rules, retry and catch policies, key/value maps (args, set, input),
// wait alternatives, undo, schedules and handlers. Each change is one small
// edit on the server (set_field / set_document_field), applied to the
// round-trip document, so the YAML keeps its comments; an expression is
// checked by the server as it is typed (the same edit, previewed and not
// applied), and its finding shows under the field.
//
// `ctx` (from properties.js):
//   set(path, value)    commit `value` at `path` (keys/indexes), null deletes
//   check(path, value)  the findings the server gives for `path` with `value`
//   states              the state names of this scope, for targets
//   id(path)            a stable element id for a field
//   committed(id, text) a field's text reached the document (see commitOn)
//   op(op)              send another edit about this state (add_branch, ...)
//   previewOp(op)       why that edit cannot be done (text), or null
//
// The panel redraws a form when the edited document's data arrives; the
// text a user is typing is carried into the new form (properties.js,
// replace), so a field is only ever committed from what was typed.

const END = "(end)";

export function el(tag, attrs = {}, ...children) {
  const node = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs)) {
    if (v === undefined || v === null || v === false) continue;
    if (k === "class") node.className = v;
    else if (k === "text") node.textContent = v;
    else if (k.startsWith("on")) node.addEventListener(k.slice(2), v);
    else node.setAttribute(k, v === true ? "" : v);
  }
  node.append(...children.filter((c) => c !== null && c !== undefined));
  return node;
}

function button(text, onClick, cls = "", label = "") {
  return el("button", { type: "button", class: cls, text, title: label || null, "aria-label": label || null, onclick: onClick });
}

// A typed value from a text field: numbers, booleans and null as such, a
// JSON list or map when it parses, anything else as text (expressions too).
export function parseValue(text) {
  const t = text.trim();
  if (t === "") return "";
  if (/^-?\d+(\.\d+)?$/.test(t)) return Number(t);
  if (t === "true") return true;
  if (t === "false") return false;
  if (t === "null") return null;
  if (/^[[{]/.test(t)) {
    try {
      return JSON.parse(t);
    } catch {
      return text;
    }
  }
  return text;
}

export function showValue(value) {
  if (value === undefined) return "";
  if (typeof value === "string") return value;
  return JSON.stringify(value);
}

function isExpression(text) {
  return typeof text === "string" && text.includes("${");
}

// ------------------------------------------------------------------ committing

// The panel is swapping forms: removing a focused field fires its change
// event, which must not commit half-typed text.
export function leaving(input) {
  return !!input.closest("[data-replacing]");
}

// Commit a field on change (Enter, or leaving it), once per new value: the
// value it was drawn with is the document's and is not sent back, and the
// browser's own change event after a commit on Enter sends nothing more.
// `send(value)` returns the edit's promise; a refused edit lets the same
// value be tried again.
export function commitOn(ctx, input, read, send) {
  let last = JSON.stringify(read());
  const commit = () => {
    if (leaving(input)) return;
    const value = read();
    const key = JSON.stringify(value);
    if (key === last) return;
    last = key;
    const text = input.value;
    Promise.resolve(send(value)).then((result) => {
      if (!result) last = null;
      else ctx.committed?.(input.id, text);
    });
  };
  input.addEventListener("change", commit);
  input.addEventListener("keydown", (e) => {
    if (e.key === "Enter") {
      e.preventDefault();
      commit();
    }
  });
  return commit;
}

// ------------------------------------------------------------------ fields

// A text field, committed on change (Enter or leaving it), checked by the
// server as it is typed. With `expression`, a hint says what it may read.
export function textField(ctx, path, value, { label, help, placeholder, expression = false, typed = false, list, required } = {}) {
  const id = ctx.id(path);
  const input = el("input", { id, name: id, placeholder, spellcheck: "false", autocomplete: "off", "data-path": JSON.stringify(path) });
  if (list) input.setAttribute("list", list);
  input.value = showValue(value);
  const status = el("p", { class: "prop-check-status", id: id + "-status", "aria-live": "polite" });
  input.setAttribute("aria-describedby", status.id);
  const wrap = el("div", { class: "prop-field" + (expression ? " prop-expression" : "") });
  if (label) wrap.append(el("label", { for: id, class: "prop-label", text: label + (required ? " *" : "") }));
  wrap.append(input);
  if (expression) {
    input.placeholder = placeholder || "${ vars.total > 100 }";
    wrap.append(el("p", { class: "prop-hint", text: "An expression: ${ … } over input, vars, result, error, now()" }));
  }
  if (help) wrap.append(el("p", { class: "prop-help", text: help }));
  wrap.append(status);
  const read = () => (typed ? parseValue(input.value) : input.value.trim());
  liveCheck(ctx, path, input, status, read);
  commitOn(ctx, input, read, (v) => ctx.set(path, v === "" ? null : v));
  return wrap;
}

// Check a single-value field as it is typed: after a pause, the server
// previews the edit (not applied) and its finding for `path`, in the
// validator's words, shows in `status`; "✓ valid" when there is none. A
// field is drawn with the document's own finding for it, if any.
export function liveCheck(ctx, path, input, status, read) {
  let seq = 0;
  let timer = null;
  const show = (findings, empty) => {
    const bad = findings.find((f) => f.severity === "error") || findings[0];
    const error = !!bad && bad.severity === "error";
    input.classList.toggle("invalid", error);
    input.setAttribute("aria-invalid", error ? "true" : "false");
    status.className = "prop-check-status " + (bad ? `is-${bad.severity}` : empty ? "" : "is-ok");
    status.textContent = bad ? bad.message + (bad.suggestion ? ` (${bad.suggestion})` : "") : empty ? "" : "✓ valid";
  };
  const now = ctx.findings?.(path) || [];
  if (now.length) show(now, true);
  const check = () => {
    const mine = ++seq;
    const v = read();
    const empty = v === "" || v === null;
    ctx.check(path, empty ? null : v).then((findings) => {
      if (mine === seq) show(findings, empty);
    });
  };
  input.addEventListener("input", () => {
    clearTimeout(timer);
    timer = setTimeout(check, 250);
  });
  input.addEventListener("change", () => clearTimeout(timer));
  input.addEventListener("keydown", (e) => e.key === "Enter" && clearTimeout(timer));
}

// A state target: the scope's states, and "(end)" where ending is allowed.
export function targetField(ctx, path, value, { label = "next", allowEnd = false, ends = false, onEnd } = {}) {
  const id = ctx.id(path);
  const select = el("select", { id, name: id, "data-path": JSON.stringify(path) });
  select.append(el("option", { value: "", text: "— none —" }));
  for (const name of ctx.states) select.append(el("option", { value: name, text: name }));
  if (allowEnd) select.append(el("option", { value: END, text: "(end the thread)" }));
  select.value = ends ? END : value || "";
  if (value && !ctx.states.includes(value)) {
    select.append(el("option", { value, text: `${value} (no such state)` }));
    select.value = value;
  }
  select.addEventListener("change", () => {
    if (select.value === END) onEnd?.();
    else ctx.set(path, select.value || null);
  });
  return el("div", { class: "prop-field" }, el("label", { for: id, class: "prop-label", text: label }), select);
}

// Error names: a comma-separated list, or * for every error.
export function errorsField(ctx, path, value, { label = "errors" } = {}) {
  const id = ctx.id(path);
  const input = el("input", { id, name: id, placeholder: "* or CardDeclined, Timeout", spellcheck: "false", "data-path": JSON.stringify(path) });
  input.value = Array.isArray(value) ? value.join(", ") : value || "";
  const read = () => {
    const text = input.value.trim();
    if (!text) return null;
    return text === "*" ? "*" : text.split(",").map((s) => s.trim()).filter(Boolean);
  };
  commitOn(ctx, input, read, (v) => ctx.set(path, v));
  return el(
    "div",
    { class: "prop-field" },
    el("label", { for: id, class: "prop-label", text: label }),
    input,
    el("p", { class: "prop-help", text: "Error names separated by commas, or * for every error." }),
  );
}

// ------------------------------------------------------------------ groups

function group(title, help, ...body) {
  const box = el("fieldset", { class: "prop-group" }, el("legend", { class: "prop-label", text: title }));
  if (help) box.append(el("p", { class: "prop-help", text: help }));
  box.append(...body);
  return box;
}

// An ordered list of cards, each with its remove and move buttons.
function listOf(ctx, path, items, { noun, render, fresh, title }) {
  // Adding, moving and removing are worked out when the edit's turn comes,
  // from the list as the document then holds it: a second click sent before
  // the first one's reply redrew the form would otherwise act on the list
  // as drawn (a double click on "+ Add" added one item, on "✕" removed two).
  const listIn = (root) => {
    let value = root;
    for (const part of path) value = value && typeof value === "object" ? value[part] : undefined;
    return Array.isArray(value) ? value : [];
  };
  // The card's item by value; when its value changed (a field of the card
  // committed just before the click) but nothing was added or removed, it
  // is still the one at its index.
  const find = (list, item, i) => {
    if (sameValue(list[i], item)) return i;
    const at = list.findIndex((x) => sameValue(x, item));
    return at < 0 && list.length === items.length ? i : at;
  };
  const box = el("div", { class: "prop-list" });
  items.forEach((item, i) => {
    const card = el("div", { class: "prop-card", "data-index": String(i) });
    const head = el("div", { class: "prop-card-head" }, el("span", { class: "prop-card-title", text: title ? title(item, i) : `${noun} ${i + 1}` }));
    const tools = el("span", { class: "prop-card-tools" });
    if (i > 0) {
      tools.append(
        button("↑", () => ctx.setLater((root) => {
          const copy = [...listIn(root)];
          const at = find(copy, item, i);
          if (at <= 0) return null;
          [copy[at - 1], copy[at]] = [copy[at], copy[at - 1]];
          return [path, copy];
        }), "icon", `Move ${noun} ${i + 1} up`),
      );
    }
    tools.append(button("✕", () => ctx.setLater((root) => {
      const list = listIn(root);
      const at = find(list, item, i);
      if (at < 0) return null; // already gone
      return [list.length === 1 ? path : [...path, at], null];
    }), "icon danger", `Remove ${noun} ${i + 1}`));
    head.append(tools);
    card.append(head, ...render(item, i));
    box.append(card);
  });
  box.append(button(`+ Add ${noun}`, () => ctx.setLater((root) => {
    const n = listIn(root).length;
    return n ? [[...path, n], fresh()] : [path, [fresh()]];
  }), "link prop-add"));
  return box;
}

function sameValue(a, b) {
  return JSON.stringify(a) === JSON.stringify(b);
}

// A map of names to values (args, set, input, vars): one row each.
export function mapField(ctx, path, value, { title, help, keyLabel = "name", keyHint = "key", valueHint = "value or ${ expression }" } = {}) {
  if (isExpression(value)) {
    return group(title, "One expression that yields the whole map.", textField(ctx, path, value, { expression: true }));
  }
  const entries = value && typeof value === "object" && !Array.isArray(value) ? Object.entries(value) : [];
  const rows = el("div", { class: "prop-map" });
  entries.forEach(([key, v], i) => {
    const keyId = ctx.id([...path, "#key", i]);
    const keyInput = el("input", { id: keyId, class: "prop-map-key", value: key, "aria-label": `${keyLabel} ${i + 1}`, spellcheck: "false", "data-path": JSON.stringify([...path, "#key", i]) });
    keyInput.value = key;
    commitOn(ctx, keyInput, () => keyInput.value.trim(), (to) => {
      if (!to || to === key) return null;
      const renamed = {};
      for (const [k, val] of entries) renamed[k === key ? to : k] = val;
      return ctx.set(path, renamed);
    });
    const valueField = textField(ctx, [...path, key], v, { typed: true, expression: false, placeholder: valueHint });
    valueField.classList.add("prop-map-value");
    valueField.querySelector("input").setAttribute("aria-label", `${key} value`);
    const hint = valueField.querySelector(".prop-check-status");
    if (isExpression(showValue(v))) hint.textContent = "expression";
    const remove = button("✕", () => ctx.set(entries.length === 1 ? path : [...path, key], null), "icon danger", `Remove ${key}`);
    rows.append(el("div", { class: "prop-map-row" }, keyInput, valueField, remove));
  });
  // The new row: a name and a value; committed once both are there.
  const newKey = el("input", { class: "prop-map-key", placeholder: keyHint, "aria-label": `new ${keyLabel}`, spellcheck: "false", id: ctx.id([...path, "#new-key"]) });
  const newValue = el("input", { placeholder: valueHint, "aria-label": "new value", spellcheck: "false", id: ctx.id([...path, "#new-value"]) });
  const add = () => {
    const key = newKey.value.trim();
    if (!key || leaving(newValue)) return;
    ctx.set([...path, key], parseValue(newValue.value) ?? "").then((result) => {
      if (result) [newKey, newValue].forEach((input) => ctx.committed?.(input.id, input.value));
    });
  };
  newValue.addEventListener("change", add);
  newValue.addEventListener("keydown", (e) => {
    if (e.key === "Enter") {
      e.preventDefault();
      add();
    }
  });
  rows.append(el("div", { class: "prop-map-row prop-map-new" }, newKey, newValue, button("+", add, "icon", `Add to ${title}`)));
  return group(title, help || "Values may be expressions: ${ input.email }, ${ vars.total * 2 }.", rows);
}

// ------------------------------------------------------------------ state sections

export function choicesSection(ctx, state) {
  const rules = Array.isArray(state.choices) ? state.choices : [];
  const list = listOf(ctx, ["choices"], rules, {
    noun: "rule",
    fresh: () => ({ when: "${ true }", next: state.default || ctx.states[0] || "" }),
    render: (rule, i) => [
      textField(ctx, ["choices", i, "when"], rule.when, { label: "when", expression: true, typed: true }),
      targetField(ctx, ["choices", i, "next"], rule.next, {
        label: "then go to",
        allowEnd: true,
        ends: rule.end === true,
        onEnd: () => {
          const { next: _drop, ...rest } = rule;
          ctx.set(["choices", i], { ...rest, end: true });
        },
      }),
    ],
  });
  const otherwise = targetField(ctx, ["default"], state.default, {
    label: "otherwise (default)",
    allowEnd: true,
    ends: state.end === true,
    onEnd: () => ctx.setMany([[["default"], null], [["end"], true]]),
  });
  return group("choices", "Tried in order: the first rule whose condition holds decides; otherwise the default.", list, otherwise);
}

const POLICY_FIELDS = [
  ["max_attempts", "attempts in total (1 = no retry, or unlimited)", "3"],
  ["initial_interval", "first delay", "1s"],
  ["backoff", "delay factor", "2"],
  ["max_interval", "longest delay", "100s"],
  ["max_duration", "time limit over all attempts", ""],
  ["jitter", "full, equal, none or 0-1", "0"],
];

function policyFields(ctx, base, policy) {
  const grid = el("div", { class: "prop-grid" });
  for (const [key, help, placeholder] of POLICY_FIELDS) {
    grid.append(textField(ctx, [...base, key], policy?.[key], { label: key, placeholder, typed: true, help }));
  }
  return grid;
}

export function retrySection(ctx, retry) {
  const mode = Array.isArray(retry) ? "list" : retry && typeof retry === "object" ? "one" : "none";
  const id = ctx.id(["retry", "#mode"]);
  const select = el("select", { id, "data-path": JSON.stringify(["retry", "#mode"]) });
  for (const [value, text] of [
    ["none", "the defaults (3 attempts, 1s, ×2)"],
    ["one", "one policy for every error"],
    ["list", "a policy per error"],
  ]) {
    select.append(el("option", { value, text }));
  }
  select.value = mode;
  select.addEventListener("change", () => {
    if (select.value === "none") ctx.set(["retry"], null);
    else if (select.value === "one") ctx.set(["retry"], { max_attempts: 3, initial_interval: "1s", backoff: 2 });
    else ctx.set(["retry"], [{ errors: ["Timeout"], max_attempts: 3, initial_interval: "1s" }]);
  });
  const body = [el("div", { class: "prop-field" }, el("label", { for: id, class: "prop-label", text: "retry" }), select)];
  if (mode === "one") {
    body.push(policyFields(ctx, ["retry"], retry));
    body.push(errorsField(ctx, ["retry", "non_retryable"], retry.non_retryable, { label: "never retry" }));
  } else if (mode === "list") {
    body.push(
      listOf(ctx, ["retry"], retry, {
        noun: "policy",
        title: (p, i) => `policy ${i + 1}: ${Array.isArray(p.errors) ? p.errors.join(", ") : p.errors || "?"}`,
        fresh: () => ({ errors: "*", max_attempts: 3 }),
        render: (policy, i) => [errorsField(ctx, ["retry", i, "errors"], policy.errors), policyFields(ctx, ["retry", i], policy)],
      }),
    );
  }
  return group("retry", "How failed attempts are retried; each delay waits on a durable timer.", ...body);
}

export function catchSection(ctx, entries) {
  const list = listOf(ctx, ["catch"], Array.isArray(entries) ? entries : [], {
    noun: "catch",
    title: (c, i) => `catch ${i + 1}: ${Array.isArray(c.errors) ? c.errors.join(", ") : c.errors || "?"}`,
    fresh: () => ({ errors: "*", as: "failure", next: ctx.states[0] || "" }),
    render: (entry, i) => [
      errorsField(ctx, ["catch", i, "errors"], entry.errors),
      textField(ctx, ["catch", i, "when"], entry.when, { label: "only when", expression: true, typed: true, placeholder: "${ error.details.status == 404 }" }),
      textField(ctx, ["catch", i, "as"], entry.as, { label: "save the error as", placeholder: "failure" }),
      targetField(ctx, ["catch", i, "next"], entry.next, { label: "then go to" }),
    ],
  });
  return group("catch", "What happens once retries are spent: the first entry whose errors match decides the next state.", list);
}

export function undoSection(ctx, undo) {
  if (!undo) {
    return group("undo", "The compensating action, run by a compensate state or a failed saga.", button("+ Add an undo action", () => ctx.set(["undo"], { action: "noop" }), "link prop-add"));
  }
  return group(
    "undo",
    "The compensating action, run by a compensate state or a failed saga.",
    textField(ctx, ["undo", "action"], undo.action, { label: "action", required: true, placeholder: "payments.refund" }),
    mapField(ctx, ["undo", "args"], undo.args, { title: "undo args" }),
    button("Remove undo", () => ctx.set(["undo"], null), "link danger"),
  );
}

// ------------------------------------------------------------------ waits

const WAIT_KINDS = ["timer", "until", "signal", "any", "all", "at_least"];

function waitKindOf(node) {
  return WAIT_KINDS.find((k) => node && k in node) || null;
}

function simpleWait(ctx, base, node, kind) {
  if (kind === "timer") return [textField(ctx, [...base, "timer"], node.timer, { label: "wait for", placeholder: "10m, 1h30m, 2d", typed: true, expression: false, help: "A duration: 30s, 10m, 1h30m, 1d, or an expression." })];
  if (kind === "until") return [textField(ctx, [...base, "until"], node.until, { label: "wait until", placeholder: "2030-01-31T17:00:00Z or ${ input.ship_by }", expression: false })];
  return [
    textField(ctx, [...base, "signal"], node.signal, { label: "signal", placeholder: "approved", list: "signal-names-list" }),
    textField(ctx, [...base, "as"], node.as, { label: "save its data as", placeholder: "approval" }),
    textField(ctx, [...base, "count"], node.count, { label: "messages to wait for", placeholder: "1", typed: true }),
  ];
}

function switchKind(ctx, base, node, kind, keepNext) {
  const fresh = { timer: "1m", until: "${ input.deadline }", signal: "go", any: [{ signal: "go" }, { timer: "1h" }], all: [{ signal: "a" }, { signal: "b" }], at_least: { count: 1, of: [{ signal: "a" }, { signal: "b" }] } }[kind];
  const out = {};
  for (const [k, v] of Object.entries(node || {})) if (!WAIT_KINDS.includes(k) && !["as", "count"].includes(k)) out[k] = v;
  if (!keepNext) delete out.next;
  out[kind] = fresh;
  return out;
}

function kindSelect(ctx, path, kind, onChange, kinds = WAIT_KINDS) {
  const id = ctx.id(path);
  const select = el("select", { id, "data-path": JSON.stringify(path) });
  const names = { timer: "a time (timer)", until: "a moment (until)", signal: "a signal", any: "the first of several (any)", all: "all of several (all)", at_least: "some of several (at least)" };
  for (const k of kinds) select.append(el("option", { value: k, text: names[k] }));
  select.value = kind || "";
  select.addEventListener("change", () => onChange(select.value));
  return el("div", { class: "prop-field" }, el("label", { for: id, class: "prop-label", text: "wait for" }), select);
}

function alternatives(ctx, base, items, inAny) {
  return listOf(ctx, base, items, {
    noun: "alternative",
    title: (alt, i) => `${i + 1}: ${waitKindOf(alt) || "?"}`,
    fresh: () => ({ timer: "1h" }),
    render: (alt, i) => {
      const at = [...base, i];
      const kind = waitKindOf(alt);
      const parts = [kindSelect(ctx, [...at, "#kind"], kind, (k) => ctx.set(at, switchKind(ctx, at, alt, k, true)), ["timer", "until", "signal"])];
      if (["any", "all", "at_least"].includes(kind)) {
        parts.push(el("p", { class: "muted", text: `A nested ${kind}: edit it in the YAML.` }));
      } else if (kind) {
        parts.push(...simpleWait(ctx, at, alt, kind));
      }
      if (inAny) parts.push(targetField(ctx, [...at, "next"], alt.next, { label: "then go to (else the wait's next)" }));
      return parts;
    },
  });
}

export function waitSection(ctx, state) {
  const kind = waitKindOf(state);
  const parts = [kindSelect(ctx, ["#wait-kind"], kind, (k) => ctx.replaceState(switchKind(ctx, [], state, k, true)))];
  if (kind === "timer" || kind === "until" || kind === "signal") parts.push(...simpleWait(ctx, [], state, kind));
  else if (kind === "any" || kind === "all") parts.push(alternatives(ctx, [kind], Array.isArray(state[kind]) ? state[kind] : [], kind === "any"));
  else if (kind === "at_least") {
    const least = state.at_least || {};
    parts.push(textField(ctx, ["at_least", "count"], least.count, { label: "how many must complete", typed: true, placeholder: "2" }));
    parts.push(alternatives(ctx, ["at_least", "of"], Array.isArray(least.of) ? least.of : [], false));
  }
  return group("wait", "What the state waits for, durably: time, a moment, signals, or a combination.", ...parts);
}

// ------------------------------------------------------------------ the workflow

export function scheduleSection(ctx, schedule) {
  if (!schedule) {
    return group("schedule", "Start a run at each tick of a cron while `wfdsl worker` or `wfdsl serve` runs.", button("+ Add a schedule", () => ctx.set(["schedule"], { cron: "0 2 * * *", timezone: "UTC", overlap: "skip" }), "link prop-add"));
  }
  const id = ctx.id(["schedule", "overlap"]);
  const overlap = el("select", { id, "data-path": JSON.stringify(["schedule", "overlap"]) });
  for (const v of ["skip", "allow", "buffer_one"]) overlap.append(el("option", { value: v, text: v }));
  overlap.value = schedule.overlap || "skip";
  overlap.addEventListener("change", () => ctx.set(["schedule", "overlap"], overlap.value));
  return group(
    "schedule",
    "Start a run at each tick of a cron while `wfdsl worker` or `wfdsl serve` runs.",
    textField(ctx, ["schedule", "cron"], schedule.cron, { label: "cron", required: true, placeholder: "*/5 * * * *", help: "Five fields: minute hour day-of-month month day-of-week." }),
    textField(ctx, ["schedule", "timezone"], schedule.timezone, { label: "timezone", placeholder: "UTC" }),
    el("div", { class: "prop-field" }, el("label", { for: id, class: "prop-label", text: "when a run is still going" }), overlap),
    button("Remove schedule", () => ctx.set(["schedule"], null), "link danger"),
  );
}

export function handlersSection(ctx, handlers) {
  const entries = handlers && typeof handlers === "object" ? Object.entries(handlers) : [];
  const box = el("div", { class: "prop-list" });
  for (const [name, handler] of entries) {
    const h = handler || {};
    const base = ["handlers", name];
    const card = el(
      "div",
      { class: "prop-card", "data-handler": name },
      el("div", { class: "prop-card-head" }, el("span", { class: "prop-card-title", text: name }), button("✕", () => ctx.set(entries.length === 1 ? ["handlers"] : base, null), "icon danger", `Remove handler ${name}`)),
      textField(ctx, [...base, "when"], h.when, { label: "only when", expression: true, typed: true, placeholder: "${ vars.status == 'waiting' }" }),
      mapField(ctx, [...base, "set"], h.set, { title: "set vars", keyHint: "var path" }),
      textField(ctx, [...base, "emit", "signal"], h.emit?.signal, { label: "then send the signal", placeholder: "approved" }),
      textField(ctx, [...base, "return"], h.return, { label: "answer", typed: true, placeholder: "${ vars.status }" }),
    );
    box.append(card);
  }
  const nameId = ctx.id(["handlers", "#new"]);
  const newName = el("input", { id: nameId, placeholder: "handler name", spellcheck: "false", "aria-label": "new handler name" });
  const add = () => {
    const name = newName.value.trim();
    if (!name) return;
    ctx.set(["handlers", name], { return: "${ vars }" }).then((result) => result && ctx.committed?.(newName.id, newName.value));
  };
  newName.addEventListener("keydown", (e) => {
    if (e.key === "Enter") {
      e.preventDefault();
      add();
    }
  });
  box.append(el("div", { class: "prop-map-row prop-map-new" }, newName, button("+ Add handler", add, "link prop-add")));
  return group("handlers", "Calls into a running run (`wfdsl call RUN NAME`): a guard, var changes, a signal, an answer.", box);
}

// ------------------------------------------------------------------ parallel and map

// A parallel state's branches: one row each, renamed in place, removed, or
// added; their states are drawn inside the parallel state on the graph.
// Each change is one edit (rename_branch, remove_branch, add_branch).
export function branchesSection(ctx, state) {
  const branches = state.branches && typeof state.branches === "object" && !Array.isArray(state.branches) ? Object.entries(state.branches) : [];
  const rows = el("div", { class: "prop-list prop-branches" });
  branches.forEach(([name, body], i) => {
    const id = ctx.id(["branches", "#name", i]);
    const input = el("input", { id, class: "prop-branch-name", "aria-label": `branch ${i + 1} name`, spellcheck: "false", autocomplete: "off" });
    input.value = name;
    const status = el("p", { class: "prop-check-status", id: id + "-status", "aria-live": "polite" });
    input.setAttribute("aria-describedby", status.id);
    const rename = (to) => ({ op: "rename_branch", branch: name, to });
    nameCheck(ctx, input, status, () => input.value.trim(), (to) => (to && to !== name ? rename(to) : null));
    commitOn(ctx, input, () => input.value.trim(), (to) => (to && to !== name ? ctx.op(rename(to)) : null));
    const states = body && typeof body.states === "object" && body.states ? Object.keys(body.states) : [];
    const summary = states.length ? `${states.length} state${states.length === 1 ? "" : "s"}, starts at ${body.start || "?"}` : "no states yet";
    const remove = branches.length > 1 ? button("✕", () => ctx.op({ op: "remove_branch", branch: name }), "icon danger", `Remove branch ${name}`) : null;
    rows.append(
      el(
        "div",
        { class: "prop-card prop-branch", "data-branch": name },
        el("div", { class: "prop-map-row" }, input, remove),
        status,
        el("p", { class: "prop-help", text: summary }),
      ),
    );
  });
  const newId = ctx.id(["branches", "#new"]);
  const newName = el("input", { id: newId, placeholder: "new branch name", spellcheck: "false", autocomplete: "off", "aria-label": "new branch name" });
  const newStatus = el("p", { class: "prop-check-status", id: newId + "-status", "aria-live": "polite" });
  const add = () => {
    const name = newName.value.trim();
    if (leaving(newName)) return;
    ctx.op({ op: "add_branch", ...(name ? { name } : {}) }).then((result) => result && ctx.committed?.(newId, newName.value));
  };
  nameCheck(ctx, newName, newStatus, () => newName.value.trim(), (name) => (name ? { op: "add_branch", name } : null));
  newName.addEventListener("keydown", (e) => {
    if (e.key === "Enter") {
      e.preventDefault();
      add();
    }
  });
  rows.append(el("div", { class: "prop-map-row prop-map-new" }, newName, button("+ Add branch", add, "link prop-add")), newStatus);
  return group(
    "branches",
    "Run at once, each on its own copy of vars; drawn inside this state.",
    rows,
  );
}

// A branch name checked as it is typed: the server tries the edit (not
// applied) and says why it cannot be done (a name taken, not a name).
function nameCheck(ctx, input, status, read, opFor) {
  let seq = 0;
  let timer = null;
  const check = () => {
    const mine = ++seq;
    const op = opFor(read());
    if (!op) {
      status.className = "prop-check-status";
      status.textContent = "";
      input.setAttribute("aria-invalid", "false");
      input.classList.remove("invalid");
      return;
    }
    ctx.previewOp(op).then((problem) => {
      if (mine !== seq) return;
      input.classList.toggle("invalid", !!problem);
      input.setAttribute("aria-invalid", problem ? "true" : "false");
      status.className = "prop-check-status " + (problem ? "is-error" : "is-ok");
      status.textContent = problem || "✓ valid";
    });
  };
  input.addEventListener("input", () => {
    clearTimeout(timer);
    timer = setTimeout(check, 250);
  });
  input.addEventListener("keydown", (e) => e.key === "Enter" && clearTimeout(timer));
}

// When a parallel state completes: all branches, the first, or a count.
export function joinField(ctx, join) {
  const mode = join && typeof join === "object" ? "count" : join === "any" ? "any" : "all";
  const id = ctx.id(["join"]);
  const select = el("select", { id, "data-path": JSON.stringify(["join"]) });
  for (const [value, text] of [
    ["all", "when every branch has (all)"],
    ["any", "when the first one has (any; the others are cancelled)"],
    ["count", "when a number of them have"],
  ]) {
    select.append(el("option", { value, text }));
  }
  select.value = mode;
  select.addEventListener("change", () => {
    if (select.value === "all") ctx.set(["join"], join === undefined ? null : "all");
    else if (select.value === "any") ctx.set(["join"], "any");
    else ctx.set(["join"], { count: 2 });
  });
  const parts = [el("div", { class: "prop-field" }, el("label", { for: id, class: "prop-label", text: "complete" }), select)];
  if (mode === "count") {
    parts.push(textField(ctx, ["join", "count"], join.count, { label: "how many branches", typed: true, placeholder: "2" }));
  }
  return group("join", "When the parallel state completes and goes on.", ...parts);
}

// A map's settings: what it iterates, the name each iteration sees, how
// many run at once, how many may fail. Each field is one set_field edit.
export function mapSettings(ctx, state) {
  return group(
    "map",
    "Runs its body once per item; the body is drawn inside this state.",
    textField(ctx, ["items"], state.items, { label: "items", required: true, typed: true, placeholder: "${ input.lines }", help: "The list to iterate: an expression such as ${ input.lines }, or a JSON list." }),
    textField(ctx, ["as"], state.as, { label: "each item as", placeholder: "item", help: "The name an iteration reads its item by (it also sees `index`)." }),
    textField(ctx, ["concurrency"], state.concurrency, { label: "at most at once", typed: true, placeholder: "1", help: "How many iterations run at the same time (default 1)." }),
    textField(ctx, ["tolerated_failures"], state.tolerated_failures, { label: "failures tolerated", typed: true, placeholder: "0, 3 or 10%", help: "A count or a percentage of the items; past it the map fails with ToleratedFailuresExceeded. Empty: the first failure fails the map." }),
  );
}
