"""The editor in a real Chromium: build a workflow by clicking and dragging,
edit an example without losing its comments, and keep the graph while the
YAML is broken."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import wfdsl

CORNER = {"x": 12, "y": 12}  # empty canvas: a drop there wires the new state to nothing


def open_editor(page: Any, served: Any, path: str) -> None:
    page.goto(f"{served.url}/edit/{path}")
    page.wait_for_selector("body[data-ready='true']")
    page.wait_for_selector("#graph svg .node")


def node(page: Any, state_id: str) -> Any:
    return page.locator(f"#graph .node[data-id='{state_id}']")


def state_ids(page: Any) -> list[str]:
    ids = page.eval_on_selector_all("#graph .node[tabindex]", "els => els.map(e => e.dataset.id)")
    return sorted(ids)


def wait_for_states(page: Any, count: int) -> None:
    page.wait_for_function(
        f"() => document.querySelectorAll('#graph .node[tabindex]').length === {count}"
    )


def wait_for_text(page: Any, predicate: str) -> None:
    """Wait until the YAML pane's text satisfies a JS predicate over `t`."""
    page.wait_for_function(
        "() => { const t = document.getElementById('yaml-pane').editorView.state.doc.toString();"
        f" return {predicate}; }}"
    )


def editor_lines(page: Any) -> list[str]:
    lines = page.evaluate(
        "() => document.getElementById('yaml-pane').editorView.state.doc.toString().split('\\n')"
    )
    return list(lines)


def put_caret(page: Any, line: int, column: int = 1) -> None:
    """Focus the code editor with the caret at `line`:`column` (1-based)."""
    page.evaluate(
        """([line, column]) => {
            const view = document.getElementById('yaml-pane').editorView;
            const pos = view.state.doc.line(line).from + column - 1;
            view.focus();
            view.dispatch({selection: {anchor: pos}, scrollIntoView: true});
        }""",
        [line, column],
    )


def click_edge(page: Any, source: str, target: str) -> None:
    """Click halfway along the drawn edge from `source` to `target`."""
    point = page.evaluate(
        """([source, target]) => {
            const edge = [...document.querySelectorAll('#graph .edge')]
              .find(e => e.dataset.source === source && e.dataset.target === target);
            const hit = document.querySelector(`#graph .edge-hit[data-edge="${edge.dataset.edge}"]`);
            const p = hit.getPointAtLength(hit.getTotalLength() / 2);
            const q = new DOMPoint(p.x, p.y).matrixTransform(hit.getScreenCTM());
            return [q.x, q.y];
        }""",
        [source, target],
    )
    page.mouse.click(point[0], point[1])


def save(page: Any) -> None:
    with page.expect_response(
        lambda r: r.request.method == "PUT" and "/api/files/" in r.url
    ) as saved:
        page.click("#save")
    assert saved.value.status == 200
    page.wait_for_selector("#dirty-flag", state="hidden")


def test_build_a_three_state_workflow_by_clicking_and_dragging(
    designer: Any, page: Any, artifacts: Path
) -> None:
    # A new file from the workspace page's starter, whose two states are
    # deleted once the new ones stand.
    page.screenshot(path=str(artifacts / "workspace.png"))
    page.fill("#new-workflow input[name=path]", "from_scratch.yaml")
    page.select_option("#new-workflow select[name=template]", "blank")
    page.click("#new-workflow button[type=submit]")
    page.wait_for_url("**/edit/from_scratch.yaml")
    page.wait_for_selector("body[data-ready='true']")
    starter = state_ids(page)
    page.keyboard.press("Escape")

    # Three states from the palette: dragged onto the canvas, then clicked;
    # none is wired to anything yet.
    graph = page.locator("#graph")
    page.locator(".palette-item[data-type=task]").drag_to(graph, target_position=CORNER)
    wait_for_states(page, len(starter) + 1)
    (first,) = set(state_ids(page)) - set(starter)
    page.keyboard.press("Escape")
    page.locator(".palette-item[data-type=wait]").drag_to(graph, target_position=CORNER)
    wait_for_states(page, len(starter) + 2)
    (second,) = set(state_ids(page)) - {first, *starter}
    page.keyboard.press("Escape")
    page.locator(".palette-item[data-type=succeed]").click()
    wait_for_states(page, len(starter) + 3)
    (third,) = set(state_ids(page)) - {first, second, *starter}

    # Connect them by dragging from each state's port onto the next state.
    page.locator(f".port[data-for='{first}']").drag_to(node(page, second))
    wait_for_text(page, f"/\\n  {first}:[\\s\\S]*next: {second}/.test(t)")
    page.locator(f".port[data-for='{second}']").drag_to(node(page, third))
    wait_for_text(page, f"/\\n  {second}:[\\s\\S]*next: {third}/.test(t)")
    page.wait_for_selector(
        f"#graph .edge[data-source='{second}'][data-target='{third}']", state="attached"
    )
    # Undo takes the last connection away, redo brings it back.
    node(page, third).focus()
    page.keyboard.press("Control+z")
    page.wait_for_selector(
        f"#graph .edge[data-source='{second}'][data-target='{third}']", state="detached"
    )
    page.keyboard.press("Control+Shift+z")
    page.wait_for_selector(
        f"#graph .edge[data-source='{second}'][data-target='{third}']", state="attached"
    )

    node(page, first).click()
    page.get_by_role("button", name="Make start").click()
    wait_for_text(page, f"t.includes('start: {first}')")
    # The starter's own states go: what is left was built on the graph.
    for name in starter:
        node(page, name).click()
        page.keyboard.press("Delete")
        page.wait_for_selector(f"#graph .node[data-id='{name}']", state="detached")
    page.wait_for_selector("#findings-summary.clean")
    save(page)
    page.screenshot(path=str(artifacts / "editor-built-from-scratch.png"))

    saved = designer.workspace / "from_scratch.yaml"
    assert wfdsl.validate(saved) == []
    document = wfdsl.load(saved)
    assert sorted(document.states) == sorted([first, second, third])


def comments(text: str) -> list[str]:
    """The comment of every line that has one (whole-line or trailing)."""
    found = []
    for line in text.splitlines():
        match = re.search(r"(^|\s)(#.*)$", line)
        if match and not re.search(r"""["'][^"']*#""", line[: match.start(2)]):
            found.append(match.group(2))
    return found


def test_rename_and_move_an_edge_keep_every_comment(
    designer: Any, page: Any, artifacts: Path
) -> None:
    before = (designer.workspace / "signup.yaml").read_text(encoding="utf-8")
    path = designer.workspace / "signup_commented.yaml"  # a copy: other tests read signup.yaml
    path.write_text(before, encoding="utf-8")
    assert len(comments(before)) > 10
    open_editor(page, designer, path.name)

    # Rename `remind` in the property panel: the key and every reference follow.
    node(page, "remind").click()
    name = page.locator("#properties input[name='state-name']")
    name.fill("send_reminder")
    name.press("Enter")
    page.wait_for_selector("#graph .node[data-id='send_reminder']")
    wait_for_text(page, "t.includes('send_reminder:') && t.includes('next: send_reminder')")

    # Move the choice edge too_many → give_up onto welcome by dragging its end.
    click_edge(page, "too_many", "give_up")
    handle = page.locator("#graph .edge-handle")
    handle.wait_for()
    handle.drag_to(node(page, "welcome"))
    page.wait_for_selector(
        "#graph .edge[data-source='too_many'][data-target='welcome']", state="attached"
    )
    page.screenshot(path=str(artifacts / "editor-signup-edited.png"))
    save(page)

    after = path.read_text(encoding="utf-8")
    missing = [c for c in comments(before) if c not in after]
    assert missing == []
    assert "send_reminder:" in after and "next: send_reminder" in after
    assert re.search(r"- when: .*\n\s+next: welcome", after)


def test_a_syntax_error_marks_its_line_and_the_graph_stays(
    designer: Any, page: Any, artifacts: Path
) -> None:
    open_editor(page, designer, "order_saga.yaml")
    nodes_before = state_ids(page)
    lines = editor_lines(page)
    # After the `start:` line, a line YAML refuses ("mapping values are not allowed here").
    broken = next(i for i, line in enumerate(lines, 1) if line.startswith("start:")) + 1
    put_caret(page, broken - 1, len(lines[broken - 2]) + 1)
    page.keyboard.type("\noops: a: b")
    marker = page.locator(f"#yaml-pane .cm-line.marker--error[data-line='{broken}']")
    marker.wait_for()
    assert page.locator("#yaml-pane .cm-lint-marker-error").count() >= 1
    assert page.locator("#graph-status").is_visible()
    assert "does not parse" in page.locator("#graph-status").inner_text()
    assert state_ids(page) == nodes_before  # the last good graph is still drawn
    assert page.locator("#findings .finding--error").count() >= 1
    page.screenshot(path=str(artifacts / "editor-syntax-error.png"))

    # Fixing the text brings the live graph back.
    page.keyboard.press("Control+z")
    page.wait_for_selector("#yaml-pane .cm-line.marker--error", state="detached")
    page.wait_for_selector("#graph-status", state="hidden")


def test_keyboard_moves_between_states_and_selects_their_yaml(
    designer: Any, page: Any, artifacts: Path
) -> None:
    open_editor(page, designer, "signup.yaml")
    node(page, "send_verification").focus()
    page.keyboard.press("ArrowDown")
    focused = page.evaluate("() => document.activeElement.dataset.id")
    assert focused == "wait_for_click"
    assert (
        page.locator("#graph .node[data-id='wait_for_click']").get_attribute("aria-pressed")
        == "true"
    )
    # Its YAML lines are highlighted and the property panel shows it.
    selected = page.eval_on_selector_all(
        "#yaml-pane .cm-line.cm-selected-state", "els => els.map(e => +e.dataset.line)"
    )
    text_lines = editor_lines(page)
    assert text_lines[selected[0] - 1].strip() == "wait_for_click:"
    assert page.locator("#properties input[name='state-name']").input_value() == "wait_for_click"
    # And back: the caret in another state's YAML selects it on the graph.
    line = next(i for i, t in enumerate(text_lines, 1) if t.strip() == "give_up:") + 1
    put_caret(page, line, 2)
    page.wait_for_selector("#graph .node[data-id='give_up'].selected")
    page.screenshot(path=str(artifacts / "editor-keyboard-selection.png"))

    # Zoom changes the drawing's viewBox; Fit brings the whole graph back.
    fitted = page.get_attribute("#graph svg", "viewBox")
    page.click("#zoom-in")
    assert page.get_attribute("#graph svg", "viewBox") != fitted
    page.click("#zoom-fit")
    assert page.get_attribute("#graph svg", "viewBox") == fitted

    # Export SVG downloads the drawing without the editor's handles.
    with page.expect_download() as download:
        page.click("#export-svg")
    exported = Path(download.value.path()).read_text(encoding="utf-8")
    assert exported.startswith("<?xml") and "wait_for_click" in exported
    assert 'class="port"' not in exported and "edge-hit" not in exported

    page.emulate_media(color_scheme="dark")
    page.screenshot(path=str(artifacts / "editor-dark.png"))
