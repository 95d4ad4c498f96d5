"""Putting a state where it belongs, with the mouse: drop it from the
palette onto an edge and it goes between the edge's two ends; add a choice
after a task and the task's old successor becomes the choice's default."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from wfdsl.dsl.loader import parse_document

from tests.designer.browser.test_browser_editor import open_editor, wait_for_states


def editor_text(page: Any) -> str:
    return str(
        page.evaluate("() => document.getElementById('yaml-pane').editorView.state.doc.toString()")
    )


def edge_midpoint(page: Any, source: str, target: str) -> dict[str, float]:
    """The middle of the drawn edge source -> target, relative to #graph."""
    point = page.evaluate(
        """([source, target]) => {
            const edge = [...document.querySelectorAll('#graph .edge')]
              .find(e => e.dataset.source === source && e.dataset.target === target);
            const hit = document.querySelector(`#graph .edge-hit[data-edge="${edge.dataset.edge}"]`);
            const p = hit.getPointAtLength(hit.getTotalLength() / 2);
            const q = new DOMPoint(p.x, p.y).matrixTransform(hit.getScreenCTM());
            const box = document.getElementById('graph').getBoundingClientRect();
            return {x: q.x - box.left, y: q.y - box.top};
        }""",
        [source, target],
    )
    return {"x": float(point["x"]), "y": float(point["y"])}


def edges(page: Any) -> set[tuple[str, str]]:
    pairs = page.eval_on_selector_all(
        "#graph .edge", "els => els.map(e => [e.dataset.source, e.dataset.target])"
    )
    return {(a, b) for a, b in pairs}


def test_drop_a_state_on_an_edge_to_insert_it_there(
    designer: Any, page: Any, artifacts: Path
) -> None:
    open_editor(page, designer, "signup.yaml")
    count = page.locator("#graph .node[tabindex]").count()
    assert ("remind", "too_many") in edges(page)
    page.drag_and_drop(
        ".palette-item[data-type='task']",
        "#graph",
        target_position=edge_midpoint(page, "remind", "too_many"),
    )
    wait_for_states(page, count + 1)
    pairs = edges(page)
    assert ("remind", "task_1") in pairs and ("task_1", "too_many") in pairs, pairs
    assert ("remind", "too_many") not in pairs
    # The new state is selected, its lines sit between its neighbours',
    # set apart by blank lines like every other state.
    assert page.locator("#properties input[name='state-name']").input_value() == "task_1"
    text = editor_text(page)
    assert (
        "    next: task_1\n\n  task_1:\n    type: task\n    action: noop\n    next: too_many\n\n"
        in text
    )
    page.screenshot(path=str(artifacts / "insert-on-edge.png"))

    # Onto a choice's condition edge: the rule now leads to the new state.
    page.drag_and_drop(
        ".palette-item[data-type='set']",
        "#graph",
        target_position=edge_midpoint(page, "too_many", "give_up"),
    )
    wait_for_states(page, count + 2)
    states = parse_document(editor_text(page)).data["states"]
    assert states["too_many"]["choices"][0]["next"] == "set_1"
    assert states["set_1"]["next"] == "give_up"
    assert page.locator("#findings .finding--error").count() == 0


def test_a_choice_added_after_a_task_defaults_to_the_tasks_old_successor(
    designer: Any, page: Any, artifacts: Path
) -> None:
    open_editor(page, designer, "order_saga.yaml")
    first = parse_document(editor_text(page)).data["states"]["save_order"]["next"]
    page.click("#graph .node[data-id='save_order']")
    page.click(".palette-item[data-type='choice']")
    page.wait_for_selector("#graph .node[data-id='choice_1']")
    pairs = edges(page)
    assert ("save_order", "choice_1") in pairs
    assert ("choice_1", first) in pairs, pairs  # its default: nothing is left floating
    states = parse_document(editor_text(page)).data["states"]
    assert states["choice_1"]["default"] == first
    page.screenshot(path=str(artifacts / "choice-after-task.png"))
