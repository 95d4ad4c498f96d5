"""Test coverage on the graph (docs/testing.md): "Test coverage" runs the
flow's `wfdsl test` files and dashes the transitions no case takes."""

from __future__ import annotations

from pathlib import Path
from typing import Any

CHECK = """\
wfdsl: "1"
name: coverage-check
start: decide
states:
  decide:
    type: choice
    choices:
      - when: ${ input.amount > 100 }
        next: review
    default: approve

  review: {type: fail, error: NeedsReview}

  approve: {type: succeed}
"""

ONE_BRANCH = """\
wfdsl-test: "1"
flow: ../coverage_check.yaml
cases:
  - name: a small amount is approved
    input: {amount: 5}
    expect: {status: completed}
"""


def _dashed(page: Any) -> dict[str, bool]:
    """Each edge's "source->target" and whether it is drawn dashed."""
    result: dict[str, bool] = page.evaluate(
        """() => {
            const data = JSON.parse(document.getElementById('editor-data').textContent);
            const out = {};
            for (const e of data.view.graph.edges) {
                const el = document.querySelector(`#graph .edge[data-edge="${e.id}"] polyline, #graph .edge[data-edge="${e.id}"] path`);
                if (!el) continue;
                const dash = getComputedStyle(el).strokeDasharray;
                out[`${e.source}->${e.target}`] = !!dash && dash !== 'none';
            }
            return out;
        }"""
    )
    return result


def test_the_transition_no_case_takes_is_dashed(designer: Any, page: Any, artifacts: Path) -> None:
    (designer.workspace / "coverage_check.yaml").write_text(CHECK, encoding="utf-8")
    (designer.workspace / "tests").mkdir(exist_ok=True)
    (designer.workspace / "tests" / "coverage_check.test.yaml").write_text(ONE_BRANCH)
    page.goto(f"{designer.url}/edit/coverage_check.yaml")
    page.wait_for_selector("body[data-ready='true']")
    page.wait_for_selector("#graph svg .node")
    before = _dashed(page)
    assert before["decide->review"] is False  # nothing is dashed before asking

    page.click("#coverage")
    status = page.locator("#coverage-status")
    status.wait_for(state="visible")
    page.wait_for_function(
        "() => !document.getElementById('coverage-status').textContent.includes('running')"
    )
    assert "1 case in tests/coverage_check.test.yaml" in status.inner_text()
    assert page.get_attribute("#coverage", "aria-pressed") == "true"
    after = _dashed(page)
    assert after["decide->review"] is True
    assert after["decide->approve"] is False
    assert page.locator("#graph .node.unvisited[data-id='review']").count() == 1
    page.locator(".editor").screenshot(path=str(artifacts / "coverage-overlay.png"))

    page.click("#coverage")  # pressed again: the overlay goes
    assert _dashed(page)["decide->review"] is False
    assert page.get_attribute("#coverage", "aria-pressed") == "false"


def test_an_example_its_tests_cover_fully_has_nothing_dashed(designer: Any, page: Any) -> None:
    page.goto(f"{designer.url}/edit/signup.yaml")
    page.wait_for_selector("body[data-ready='true']")
    page.wait_for_selector("#graph svg .node")
    page.click("#coverage")
    page.wait_for_function(
        "() => !document.getElementById('coverage-status').textContent.includes('running')"
    )
    assert "8/8 transitions" in page.inner_text("#coverage-status")
    assert page.locator("#graph .edge.untaken").count() == 0
