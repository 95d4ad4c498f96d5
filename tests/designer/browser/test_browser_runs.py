"""A run from the editor to its end in a real Chromium: start it with input,
send its signal from the run page, and watch the overlay change over SSE
without a reload."""

from __future__ import annotations

from pathlib import Path
from typing import Any


def test_start_a_run_signal_it_and_watch_it_complete_live(
    designer: Any, page: Any, artifacts: Path
) -> None:
    page.goto(f"{designer.url}/edit/approve_me.yaml")
    page.wait_for_selector("body[data-ready='true']")
    page.click("#start-run")
    page.fill("#run-input", '{"note": "from the browser test"}')
    page.click("#run-submit")
    page.wait_for_url("**/runs/*")

    waiting = page.locator("#graph .node[data-id='wait_approval']")
    page.wait_for_selector("#graph .node[data-id='wait_approval'].st-waiting")
    page.wait_for_selector("#live-flag.live")
    assert "st-completed" in (
        page.locator("#graph .node[data-id='prepare']").get_attribute("class") or ""
    )
    page.screenshot(path=str(artifacts / "run-waiting.png"))

    # Anything set on the window survives only if the page is never reloaded.
    page.evaluate("() => { window.__sameDocument = true; }")
    page.fill("#signal-form input[name=channel]", "approve")
    page.fill("#signal-form textarea[name=data]", '{"by": "tester"}')
    page.click("#signal-form button[type=submit]")

    page.wait_for_selector("#graph .node[data-id='wait_approval'].st-completed")
    page.wait_for_selector("#run-status.pill--completed")
    assert waiting.get_attribute("data-status") == "completed"
    assert page.evaluate("() => window.__sameDocument === true")
    timeline = page.locator("#timeline .event-type").all_inner_texts()
    assert any("signal" in t or "message" in t for t in timeline), timeline
    page.screenshot(path=str(artifacts / "run-completed.png"))

    page.goto(f"{designer.url}/runs?status=completed")
    page.wait_for_selector("#runs-table .pill--completed")
    page.screenshot(path=str(artifacts / "runs-list.png"))
