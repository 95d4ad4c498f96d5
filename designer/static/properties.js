// The property panel: a form for the selected state generated from the
// wfdsl JSON Schema ($defs/<type>_state), and with nothing selected a form
// for the workflow itself (name, description, schedule, handlers). Scalar
// fields are edited in place; structured ones (choice rules, retry, catch,
// args and other maps, wait alternatives, undo) have their own forms
// (forms.js). Every change is one small edit on the server (set_field,
// set_document_field, add/rename/remove_branch), so comments and formatting
// survive. The states inside a branch or a map's body are edited on the
// graph, where they are drawn.
import { isSynthetic } from "./graph_view.js";
import {
  branchesSection,
  catchSection,
  choicesSection,
  commitOn,
  el,
  handlersSection,
  joinField,
  leaving,
  liveCheck,
  mapField,
  mapSettings,
  retrySection,
  scheduleSection,
  textField,
  undoSection,
  waitSection,
} from "./forms.js";

// Keys shown by a structured form, by state type (the form covers them all).
const WAIT_KEYS = ["timer", "until", "signal", "as", "count", "any", "all", "at_least"];
const MAP_KEYS = new Set(["args", "set", "input"]);

const SCALAR_REFS = new Set(["state_ref", "state_name", "duration", "expression", "condition", "var_path", "error_name", "description"]);

export class PropertyPanel {
  constructor(root, { schema, edit, preview, documentData, goToLine, lines, stateNames, findings }) {
    this.root = root;
    this.findings = findings || (() => []);
    this.edit = edit;
    this.preview = preview;
    this.documentData = documentData;
    this.data = null; // {text, data}: the plain document of the text last shown
    this.seq = 0;
    this.goToLine = goToLine;
    this.lines = lines;
    this.stateNames = stateNames;
    this.onDelete = () => {};
    // The text typed into each field (by id) and not yet in the document:
    // a redraw of the same form carries it into the new field.
    this.typing = new Map();
    root.addEventListener("input", (e) => {
      if (isTextInput(e.target) && e.target.id) this.typing.set(e.target.id, e.target.value);
    });
    // A field given the typed text by a redraw commits it when left, as a
    // field typed into does (the browser's own change event does not fire).
    root.addEventListener("focusout", (e) => {
      const input = e.target;
      if (input.dataset?.carried && !leaving(input)) input.dispatchEvent(new Event("change"));
    });
    this.schema = null;
    this.schemaPromise = schema
      .then((schema) => {
        this.schema = schema;
        if (this.node) this.showNode(this.node, this.view);
        else if (this.workflowShown) this.clear();
      })
      .catch(() => {
        this.schema = { $defs: {} };
      });
  }

  // The plain data of `text` (the one shown, or fetched): for an edit
  // worked out when its turn comes.
  async dataOf(text) {
    if (this.data?.text === text) return this.data.data;
    return (await this.documentData(text)).data;
  }

  // The plain data of the current text, fetched once per text; `then` runs
  // again with it when it was not there yet.
  currentData(then) {
    const text = this.lines().join("\n");
    this.root.dataset.fresh = String(this.data?.text === text);
    if (this.data?.text === text) return this.data.data;
    this.onData = then; // the latest caller's, whoever started the fetch
    if (this.pending !== text) {
      // Meanwhile the forms show the data of the text before (one edit ago).
      this.pending = text;
      this.documentData(text)
        .then((result) => {
          if (this.pending !== text) return;
          this.pending = null;
          this.data = { text, data: result.data };
          this.onData?.();
        })
        .catch(() => {
          this.pending = null;
        });
    }
    return this.data ? this.data.data : undefined;
  }

  // Re-rendering replaces the form: the focused field (and its caret) come
  // back, and with `keep` (the same state's or the workflow's form again)
  // so does the text typed into any field and not yet committed.
  replace(form, { keep = false } = {}) {
    const active = document.activeElement;
    const key = active && this.root.contains(active) ? active.id : null;
    const caret = key && typeof active.selectionStart === "number" ? [active.selectionStart, active.selectionEnd] : null;
    if (!keep) this.typing.clear();
    for (const old of this.root.children) old.dataset.replacing = "true";
    this.root.replaceChildren(form);
    for (const [id, text] of this.typing) {
      const again = document.getElementById(id);
      if (!again || !this.root.contains(again) || !isTextInput(again) || again.value === text) {
        this.typing.delete(id);
        continue;
      }
      again.value = text;
      again.dataset.carried = "true";
      again.dispatchEvent(new Event("input", { bubbles: true })); // checked again, as typed
    }
    if (key) {
      const again = document.getElementById(key);
      if (again) {
        again.focus({ preventScroll: true });
        if (caret && typeof again.setSelectionRange === "function") {
          try {
            again.setSelectionRange(...caret);
          } catch {
            /* not a text field */
          }
        }
      }
    }
  }

  // Nothing selected: the workflow's own fields.
  clear() {
    const again = this.workflowShown;
    this.node = null;
    this.shownId = null;
    this.workflowShown = true;
    const seq = ++this.seq;
    const form = el("form", { class: "prop-form prop-workflow" });
    form.addEventListener("submit", (e) => e.preventDefault());
    form.append(el("p", { class: "muted", text: "Select a state on the graph or put the cursor in its YAML. The workflow:" }));
    const data = this.currentData(() => seq === this.seq && this.clear());
    if (data === undefined) {
      form.append(el("p", { class: "muted", text: "Loading…" }));
    } else if (data) {
      const ctx = this.context(
        (path, value) => this.edit({ op: "set_document_field", path, value }),
        (path, value) => this.preview({ op: "set_document_field", path, value }),
        "",
        (build) => this.edit((doc) => {
          const change = build(doc || {});
          return change && { op: "set_document_field", path: change[0], value: change[1] };
        }),
      );
      form.append(
        textField(ctx, ["name"], data.name, { label: "name", required: true, help: "Lower-case letters, digits, _ . and -." }),
        textField(ctx, ["description"], data.description, { label: "description" }),
        scheduleSection(ctx, data.schedule),
        handlersSection(ctx, data.handlers),
      );
    }
    this.replace(form, { keep: again });
  }

  // What the forms call: set a value, preview it for findings, the scope's states.
  // `later(build)` is an edit worked out when its turn comes: `build` gets
  // the ctx's part of the document as it then is and returns [path, value],
  // or null for nothing to do.
  context(commit, previewOp, prefix, later) {
    const ctx = {
      states: this.stateNames(this.node?.cluster),
      set: (path, value) => commit(path, value),
      setLater: (build) => later(build),
      committed: (id, text) => {
        if (this.typing.get(id) === text) this.typing.delete(id);
      },
      setMany: async (pairs) => {
        for (const [path, value] of pairs) {
          if (!(await commit(path, value))) return null;
        }
        return true;
      },
      check: (path, value) =>
        previewOp(path, value).then(
          (result) => findingsUnder(result?.findings, prefix, path),
          (err) => [{ severity: "error", message: err.message }],
        ),
      // The document's own findings for a field, shown under it when it is drawn.
      findings: (path) => findingsUnder(this.findings(), prefix, path),
      id: (path) => "f-" + [prefix.replace(/\./g, "-"), ...path].filter((p) => p !== "").join("-").replace(/[^A-Za-z0-9_-]/g, "_"),
    };
    return ctx;
  }

  // An edit from a field was not applied (the YAML typed meanwhile won):
  // the next redraw shows the document's values, not the text typed.
  forgetTyped() {
    this.typing.clear();
  }

  focusName() {
    const input = this.root.querySelector("input[name='state-name']");
    if (input) {
      input.focus();
      input.select();
    }
  }

  showEdge(edge) {
    this.node = null;
    this.shownId = null;
    this.workflowShown = false;
    this.typing.clear();
    const wrap = document.createElement("div");
    wrap.className = "prop-edge";
    const title = document.createElement("p");
    title.className = "prop-title";
    title.textContent = `${edge.source} → ${edge.target}`;
    const kind = document.createElement("p");
    kind.append(pill(edge.kind), document.createTextNode(edge.label ? " " + edge.label : ""));
    wrap.append(title, kind);
    if (edge.edit) {
      const hint = document.createElement("p");
      hint.className = "muted";
      hint.textContent = "Drag the round handle at the arrow's end onto another state to reconnect it.";
      const remove = button("Remove edge", "danger", () => this.onDelete());
      wrap.append(hint, remove);
    } else {
      const hint = document.createElement("p");
      hint.className = "muted";
      hint.textContent = "This edge is drawn from the structure (start, join, end) and is not edited directly.";
      wrap.append(hint);
    }
    this.root.replaceChildren(wrap);
  }

  showNode(node, view) {
    this.node = node;
    this.view = view;
    this.workflowShown = false;
    const seq = ++this.seq;
    const same = this.shownId === node.id;
    const data = this.currentData(() => seq === this.seq && this.node === node && this.showNode(node, this.view));
    // The same state after an edit: its form stays as it is until the
    // edited document's data is here (no flash of the old values).
    if (same && this.root.dataset.fresh === "false" && this.root.querySelector("form")) return;
    this.shownId = node.id;
    const state = data ? stateIn(data, node.path) : undefined;
    const form = document.createElement("form");
    form.className = "prop-form";
    form.addEventListener("submit", (e) => e.preventDefault());
    const head = document.createElement("div");
    head.className = "prop-head";
    head.append(pill(node.type));
    if (node.cluster) {
      const where = document.createElement("span");
      where.className = "muted";
      where.textContent = " in " + node.cluster;
      head.append(where);
    }
    form.append(head);

    if (isSynthetic(node.id)) {
      const p = document.createElement("p");
      p.className = "muted";
      p.textContent = "A marker drawn from the structure; nothing to edit.";
      form.append(p);
      this.replace(form, { keep: same });
      return;
    }

    const name = node.id.split("/").pop();
    const nameField = field("Name", "state-name", "The state's key; renaming updates every reference to it.");
    const nameInput = nameField.input;
    nameInput.value = name;
    nameInput.required = true;
    nameInput.spellcheck = false;
    // Enter commits, and so does leaving the field (the browser's change
    // event, which Chromium also fires on Enter): one rename per new name,
    // however many of them arrive.
    let sent = name;
    const commit = () => {
      const to = nameInput.value.trim();
      if (!to || to === sent || leaving(nameInput)) return;
      sent = to;
      const prefix = node.id.slice(0, node.id.length - name.length);
      this.edit({ op: "rename_state", state: node.id, to }, { select: { kind: "node", id: prefix + to } }).then((result) => {
        if (!result) sent = name; // refused: the same name may be tried again
      });
    };
    nameInput.addEventListener("change", commit);
    nameInput.addEventListener("keydown", (e) => {
      if (e.key === "Enter") {
        e.preventDefault();
        commit();
      }
    });
    form.append(nameField.wrap);

    const values = readFields(this.lines(), node.span);
    const def = this.schema?.$defs?.[`${node.type}_state`];
    if (!this.schema) {
      const p = document.createElement("p");
      p.className = "muted";
      p.textContent = "Loading the schema…";
      form.append(p);
    } else if (def) {
      const required = new Set(def.required || []);
      const datalistId = "state-names-list";
      const ctx = this.context(
        (path, value) => this.edit({ op: "set_field", state: node.id, path, value }),
        (path, value) => this.preview({ op: "set_field", state: node.id, path, value }),
        (node.path || []).join("."),
        (build) => this.edit((doc) => {
          const change = build(stateIn(doc, node.path) || {});
          return change && { op: "set_field", state: node.id, path: change[0], value: change[1] };
        }),
      );
      ctx.op = (op) => this.edit({ ...op, state: node.id });
      ctx.previewOp = (op) =>
        this.preview({ ...op, state: node.id }).then(
          () => null,
          (err) => err.message,
        );
      ctx.replaceState = (next) => {
        const pairs = [];
        for (const key of Object.keys(state || {})) if (!(key in next)) pairs.push([[key], null]);
        for (const [key, value] of Object.entries(next)) {
          if (JSON.stringify(state?.[key]) !== JSON.stringify(value)) pairs.push([[key], value]);
        }
        return ctx.setMany(pairs);
      };
      let waitShown = false;
      for (const [key, raw] of Object.entries(def.properties || {})) {
        if (key === "type") continue;
        const prop = this.resolve(raw);
        const current = values.get(key);
        const section = state === undefined ? null : this.sectionFor(ctx, node, key, state);
        if (section === "skip") continue;
        if (node.type === "wait" && WAIT_KEYS.includes(key)) {
          if (!waitShown && state !== undefined) form.append(waitSection(ctx, state || {}));
          waitShown = true;
          continue;
        }
        if (section) form.append(section);
        else form.append(this.fieldFor(ctx, node, key, prop, current, required.has(key), datalistId));
      }
      const list = document.createElement("datalist");
      list.id = datalistId;
      for (const n of this.stateNames(node.cluster)) {
        const option = document.createElement("option");
        option.value = n;
        list.append(option);
      }
      form.append(list);
    }

    const actions = document.createElement("div");
    actions.className = "prop-actions";
    actions.append(
      button("Make start", "", () => this.edit({ op: "set_start", state: node.id, ...(node.cluster ? { scope: node.cluster } : {}) })),
      button("Delete state", "danger", () => this.onDelete()),
    );
    form.append(actions);
    this.replace(form, { keep: same });
  }

  // The structured form for `key` of the selected state, "skip" for a key
  // another form covers, null for the generic field.
  sectionFor(ctx, node, key, state) {
    const s = state || {};
    if (node.type === "choice") {
      if (key === "choices") return choicesSection(ctx, s);
      if (key === "default" || key === "end") return "skip";
    }
    if (key === "retry") return retrySection(ctx, s.retry);
    if (key === "catch") return catchSection(ctx, s.catch);
    if (key === "undo") return undoSection(ctx, s.undo);
    if (MAP_KEYS.has(key) || (key === "data" && node.type === "emit")) {
      const titles = { args: "args", set: "set vars", input: "input", data: "data" };
      return mapField(ctx, [key], s[key], { title: titles[key], keyHint: key === "set" ? "var path" : "name" });
    }
    if (node.type === "map") {
      if (key === "items") return mapSettings(ctx, s);
      if (["as", "concurrency", "tolerated_failures"].includes(key)) return "skip";
    }
    if (node.type === "parallel") {
      if (key === "branches") return branchesSection(ctx, s);
      if (key === "join") return joinField(ctx, s.join);
    }
    if (key === "output" && node.type === "succeed") {
      return textField(ctx, ["output"], s.output, { label: "output", typed: true, placeholder: "${ vars.result }", help: "The run's result: a value or an expression." });
    }
    return null;
  }

  // Follow $ref (one level at a time) and keep the outer description.
  resolve(prop) {
    let out = { ...prop };
    const seen = new Set();
    while (out.$ref && !seen.has(out.$ref)) {
      seen.add(out.$ref);
      const ref = out.$ref;
      const name = ref.split("/").pop();
      const target = this.schema.$defs?.[name] || {};
      const { $ref: _ignored, ...rest } = out;
      out = { ...target, ...rest, refName: out.refName || name };
    }
    return out;
  }

  fieldFor(ctx, node, key, prop, current, required, datalistId) {
    const types = [].concat(prop.type || []);
    const scalarRef = prop.refName && SCALAR_REFS.has(prop.refName);
    const complex = !scalarRef && !prop.enum && (types.length === 0 || types.includes("object") || types.includes("array"));
    const help = prop.description || "";
    const label = key + (required ? " *" : "");
    const send = (value) => this.edit({ op: "set_field", state: node.id, path: [key], value });

    if (complex || (current && current.complex)) {
      const wrap = document.createElement("div");
      wrap.className = "prop-field prop-complex";
      const head = document.createElement("div");
      head.className = "prop-label";
      head.textContent = label;
      head.title = help;
      wrap.append(head);
      if (current) {
        const pre = document.createElement("pre");
        pre.className = "code prop-snippet";
        pre.textContent = current.snippet;
        wrap.append(pre, button("Edit in YAML", "link", () => this.goToLine(current.line)));
      } else {
        const none = document.createElement("span");
        none.className = "muted";
        none.textContent = " not set";
        head.append(none);
      }
      return wrap;
    }

    const id = `prop-${key}`;
    if (types.includes("boolean") && types.length === 1) {
      const wrap = document.createElement("div");
      wrap.className = "prop-field prop-check";
      const input = document.createElement("input");
      input.type = "checkbox";
      input.id = id;
      input.checked = current?.value === true;
      input.addEventListener("change", () => send(input.checked ? true : null));
      const lab = document.createElement("label");
      lab.htmlFor = id;
      lab.textContent = label;
      lab.title = help;
      wrap.append(input, lab);
      return wrap;
    }
    if (prop.enum) {
      const f = field(label, id, help, "select");
      const empty = document.createElement("option");
      empty.value = "";
      empty.textContent = "—";
      f.input.append(empty);
      for (const choice of prop.enum) {
        const option = document.createElement("option");
        option.value = JSON.stringify(choice);
        option.textContent = String(choice);
        if (current && current.value === choice) option.selected = true;
        f.input.append(option);
      }
      f.input.addEventListener("change", () => send(f.input.value ? JSON.parse(f.input.value) : null));
      return f.wrap;
    }
    const f = field(label, id, help);
    const input = f.input;
    input.spellcheck = false;
    if (types.includes("integer") || (types.includes("number") && !types.includes("string"))) input.inputMode = "numeric";
    if (prop.refName === "state_ref") input.setAttribute("list", datalistId);
    if (prop.examples?.length) input.placeholder = String(prop.examples[0]);
    input.value = current && current.value !== null && current.value !== undefined ? String(current.value) : "";
    const read = () => {
      const text = input.value.trim();
      if (text === "") return null;
      const numeric = !Number.isNaN(Number(text));
      if ((types.includes("integer") || types.includes("number")) && numeric) return Number(text);
      return text;
    };
    // The server's words for what is typed, under the field (as every form field has).
    const status = document.createElement("p");
    status.className = "prop-check-status";
    status.id = id + "-status";
    status.setAttribute("aria-live", "polite");
    input.setAttribute("aria-describedby", [input.getAttribute("aria-describedby"), status.id].filter(Boolean).join(" "));
    f.wrap.append(status);
    liveCheck(ctx, [key], input, status, read);
    commitOn(ctx, input, read, send);
    return f.wrap;
  }
}

// The findings whose path is `path` under `prefix` (a state's dotted path) or inside it.
function findingsUnder(findings, prefix, path) {
  const at = [prefix, ...path].filter((p) => p !== "").join(".");
  return (findings || []).filter((f) => {
    // `$.states.c.choices[0].when` -> `states.c.choices.0.when`
    const where = (f.path || "").replace(/^\$\.?/, "").replace(/\[(\d+)\]/g, ".$1");
    return where === at || where.startsWith(at + ".");
  });
}

function isTextInput(el) {
  return el?.tagName === "INPUT" && !["checkbox", "radio", "button", "submit"].includes(el.type);
}

// The state at `path` (["states", "a"] or deeper) in the document's plain data.
function stateIn(data, path) {
  let node = data;
  for (const part of path || []) {
    if (node === null || typeof node !== "object") return null;
    node = node[part];
  }
  return node && typeof node === "object" ? node : null;
}

function pill(text) {
  const span = document.createElement("span");
  span.className = `pill pill--type pill--${text}`;
  span.textContent = text;
  return span;
}

function button(text, cls, onClick) {
  const b = document.createElement("button");
  b.type = "button";
  b.textContent = text;
  if (cls) b.className = cls;
  b.addEventListener("click", onClick);
  return b;
}

function field(labelText, id, help, tag = "input") {
  const wrap = document.createElement("div");
  wrap.className = "prop-field";
  const label = document.createElement("label");
  label.htmlFor = id;
  label.className = "prop-label";
  label.textContent = labelText;
  const input = document.createElement(tag);
  input.id = id;
  input.name = id;
  wrap.append(label, input);
  if (help) {
    const p = document.createElement("p");
    p.className = "prop-help";
    p.id = id + "-help";
    p.textContent = help;
    input.setAttribute("aria-describedby", p.id);
    wrap.append(p);
  }
  return { wrap, input };
}

// The state's own keys from its YAML lines: `key: scalar` gives a value,
// anything else (a block, a flow map or list) is shown as its lines. Only
// reads; every write goes through the server's round-trip edit.
export function readFields(lines, span) {
  const out = new Map();
  if (!span) return out;
  const first = span.line; // the `name:` line
  const last = Math.min(span.end_line, lines.length);
  let indent = null;
  for (let n = first + 1; n <= last; n++) {
    const line = lines[n - 1];
    const trimmed = line.trim();
    if (!trimmed || trimmed.startsWith("#")) continue;
    const ind = line.length - line.trimStart().length;
    if (indent === null) indent = ind;
    if (ind !== indent) continue;
    const m = /^([A-Za-z_][\w-]*)\s*:(?:\s+(.*))?$/.exec(trimmed) || /^([A-Za-z_][\w-]*)\s*:$/.exec(trimmed);
    if (!m) continue;
    const key = m[1];
    const rest = stripComment(m[2] || "").trim();
    // The key's extent: up to the next line at this indent.
    let end = n;
    for (let k = n + 1; k <= last; k++) {
      const l = lines[k - 1];
      if (!l.trim()) continue;
      if (l.length - l.trimStart().length <= indent) break;
      end = k;
    }
    const snippet = lines.slice(n - 1, end).map((l) => l.slice(indent)).join("\n");
    if (!rest || /^[[{|>&*!]/.test(rest) || end > n) {
      out.set(key, { complex: true, line: n, snippet });
    } else {
      out.set(key, { complex: false, line: n, snippet, value: scalar(rest) });
    }
  }
  return out;
}

function stripComment(text) {
  let quote = null;
  for (let i = 0; i < text.length; i++) {
    const c = text[i];
    if (quote) {
      if (c === quote) quote = null;
    } else if (c === '"' || c === "'") {
      quote = c;
    } else if (c === "#" && (i === 0 || /\s/.test(text[i - 1]))) {
      return text.slice(0, i);
    }
  }
  return text;
}

function scalar(text) {
  if (text.startsWith('"') && text.endsWith('"') && text.length >= 2) {
    try {
      return JSON.parse(text);
    } catch {
      return text.slice(1, -1);
    }
  }
  if (text.startsWith("'") && text.endsWith("'") && text.length >= 2) return text.slice(1, -1).replace(/''/g, "'");
  if (text === "true") return true;
  if (text === "false") return false;
  if (text === "null" || text === "~") return null;
  if (/^-?\d+(\.\d+)?$/.test(text)) return Number(text);
  return text;
}
