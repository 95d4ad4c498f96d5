"""Cached task results (issue 14 item 13, Flyte's task cache): a call whose
cache key matches a successful call made before, by any run of the store,
returns that result without calling the action; the history says it was a
hit and which run produced the value; failures are never cached."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from wfdsl.interpreter.store.sqlite.store import SqliteStore

from wfdsl import Engine, VirtualClock

FLOW = """
wfdsl: "1"
name: quote
start: price
states:
  price:
    type: task
    action: pricing.quote
    args: {sku: "${ input.sku }", qty: "${ input.qty }"}
    CACHE
    result: quote
    end: true
"""


def flow(cache: str) -> str:
    return FLOW.replace("CACHE", f"cache: {cache}")


@pytest.fixture
def clock() -> VirtualClock:
    return VirtualClock()


@pytest.fixture
def engine(tmp_path: Path, clock: VirtualClock) -> Iterator[Engine]:
    with Engine(str(tmp_path / "runs.db"), clock=clock) as opened:
        yield opened


@pytest.fixture
def calls(engine: Engine) -> list[str]:
    made: list[str] = []

    @engine.action("pricing.quote")
    def quote(sku: str, qty: int) -> dict[str, object]:
        made.append(sku)
        if sku == "BROKEN":
            raise RuntimeError("the pricing service is down")
        return {"amount": 2.5 * qty, "call": len(made)}

    return made


def run(engine: Engine, text: str, sku: str, qty: int = 1) -> dict[str, object]:
    done = engine.run_until_complete(engine.submit(text, {"sku": sku, "qty": qty}).id)
    history = [e.data.get("cache") for e in done.history() if e.type == "action_completed"]
    return {"id": done.id, "status": done.status, "output": done.output, "cache": history}


def test_a_second_run_with_the_same_key_reuses_the_result(engine: Engine, calls: list[str]) -> None:
    text = flow('{key: "${ input.sku }", version: 1}')
    first = run(engine, text, "A", qty=1)
    second = run(engine, text, "A", qty=7)  # qty is not in the key
    assert calls == ["A"]
    assert second["output"] == first["output"] == {"quote": {"amount": 2.5, "call": 1}}
    (miss,) = first["cache"]  # type: ignore[misc]
    (hit,) = second["cache"]  # type: ignore[misc]
    assert miss["hit"] is False and hit["hit"] is True
    assert hit["run"] == first["id"] and hit["key"] == miss["key"]
    assert run(engine, text, "B")["cache"][0]["hit"] is False  # type: ignore[index]
    assert calls == ["A", "B"]


def test_the_default_key_is_the_action_and_its_args(engine: Engine, calls: list[str]) -> None:
    run(engine, flow("true"), "A", qty=1)
    run(engine, flow("true"), "A", qty=1)
    run(engine, flow("true"), "A", qty=2)
    assert calls == ["A", "A"]


def test_a_new_version_stops_the_reuse(engine: Engine, calls: list[str]) -> None:
    run(engine, flow('{key: "${ input.sku }", version: 1}'), "A")
    run(engine, flow('{key: "${ input.sku }", version: 2}'), "A")
    run(engine, flow('{key: "${ input.sku }", version: 2}'), "A")
    assert calls == ["A", "A"]


def test_a_result_is_reused_only_within_its_time_to_live(
    engine: Engine, calls: list[str], clock: VirtualClock
) -> None:
    text = flow('{key: "${ input.sku }", ttl: 1h}')
    run(engine, text, "A")
    clock.advance(59 * 60)
    run(engine, text, "A")
    assert calls == ["A"]
    clock.advance(2 * 60)  # 61 minutes after the result was made
    run(engine, text, "A")
    assert calls == ["A", "A"]


def test_failures_are_never_cached(engine: Engine, calls: list[str]) -> None:
    text = flow('{key: "${ input.sku }"}')
    assert run(engine, text, "BROKEN")["status"] == "failed"
    assert run(engine, text, "BROKEN")["status"] == "failed"
    assert calls == ["BROKEN", "BROKEN"]


def test_the_cache_outlives_the_engine(tmp_path: Path, clock: VirtualClock) -> None:
    text = flow('{key: "${ input.sku }"}')
    made: list[str] = []
    for _ in range(2):
        with Engine(str(tmp_path / "runs.db"), clock=clock) as engine:
            engine.action("pricing.quote")(lambda sku, qty: made.append(sku) or {"n": len(made)})
            engine.run_until_complete(engine.submit(text, {"sku": "A", "qty": 1}).id)
    assert made == ["A"]


def test_the_sqlite_store_keeps_replaces_and_expires_results(tmp_path: Path) -> None:
    store = SqliteStore(str(tmp_path / "s.db"))
    try:
        assert store.cached_result("k", now=0.0) is None
        store.cache_result("k", {"v": 1}, run_id="r1", now=10.0, expires_at=20.0)
        hit = store.cached_result("k", now=15.0)
        assert hit is not None and (hit.value, hit.run_id, hit.created_at) == ({"v": 1}, "r1", 10.0)
        assert store.cached_result("k", now=20.0) is None  # expired
        store.cache_result("k", [2], run_id="r2", now=30.0, expires_at=None)
        again = store.cached_result("k", now=1e12)
        assert again is not None and (again.value, again.run_id) == ([2], "r2")
    finally:
        store.close()
