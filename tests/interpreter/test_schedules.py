"""Cron schedules (docs/reference.md §1 ``schedule``) on virtual time: ticks in a time
zone across daylight saving changes, overlap policies, two engines on one
file, downtime, first sight, and a serving engine firing them."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from wfdsl.interpreter.clock import VirtualClock
from wfdsl.interpreter.engine import Engine
from wfdsl.interpreter.schedules import (
    RESCAN_SECONDS,
    Schedules,
    next_tick,
    previous_tick,
    tick_run_id,
)

JOB = """
wfdsl: "1"
name: job
schedule: {{cron: "{cron}", timezone: {tz}, overlap: {overlap}}}
signals: {{finish: {{}}}}
start: w
states:
  w: {{type: wait, signal: finish, next: done}}
  done: {{type: succeed}}
"""

QUICK = """
wfdsl: "1"
name: quick
schedule: {{cron: "{cron}", timezone: {tz}}}
start: done
states:
  done: {{type: succeed, output: "${{ run.id }}"}}
"""


def at(text: str) -> float:
    return datetime.fromisoformat(text).timestamp()


def iso(seconds: float) -> str:
    return datetime.fromtimestamp(seconds, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def job(cron: str = "*/5 * * * *", tz: str = "UTC", overlap: str = "skip") -> str:
    return JOB.format(cron=cron, tz=tz, overlap=overlap)


def quick(cron: str, tz: str = "UTC") -> str:
    return QUICK.format(cron=cron, tz=tz)


@pytest.fixture
def clock() -> VirtualClock:
    return VirtualClock("2025-01-01T00:01:00Z")


@pytest.fixture
def engine(clock: VirtualClock) -> Any:
    with Engine(":memory:", clock=clock) as e:
        yield e


def ticks_until(engine: Engine, clock: VirtualClock, end: float) -> list[str]:
    """Jump from tick to tick the way a serving engine sleeps, firing each."""
    schedules = Schedules(engine)
    started = schedules.fire_due()
    while True:
        due = schedules.next_due()
        if due is None or due > end:
            return started
        clock.advance_to(due)
        started += schedules.fire_due()
        engine.run_until_idle()


def run_ids(engine: Engine, workflow: str) -> list[str]:
    return sorted(r.id for r in engine.list_runs(workflow=workflow))


# ------------------------------------------------------------------ ticks


def test_first_sight_counts_from_now(engine: Engine, clock: VirtualClock) -> None:
    engine.register(job())
    schedules = Schedules(engine)
    assert schedules.fire_due() == []  # 00:01: no backfill of the 00:00 tick
    assert schedules.next_due() == at("2025-01-01T00:05:00+00:00")
    clock.advance_to("2025-01-01T00:04:59Z")
    assert schedules.fire_due() == []
    clock.advance_to("2025-01-01T00:05:00Z")
    assert schedules.fire_due() == ["job@2025-01-01T00:05:00Z"]
    run = engine.get("job@2025-01-01T00:05:00Z")
    assert run.input is None
    assert engine.run_until_complete(run.id).status == "waiting"


def test_ticks_follow_the_time_zone(engine: Engine, clock: VirtualClock) -> None:
    engine.register(quick("0 9 * * *", "America/New_York"))
    started = ticks_until(engine, clock, at("2025-01-03T00:00:00+00:00"))
    # 09:00 in New York in winter is 14:00 UTC.
    assert started == ["quick@2025-01-01T14:00:00Z", "quick@2025-01-02T14:00:00Z"]
    assert engine.get(started[0]).status == "completed"


@pytest.mark.parametrize(
    ("start", "end", "expected"),
    [
        pytest.param(
            "2025-03-28T12:00:00Z",
            "2025-03-31T12:00:00Z",
            # 02:30 does not exist on 30 March: the tick fires once, at 03:00 CEST.
            ["2025-03-29T01:30:00Z", "2025-03-30T01:00:00Z", "2025-03-31T00:30:00Z"],
            id="spring-forward",
        ),
        pytest.param(
            "2025-10-24T12:00:00Z",
            "2025-10-27T12:00:00Z",
            # 02:30 comes twice on 26 October: a daily job runs once, at the first.
            ["2025-10-25T00:30:00Z", "2025-10-26T00:30:00Z", "2025-10-27T01:30:00Z"],
            id="fall-back",
        ),
    ],
)
def test_a_daily_berlin_tick_across_daylight_saving(
    start: str, end: str, expected: list[str]
) -> None:
    clock = VirtualClock(start)
    with Engine(":memory:", clock=clock) as engine:
        engine.register(quick("30 2 * * *", "Europe/Berlin"))
        started = ticks_until(engine, clock, at(end.replace("Z", "+00:00")))
    assert started == [f"quick@{t}" for t in expected]


def test_an_hourly_berlin_tick_keeps_every_real_hour_when_clocks_go_back() -> None:
    clock = VirtualClock("2025-10-25T23:30:00Z")
    with Engine(":memory:", clock=clock) as engine:
        engine.register(quick("0 * * * *", "Europe/Berlin"))
        started = ticks_until(engine, clock, at("2025-10-26T03:30:00+00:00"))
    # 02:00 CEST, 02:00 CET, 03:00 CET, 04:00 CET: one run per real hour.
    assert started == [
        "quick@2025-10-26T00:00:00Z",
        "quick@2025-10-26T01:00:00Z",
        "quick@2025-10-26T02:00:00Z",
        "quick@2025-10-26T03:00:00Z",
    ]


def test_previous_tick_is_at_or_before() -> None:
    assert previous_tick("*/5 * * * *", "UTC", at("2025-01-01T00:10:00+00:00")) == at(
        "2025-01-01T00:10:00+00:00"
    )
    assert previous_tick("*/5 * * * *", "UTC", at("2025-01-01T00:09:59.5+00:00")) == at(
        "2025-01-01T00:05:00+00:00"
    )
    assert next_tick("*/5 * * * *", "UTC", at("2025-01-01T00:10:00+00:00")) == at(
        "2025-01-01T00:15:00+00:00"
    )


# ------------------------------------------------------------------ overlap


def test_overlap_skip_drops_ticks_while_the_run_is_active(
    engine: Engine, clock: VirtualClock
) -> None:
    engine.register(job(overlap="skip"))
    schedules = Schedules(engine)
    schedules.fire_due()
    clock.advance_to("2025-01-01T00:05:00Z")
    (first,) = schedules.fire_due()
    engine.run_until_idle()
    clock.advance_to("2025-01-01T00:10:00Z")
    assert schedules.fire_due() == []  # still waiting: skipped
    clock.advance_to("2025-01-01T00:12:00Z")
    engine.signal(first, "finish")
    engine.run_until_idle()
    assert engine.get(first).status == "completed"
    assert schedules.fire_due() == []  # a skipped tick is not made up for
    clock.advance_to("2025-01-01T00:15:00Z")
    assert schedules.fire_due() == ["job@2025-01-01T00:15:00Z"]
    assert run_ids(engine, "job") == [first, "job@2025-01-01T00:15:00Z"]


def test_overlap_allow_starts_beside_the_active_run(engine: Engine, clock: VirtualClock) -> None:
    engine.register(job(overlap="allow"))
    schedules = Schedules(engine)
    schedules.fire_due()
    clock.advance_to("2025-01-01T00:05:00Z")
    schedules.fire_due()
    engine.run_until_idle()
    clock.advance_to("2025-01-01T00:10:00Z")
    assert schedules.fire_due() == ["job@2025-01-01T00:10:00Z"]
    engine.run_until_idle()
    assert [r.status for r in engine.list_runs(workflow="job")] == ["waiting", "waiting"]


def test_overlap_buffer_one_keeps_one_tick_for_after_the_run(
    engine: Engine, clock: VirtualClock
) -> None:
    engine.register(job(overlap="buffer_one"))
    schedules = Schedules(engine)
    schedules.fire_due()
    clock.advance_to("2025-01-01T00:05:00Z")
    (first,) = schedules.fire_due()
    engine.run_until_idle()
    for moment in ("2025-01-01T00:10:00Z", "2025-01-01T00:15:00Z"):
        clock.advance_to(moment)
        assert schedules.fire_due() == []  # buffered, not started
    # While a tick is buffered the loop looks again soon, not at the next tick.
    assert schedules.next_due() == clock.now() + 1.0
    clock.advance_to("2025-01-01T00:16:00Z")
    engine.signal(first, "finish")
    engine.run_until_idle()
    clock.advance("2s")
    # One buffered tick, the latest; the 00:10 one is gone.
    assert schedules.fire_due() == ["job@2025-01-01T00:15:00Z"]
    clock.advance("2s")
    assert schedules.fire_due() == []
    assert run_ids(engine, "job") == [first, "job@2025-01-01T00:15:00Z"]


def test_buffer_one_drops_its_tick_when_a_newer_tick_starts(
    engine: Engine, clock: VirtualClock
) -> None:
    engine.register(job(overlap="buffer_one"))
    schedules = Schedules(engine)
    schedules.fire_due()
    clock.advance_to("2025-01-01T00:05:00Z")
    (first,) = schedules.fire_due()
    engine.run_until_idle()
    clock.advance_to("2025-01-01T00:10:00Z")
    assert schedules.fire_due() == []  # 00:10 buffered
    engine.signal(first, "finish")
    engine.run_until_idle()
    # No worker looked until the next tick: it starts, the buffered 00:10 is stale.
    clock.advance_to("2025-01-01T00:15:00Z")
    assert schedules.fire_due() == ["job@2025-01-01T00:15:00Z"]
    engine.signal("job@2025-01-01T00:15:00Z", "finish")
    engine.run_until_idle()
    clock.advance("2s")
    assert schedules.fire_due() == []
    assert run_ids(engine, "job") == [first, "job@2025-01-01T00:15:00Z"]


# ------------------------------------------------------------------ several engines, downtime


def test_two_engines_on_one_file_start_each_tick_once(tmp_path: Path, clock: VirtualClock) -> None:
    db = tmp_path / "w.db"
    with Engine(db, clock=clock) as a, Engine(db, clock=clock) as b:
        a.register(job(overlap="allow"))
        first_a, first_b = Schedules(a), Schedules(b)
        assert first_a.fire_due() == first_b.fire_due() == []
        clock.advance_to("2025-01-01T00:05:00Z")
        assert first_a.fire_due() + first_b.fire_due() == ["job@2025-01-01T00:05:00Z"]
        assert run_ids(a, "job") == ["job@2025-01-01T00:05:00Z"]


def test_a_worker_that_read_the_schedule_late_does_not_start_the_tick_again(
    tmp_path: Path, clock: VirtualClock
) -> None:
    """Both workers read the schedule before either wrote it back: the tick's
    run id is what keeps the second from starting it, and the second still
    records that run as the one overlap must watch."""
    db = tmp_path / "w.db"
    with Engine(db, clock=clock) as a, Engine(db, clock=clock) as b:
        a.register(job(overlap="skip"))
        Schedules(a).fire_due()
        clock.advance_to("2025-01-01T00:05:00Z")
        stale = a.store.schedule_state("job")
        assert stale is not None
        assert Schedules(a).fire_due() == ["job@2025-01-01T00:05:00Z"]
        b.store.set_schedule_state("job", stale)  # b's view from before a wrote
        assert Schedules(b).fire_due() == []
        state = b.store.schedule_state("job")
        assert state is not None and state["last_run"] == "job@2025-01-01T00:05:00Z"
        clock.advance_to("2025-01-01T00:10:00Z")
        assert Schedules(b).fire_due() == []  # the 00:05 run still waits: skip
        assert run_ids(a, "job") == ["job@2025-01-01T00:05:00Z"]


def test_downtime_gives_one_catch_up_run_at_the_latest_tick(
    engine: Engine, clock: VirtualClock
) -> None:
    engine.register(quick("*/5 * * * *"))
    Schedules(engine).fire_due()
    clock.advance("3d")  # 864 ticks missed while no worker ran
    schedules = Schedules(engine)  # a worker that starts again
    assert schedules.fire_due() == ["quick@2025-01-04T00:00:00Z"]
    assert schedules.next_due() == at("2025-01-04T00:05:00+00:00")
    assert schedules.fire_due() == []
    assert run_ids(engine, "quick") == ["quick@2025-01-04T00:00:00Z"]


def test_a_schedule_registered_elsewhere_is_picked_up_without_restart(
    tmp_path: Path, clock: VirtualClock
) -> None:
    db = tmp_path / "w.db"
    with Engine(db, clock=clock) as worker, Engine(db, clock=clock) as other:
        worker.register(quick("0 * * * *"))
        schedules = Schedules(worker)
        schedules.fire_due()
        assert schedules.scheduled() == ["quick"]
        other.register(job())
        clock.advance(RESCAN_SECONDS)
        schedules.fire_due()  # first sight of `job`
        assert sorted(schedules.scheduled()) == ["job", "quick"]
        clock.advance_to("2025-01-01T00:05:00Z")
        assert schedules.fire_due() == ["job@2025-01-01T00:05:00Z"]


def test_tick_run_id() -> None:
    assert tick_run_id("nightly", at("2025-06-01T02:00:00+02:00")) == "nightly@2025-06-01T00:00:00Z"


# ------------------------------------------------------------------ a serving engine


def test_a_serving_engine_fires_and_drives_scheduled_runs(clock: VirtualClock) -> None:
    async def main() -> list[str]:
        with Engine(":memory:", clock=clock) as engine:
            engine.register(quick("*/5 * * * *"))
            async with engine:
                await asyncio.sleep(0.05)  # the loop sees the schedule first
                for _ in range(3):
                    clock.advance("5m")
                    for _ in range(100):
                        await asyncio.sleep(0.01)
                        done = [r for r in engine.list_runs() if r.status == "completed"]
                        if len(done) == _ + 1:
                            break
            return sorted(r.id for r in engine.list_runs() if r.status == "completed")

    assert asyncio.run(main()) == [
        "quick@2025-01-01T00:05:00Z",
        "quick@2025-01-01T00:10:00Z",
        "quick@2025-01-01T00:15:00Z",
    ]
