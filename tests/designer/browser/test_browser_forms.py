"""Building a workflow with the forms only, never typing YAML: the palette
adds states, the property panel fills in their structured fields (args,
retry, catch, choice rules, a wait, a schedule, a handler), an expression is
checked by the server while it is typed, and the YAML that comes out is
valid and keeps the document's comments."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from wfdsl.dsl.api import validate_text
from wfdsl.dsl.loader import parse_document

from tests.designer.browser.test_browser_editor import CORNER, open_editor, save

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
    """Do `action` and wait for the edit it sends to come back and be drawn.
    A field's as-you-type check posts to `/edit?preview=1`: not an edit."""
    with page.expect_response(lambda r: r.url.endswith("/edit") and r.request.method == "POST"):
        action()
    settled(page)


def settled(page: Any) -> None:
    """Wait until no edit is queued or on its way and the panel shows the
    edited document's values."""
    page.wait_for_selector("body[data-edits='0'] #properties-body[data-fresh='true']")


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
    status.filter(has_text="✓ valid").wait_for()
    edited(page, lambda: when.press("Enter"))

    # A wait on the rule's branch: a signal, from the wait form.
    rule_next = panel(page).locator("#f-states-choice_1-choices-0-next")
    # Nothing selected (a click on the empty canvas): the new state is not wired yet.
    page.locator("#graph").click(position=CORNER)
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


# A choice whose one rule is still the placeholder a new rule starts with.
SLOW_CHOICE = """\
wfdsl: "1"
name: slow-server
description: A choice rule being written while the server is slow.

# Kept through every edit.
start: check
states:
  check:
    type: choice
    choices:
      - when: ${ true }
        next: big
    default: small

  big:
    type: succeed

  small:
    type: succeed
"""

CONDITION = "${ input.amount > 100 }"


class Held:
    """Requests to `pattern` whose JSON body satisfies `wanted`, held (a slow
    server) until `release()`, which sends them on and holds no more."""

    def __init__(self, page: Any, pattern: str, wanted: Any) -> None:
        self.wanted = wanted
        self.routes: list[Any] = []
        self.holding = True
        page.route(pattern, self.handle)

    def handle(self, route: Any) -> None:
        if self.holding and self.wanted(route.request.post_data_json or {}):
            self.routes.append(route)
        else:
            route.continue_()

    def release(self) -> None:
        self.holding = False
        while self.routes:
            self.routes.pop(0).continue_()


def test_a_commit_still_on_its_way_is_kept_by_the_next_edit(designer: Any, page: Any) -> None:
    # A slow server: the committed condition's reply is held until the user
    # has already gone on to the next edit (adding a state from the palette).
    (designer.workspace / "slow_commit.yaml").write_text(SLOW_CHOICE, encoding="utf-8")
    open_editor(page, designer, "slow_commit.yaml")
    select_state(page, "check")
    when = panel(page).locator("#f-states-check-choices-0-when")
    when.fill(CONDITION)
    commits = Held(page, "**/edit*", lambda body: body.get("op", {}).get("value") == CONDITION)
    when.press("Enter")
    page.wait_for_function("() => document.body.dataset.edits === '1'")
    page.keyboard.press("Escape")
    page.click(".palette-item[data-type='wait']")
    commits.release()
    settled(page)

    data = parse_document(editor_text(page)).data
    assert data["states"]["check"]["choices"] == [{"when": CONDITION, "next": "big"}]
    assert data["states"]["wait_1"]["type"] == "wait"
    page.wait_for_selector("#graph .node[data-id='wait_1']")


def test_a_field_being_typed_survives_the_panel_redrawing(designer: Any, page: Any) -> None:
    # The panel redraws a state's form when the edited document's data
    # arrives; that reply is held until the user is typing in another field.
    (designer.workspace / "slow_redraw.yaml").write_text(SLOW_CHOICE, encoding="utf-8")
    open_editor(page, designer, "slow_redraw.yaml")
    select_state(page, "check")
    late = Held(page, "**/api/data", lambda body: "default: big" in body.get("text", ""))
    otherwise = panel(page).locator("#f-states-check-default")
    with page.expect_response(lambda r: r.url.endswith("/edit")):
        otherwise.select_option("big")
    page.wait_for_function("() => document.body.dataset.edits === '0'")
    when = panel(page).locator("#f-states-check-choices-0-when")
    when.fill("")
    when.type(CONDITION)
    late.release()
    page.wait_for_selector("#properties-body[data-fresh='true']")
    assert when.input_value() == CONDITION
    edited(page, lambda: when.press("Enter"))

    data = parse_document(editor_text(page)).data
    assert data["states"]["check"]["choices"] == [{"when": CONDITION, "next": "big"}]
    assert data["states"]["check"]["default"] == "big"


SINGLE_VALUES = """\
wfdsl: "1"
name: single-values
description: A task's timeout, a wait's timer, a map's items and concurrency.

start: fetch
states:
  fetch:
    type: task
    action: noop
    next: pause

  pause:
    type: wait
    timer: 1m
    next: each

  each:
    type: map
    items: ${ input.lines }
    as: line
    do:
      start: one
      states:
        one:
          type: succeed
    next: done

  done:
    type: succeed
"""


def check_says(page: Any, field: str, text: str, words: str) -> Any:
    """Type `text` into a panel field and wait for the server's words under it."""
    input_ = panel(page).locator(field)
    input_.fill("")
    input_.type(text)
    panel(page).locator(f"{field}-status").filter(has_text=words).wait_for()
    return input_


def test_single_value_fields_are_checked_while_they_are_typed(
    designer: Any, page: Any, artifacts: Path
) -> None:
    (designer.workspace / "single_values.yaml").write_text(SINGLE_VALUES, encoding="utf-8")
    open_editor(page, designer, "single_values.yaml")

    # A task's timeout: the validator's own words, before anything is saved.
    select_state(page, "fetch")
    timeout = check_says(page, "#prop-timeout", "10 minutes", "invalid duration '10 minutes'")
    assert timeout.get_attribute("aria-invalid") == "true"
    assert "timeout" not in parse_document(editor_text(page)).data["states"]["fetch"]
    check_says(page, "#prop-timeout", "10m", "✓ valid")
    assert timeout.get_attribute("aria-invalid") == "false"
    edited(page, lambda: timeout.press("Enter"))

    # A wait's timer.
    select_state(page, "pause")
    timer = check_says(page, "#f-states-pause-timer", "soon", "invalid duration 'soon'")
    check_says(page, "#f-states-pause-timer", "90s", "✓ valid")
    edited(page, lambda: timer.press("Enter"))

    # A map's items and concurrency.
    select_state(page, "each")
    items = check_says(page, "#f-states-each-items", "${ input.rows", "is never closed")
    # Leaving a field commits it: once the form is drawn again, the items'
    # error stays under the field, now as the document's own finding.
    concurrency = check_says(
        page, "#f-states-each-concurrency", "0", "concurrency must be at least 1"
    )
    settled(page)
    assert parse_document(editor_text(page)).data["states"]["each"]["items"] == "${ input.rows"
    items_status = panel(page).locator("#f-states-each-items-status")
    assert "is never closed" in items_status.inner_text()
    page.screenshot(path=str(artifacts / "forms-single-value-errors.png"))
    check_says(page, "#f-states-each-items", "${ input.rows }", "✓ valid")
    edited(page, lambda: items.press("Enter"))
    check_says(page, "#f-states-each-concurrency", "4", "✓ valid")
    edited(page, lambda: concurrency.press("Enter"))

    states = parse_document(editor_text(page)).data["states"]
    assert states["fetch"]["timeout"] == "10m"
    assert states["pause"]["timer"] == "90s"
    assert states["each"]["items"] == "${ input.rows }"
    assert states["each"]["concurrency"] == 4
    assert page.locator("#findings .finding--error").count() == 0


def test_a_parallel_states_branches_and_a_maps_settings_from_the_forms(
    designer: Any, page: Any, artifacts: Path
) -> None:
    source = (designer.workspace / "api_orchestration.yaml").read_text(encoding="utf-8")
    (designer.workspace / "branches.yaml").write_text(source, encoding="utf-8")
    open_editor(page, designer, "branches.yaml")
    select_state(page, "call_b_and_c")

    # Rename a branch: checked as it is typed (a taken name is refused), one edit.
    name = panel(page).locator("#f-states-call_b_and_c-branches-_name-0")
    check_says(page, "#f-states-call_b_and_c-branches-_name-0", "c", "already exists")
    check_says(page, "#f-states-call_b_and_c-branches-_name-0", "bee", "✓ valid")
    edited(page, lambda: name.press("Enter"))
    page.wait_for_selector("#graph .node[data-id='call_b_and_c/bee/call_b']")

    # Add a branch, remove another, and join on the first to finish.
    new = panel(page).locator("[aria-label='new branch name']")
    new.fill("audit")
    edited(page, lambda: new.press("Enter"))
    page.wait_for_selector("#graph .node[data-id='call_b_and_c/audit/done']")
    remove = panel(page).get_by_role("button", name="Remove branch c")
    edited(page, lambda: remove.click())
    page.wait_for_selector("#graph .node[data-id='call_b_and_c/c/call_c']", state="detached")
    join = panel(page).locator("#f-states-call_b_and_c-join")
    edited(page, lambda: join.select_option("count"))
    commit(page, "#f-states-call_b_and_c-join-count", "1")
    page.screenshot(path=str(artifacts / "forms-parallel-branches.png"))

    text = editor_text(page)
    fork = parse_document(text).data["states"]["call_b_and_c"]
    assert list(fork["branches"]) == ["bee", "audit"]
    assert fork["branches"]["audit"] == {"start": "done", "states": {"done": {"type": "succeed"}}}
    assert fork["join"] == {"count": 1}
    kept = [line for line in source.splitlines() if "#" in line]
    assert [line for line in text.splitlines() if "#" in line] == kept
    assert [f.format() for f in validate_text(text) if f.severity == "error"] == []

    # A map's settings: what it iterates, how many at once, how many may fail.
    source = (designer.workspace / "map_fanout.yaml").read_text(encoding="utf-8")
    (designer.workspace / "map_settings.yaml").write_text(source, encoding="utf-8")
    open_editor(page, designer, "map_settings.yaml")
    select_state(page, "quote_lines")
    check_says(page, "#f-states-quote_lines-tolerated_failures", "ten", "tolerated_failures")
    check_says(page, "#f-states-quote_lines-tolerated_failures", "10%", "✓ valid")
    tolerated = panel(page).locator("#f-states-quote_lines-tolerated_failures")
    edited(page, lambda: tolerated.press("Enter"))
    commit(page, "#f-states-quote_lines-concurrency", "8")
    page.screenshot(path=str(artifacts / "forms-map-settings.png"))

    text = editor_text(page)
    each = parse_document(text).data["states"]["quote_lines"]
    assert (each["concurrency"], each["tolerated_failures"]) == (8, "10%")
    assert "    concurrency: 8             # at most four calls" in text
    assert [line.split("#")[1] for line in text.splitlines() if "#" in line] == [
        line.split("#")[1] for line in source.splitlines() if "#" in line
    ]
    assert [f.format() for f in validate_text(text) if f.severity == "error"] == []
