// What the designer's YAML pane takes from CodeMirror 6: bundled by
// build-codemirror.sh into designer/static/vendor/codemirror.js (one ES module).
export { EditorState, StateEffect, StateField, RangeSetBuilder, Compartment } from "@codemirror/state";
export {
  EditorView,
  Decoration,
  ViewPlugin,
  keymap,
  lineNumbers,
  highlightActiveLine,
  highlightActiveLineGutter,
  highlightSpecialChars,
  drawSelection,
  dropCursor,
  rectangularSelection,
  hoverTooltip,
  gutter,
  GutterMarker,
} from "@codemirror/view";
export { defaultKeymap, history, historyKeymap, indentWithTab, undo, redo } from "@codemirror/commands";
export {
  syntaxHighlighting,
  defaultHighlightStyle,
  HighlightStyle,
  indentOnInput,
  indentUnit,
  bracketMatching,
  foldGutter,
  foldKeymap,
  syntaxTree,
} from "@codemirror/language";
export { yaml } from "@codemirror/lang-yaml";
export {
  autocompletion,
  completionKeymap,
  closeBrackets,
  closeBracketsKeymap,
  startCompletion,
  acceptCompletion,
  completionStatus,
} from "@codemirror/autocomplete";
export { setDiagnostics, lintGutter, lintKeymap } from "@codemirror/lint";
export { searchKeymap, highlightSelectionMatches } from "@codemirror/search";
export { tags } from "@lezer/highlight";
