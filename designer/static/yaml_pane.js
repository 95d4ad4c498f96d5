// The YAML text pane: CodeMirror 6 (the bundle vendored in static/vendor,
// built by designer/vendor/build-codemirror.sh) with YAML highlighting,
// auto-indent, findings as underlines and gutter markers, the selected
// state's lines highlighted, and completion and hover docs from the
// published JSON Schema. The page's <textarea id="yaml-text"> is where the
// text starts (and what a page without scripts shows); it is kept equal to
// the editor's text.
import {
  Decoration,
  EditorState,
  EditorView,
  RangeSetBuilder,
  StateEffect,
  StateField,
  autocompletion,
  bracketMatching,
  closeBrackets,
  closeBracketsKeymap,
  completionKeymap,
  defaultHighlightStyle,
  defaultKeymap,
  drawSelection,
  highlightActiveLine,
  highlightActiveLineGutter,
  highlightSelectionMatches,
  highlightSpecialChars,
  history,
  historyKeymap,
  hoverTooltip,
  indentOnInput,
  indentUnit,
  indentWithTab,
  keymap,
  lineNumbers,
  lintGutter,
  searchKeymap,
  setDiagnostics,
  syntaxHighlighting,
  yaml,
} from "./vendor/codemirror.js";
import { SchemaGuide, keyOf, pathAt } from "./yaml_schema.js";

// The lines that differ between two texts, as {from, to, insert} changes of
// `a` (offsets in `a`): the common lines at both ends kept, the middle
// matched by a longest common subsequence of lines when it is small enough
// (else one change), so an edit's scattered lines stay apart.
export function lineChanges(a, b) {
  const x = a.split(/(?<=\n)/);
  const y = b.split(/(?<=\n)/);
  let head = 0;
  while (head < x.length && head < y.length && x[head] === y[head]) head++;
  let tail = 0;
  while (tail < x.length - head && tail < y.length - head && x[x.length - 1 - tail] === y[y.length - 1 - tail]) tail++;
  const xs = x.slice(head, x.length - tail);
  const ys = y.slice(head, y.length - tail);
  const offset = x.slice(0, head).join("").length;
  const pairs = []; // [i, j] of the middle lines kept
  if (xs.length && ys.length && xs.length * ys.length <= 250000) {
    const n = xs.length;
    const m = ys.length;
    const lcs = Array.from({ length: n + 1 }, () => new Uint32Array(m + 1));
    for (let i = n - 1; i >= 0; i--) {
      for (let j = m - 1; j >= 0; j--) lcs[i][j] = xs[i] === ys[j] ? lcs[i + 1][j + 1] + 1 : Math.max(lcs[i + 1][j], lcs[i][j + 1]);
    }
    for (let i = 0, j = 0; i < n && j < m; ) {
      if (xs[i] === ys[j]) pairs.push([i++, j++]);
      else if (lcs[i + 1][j] >= lcs[i][j + 1]) i++;
      else j++;
    }
  }
  pairs.push([xs.length, ys.length]);
  const changes = [];
  let i = 0;
  let j = 0;
  let at = offset;
  for (const [pi, pj] of pairs) {
    const removed = xs.slice(i, pi).join("");
    const inserted = ys.slice(j, pj).join("");
    if (removed || inserted) changes.push({ from: at, to: at + removed.length, insert: inserted });
    at += removed.length + (pi < xs.length ? xs[pi].length : 0);
    i = pi + 1;
    j = pj + 1;
  }
  return changes;
}

// Whole-line decorations: the selected state's lines, and the lines a
// finding starts on (each with its line number, data-line, for scripts).
function lineField(effect, classOf) {
  return StateField.define({
    create: () => Decoration.none,
    update(deco, tr) {
      deco = deco.map(tr.changes);
      for (const e of tr.effects) {
        if (!e.is(effect)) continue;
        const builder = new RangeSetBuilder();
        const doc = tr.state.doc;
        for (const [n, cls] of classOf(e.value)) {
          if (n < 1 || n > doc.lines) continue;
          const at = doc.line(n).from;
          builder.add(at, at, Decoration.line({ class: cls, attributes: { "data-line": String(n) } }));
        }
        deco = builder.finish();
      }
      return deco;
    },
    provide: (f) => EditorView.decorations.from(f),
  });
}

const setHighlight = StateEffect.define();
const highlightField = lineField(setHighlight, (range) => {
  const [start, end] = range || [];
  const out = [];
  for (let n = start || 1; start && n <= end; n++) out.push([n, "cm-selected-state"]);
  return out;
});
const setMarkerLines = StateEffect.define();
const markerField = lineField(setMarkerLines, (lines) => [...lines].sort((a, b) => a[0] - b[0]));

const RANK = { info: 0, warning: 1, error: 2 };

export class YamlPane {
  constructor(root, { onInput, onCursorLine, debounceMs = 300, schema = null, stateNames = () => [] } = {}) {
    this.root = root;
    this.textarea = root.querySelector("textarea");
    this.onInput = onInput || (() => {});
    this.onCursorLine = onCursorLine || (() => {});
    this.debounceMs = debounceMs;
    this.timer = null;
    this.lastCursorLine = 0;
    this.settingText = false;
    this.guide = new SchemaGuide(null);
    this.stateNames = stateNames;
    if (schema) schema.then((s) => (this.guide = new SchemaGuide(s))).catch(() => {});

    const host = document.createElement("div");
    host.className = "yaml-editor";
    this.textarea.hidden = true;
    this.textarea.setAttribute("aria-hidden", "true");
    this.textarea.tabIndex = -1;
    this.textarea.after(host);

    this.view = new EditorView({
      parent: host,
      state: EditorState.create({
        doc: this.textarea.value,
        extensions: [
          lineNumbers(),
          highlightActiveLineGutter(),
          highlightSpecialChars(),
          history(),
          drawSelection(),
          EditorState.allowMultipleSelections.of(true),
          indentOnInput(),
          indentUnit.of("  "),
          syntaxHighlighting(defaultHighlightStyle, { fallback: true }),
          bracketMatching(),
          closeBrackets(),
          highlightActiveLine(),
          highlightSelectionMatches(),
          yaml(),
          lintGutter(),
          highlightField,
          markerField,
          autocompletion({ override: [(context) => this.complete(context)], icons: false }),
          hoverTooltip((view, pos) => this.hover(view, pos), { hoverTime: 350 }),
          keymap.of([...closeBracketsKeymap, ...defaultKeymap, ...searchKeymap, ...historyKeymap, ...completionKeymap, indentWithTab]),
          EditorView.contentAttributes.of({ "aria-label": "Workflow YAML", "aria-describedby": "findings-summary", spellcheck: "false" }),
          EditorView.updateListener.of((update) => this.updated(update)),
        ],
      }),
    });
    // Tests and scripts reach the editor from the page: #yaml-pane.editorView.
    root.editorView = this.view;
  }

  get text() {
    return this.view.state.doc.toString();
  }

  updated(update) {
    if (update.docChanged) {
      this.textarea.value = this.text;
      if (this.tracking && !this.settingText) this.typed = this.typed ? this.typed.compose(update.changes) : update.changes;
      if (!this.settingText) {
        clearTimeout(this.timer);
        this.timer = setTimeout(() => this.onInput(this.text), this.debounceMs);
      }
    }
    if (update.selectionSet || update.focusChanged) this.reportCursor();
  }

  // Replace the whole text (an edit from the graph, undo, redo). Only the
  // lines that differ are replaced, so the scroll position and the caret
  // stay where they were.
  setText(text) {
    const old = this.text;
    if (text === old) return;
    let start = 0;
    while (start < old.length && start < text.length && old[start] === text[start]) start++;
    let endOld = old.length;
    let endNew = text.length;
    while (endOld > start && endNew > start && old[endOld - 1] === text[endNew - 1]) {
      endOld--;
      endNew--;
    }
    this.settingText = true;
    try {
      this.view.dispatch({ changes: { from: start, to: endOld, insert: text.slice(start, endNew) } });
    } finally {
      this.settingText = false;
    }
  }

  // Record what the user types from now on (an edit is on its way)...
  track() {
    this.tracking = true;
    this.typed = null;
  }

  // ... and stop: the typing since track(), as one change set, or null.
  untrack() {
    const typed = this.typed;
    this.tracking = false;
    this.typed = null;
    return typed;
  }

  // The edit that took `base` to `edited` applied around `typed` (what was
  // typed since the pane showed `base`): true when done, false (the pane
  // left as typed) when the typing touches a line the edit changes.
  rebase(base, edited, typed) {
    if (typed.length !== base.length) return false;
    const changes = lineChanges(base, edited);
    for (const { from, to } of changes) {
      const start = base.lastIndexOf("\n", from - 1) + 1;
      const end = base.indexOf("\n", to);
      if (typed.touchesRange(start, end < 0 ? base.length : end)) return false;
    }
    const edit = EditorState.create({ doc: base }).changes(changes);
    this.settingText = true;
    try {
      this.view.dispatch({ changes: edit.map(typed) });
    } finally {
      this.settingText = false;
    }
    return true;
  }

  cancelPending() {
    clearTimeout(this.timer);
  }

  // Findings as diagnostics: underlined, a marker in the gutter, the message
  // and its fix on hover.
  setMarkers(findings) {
    const doc = this.view.state.doc;
    const diagnostics = [];
    for (const f of findings) {
      if (!f.line || f.line > doc.lines) continue;
      const line = doc.line(f.line);
      const from = Math.min(line.from + Math.max(0, (f.col || 1) - 1), line.to);
      let to = line.to;
      if (f.end_line && f.end_line >= f.line && f.end_line <= doc.lines) {
        const endLine = doc.line(f.end_line);
        to = f.end_col ? Math.min(endLine.from + f.end_col - 1, endLine.to) : endLine.to;
      }
      if (to <= from) to = Math.min(from + 1, doc.length);
      const message = `${f.code ? f.code + ": " : ""}${f.message}${f.suggestion ? `\nFix: ${f.suggestion}` : ""}`;
      diagnostics.push({ from, to: Math.max(to, from), severity: f.severity in RANK ? f.severity : "info", message });
    }
    const worst = new Map();
    for (const f of findings) {
      if (!f.line) continue;
      const was = worst.get(f.line);
      if (!was || (RANK[f.severity] ?? 0) > (RANK[was] ?? 0)) worst.set(f.line, f.severity);
    }
    this.view.dispatch(setDiagnostics(this.view.state, diagnostics));
    this.view.dispatch({ effects: setMarkerLines.of([...worst].map(([n, sev]) => [n, `cm-finding-line marker--${sev}`])) });
    this.markers = findings;
  }

  highlightLines(start, end, { scroll = true } = {}) {
    this.view.dispatch({ effects: setHighlight.of(start ? [start, end || start] : null) });
    if (start && scroll) this.scrollToLine(start, end);
  }

  scrollToLine(start) {
    const doc = this.view.state.doc;
    if (start > doc.lines) return;
    this.view.dispatch({ effects: EditorView.scrollIntoView(doc.line(start).from, { y: "start", yMargin: 40 }) });
  }

  // Put the caret at a line and column and focus the text (findings list).
  goToLine(line, column = 1) {
    const doc = this.view.state.doc;
    const at = doc.line(Math.max(1, Math.min(line, doc.lines)));
    const pos = Math.min(at.from + Math.max(0, column - 1), at.to);
    this.view.dispatch({ selection: { anchor: pos }, effects: EditorView.scrollIntoView(pos, { y: "center" }) });
    this.view.focus();
    this.reportCursor();
  }

  cursorLine() {
    return this.view.state.doc.lineAt(this.view.state.selection.main.head).number;
  }

  reportCursor() {
    if (!this.view.hasFocus) return;
    const line = this.cursorLine();
    if (line !== this.lastCursorLine) {
      this.lastCursorLine = line;
      this.onCursorLine(line);
    }
  }

  lines() {
    return this.text.split("\n");
  }

  // ------------------------------------------------------------ schema help

  complete(context) {
    const line = context.state.doc.lineAt(context.pos);
    const before = line.text.slice(0, context.pos - line.from);
    const lines = this.lines();
    const index = line.number - 1;
    // A value: `key: partial`
    const value = /^(\s*(?:-\s+)*)([\w.-]+)\s*:\s+(\S*)$/.exec(before);
    if (value) {
      const col = value[1].length;
      const prop = this.guide.keySchema(lines, index, col, value[2]);
      const options = this.guide.valueOptions(prop, this.stateNames()).map((o) => ({ label: o.text, detail: o.doc, type: "constant" }));
      if (!options.length) return null;
      return { from: context.pos - value[3].length, options, validFor: /^[\w.-]*$/ };
    }
    // A key: `  partial` or `  - partial`
    const key = /^(\s*(?:-\s+)*)([\w-]*)$/.exec(before);
    if (!key || (!key[2] && !context.explicit)) return null;
    const col = key[1].length;
    const options = this.guide.keyOptions(lines, index, col).map((o) => ({
      label: o.key,
      apply: this.applyKey(o, col),
      detail: o.required ? "required" : "",
      info: o.doc,
      type: "property",
      boost: o.required ? 1 : 0,
    }));
    if (!options.length) return null;
    return { from: context.pos - key[2].length, options, validFor: /^[\w-]*$/ };
  }

  // A scalar key is completed as `key: `; a map or a list opens its block
  // on the next line, indented (and with its first `- ` for a list).
  applyKey(option, col) {
    const kind = option.shape;
    if (kind !== "object" && kind !== "array") return option.key + ": ";
    const text = option.key + ":\n" + " ".repeat(col + 2) + (kind === "array" ? "- " : "");
    return (view, _completion, from, to) => {
      view.dispatch({ changes: { from, to, insert: text }, selection: { anchor: from + text.length } });
    };
  }

  hover(view, pos) {
    const line = view.state.doc.lineAt(pos);
    const k = keyOf(line.text);
    if (!k) return null;
    const start = line.from + k.col;
    const end = start + k.name.length;
    if (pos < start || pos > end) return null;
    const lines = this.lines();
    const prop = this.guide.keySchema(lines, line.number - 1, k.col, k.name);
    const path = pathAt(lines, line.number - 1, k.col).map((p) => p.key);
    if (!prop || !(prop.description || prop.refName)) return null;
    return {
      pos: start,
      end,
      above: true,
      create: () => {
        const dom = document.createElement("div");
        dom.className = "cm-schema-doc";
        const head = document.createElement("div");
        head.className = "cm-schema-doc-head";
        head.textContent = [...path.filter((p) => p !== "[]").slice(-2), k.name].join(".");
        const type = document.createElement("span");
        type.className = "muted";
        const types = [].concat(prop.type || (prop.enum ? "one of " + prop.enum.join(", ") : prop.refName || []));
        type.textContent = types.length ? "  " + types.join(" | ") : "";
        head.append(type);
        const body = document.createElement("p");
        body.textContent = prop.description || "";
        dom.append(head, body);
        if ("default" in prop) {
          const d = document.createElement("p");
          d.className = "muted";
          d.textContent = "Default: " + JSON.stringify(prop.default);
          dom.append(d);
        }
        return { dom };
      },
    };
  }
}
