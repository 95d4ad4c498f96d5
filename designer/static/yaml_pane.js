// The YAML text pane: a plain <textarea> with a line-number gutter and a
// backdrop behind the text for line highlights and finding markers. Lines
// never wrap (wrap="off"), so line N of the text is row N of the gutter and
// of the backdrop, and one fixed line height (CSS --code-line) keeps them in
// step with the textarea while it scrolls.

export class YamlPane {
  constructor(root, { onInput, onCursorLine, debounceMs = 300 } = {}) {
    this.root = root;
    this.textarea = root.querySelector("textarea");
    this.gutter = root.querySelector(".yaml-gutter");
    this.backdrop = root.querySelector(".yaml-backdrop");
    this.onInput = onInput || (() => {});
    this.onCursorLine = onCursorLine || (() => {});
    this.debounceMs = debounceMs;
    this.timer = null;
    this.markers = new Map(); // line -> {severity, messages}
    this.highlight = null; // [start, end]
    this.lastCursorLine = 0;
    this.lineCount = 0;

    this.textarea.addEventListener("input", () => {
      this.render();
      clearTimeout(this.timer);
      this.timer = setTimeout(() => this.onInput(this.textarea.value), this.debounceMs);
    });
    this.textarea.addEventListener("scroll", () => this.syncScroll());
    for (const type of ["keyup", "click", "focus"]) {
      this.textarea.addEventListener(type, () => this.reportCursor());
    }
    this.render();
  }

  get text() {
    return this.textarea.value;
  }

  // Replace the whole text (an edit from the graph, undo, redo). Keeps the
  // scroll position; the browser's own undo inside the textarea starts over.
  setText(text) {
    if (text === this.textarea.value) return;
    const { scrollTop, scrollLeft } = this.textarea;
    this.textarea.value = text;
    this.textarea.scrollTop = scrollTop;
    this.textarea.scrollLeft = scrollLeft;
    this.render();
  }

  // Validation can overtake a keystroke: drop the pending debounced call when
  // the caller validates by itself.
  cancelPending() {
    clearTimeout(this.timer);
  }

  setMarkers(findings) {
    this.markers = new Map();
    for (const f of findings) {
      if (!f.line) continue;
      const last = f.end_line && f.end_line >= f.line ? Math.min(f.end_line, f.line + 50) : f.line;
      for (let line = f.line; line <= last; line++) {
        const entry = this.markers.get(line) || { severity: "info", messages: [] };
        entry.severity = worse(entry.severity, f.severity);
        if (line === f.line) entry.messages.push(`${f.code ? f.code + ": " : ""}${f.message}`);
        this.markers.set(line, entry);
      }
    }
    this.render();
  }

  highlightLines(start, end, { scroll = true } = {}) {
    this.highlight = start ? [start, end || start] : null;
    this.render();
    if (start && scroll) this.scrollToLine(start, end);
  }

  scrollToLine(start, end = start) {
    const lineHeight = this.lineHeight();
    const top = (start - 1) * lineHeight;
    const bottom = end * lineHeight;
    const view = this.textarea.clientHeight;
    if (top < this.textarea.scrollTop || bottom > this.textarea.scrollTop + view) {
      this.textarea.scrollTop = Math.max(0, top - view / 3);
    }
  }

  // Put the caret at the start of a line and focus the text (findings list).
  goToLine(line, column = 1) {
    const lines = this.textarea.value.split("\n");
    let offset = 0;
    for (let i = 0; i < Math.min(line - 1, lines.length); i++) offset += lines[i].length + 1;
    offset += Math.max(0, column - 1);
    this.textarea.focus();
    this.textarea.setSelectionRange(offset, offset);
    this.scrollToLine(line);
    this.reportCursor();
  }

  cursorLine() {
    const before = this.textarea.value.slice(0, this.textarea.selectionStart);
    return before.split("\n").length;
  }

  reportCursor() {
    const line = this.cursorLine();
    if (line !== this.lastCursorLine) {
      this.lastCursorLine = line;
      this.onCursorLine(line);
    }
  }

  lineHeight() {
    const value = parseFloat(getComputedStyle(this.textarea).lineHeight);
    return Number.isFinite(value) ? value : 20;
  }

  syncScroll() {
    this.gutter.scrollTop = this.textarea.scrollTop;
    this.backdrop.style.transform = `translate(${-this.textarea.scrollLeft}px, ${-this.textarea.scrollTop}px)`;
  }

  render() {
    const count = this.textarea.value.split("\n").length;
    if (count !== this.lineCount) {
      this.lineCount = count;
      this.gutter.replaceChildren();
      this.backdrop.replaceChildren();
      const gutterFragment = document.createDocumentFragment();
      const backFragment = document.createDocumentFragment();
      for (let line = 1; line <= count; line++) {
        const number = document.createElement("div");
        number.className = "ln";
        number.dataset.line = String(line);
        number.textContent = String(line);
        gutterFragment.append(number);
        const row = document.createElement("div");
        row.className = "row";
        row.dataset.line = String(line);
        backFragment.append(row);
      }
      // One spare row so the gutter can scroll as far as the textarea does.
      const spare = document.createElement("div");
      spare.className = "ln spare";
      gutterFragment.append(spare);
      this.gutter.append(gutterFragment);
      this.backdrop.append(backFragment);
    }
    const [hStart, hEnd] = this.highlight || [0, -1];
    const numbers = this.gutter.children;
    const rows = this.backdrop.children;
    for (let i = 0; i < count; i++) {
      const line = i + 1;
      const marker = this.markers.get(line);
      const selected = line >= hStart && line <= hEnd;
      const cls = (marker ? ` marker marker--${marker.severity}` : "") + (selected ? " selected" : "");
      numbers[i].className = "ln" + cls;
      rows[i].className = "row" + cls;
      if (marker) {
        numbers[i].title = marker.messages.join("\n");
      } else {
        numbers[i].removeAttribute("title");
      }
    }
    this.syncScroll();
  }
}

const RANK = { info: 0, warning: 1, error: 2 };
function worse(a, b) {
  return (RANK[b] ?? 0) > (RANK[a] ?? 0) ? b : a;
}
