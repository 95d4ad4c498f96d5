"""Reading the graph in a real Chromium: every example and generated
documents of 50, 100 and 200 states open readable (no overlaps, text of at
least 11 px at the default view), zoom is bounded by node size, big graphs
get a minimap and a search, and states can be dragged and tidied."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from graph_geometry import measure
from layout_corpus import generated_workflow

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
