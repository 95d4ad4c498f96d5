"""Reading the graph in a real Chromium: every example and generated
documents of 50, 100 and 200 states open readable (no overlaps, text of at
least 11 px at the default view), zoom is bounded by node size, big graphs
get a minimap and a search, and states can be dragged and tidied."""

from __future__ import annotations

import itertools
import json
import re
from pathlib import Path
from typing import Any

import pytest
from graph_geometry import measure
from layout_corpus import generated_workflow
from test_browser_inspect import inspected, user  # noqa: F401 (fixtures: runs made by real engines)

EXAMPLES = Path(__file__).resolve().parents[3] / "examples"
DOCUMENTS = [p.name for p in sorted(EXAMPLES.glob("*.yaml"))] + [
    f"generated_{n}.yaml" for n in (50, 100, 200)
]
MIN_TEXT_PX = 11.0
REPORT: dict[str, Any] = {}


def open_editor(page: Any, served: Any, path: str) -> None:
    page.goto(f"{served.url}/edit/{path}")
    page.wait_for_selector("body[data-ready='true']")
    page.wait_for_selector("#graph svg .node")


def write_generated(workspace: Path) -> None:
    for n in (50, 100, 200):
        target = workspace / f"generated_{n}.yaml"
        if not target.exists():
            target.write_text(generated_workflow(n), encoding="utf-8")


@pytest.mark.parametrize("document", DOCUMENTS)
def test_the_graph_is_readable_at_its_default_view(
    designer: Any, page: Any, artifacts: Path, document: str
) -> None:
    write_generated(designer.workspace)
    open_editor(page, designer, document)
    found = measure(page)
    REPORT[document] = found
    (artifacts / "graph-geometry.json").write_text(json.dumps(REPORT, indent=2) + "\n")
    page.locator(".pane-graph").screenshot(path=str(artifacts / f"graph-{Path(document).stem}.png"))
    assert found["min_text_px"] >= MIN_TEXT_PX, found
    counts = {k: found[k] for k in ("label_edge", "label_node", "label_label", "node_node")}
    assert counts == dict.fromkeys(counts, 0), found


def test_states_are_sized_by_the_text_widths_this_browser_measured(
    designer: Any, page: Any, artifacts: Path
) -> None:
    from wfdsl.dsl.text_metrics import ESTIMATE, parse_metrics

    # Every page measures the graph's font and keeps it in a cookie (the
    # designer fixture opened the workspace page already).
    cookie = next(c["value"] for c in page.context.cookies() if c["name"] == "wfdsl_text")
    metrics = parse_metrics(cookie)
    assert metrics is not None
    (artifacts / "text-metrics.txt").write_text(cookie + "\n", encoding="utf-8")
    open_editor(page, designer, "order_saga.yaml")
    drawn = page.eval_on_selector_all(
        "#graph .node[tabindex]",
        """els => els.map(e => [e.dataset.id, e.querySelector('text').getComputedTextLength(),
                                e.querySelector('.shape').getBBox().width,
                                e.querySelector('text').textContent])""",
    )
    widest = max(drawn, key=lambda d: d[1])
    _, text_px, box_px, name = widest
    # The widest name's box is its measured width plus the padding: it fits
    # the text as drawn here (each character's width is rounded up a tenth,
    # kerning is left out), not the per-character estimate.
    assert metrics.width(name, "label") == pytest.approx(text_px, abs=3), widest
    assert box_px - text_px == pytest.approx(32, abs=3), widest
    estimated = ESTIMATE.width(name, "label") + 32
    assert abs(box_px - estimated) > 3, (widest, estimated)
    for _, text_px, box_px, _ in drawn:
        assert text_px <= box_px - 8


def paint(page: Any, overlay: dict[str, Any]) -> None:
    """Hand ``overlay`` (designer/API.md, "The run overlay") to a GraphView
    over the page's drawing, as the run page does after each SSE message."""
    page.evaluate(
        """async (overlay) => {
            const { GraphView } = await import('/static/graph_view.js');
            const data = JSON.parse(document.getElementById('editor-data').textContent);
            const view = new GraphView(document.getElementById('graph'));
            view.adoptExisting(data.view);
            view.paintRun(overlay);
        }""",
        overlay,
    )


def stroke(page: Any, state: str) -> str:
    selector = f"#graph .node[data-id='{state}'] .shape"
    return str(page.eval_on_selector(selector, "el => getComputedStyle(el).stroke"))


def state(status: str, badge: str | None = None, **more: Any) -> dict[str, Any]:
    return {"status": status, "visits": 1, "retries": 0, "compensated": False,
            "items": None, "badge": badge, **more}  # fmt: skip


def test_a_failed_saga_run_shows_its_path_its_red_fail_state_and_undone_steps(
    designer: Any, page: Any, artifacts: Path
) -> None:
    open_editor(page, designer, "order_saga.yaml")
    path = ["(start)", "save_order", "reserve_inventory", "charge_payment", "undo_order"]
    overlay = {
        "states": {
            "save_order": state("compensated", "undone", compensated=True),
            "reserve_inventory": state("compensated", "undone", compensated=True),
            "charge_payment": state("caught", "caught CardDeclined"),
            "undo_order": state("completed"),
            "payment_failed": state("failed"),
        },
        "taken": [
            {"source": a, "target": b, "count": 1}
            for a, b in zip(path, [*path[1:], "payment_failed"], strict=True)
        ],
        "stopped": None,
        "failed": "payment_failed",
    }
    paint(page, overlay)
    red = page.evaluate(
        "() => getComputedStyle(document.body).getPropertyValue('--st-failed').trim()"
    )
    assert red == "#d93025"
    assert stroke(page, "payment_failed") == "rgb(217, 48, 37)"  # the reached fail state is red
    assert stroke(page, "completed") != stroke(page, "payment_failed")
    cls = node_classes(page)
    assert "st-compensated" in cls["save_order"] and "st-compensated" in cls["reserve_inventory"]
    assert "st-pending" in cls["send_confirmation"] and "st-pending" in cls["completed"]
    taken = page.eval_on_selector_all(
        "#graph .edge.taken", "els => els.map(e => [e.dataset.source, e.dataset.target])"
    )
    assert sorted(taken) == sorted(
        [[a, b] for a, b in zip(path, [*path[1:], "payment_failed"], strict=True)]
    )
    notes = page.locator("#graph .run-note").all_text_contents()
    assert sorted(notes) == ["caught CardDeclined", "undone", "undone"]
    page.locator(".pane-graph").screenshot(path=str(artifacts / "graph-run-saga-failed.png"))


def node_classes(page: Any) -> dict[str, str]:
    return dict(
        page.eval_on_selector_all(
            "#graph .node[tabindex]", "els => els.map(e => [e.dataset.id, e.className.baseVal])"
        )
    )


def test_a_map_shows_its_item_counts_and_a_paused_run_where_it_stopped(
    designer: Any, page: Any, artifacts: Path
) -> None:
    open_editor(page, designer, "map_fanout.yaml")
    items = {"total": 3, "done": 3, "failed": 0, "running": 0, "retried": 1}
    overlay = {
        "states": {
            "quote_lines": state("completed", "3/3 done, 1 retried", items=items),
            "quote_lines/quote": state("completed", "1 retry", visits=3, retries=1),
            "quote_lines/line_done": state("completed", visits=3),
            "summarize": state("completed"),
        },
        "taken": [
            {"source": "(start)", "target": "quote_lines", "count": 1},
            {"source": "quote_lines/(start)", "target": "quote_lines/quote", "count": 3},
            {"source": "quote_lines/quote", "target": "quote_lines/line_done", "count": 3},
            {"source": "quote_lines", "target": "summarize", "count": 1},
        ],
        "stopped": {"state": "log_total", "reason": "break"},
        "failed": None,
    }
    paint(page, overlay)
    notes = page.locator("#graph .run-note").all_text_contents()
    assert "3/3 done, 1 retried" in notes and "breakpoint: paused here" in notes
    assert "st-paused" in node_classes(page)["log_total"]
    # The map leaves from its join: that edge is on the path too.
    assert (
        page.locator(
            "#graph .edge.taken[data-source='quote_lines/(join)'][data-target='summarize']"
        ).count()
        == 1
    )
    assert (
        "taken 3 times"
        in page.locator(
            "#graph .edge.taken[data-target='quote_lines/quote'] title"
        ).first.text_content()
    )
    page.locator(".pane-graph").screenshot(path=str(artifacts / "graph-run-map-paused.png"))


def text_px(page: Any) -> float:
    return float(measure(page)["min_text_px"])


def test_zoom_is_bounded_by_node_size_and_big_graphs_get_a_minimap_and_search(
    designer: Any, page: Any, artifacts: Path
) -> None:
    write_generated(designer.workspace)
    open_editor(page, designer, "generated_200.yaml")
    assert text_px(page) >= MIN_TEXT_PX
    graph = page.locator("#graph")
    graph.hover()
    for _ in range(40):
        page.click("#zoom-in")
    # 40 zoom-ins stop at 4x the drawn size: 11 px text at 44 px, not 4 px.
    assert 40 <= text_px(page) <= 4 * 11 + 0.5
    for _ in range(80):
        page.click("#zoom-out")
    # Zoomed out, a state stays a quarter of its drawn size (the minimap shows the rest).
    assert text_px(page) == pytest.approx(11 * 0.25, abs=0.1)
    page.click("#zoom-fit")
    assert text_px(page) >= MIN_TEXT_PX

    # Search: typing a state's name centres it at a readable size; Enter selects it.
    assert page.locator("#graph .minimap .mm-node").count() > 200
    target = (
        "archive_190"
        if "archive_190:" in (designer.workspace / "generated_200.yaml").read_text()
        else None
    )
    ids = page.eval_on_selector_all("#graph .node[tabindex]", "els => els.map(e => e.dataset.id)")
    target = target or ids[-5]
    page.fill(".graph-search", target)
    page.keyboard.press("Enter")
    page.wait_for_selector(f"#graph .node.selected[data-id='{target}']")
    box = page.locator(f"#graph .node[data-id='{target}']").bounding_box()
    pane = graph.bounding_box()
    assert box and pane
    assert pane["x"] <= box["x"] and box["x"] + box["width"] <= pane["x"] + pane["width"]
    assert pane["y"] <= box["y"] and box["y"] + box["height"] <= pane["y"] + pane["height"]
    page.locator(".pane-graph").screenshot(path=str(artifacts / "graph-200-search.png"))

    # A small graph has neither.
    open_editor(page, designer, "signup.yaml")
    assert page.locator("#graph .minimap, #graph .graph-search").count() == 0


def drawn_boxes(page: Any) -> dict[str, list[float]]:
    """Each state's outline in drawing units (whatever the zoom)."""
    return dict(
        page.eval_on_selector_all(
            "#graph .node[tabindex]",
            """els => els.map(e => { const b = e.querySelector('.shape').getBBox();
                 return [e.dataset.id, [b.x, b.y, b.width, b.height]]; })""",
        )
    )


def test_drag_a_state_to_pin_it_and_tidy_to_let_go(
    designer: Any, page: Any, artifacts: Path
) -> None:
    path = designer.workspace / "signup_drag.yaml"
    path.write_text((EXAMPLES / "signup.yaml").read_text(encoding="utf-8"), encoding="utf-8")
    open_editor(page, designer, "signup_drag.yaml")
    before = drawn_boxes(page)
    moved = list(before)[1]
    node = page.locator(f"#graph .node[data-id='{moved}']")
    # Ports show only on the state under the pointer.
    port = f"#graph .port[data-for='{moved}']"
    assert page.eval_on_selector(port, "el => getComputedStyle(el).opacity") == "0"
    node.hover()
    page.wait_for_function(
        f'() => getComputedStyle(document.querySelector("{port}")).opacity > 0.5'
    )
    start = node.bounding_box()
    assert start
    scale = page.evaluate("() => document.querySelector('#graph svg').getScreenCTM().a")
    cx, cy = start["x"] + start["width"] / 2, start["y"] + start["height"] / 2
    page.mouse.move(cx, cy)
    page.mouse.down()
    page.mouse.move(cx + 50, cy + 30, steps=6)
    page.mouse.move(cx + 140, cy + 40, steps=6)
    page.mouse.up()
    page.wait_for_function(
        "() => document.getElementById('yaml-text').value.includes('x-designer')"
    )
    assert f"    {moved}: [" in page.input_value("#yaml-text")
    page.wait_for_function(
        f"() => !document.querySelector(\"#graph .node[data-id='{moved}']\").hasAttribute('transform')"
    )
    after = drawn_boxes(page)
    assert after[moved][0] - before[moved][0] == pytest.approx(140 / scale, abs=2)
    assert after[moved][1] - before[moved][1] == pytest.approx(40 / scale, abs=2)
    # Every other state stays where it was drawn.
    assert {k: v for k, v in after.items() if k != moved} == {
        k: v for k, v in before.items() if k != moved
    }
    page.locator(".pane-graph").screenshot(path=str(artifacts / "graph-dragged.png"))
    # Tidy lets go of the pins: the layout's own place again.
    page.click("#tidy")
    page.wait_for_function(
        "() => !document.getElementById('yaml-text').value.includes('x-designer')"
    )
    page.wait_for_function(
        f"() => Math.abs(document.querySelector(\"#graph .node[data-id='{moved}'] .shape\")"
        f".getBBox().x - {before[moved][0]}) < 0.5"
    )
    assert drawn_boxes(page) == before


def edge_points(page: Any, selector: str) -> list[list[float]]:
    return page.eval_on_selector(selector, "el => Array.from(el.points, p => [p.x, p.y])")


def orthogonal(points: list[list[float]]) -> bool:
    return all(
        abs(a[0] - b[0]) < 0.5 or abs(a[1] - b[1]) < 0.5 for a, b in itertools.pairwise(points)
    )


def test_a_dragged_states_edges_follow_it_before_the_drop(
    designer: Any, page: Any, artifacts: Path
) -> None:
    path = designer.workspace / "signup_follow.yaml"
    path.write_text((EXAMPLES / "signup.yaml").read_text(encoding="utf-8"), encoding="utf-8")
    open_editor(page, designer, "signup_follow.yaml")
    moved = list(drawn_boxes(page))[1]
    outgoing = f"#graph .edge[data-source='{moved}'] polyline"
    incoming = f"#graph .edge[data-target='{moved}'] polyline"
    out_before, in_before = edge_points(page, outgoing), edge_points(page, incoming)
    scale = page.evaluate("() => document.querySelector('#graph svg').getScreenCTM().a")
    box = page.locator(f"#graph .node[data-id='{moved}']").bounding_box()
    assert box
    cx, cy = box["x"] + box["width"] / 2, box["y"] + box["height"] / 2
    page.mouse.move(cx, cy)
    page.mouse.down()
    page.mouse.move(cx + 60, cy + 45, steps=8)

    # Still held: the lines already run from and to where the state is now.
    out_during, in_during = edge_points(page, outgoing), edge_points(page, incoming)
    assert out_during != out_before and in_during != in_before
    assert out_during[0][0] - out_before[0][0] == pytest.approx(60 / scale, abs=1)
    assert out_during[0][1] - out_before[0][1] == pytest.approx(45 / scale, abs=1)
    assert in_during[-1][0] - in_before[-1][0] == pytest.approx(60 / scale, abs=1)
    assert in_during[-1][1] - in_before[-1][1] == pytest.approx(45 / scale, abs=1)
    # Their far ends stay, and a right-angled route keeps its right angles.
    assert out_during[-1] == out_before[-1] and in_during[0] == in_before[0]
    for before, during in ((out_before, out_during), (in_before, in_during)):
        assert orthogonal(during) or not orthogonal(before), (before, during)
    assert (
        page.evaluate("() => document.getElementById('yaml-text').value").count("x-designer") == 0
    )
    page.locator(".pane-graph").screenshot(path=str(artifacts / "graph-drag-edges-follow.png"))

    page.mouse.up()
    page.wait_for_function(
        "() => document.getElementById('yaml-text').value.includes('x-designer')"
    )
    page.wait_for_function(
        f"() => !document.querySelector(\"#graph .node[data-id='{moved}']\").hasAttribute('transform')"
    )
    # The server's drawing after the drop starts the edge at the dropped state.
    dropped = drawn_boxes(page)[moved]
    first = edge_points(page, outgoing)[0]
    assert dropped[0] - 1 <= first[0] <= dropped[0] + dropped[2] + 1
    assert dropped[1] - 1 <= first[1] <= dropped[1] + dropped[3] + 1


def test_real_runs_on_the_graph_a_declined_saga_a_map_and_a_breakpoint(
    user: tuple[Any, Any, Any],  # noqa: F811 (the fixture imported above)
    artifacts: Path,
) -> None:
    # The runs the inspection tests use (tests/saga_runs.py), made by real
    # engines, drawn by the run page through GraphView.paintRun.
    page, served, made = user
    page.goto(f"{served.url}/runs/{made.declined}")
    page.wait_for_selector("#graph .node[data-id='payment_failed'].st-failed")
    assert stroke(page, "payment_failed") == "rgb(217, 48, 37)"  # red, not green
    cls = node_classes(page)
    assert "st-compensated" in cls["save_order"] and "st-compensated" in cls["reserve_inventory"]
    assert "st-caught" in cls["charge_payment"] and "st-pending" in cls["send_confirmation"]
    taken = page.eval_on_selector_all(
        "#graph .edge.taken", "els => els.map(e => e.dataset.source + '>' + e.dataset.target)"
    )
    assert "charge_payment>undo_order" in taken and "undo_order>payment_failed" in taken
    assert "charge_payment>send_confirmation" not in taken
    assert page.locator("#graph .run-note", has_text="undone").count() == 2
    page.locator(".run-graph").screenshot(path=str(artifacts / "graph-run-declined-saga.png"))

    page.goto(f"{served.url}/runs/{made.cart}")
    page.wait_for_selector("#graph .run-note")
    notes = page.locator("#graph .run-note").all_text_contents()
    assert any(re.fullmatch(r"(\d+)/\1 done(, \d+ retried)?", n) for n in notes), notes
    page.locator(".run-graph").screenshot(path=str(artifacts / "graph-run-map.png"))

    page.goto(f"{served.url}/runs/{made.paused}")
    page.wait_for_selector("#graph .node[data-id='second'].st-paused")
    assert "breakpoint" in " ".join(page.locator("#graph .run-note").all_text_contents())
    page.locator(".run-graph").screenshot(path=str(artifacts / "graph-run-breakpoint.png"))


def test_adding_a_state_leaves_the_others_in_place(
    designer: Any, page: Any, artifacts: Path
) -> None:
    path = designer.workspace / "saga_insert.yaml"
    path.write_text((EXAMPLES / "order_saga.yaml").read_text(encoding="utf-8"), encoding="utf-8")
    open_editor(page, designer, "saga_insert.yaml")
    before = drawn_boxes(page)
    page.click("#graph .node[data-id='reserve_inventory']")
    page.click(".palette-item[data-type=task]")
    page.wait_for_function(
        f"() => document.querySelectorAll('#graph .node[tabindex]').length === {len(before) + 1}"
    )
    after = drawn_boxes(page)
    (added,) = set(after) - set(before)
    top = after[added][1]
    for state, box in before.items():
        assert after[state][0] == pytest.approx(box[0], abs=0.1), state  # nothing moves sideways
        if box[1] < top:
            assert after[state] == pytest.approx(box, abs=0.1), state  # above: untouched
    # Below it, states moved down together, by one amount.
    shifts = {round(after[s][1] - b[1], 1) for s, b in before.items() if b[1] >= top}
    assert len(shifts) == 1 and shifts.pop() > 0
    page.locator(".pane-graph").screenshot(path=str(artifacts / "graph-stable-insert.png"))
