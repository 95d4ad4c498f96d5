"""Edits racing the user: a slow server must never make a click or typed
text disappear. Each race is held open with Playwright's page.route, so it
happens the same way on a quiet and on a loaded machine."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from wfdsl.dsl.loader import parse_document

from tests.designer.browser.test_browser_editor import open_editor, save
from tests.designer.browser.test_browser_forms import (
    CONDITION,
    SLOW_CHOICE,
    Held,
    editor_text,
    panel,
    select_state,
    settled,
)


def is_commit(body: Any) -> bool:
    """A form commit of the first rule's condition (not its as-typed check)."""
    op = body.get("op", {})
    return op.get("op") == "set_field" and op.get("value") == CONDITION


def test_a_fast_double_click_on_add_rule_adds_two_rules(
    designer: Any, page: Any, artifacts: Path
) -> None:
    (designer.workspace / "double_add.yaml").write_text(SLOW_CHOICE, encoding="utf-8")
    open_editor(page, designer, "double_add.yaml")
    select_state(page, "check")
    # The first click's edit is held: the second click comes before its reply.
    first = Held(page, "**/edit", lambda body: body.get("op", {}).get("path") == ["choices", 1])
    panel(page).get_by_role("button", name="+ Add rule").dblclick()
    page.wait_for_function("() => document.body.dataset.edits === '2'")
    first.release()
    settled(page)

    rules = parse_document(editor_text(page)).data["states"]["check"]["choices"]
    assert len(rules) == 3, rules
    assert rules[0] == {"when": "${ true }", "next": "big"}
    page.wait_for_function(
        "() => document.querySelectorAll('#properties-body .prop-card').length === 3"
    )
    page.screenshot(path=str(artifacts / "race-double-add-rule.png"))


def type_at_end_of_line(page: Any, line: int, words: str) -> None:
    """Put the caret at the end of a line of the YAML pane and type there."""
    page.evaluate(
        """(n) => { const v = document.getElementById('yaml-pane').editorView;
        v.focus(); v.dispatch({ selection: { anchor: v.state.doc.line(n).to } }); }""",
        line,
    )
    page.keyboard.type(words)


def line_of(text: str, start: str) -> int:
    return next(i for i, line in enumerate(text.splitlines(), 1) if line.strip().startswith(start))


def hold_condition_commit(designer: Any, page: Any, name: str) -> Held:
    """Open SLOW_CHOICE as `name`, commit the first rule's condition from
    the form, and hold that edit on its way until `.release()`."""
    (designer.workspace / name).write_text(SLOW_CHOICE, encoding="utf-8")
    open_editor(page, designer, name)
    select_state(page, "check")
    when = panel(page).locator("#f-states-check-choices-0-when")
    when.fill(CONDITION)
    commit = Held(page, "**/edit", is_commit)
    when.press("Enter")
    page.wait_for_function("() => document.body.dataset.edits === '1'")
    return commit


def test_typing_in_the_yaml_while_a_form_edit_is_on_its_way_is_kept(
    designer: Any, page: Any
) -> None:
    commit = hold_condition_commit(designer, page, "typed_meanwhile.yaml")
    # Meanwhile the user types in the YAML, on another line than the edit's.
    type_at_end_of_line(page, line_of(SLOW_CHOICE, "description:"), " Typed meanwhile.")
    commit.release()
    settled(page)

    data = parse_document(editor_text(page)).data
    assert data["description"].endswith(" Typed meanwhile."), data["description"]
    assert data["states"]["check"]["choices"] == [{"when": CONDITION, "next": "big"}]
    assert "# Kept through every edit." in editor_text(page)
    page.wait_for_selector("#error-banner", state="hidden")
    save(page)
    saved = parse_document((designer.workspace / "typed_meanwhile.yaml").read_text()).data
    assert saved["description"] == data["description"]
    assert saved["states"]["check"]["choices"][0]["when"] == CONDITION
    # One undo takes back the typing and keeps the form's edit.
    page.click("#undo")
    page.wait_for_function(
        "() => !document.getElementById('yaml-pane').editorView.state.doc.toString()"
        ".includes('Typed meanwhile.')"
    )
    assert CONDITION in editor_text(page)


def test_typing_in_several_pauses_while_an_edit_is_held_is_one_undo_step(
    designer: Any, page: Any
) -> None:
    commit = hold_condition_commit(designer, page, "typed_pauses.yaml")
    # Two bursts of typing, each ended by a pause (the pane validates it).
    line = line_of(SLOW_CHOICE, "description:")
    for words in (" One.", " Two."):
        with page.expect_request(
            lambda r, w=words: r.url.endswith("/validate") and w in (r.post_data or "")
        ):
            type_at_end_of_line(page, line, words)
    commit.release()
    settled(page)
    data = parse_document(editor_text(page)).data
    assert data["description"].endswith(" One. Two."), data["description"]
    assert data["states"]["check"]["choices"][0]["when"] == CONDITION

    # Undo takes back all the typing of the held edit, then the edit, and
    # then there is nothing more to undo in this fresh document.
    page.click("#undo")
    page.wait_for_function(
        "() => !document.getElementById('yaml-pane').editorView.state.doc.toString()"
        ".includes(' One.')"
    )
    assert CONDITION in editor_text(page)
    page.click("#undo")
    page.wait_for_function(
        "() => document.getElementById('yaml-pane').editorView.state.doc.toString()"
        ".includes('when: ${ true }')"
    )
    assert editor_text(page) == SLOW_CHOICE
    assert page.locator("#undo").is_disabled()


def test_typing_over_the_lines_an_edit_changes_keeps_the_typing_and_says_so(
    designer: Any, page: Any, artifacts: Path
) -> None:
    commit = hold_condition_commit(designer, page, "typed_over.yaml")
    # The user rewrites the same condition in the YAML while the edit is held.
    type_at_end_of_line(page, line_of(SLOW_CHOICE, "- when:"), "  # typed by hand")
    typed = editor_text(page)
    commit.release()
    settled(page)

    banner = page.locator("#error-banner")
    banner.wait_for()
    assert "was not applied" in banner.inner_text()
    assert editor_text(page) == typed
    # The form shows what the document holds, not the value that was not
    # applied: the user sees at once that the change is not in the flow.
    page.wait_for_function(
        "() => document.getElementById('f-states-check-choices-0-when')?.value === '${ true }'"
    )
    save(page)
    assert (designer.workspace / "typed_over.yaml").read_text(encoding="utf-8") == typed
    # The notice stays while the user goes on typing (the next validation
    # of the text, drawn as a finding on the line typed, does not hide it).
    broken = line_of(typed, "next: big")
    type_at_end_of_line(page, broken, "x")
    page.locator(f"#yaml-pane .cm-line.marker--error[data-line='{broken}']").wait_for()
    assert banner.is_visible()
    assert "was not applied" in banner.inner_text()
    page.screenshot(path=str(artifacts / "race-typed-over-edit.png"))


TWO_RULES = SLOW_CHOICE.replace(
    "        next: big\n",
    "        next: big\n      - when: ${ false }\n        next: small\n",
)


def test_a_rule_moved_up_right_after_its_condition_was_typed_keeps_both(
    designer: Any, page: Any, artifacts: Path
) -> None:
    (designer.workspace / "move_typed.yaml").write_text(TWO_RULES, encoding="utf-8")
    open_editor(page, designer, "move_typed.yaml")
    select_state(page, "check")
    when = panel(page).locator("#f-states-check-choices-1-when")
    when.fill(CONDITION)
    # Leaving the field commits it; its reply is held until the click that
    # left it (moving the same rule up) is queued behind it.
    commit = Held(page, "**/edit", lambda body: body.get("op", {}).get("value") == CONDITION)
    panel(page).get_by_role("button", name="Move rule 2 up").click()
    page.wait_for_function("() => document.body.dataset.edits === '2'")
    commit.release()
    settled(page)

    rules = parse_document(editor_text(page)).data["states"]["check"]["choices"]
    assert rules == [
        {"when": CONDITION, "next": "small"},
        {"when": "${ true }", "next": "big"},
    ], rules
    page.screenshot(path=str(artifacts / "race-move-typed-rule.png"))
