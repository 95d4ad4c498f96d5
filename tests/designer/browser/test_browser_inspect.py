"""Inspecting runs in a real Chromium as a user would: a declined order saga
opened at 1024x768 shows its failure without scrolling, clicking a state
shows its input, error with details, attempts with timings and idempotency
keys, history rows open to their payloads and filter by state and event
type, and a waiting run says when its timer is due in words."""

from __future__ import annotations

import re
import shutil
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from conftest import EXAMPLES, Served, serve_designer, watch_script_errors
from saga_runs import FAIL_ON_SIGNAL, FLAKY, REMIND, STEPS, Made, flaky_action, make_runs


@pytest.fixture(scope="module")
def inspected(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Served, Made]]:
    """A designer over a store that already holds the runs to inspect."""
    root = tmp_path_factory.mktemp("inspect")
    workspace = root / "workspace"
    shutil.copytree(EXAMPLES, workspace)
    (workspace / "remind_me.yaml").write_text(REMIND, encoding="utf-8")
    (workspace / "three_steps.yaml").write_text(STEPS, encoding="utf-8")
    (workspace / "fail_on_signal.yaml").write_text(FAIL_ON_SIGNAL, encoding="utf-8")
    (workspace / "flaky_once.yaml").write_text(FLAKY, encoding="utf-8")
    # Playwright keeps an event loop in this thread: the engines drive in another.
    made_runs: list[Made] = []
    maker = threading.Thread(target=lambda: made_runs.append(make_runs(root / "designer.db")))
    maker.start()
    maker.join()
    (made,) = made_runs
    with serve_designer(
        workspace, root / "designer.db", prepare=flaky_action, name="designer-inspect"
    ) as served:
        yield served, made


@pytest.fixture
def user(page: Any, inspected: tuple[Served, Made]) -> Iterator[tuple[Any, Served, Made]]:
    """A page holding the token, failing the test on any script error."""
    served, made = inspected
    problems = watch_script_errors(page)
    page.set_default_timeout(10_000)
    page.goto(f"{served.url}/?token={served.token}")
    yield page, served, made
    assert not problems, "\n".join(problems)


def test_a_failed_saga_shows_its_failure_at_1024_by_768_without_scrolling(
    user: tuple[Any, Served, Made], artifacts: Path
) -> None:
    page, served, made = user
    page.set_viewport_size({"width": 1024, "height": 768})
    page.goto(f"{served.url}/runs/{made.declined}")
    banner = page.locator("#run-failure")
    banner.wait_for()
    assert "PaymentFailed" in banner.inner_text()
    assert "order o-declined: card tok_declined was declined" in banner.inner_text()
    assert "Caused by CardDeclined in charge_payment" in banner.inner_text()
    box = banner.bounding_box()
    assert box is not None and box["y"] >= 0 and box["y"] + box["height"] <= 768, box
    assert page.evaluate("() => window.scrollY") == 0
    # The page opens on the state it failed at, beside the graph, in view too.
    page.wait_for_selector("#state-panel[data-state='payment_failed']")
    panel = page.locator("#state-panel")
    assert "PaymentFailed" in panel.inner_text()
    panel_box = page.locator("#state-name").bounding_box()
    assert panel_box is not None and panel_box["y"] + panel_box["height"] <= 768, panel_box
    page.screenshot(path=str(artifacts / "inspect-failed-saga-1024.png"))


def test_click_states_to_see_input_error_details_attempts_and_keys(
    user: tuple[Any, Served, Made], artifacts: Path
) -> None:
    page, served, made = user
    page.goto(f"{served.url}/runs/{made.declined}")
    page.wait_for_selector("#state-panel[data-state='payment_failed']")

    page.click("#graph .node[data-id='charge_payment']")
    page.wait_for_selector("#state-panel[data-state='charge_payment']")
    panel = page.locator("#state-panel")
    assert panel.locator("#state-status").inner_text() == "caught"
    error = panel.locator(".state-error")
    assert "CardDeclined: card tok_declined was declined" in error.inner_text()
    assert "caught" in error.inner_text()
    assert '"decline_code": "insufficient_funds"' in error.locator("pre").inner_text()
    assert '"card": "tok_declined"' in panel.locator("pre.state-input").inner_text()
    assert panel.locator("ol.attempts .key").all_inner_texts() == ["o-declined/charge_payment/1"]
    page.screenshot(path=str(artifacts / "inspect-state-caught.png"))

    page.click("#graph .node[data-id='reserve_inventory']")
    page.wait_for_selector("#state-panel[data-state='reserve_inventory']")
    assert panel.locator("#state-status").inner_text() == "compensated"
    attempts = panel.locator("ol.attempts").first
    rows = attempts.locator("li.attempt")
    assert rows.count() == 2
    assert "failed" in rows.nth(0).inner_text() and "ConnectionError" in rows.nth(0).inner_text()
    assert "retried after 1s" in rows.nth(0).inner_text()
    assert "completed" in rows.nth(1).inner_text()
    assert "o-declined/reserve_inventory/2" in rows.nth(1).inner_text()
    undo = panel.locator("ol.attempts").nth(1)
    assert undo.get_attribute("aria-label") == "Undo (compensation)"
    assert "o-declined/reserve_inventory/undo/1" in undo.inner_text()
    page.screenshot(path=str(artifacts / "inspect-state-attempts.png"))

    # The banner's state names open their state too.
    page.click("#run-failure button[data-state='charge_payment']")
    page.wait_for_selector("#state-panel[data-state='charge_payment']")


def test_history_rows_open_to_their_payload_and_filter(
    user: tuple[Any, Served, Made], artifacts: Path
) -> None:
    page, served, made = user
    page.goto(f"{served.url}/runs/{made.declined}")
    rows = page.locator("#timeline > li")
    total = rows.count()
    assert total > 15
    failed = page.locator("#timeline > li[data-type='action_failed'][data-state='charge_payment']")
    payload = failed.locator(".event-data")
    assert not payload.is_visible()
    failed.locator("summary").click()
    assert payload.is_visible()
    assert '"error": "CardDeclined"' in payload.inner_text()
    assert '"decline_code": "insufficient_funds"' in payload.inner_text()

    page.select_option("#filter-state", "charge_payment")
    visible = page.locator("#timeline > li:not([hidden])")
    assert {visible.nth(i).get_attribute("data-state") for i in range(visible.count())} == {
        "charge_payment"
    }
    assert re.fullmatch(rf"{visible.count()} of {total} events", page.inner_text("#history-count"))

    page.select_option("#filter-state", "")
    page.select_option("#filter-type", "action_failed")
    shown = [visible.nth(i).get_attribute("data-state") for i in range(visible.count())]
    assert shown == ["reserve_inventory", "charge_payment"]
    page.screenshot(path=str(artifacts / "inspect-history-filtered.png"))

    # From the state panel: "Show its history" filters by that state.
    page.select_option("#filter-type", "")
    page.click("#graph .node[data-id='save_order']")
    page.wait_for_selector("#state-panel[data-state='save_order']")
    page.click("#state-history")
    assert page.input_value("#filter-state") == "save_order"
    types = [visible.nth(i).get_attribute("data-type") for i in range(visible.count())]
    assert types[:4] == ["state_entered", "action_started", "action_completed", "vars_changed"]
    assert types[-2:] == ["undo_started", "undo_completed"]


def test_a_map_and_a_waiting_timer_in_words(
    user: tuple[Any, Served, Made], artifacts: Path
) -> None:
    page, served, made = user
    page.goto(f"{served.url}/runs/{made.waiting}")
    page.click("#graph .node[data-id='wait_approval']")
    page.wait_for_selector("#state-panel[data-state='wait_approval']")
    words = page.inner_text("#state-panel .state-waiting")
    # "Waiting for signal `approve` or timer 1d, due Tue, 8 Dec, 10:00 UTC (in 23h59m50s)"
    assert words.startswith("Waiting for signal `approve` or timer 1d, due "), words
    assert re.search(r"\(in (23h\d+m(\d+s)?|1d)\)$", words), words
    page.screenshot(path=str(artifacts / "inspect-waiting-timer.png"))

    page.goto(f"{served.url}/runs/{made.cart}")
    page.click("#graph .node[data-id='quote_lines/quote']")
    page.wait_for_selector("#state-panel[data-state='quote_lines/quote']")
    panel = page.locator("#state-panel")
    assert "Visit 3 of 3 · item 2" in panel.inner_text()
    assert "2 earlier visits" in panel.inner_text()
    page.screenshot(path=str(artifacts / "inspect-map-item.png"))


def test_a_run_paused_at_a_breakpoint_says_where_and_goes_on_live(
    user: tuple[Any, Served, Made], artifacts: Path
) -> None:
    page, served, made = user
    page.goto(f"{served.url}/runs/{made.paused}")
    stopped = page.locator("#run-stopped")
    assert stopped.is_visible()
    assert (
        stopped.inner_text() == "Stopped at a breakpoint before second. Resume or Step in Controls."
    )
    page.wait_for_selector("#live-flag.live")
    page.screenshot(path=str(artifacts / "inspect-breakpoint.png"))
    stopped.locator("button[data-state='second']").click()
    page.wait_for_selector("#state-panel[data-state='second']")
    assert page.inner_text("#state-status") == "paused"

    page.click("#resume")
    page.wait_for_selector("#run-status.pill--completed")
    page.wait_for_selector("#run-stopped", state="hidden")
    # The open panel follows the run: the state is entered and done now.
    page.wait_for_selector("#state-panel #state-status:text('completed')")


def test_the_runs_list_says_why_a_run_failed(user: tuple[Any, Served, Made]) -> None:
    page, served, made = user
    page.goto(f"{served.url}/runs?status=failed")
    row = page.locator(f"#runs-table tr[data-run='{made.declined}']")
    assert "PaymentFailed: order o-declined: card tok_declined was declined" in row.inner_text()


def test_a_failure_that_happens_while_watching_shows_at_the_top(
    user: tuple[Any, Served, Made], artifacts: Path
) -> None:
    page, served, _ = user
    page.set_viewport_size({"width": 1024, "height": 768})
    page.goto(f"{served.url}/edit/fail_on_signal.yaml")
    page.wait_for_selector("body[data-ready='true']")
    page.click("#start-run")
    page.click("#run-submit")
    page.wait_for_url("**/runs/*")
    page.wait_for_selector("#live-flag.live")
    assert not page.locator("#run-failure").is_visible()
    # Every event is listed, also those committed before the stream began.
    page.wait_for_selector("#timeline > li[data-seq='2']", state="attached")
    page.click("#graph .node[data-id='hold']")
    page.wait_for_selector("#state-panel[data-state='hold'] .state-waiting")

    page.fill("#signal-form textarea[name=data]", '{"reason": "the test said so"}')
    page.click("#signal-form button[type=submit]")
    banner = page.locator("#run-failure")
    banner.wait_for(state="visible")
    assert "Failed at give_up: GaveUp — told to give up: the test said so" in banner.inner_text()
    page.wait_for_selector("#run-status.pill--failed")
    box = banner.bounding_box()
    assert box is not None and box["y"] + box["height"] <= 768
    # The open panel followed: the wait is done and wrote what it got.
    page.wait_for_selector("#state-panel #state-status:text('completed')")
    assert '"reason": "the test said so"' in page.inner_text("#state-panel pre.state-vars")
    seqs = page.eval_on_selector_all(
        "#timeline > li", "rows => rows.map(r => Number(r.dataset.seq))"
    )
    assert seqs == list(range(1, len(seqs) + 1)) and len(seqs) >= 7, seqs
    page.screenshot(path=str(artifacts / "inspect-failed-live.png"))


def test_redrive_a_failed_run_from_its_page_and_watch_it_complete(
    user: tuple[Any, Served, Made], artifacts: Path
) -> None:
    page, served, made = user
    page.goto(f"{served.url}/edit/flaky_once.yaml")
    page.wait_for_selector("body[data-ready='true']")
    page.click("#start-run")
    page.click("#run-submit")
    page.wait_for_url("**/runs/*")
    page.wait_for_selector("#run-status.pill--failed")
    banner = page.locator("#run-failure")
    banner.wait_for(state="visible")
    assert "Unavailable — the service was down" in banner.inner_text()
    redrive = page.locator("#redrive")
    assert redrive.is_visible()
    page.screenshot(path=str(artifacts / "inspect-redrive-offered.png"))

    # The reply to the redrive is held until the run has finished: on a quiet
    # machine the designer's worker often completes it before the reply is
    # written, and the page must show the end all the same (seen in CI).
    run_api = page.url.replace("/runs/", "/api/runs/")

    def reply_after_the_run_ends(route: Any) -> None:
        route.fetch()
        for _ in range(500):  # a hang guard, counted, not timed
            run = page.request.get(run_api).json()["run"]
            if run["status"] == "completed":
                break
            time.sleep(0.02)
        route.fulfill(json={"run": run})

    page.route("**/api/runs/*/redrive", reply_after_the_run_ends)
    redrive.click()
    assert redrive.inner_text() == "Confirm: redrive from the failed state"  # asks first
    redrive.click()
    page.wait_for_selector("#run-status.pill--completed")
    page.unroute("**/api/runs/*/redrive")
    # The banner and the button go with the update that shows the run going on.
    banner.wait_for(state="hidden")
    redrive.wait_for(state="hidden")
    page.wait_for_selector("#timeline > li[data-type='run_redriven']", state="attached")
    # Who redrove it, under the run's head, without a reload.
    redriven = page.locator("#run-redriven")
    redriven.wait_for()
    assert redriven.inner_text().startswith("Redriven by designer 127.0.0.1 "), (
        redriven.inner_text()
    )
    assert ", from call, where it had failed (entered at #" in redriven.inner_text()
    page.click("#graph .node[data-id='call']")
    page.wait_for_selector("#state-panel[data-state='call']")
    panel = page.locator("#state-panel")
    assert "Visit 2 of 2" in panel.inner_text() and "1 earlier visit" in panel.inner_text()
    assert '"calls": 2' in panel.locator("pre.state-output").inner_text()
    page.screenshot(path=str(artifacts / "inspect-redriven.png"))

    # A compensated saga is refused, and the page says why.
    page.goto(f"{served.url}/runs/{made.declined}")
    page.click("#redrive")
    page.click("#redrive")
    page.wait_for_selector("#error-banner:not([hidden])")
    assert "compensat" in page.inner_text("#error-banner")
