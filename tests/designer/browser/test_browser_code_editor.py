"""The YAML pane is a real code editor (CodeMirror 6, vendored): it
highlights YAML, indents on Enter, completes keys and values from the
published JSON Schema, explains a key on hover, and says what is wrong with
a line that does not parse, in the words `wfdsl validate` uses."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from tests.designer.browser.test_browser_editor import open_editor


def editor_text(page: Any) -> str:
    return str(
        page.evaluate("() => document.getElementById('yaml-pane').editorView.state.doc.toString()")
    )


def put_caret(page: Any, line: int, column: int | None = None) -> None:
    """Click into the editor, then move the caret to line (1-based), at its end or `column`."""
    page.evaluate(
        """([line, column]) => {
            const view = document.getElementById('yaml-pane').editorView;
            const at = view.state.doc.line(line);
            const pos = column === null ? at.to : at.from + column - 1;
            view.dispatch({selection: {anchor: pos}, scrollIntoView: true});
            view.focus();
        }""",
        [line, column],
    )


def pick(page: Any, label: str) -> None:
    """Choose the completion option `label` (clicked: CodeMirror ignores an
    Enter that comes within 75 ms of the list opening, faster than a person)."""
    page.locator(".cm-tooltip-autocomplete li", has_text=label).first.click()


def line_of(page: Any, needle: str) -> int:
    return editor_text(page).split("\n").index(needle) + 1


def test_the_code_editor_completes_keys_and_values_from_the_schema(
    designer: Any, page: Any, artifacts: Path
) -> None:
    open_editor(page, designer, "signup.yaml")
    assert page.locator("#yaml-pane .cm-editor").count() == 1
    assert page.locator("#yaml-text").is_hidden()
    # YAML is highlighted: keys and values are spans of their own colours.
    assert page.locator("#yaml-pane .cm-content span").count() > 50

    # A new key in the `remind` task: typing `re` offers `retry` and `result`,
    # each with the schema's description beside it.
    put_caret(page, line_of(page, "  remind:") + 1)
    page.keyboard.press("End")
    page.keyboard.press("Enter")
    page.keyboard.type("re")
    options = page.locator(".cm-tooltip-autocomplete li")
    options.first.wait_for()
    labels = options.all_inner_texts()
    assert any(label.startswith("retry") for label in labels), labels
    assert any(label.startswith("result") for label in labels), labels
    assert not any(label.startswith("when") for label in labels), labels  # not a task key
    # Its description shows beside the highlighted option.
    page.locator(".cm-tooltip-autocomplete li", has_text="retry").first.hover()
    info = page.locator(".cm-completionInfo")
    info.wait_for()
    assert info.inner_text(), labels
    page.screenshot(path=str(artifacts / "code-editor-completion.png"))
    pick(page, "retry")
    # A policy opens its block, indented; its keys complete in turn.
    page.keyboard.type("max")
    pick(page, "max_attempts")
    page.keyboard.type("5")
    # Enter keeps the indentation; Shift+Tab goes back out to the state's keys.
    page.keyboard.press("Enter")
    page.keyboard.type("backoff: 3")
    page.keyboard.press("Enter")
    page.keyboard.press("Shift+Tab")
    page.keyboard.type("time")
    pick(page, "timeout")
    page.keyboard.type("30s")
    text = editor_text(page)
    assert "    retry:\n      max_attempts: 5\n      backoff: 3\n    timeout: 30s\n" in text, text

    # A value: the state's `next` offers the document's state names.
    put_caret(page, line_of(page, "    next: too_many"))
    for _ in range(len("too_many")):
        page.keyboard.press("Backspace")
    page.keyboard.type("gi")
    pick(page, "give_up")
    assert "    next: give_up" in editor_text(page)
    # What was typed is validated like any edit: the graph follows.
    page.wait_for_function(
        "() => [...document.querySelectorAll('#graph .edge')].some("
        "e => e.dataset.source === 'remind' && e.dataset.target === 'give_up')"
    )


def test_a_key_explains_itself_on_hover(designer: Any, page: Any, artifacts: Path) -> None:
    open_editor(page, designer, "signup.yaml")
    put_caret(
        page,
        line_of(
            page,
            "    default: wait_for_click    # loop back: the wait, not a choice, breaks the cycle",
        ),
        1,
    )
    word = page.locator("#yaml-pane .cm-line", has_text="default: wait_for_click").first
    box = word.bounding_box()
    assert box is not None
    page.mouse.move(box["x"] + 30, box["y"] + box["height"] / 2)
    page.mouse.move(box["x"] + 45, box["y"] + box["height"] / 2)
    doc = page.locator(".cm-schema-doc")
    doc.wait_for()
    assert "no `when` holds" in doc.inner_text(), doc.inner_text()
    page.screenshot(path=str(artifacts / "code-editor-hover.png"))


def test_a_line_that_does_not_parse_says_what_is_wrong_and_how_to_fix_it(
    designer: Any, page: Any, artifacts: Path
) -> None:
    open_editor(page, designer, "signup.yaml")
    number = line_of(page, "  remind:")
    put_caret(page, number, 1)
    page.keyboard.press("End")
    page.keyboard.press("Enter")
    page.keyboard.press("Home")
    page.keyboard.type("\tbroken: yes")
    status = page.locator("#graph-status")
    status.wait_for()
    words = status.inner_text()
    assert f"line {number + 1}" in words, words
    assert "indent with spaces" in words, words  # the fix, as `wfdsl validate` says it
    marker = page.locator("#yaml-pane .cm-lint-marker-error")
    marker.first.wait_for()
    page.screenshot(path=str(artifacts / "code-editor-parse-error.png"))
