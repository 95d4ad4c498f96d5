"""The run page in a real Chromium for runs with a past: a fork links back
to the run it came from and that run lists its forks, a redriven run says
who redrove it, and a history of thousands of events opens fast with a
bounded list that still filters (on the server) and follows the run live."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from conftest import Served, serve_designer, watch_script_errors

DIVIDE = """\
wfdsl: "1"
name: divide
vars: {d: 0}
start: split
states:
  split:
    type: set
    set: {share: "${ 10 // vars.d }"}
    next: done
  done: {type: succeed}
"""

# 1,500 rounds of two states (4,504 events), a state visited once in the
# middle (midpoint, seq 2102), then a wait; the signal runs 300 more rounds.
LONG = """\
wfdsl: "1"
name: long-count
vars: {n: 0, limit: 1500}
signals: {more: {}}
start: step
states:
  step:
    type: set
    set: {n: "${ vars.n + 1 }"}
    next: check
  check:
    type: choice
    choices:
      - when: ${ vars.n == 700 }
        next: midpoint
      - when: ${ vars.n < vars.limit }
        next: step
      - when: ${ vars.limit == 1500 }
        next: hold
    default: done
  midpoint:
    type: set
    set: {half: "${ vars.n }"}
    next: step
  hold:
    type: wait
    signal: more
    set: {limit: 1800}
    next: step
  done: {type: succeed}
"""

#: What the page holds at most (run_history.js MAX_ROWS) and starts with.
MAX_ROWS = 600
FIRST_ROWS = 50 + 200


def make_runs(store: Path) -> None:
    from wfdsl.interpreter.clock import VirtualClock
    from wfdsl.interpreter.engine import Engine

    with Engine(store, clock=VirtualClock(time.time() - 600), synchronous="NORMAL") as engine:
        engine.submit(DIVIDE, {}, run_id="d1")
        engine.run_until_complete("d1")
        engine.redrive("d1", by="ops@example.com")
        engine.run_until_complete("d1")
        engine.fork("d1", at="split", set={"d": 5}, new_run_id="d1-fixed")
        engine.run_until_complete("d1-fixed")
        engine.fork("d1", at="split", new_run_id="d1-again")
        engine.run_until_complete("d1-again")
        engine.submit(LONG, {}, run_id="long")
        engine.run_until_idle()  # waits for `more`
        assert len(engine.history("long")) == 4504


@pytest.fixture(scope="module")
def pasts(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Served]:
    root = tmp_path_factory.mktemp("pasts")
    workspace = root / "workspace"
    workspace.mkdir()
    (workspace / "long_count.yaml").write_text(LONG, encoding="utf-8")
    # Playwright keeps an event loop in this thread: the engine drives in another.
    maker = threading.Thread(target=make_runs, args=(root / "designer.db",))
    maker.start()
    maker.join()
    with serve_designer(workspace, root / "designer.db", name="designer-pasts") as served:
        yield served


@pytest.fixture
def user(page: Any, pasts: Served) -> Iterator[tuple[Any, Served]]:
    problems = watch_script_errors(page)
    page.set_default_timeout(15_000)
    page.goto(f"{pasts.url}/?token={pasts.token}")
    yield page, pasts
    assert not problems, "\n".join(problems)


def rows(page: Any) -> list[int]:
    return page.eval_on_selector_all(
        "#timeline > li.event", "rows => rows.map(r => Number(r.dataset.seq))"
    )


def test_a_fork_links_to_its_origin_which_lists_its_forks_and_who_redrove_it(
    user: tuple[Any, Served], artifacts: Path
) -> None:
    from playwright.sync_api import expect

    page, served = user
    page.goto(f"{served.url}/runs/d1-fixed")
    origin = page.locator("#run-origin")
    expect(origin).to_have_text("Forked from d1 at #5 (split), with d set")
    page.screenshot(path=str(artifacts / "run-forked-from.png"))

    origin.locator("a").click()
    page.wait_for_url("**/runs/d1")
    forks = page.locator("#run-forks")
    expect(forks).to_have_text(
        "Forks: d1-fixed at #5 (split) completed, d1-again at #5 (split) failed"
    )
    assert forks.locator(".fork[data-run='d1-again'] .pill--failed").is_visible()
    redriven = page.locator("#run-redriven")
    expect(redriven).to_contain_text("Redriven by ops@example.com ")
    expect(redriven).to_contain_text(", from split, where it had failed (entered at #")
    page.screenshot(path=str(artifacts / "run-forks-and-redrive.png"))

    forks.locator("a", has_text="d1-again").click()
    page.wait_for_url("**/runs/d1-again")
    expect(page.locator("#run-origin")).to_have_text("Forked from d1 at #5 (split)")
    assert not page.locator("#run-forks").count()  # a fork with no forks of its own


def test_a_long_history_opens_bounded_filters_on_the_server_and_follows_live(
    user: tuple[Any, Served], artifacts: Path
) -> None:
    from playwright.sync_api import expect

    page, served = user
    page.goto(f"{served.url}/runs/long")
    count = page.locator("#history-count")
    expect(count).to_have_text("4504 events")
    seqs = rows(page)
    assert len(seqs) == FIRST_ROWS
    assert seqs[:50] == list(range(1, 51)) and seqs[50:] == list(range(4305, 4505))
    gap = page.locator("#timeline > li.history-gap")
    expect(gap).to_have_count(1)
    expect(gap.locator(".gap-words")).to_have_text("4254 events not shown")
    gap.scroll_into_view_if_needed()
    page.screenshot(path=str(artifacts / "run-long-history.png"))

    # A state visited once in the middle is not on the page, and the filter finds it.
    page.select_option("#filter-state", "midpoint")
    expect(count).to_have_text("2 of 4504 events")
    expect(page.locator("#timeline > li.event")).to_have_count(2)
    assert rows(page) == [2102, 2103]
    page.locator("#timeline > li[data-seq='2103'] summary").click()
    assert '"half": 700' in page.inner_text("#timeline > li[data-seq='2103'] .event-data")
    page.screenshot(path=str(artifacts / "run-long-history-filtered.png"))
    # By event type too: 1,501 matches, shown in pieces like the whole.
    page.select_option("#filter-state", "")
    page.select_option("#filter-type", "vars_changed")
    expect(count).to_have_text("1501 of 4504 events")
    expect(page.locator("#timeline > li.event")).to_have_count(FIRST_ROWS)
    expect(gap.locator(".gap-words")).to_have_text("1251 matching events not shown")
    assert set(
        page.eval_on_selector_all("#timeline > li.event", "rows => rows.map(r => r.dataset.type)")
    ) == {"vars_changed"}
    page.select_option("#filter-type", "")
    expect(count).to_have_text("4504 events")
    expect(page.locator("#timeline > li.event")).to_have_count(FIRST_ROWS)

    # "show earlier" loads 200 at a time before the newest; past 600 rows the
    # newest go back into a gap of their own.
    for page_start in (4105, 3905, 3705):
        gap.first.locator("button[data-load='earlier']").click()
        page.wait_for_selector(f"#timeline > li.event[data-seq='{page_start}']", state="attached")
        assert len(rows(page)) <= MAX_ROWS
    seqs = rows(page)
    assert seqs[:50] == list(range(1, 51))
    assert seqs[50:] == list(range(3705, 3705 + MAX_ROWS - 50))  # the newest went
    expect(page.locator("#timeline > li.history-gap")).to_have_count(2)
    page.locator("#timeline > li.history-gap").last.scroll_into_view_if_needed()
    page.screenshot(path=str(artifacts / "run-long-history-earlier.png"))

    # Live: the signal runs 900 more events in; the list follows the newest
    # and stays bounded, the first page stays.
    page.goto(f"{served.url}/runs/long")
    page.wait_for_selector("#live-flag.live")
    page.fill("#signal-form input[name=channel]", "more")
    page.click("#signal-form button[type=submit]")
    page.wait_for_selector("#run-status.pill--completed")
    expect(count).to_have_text("5409 events")
    seqs = rows(page)
    assert len(seqs) <= MAX_ROWS, len(seqs)
    assert seqs[:50] == list(range(1, 51)) and seqs[-1] == 5409
    assert seqs[50:] == list(range(seqs[50], 5410))
    page.screenshot(path=str(artifacts / "run-long-history-live.png"))
