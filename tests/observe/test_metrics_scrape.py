"""A Prometheus scrape over HTTP after driving real runs: every documented
metric name is served, with the counts the runs' histories imply."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from prometheus_client import start_http_server
from prometheus_client.parser import text_string_to_metric_families
from wfdsl.interpreter.actions.registry import ActionRegistry
from wfdsl.interpreter.clock import VirtualClock
from wfdsl.interpreter.engine import Engine
from wfdsl.observe.metrics import EngineMetrics

DOCS = Path(__file__).resolve().parents[2] / "docs" / "operations.md"

FLOW = """
wfdsl: "1"
name: nap
version: 1
start: fetch
states:
  fetch:
    type: task
    action: flaky.fetch
    retry: {max_attempts: 3, initial_interval: 1s}
    next: nap
  nap: {type: wait, timer: 5s, next: inbox}
  inbox: {type: wait, signal: go, as: got, next: done}
  done: {type: succeed}
"""


class Flaky(Exception):
    pass


@pytest.fixture
def engine() -> Iterator[Engine]:
    calls: list[int] = []
    registry = ActionRegistry(name="test")

    def fetch() -> str:
        calls.append(1)
        if len(calls) % 2 == 1:  # every run's first attempt fails once
            raise Flaky("first attempt")
        return "ok"

    registry.register("flaky.fetch", fetch)
    engine = Engine(clock=VirtualClock(), actions=registry)
    yield engine
    engine.close()


def scrape(metrics: EngineMetrics) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    server, thread = start_http_server(0, addr="127.0.0.1", registry=metrics.registry)
    try:
        text = httpx.get(f"http://127.0.0.1:{server.server_address[1]}/metrics").text
    finally:
        server.shutdown()
        server.server_close()
        thread.join()
    return {
        (sample.name, tuple(sorted(sample.labels.items()))): sample.value
        for family in text_string_to_metric_families(text)
        for sample in family.samples
    }


def test_a_scrape_counts_runs_transitions_actions_retries_timers_and_messages(
    engine: Engine,
) -> None:
    metrics = EngineMetrics(engine)
    runs = [engine.submit(FLOW, {}) for _ in range(2)]
    engine.run_until(engine.clock.now() + 60)  # past the retry's 1 s and the 5 s timer
    engine.signal(runs[0].id, "go", 1)  # the second run stays waiting on its inbox
    engine.run_until_idle()

    got = scrape(metrics)

    nap = (("workflow", "nap"),)
    assert got[("wfdsl_runs_started_total", nap)] == 2
    assert got[("wfdsl_runs_ended_total", (("status", "completed"), ("workflow", "nap")))] == 1
    assert got[("wfdsl_runs", (("status", "waiting"), ("workflow", "nap")))] == 1
    assert [engine.get(r.id).status for r in runs] == ["completed", "waiting"]
    # each run: started, first attempt failed, retried, completed, timer fired
    assert got[("wfdsl_transitions_total", nap)] >= 2 * 4
    call = (("action", "flaky.fetch"), ("kind", "action"))
    failed = (*call, ("outcome", "failed"), ("workflow", "nap"))
    completed = (*call, ("outcome", "completed"), ("workflow", "nap"))
    assert got[("wfdsl_action_calls_total", failed)] == 2
    assert got[("wfdsl_action_calls_total", completed)] == 2
    assert got[("wfdsl_action_duration_seconds_count", completed)] == 2
    assert got[("wfdsl_action_retries_total", nap)] == 2
    assert got[("wfdsl_timer_lag_seconds_count", nap)] == 2
    assert got[("wfdsl_timer_lag_seconds_sum", nap)] >= 0
    assert got[("wfdsl_messages_received_total", nap)] == 1
    assert got[("wfdsl_messages_consumed_total", nap)] == 1
    assert got[("wfdsl_worker_held_runs", ())] == 0  # idle: nothing leased


def test_every_served_metric_is_documented(engine: Engine) -> None:
    metrics = EngineMetrics(engine)
    run = engine.submit(FLOW, {})
    engine.submit(FLOW, {})  # left waiting, so the active-runs gauge has a sample
    engine.run_until(engine.clock.now() + 60)
    engine.signal(run.id, "go", 1)
    engine.run_until_idle()
    names = {family for family, _ in scrape(metrics)}
    documented = DOCS.read_text()
    served = {
        _base(name) for name in names if name.startswith("wfdsl_") and not name.endswith("_created")
    }
    assert sorted(name for name in served if f"`{name}" not in documented) == []
    assert len(served) == 11


def _base(sample: str) -> str:
    """The documented name of a sample: a histogram's ``_bucket``,
    ``_count`` and ``_sum`` stripped (a counter is documented with ``_total``)."""
    for suffix in ("_bucket", "_count", "_sum"):
        sample = sample.removesuffix(suffix)
    return sample
