"""Building a workflow with the forms only, never typing YAML: the palette
adds states, the property panel fills in their structured fields (args,
retry, catch, choice rules, a wait, a schedule, a handler), an expression is
checked by the server while it is typed, and the YAML that comes out is
valid and keeps the document's comments."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from wfdsl.dsl.api import validate_text
from wfdsl.dsl.loader import parse_document

from tests.designer.browser.test_browser_editor import open_editor, save

START = """\
wfdsl: "1"
name: forms-only
description: Built in the property panel.

# The one comment: it must survive every form edit.
start: first
states:
  first:
    type: task
    action: noop
    next: done

  done:
    type: succeed
"""


def editor_text(page: Any) -> str:
    return str(
        page.evaluate("() => document.getElementById('yaml-pane').editorView.state.doc.toString()")
    )


def edited(page: Any, action: Any) -> None:
    """Do `action` and wait for the edit it sends to come back and be drawn."""
    with page.expect_response(lambda r: r.url.endswith("/edit") and r.request.method == "POST"):
        action()
    # ...and for the panel to show the edited document's values.
    page.wait_for_selector("#properties-body[data-fresh='true']")


def panel(page: Any) -> Any:
    return page.locator("#properties-body")


def commit(page: Any, selector: str, value: str) -> None:
    """Type `value` into a panel field and press Enter (one edit)."""
    field = panel(page).locator(selector).first
    field.fill(value)
    edited(page, lambda: field.press("Enter"))


def select_state(page: Any, name: str) -> None:
    page.click(f"#graph .node[data-id='{name}']")
    page.wait_for_function(
        f"() => document.querySelector(\"#properties input[name='state-name']\")?.value === '{name}'"
    )


@pytest.mark.xfail(
    reason="known bug, open in issue 15: a choice rule's typed condition is sometimes lost "
    "(the rule keeps ${ true }) when the panel re-renders from a late document read "
    "while the field is being typed; seen in loaded CI runs",
    strict=False,
)
def test_build_a_flow_with_the_forms_only(designer: Any, page: Any, artifacts: Path) -> None:
    (designer.workspace / "forms_only.yaml").write_text(START, encoding="utf-8")
    open_editor(page, designer, "forms_only.yaml")

    # A task: its action, an argument with an expression, a retry policy.
    select_state(page, "first")
    commit(page, "#prop-action", "log")
    panel(page).locator("[aria-label='new name']").first.fill("message")
    commit(page, "[aria-label='new value']", "hello ${ input.name }")
    retry = panel(page).locator("#f-states-first-retry-_mode")
    edited(page, lambda: retry.select_option("one"))
    commit(page, "#f-states-first-retry-max_attempts", "5")

    # A fail state for the catch to go to, then the catch itself.
    select_state(page, "done")
    edited(page, lambda: page.click(".palette-item[data-type='fail']"))
    select_state(page, "first")
    edited(page, lambda: panel(page).get_by_role("button", name="+ Add catch").click())
    commit(page, "#f-states-first-catch-0-errors", "HttpError, Timeout")
    catch_next = panel(page).locator("#f-states-first-catch-0-next")
    edited(page, lambda: catch_next.select_option("fail_1"))

    # A choice after the task: it defaults to the task's old successor.
    edited(page, lambda: page.click(".palette-item[data-type='choice']"))
    page.wait_for_selector("#graph .node[data-id='choice_1']")
    edited(page, lambda: panel(page).get_by_role("button", name="+ Add rule").click())
    when = panel(page).locator("#f-states-choice_1-choices-0-when")
    status = panel(page).locator("#f-states-choice_1-choices-0-when-status")
    # A broken expression is reported while it is typed, before anything is saved.
    when.fill("")
    when.type("${ input.amount > }")
    status.filter(has_text="expression").wait_for()
    assert "is-error" in (status.get_attribute("class") or "")
    page.screenshot(path=str(artifacts / "forms-expression-error.png"))
    when.fill("")
    when.type("${ input.amount > 100 }")
    status.filter(has_text="valid").wait_for()
    edited(page, lambda: when.press("Enter"))

    # A wait on the rule's branch: a signal, from the wait form.
    rule_next = panel(page).locator("#f-states-choice_1-choices-0-next")
    page.keyboard.press("Escape")  # nothing selected: the new state is not wired yet
    edited(page, lambda: page.click(".palette-item[data-type='wait']"))
    select_state(page, "wait_1")
    kind = panel(page).locator("#f-states-wait_1-_wait-kind")
    edited(page, lambda: kind.select_option("signal"))
    commit(page, "#f-states-wait_1-signal", "approve")
    select_state(page, "choice_1")
    edited(page, lambda: rule_next.select_option("wait_1"))

    # The workflow's own fields: nothing selected.
    page.keyboard.press("Escape")
    edited(page, lambda: panel(page).get_by_role("button", name="+ Add a schedule").click())
    commit(page, "#f-schedule-cron", "*/15 * * * *")
    panel(page).locator("[aria-label='new handler name']").fill("status")
    edited(page, lambda: panel(page).locator("[aria-label='new handler name']").press("Enter"))
    page.screenshot(path=str(artifacts / "forms-workflow.png"))

    text = editor_text(page)
    data = parse_document(text).data
    first = data["states"]["first"]
    assert first["action"] == "log"
    assert first["args"] == {"message": "hello ${ input.name }"}
    assert first["retry"]["max_attempts"] == 5
    assert first["catch"] == [
        {"errors": ["HttpError", "Timeout"], "as": "failure", "next": "fail_1"}
    ]
    assert first["next"] == "choice_1"
    choice = data["states"]["choice_1"]
    assert choice["choices"] == [{"when": "${ input.amount > 100 }", "next": "wait_1"}]
    assert choice["default"] == "done"
    assert data["states"]["wait_1"]["signal"] == "approve"
    assert data["schedule"]["cron"] == "*/15 * * * *"
    assert "status" in data["handlers"]
    assert "# The one comment: it must survive every form edit." in text
    errors = [f.format() for f in validate_text(text) if f.severity == "error"]
    assert errors == [], errors
    assert page.locator("#findings .finding--error").count() == 0

    select_state(page, "first")
    page.screenshot(path=str(artifacts / "forms-task.png"))
    select_state(page, "choice_1")
    page.screenshot(path=str(artifacts / "forms-choice.png"))
    save(page)
    assert (designer.workspace / "forms_only.yaml").read_text(encoding="utf-8") == text
