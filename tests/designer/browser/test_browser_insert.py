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


def drop_on_edge(page: Any, palette_type: str, source: str, target: str) -> None:
    """Drag a palette item onto the middle of the edge source -> target, with
    the whole graph in view first (Fit), as a user would bring it into view."""
    page.click("#zoom-fit")
    point = edge_midpoint(page, source, target)
    box = page.locator("#graph").bounding_box()
    assert 0 <= point["x"] <= box["width"] and 0 <= point["y"] <= box["height"], (point, box)
    page.drag_and_drop(
        f".palette-item[data-type='{palette_type}']", "#graph", target_position=point
    )


def edges(page: Any) -> set[tuple[str, str]]:
    pairs = page.eval_on_selector_all(
        "#graph .edge", "els => els.map(e => [e.dataset.source, e.dataset.target])"
    )
    return {(a, b) for a, b in pairs}


def test_drop_a_state_on_an_edge_to_insert_it_there(
    designer: Any, page: Any, artifacts: Path
) -> None:
    # A copy of its own: the browser tests share one workspace, and the
    # designer remembers each file's last drawing.
    own = designer.workspace / "insert_signup.yaml"
    own.write_text((designer.workspace / "signup.yaml").read_text(encoding="utf-8"))
    open_editor(page, designer, own.name)
    count = page.locator("#graph .node[tabindex]").count()
    assert ("remind", "too_many") in edges(page)
    drop_on_edge(page, "task", "remind", "too_many")
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
    drop_on_edge(page, "set", "too_many", "give_up")
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
