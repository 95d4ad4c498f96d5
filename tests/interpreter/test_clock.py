"""Clocks: the wall clock, and the virtual clock tests and --virtual-time use."""

from __future__ import annotations

import asyncio
import threading
import time
from datetime import UTC, datetime, timedelta, timezone

import pytest
from wfdsl.interpreter.clock import DEFAULT_VIRTUAL_START, SystemClock, VirtualClock, to_epoch

JAN_1 = datetime(2025, 1, 1, tzinfo=UTC).timestamp()


async def _settle() -> None:
    """Let every ready callback on the loop run."""
    for _ in range(5):
        await asyncio.sleep(0)


# ------------------------------------------------------------------ SystemClock


def test_system_clock_reads_the_wall_clock() -> None:
    before = time.time()
    now = SystemClock().now()
    assert before <= now <= time.time()


def test_system_clock_wait_returns_at_once_when_due_or_woken() -> None:
    async def main() -> None:
        clock = SystemClock()
        wake = asyncio.Event()
        await asyncio.wait_for(clock.wait(clock.now() - 1, wake), 1)
        wake.set()
        await asyncio.wait_for(clock.wait(clock.now() + 3600, wake), 1)
        await asyncio.wait_for(clock.wait(None, wake), 1)
        assert wake.is_set(), "wait never clears the caller's event"

    asyncio.run(main())


def test_system_clock_wait_sleeps_until_the_time_for_real() -> None:
    async def main() -> float:
        clock = SystemClock()
        start = clock.now()
        await clock.wait(start + 0.05, asyncio.Event())
        return clock.now() - start

    assert asyncio.run(main()) >= 0.05


def test_system_clock_wait_ends_when_woken_from_another_task() -> None:
    async def main() -> None:
        clock = SystemClock()
        wake = asyncio.Event()
        waiter = asyncio.create_task(clock.wait(None, wake))
        await _settle()
        assert not waiter.done()
        wake.set()
        await asyncio.wait_for(waiter, 1)

    asyncio.run(main())


# ------------------------------------------------------------------ construction


@pytest.mark.parametrize(
    "start",
    [
        pytest.param(None, id="default"),
        pytest.param(JAN_1, id="epoch"),
        pytest.param(datetime(2025, 1, 1, tzinfo=UTC), id="aware"),
        pytest.param(datetime(2025, 1, 1), id="naive-is-utc"),
        pytest.param(datetime(2025, 1, 1, 1, tzinfo=timezone(timedelta(hours=1))), id="offset"),
        pytest.param("2025-01-01T00:00:00Z", id="iso"),
    ],
)
def test_virtual_clock_starts_where_told(start: object) -> None:
    clock = VirtualClock(start)  # type: ignore[arg-type]
    assert clock.now() == JAN_1 == DEFAULT_VIRTUAL_START
    assert clock.as_datetime() == datetime(2025, 1, 1, tzinfo=UTC)
    assert repr(clock) == "VirtualClock('2025-01-01T00:00:00Z')"


@pytest.mark.parametrize(
    ("moment", "error"),
    [
        pytest.param(True, TypeError, id="bool"),
        pytest.param([1], TypeError, id="list"),
        pytest.param(float("nan"), ValueError, id="nan"),
        pytest.param("yesterday", ValueError, id="text"),
    ],
)
def test_to_epoch_refuses_what_is_not_a_time(moment: object, error: type[Exception]) -> None:
    with pytest.raises(error):
        to_epoch(moment)  # type: ignore[arg-type]


# ------------------------------------------------------------------ moving


def test_advance_takes_seconds_or_duration_text() -> None:
    clock = VirtualClock()
    assert clock.advance(10) == JAN_1 + 10
    assert clock.advance("1h30m") == JAN_1 + 10 + 5400
    assert clock.advance("500ms") == JAN_1 + 5410.5
    assert clock.now() == JAN_1 + 5410.5


@pytest.mark.parametrize("bad", [-1, "-5s", "soon", float("inf")])
def test_advance_refuses_negative_or_invalid_durations(bad: object) -> None:
    clock = VirtualClock()
    with pytest.raises(ValueError, match="invalid duration"):
        clock.advance(bad)  # type: ignore[arg-type]
    assert clock.now() == JAN_1


def test_advance_to_never_goes_backwards() -> None:
    clock = VirtualClock()
    clock.advance_to("2025-01-02T00:00:00Z")
    assert clock.advance_to(clock.now()) == JAN_1 + 86400, "staying put is allowed"
    with pytest.raises(ValueError) as info:
        clock.advance_to(JAN_1)
    message = str(info.value)
    assert "never goes backwards" in message
    assert "2025-01-02T00:00:00Z" in message and "2025-01-01T00:00:00Z" in message
    assert "1d earlier" in message
    assert clock.now() == JAN_1 + 86400


def test_skip_to_next_jumps_only_forward() -> None:
    clock = VirtualClock()
    assert clock.skip_to_next(None) is False, "nothing scheduled: stuck, not moved"
    assert clock.skip_to_next(JAN_1 - 5) is False, "already due: nothing to skip"
    assert clock.skip_to_next(JAN_1) is False
    assert clock.now() == JAN_1
    assert clock.skip_to_next(JAN_1 + 60) is True
    assert clock.now() == JAN_1 + 60


def test_concurrent_advances_all_count() -> None:
    clock = VirtualClock()

    def tick() -> None:
        for _ in range(1000):
            clock.advance(1)

    threads = [threading.Thread(target=tick) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert clock.now() == JAN_1 + 8000


# ------------------------------------------------------------------ waiting


def test_virtual_wait_returns_at_once_when_due_or_woken() -> None:
    async def main() -> None:
        clock = VirtualClock()
        wake = asyncio.Event()
        await asyncio.wait_for(clock.wait(JAN_1, wake), 1)
        wake.set()
        await asyncio.wait_for(clock.wait(JAN_1 + 3600, wake), 1)
        await asyncio.wait_for(clock.wait(None, wake), 1)

    asyncio.run(main())


def test_virtual_wait_ends_when_time_reaches_it_and_not_before() -> None:
    async def main() -> None:
        clock = VirtualClock()
        waiter = asyncio.create_task(clock.wait(JAN_1 + 60, asyncio.Event()))
        await _settle()
        clock.advance(59)
        await _settle()
        assert not waiter.done(), "59s is not 60s"
        clock.advance(1)
        await asyncio.wait_for(waiter, 1)
        assert clock._waiters == [], "a woken waiter is forgotten"

    asyncio.run(main())


def test_virtual_wait_ends_when_woken() -> None:
    async def main() -> None:
        clock = VirtualClock()
        wake = asyncio.Event()
        waiter = asyncio.create_task(clock.wait(JAN_1 + 60, wake))
        await _settle()
        wake.set()
        await asyncio.wait_for(waiter, 1)
        assert clock.now() == JAN_1
        assert clock._waiters == [], "a waiter that left early is forgotten"

    asyncio.run(main())


def test_virtual_wait_without_deadline_waits_for_wake_only() -> None:
    async def main() -> None:
        clock = VirtualClock()
        wake = asyncio.Event()
        waiter = asyncio.create_task(clock.wait(None, wake))
        await _settle()
        clock.advance("10d")
        await _settle()
        assert not waiter.done()
        wake.set()
        await asyncio.wait_for(waiter, 1)

    asyncio.run(main())


def test_virtual_wait_is_woken_by_an_advance_from_another_thread() -> None:
    clock = VirtualClock()
    waiting = threading.Event()
    done = threading.Event()

    async def engine() -> None:
        task = asyncio.create_task(clock.wait(JAN_1 + 3600, asyncio.Event()))
        await _settle()
        waiting.set()
        await asyncio.wait_for(task, 5)
        done.set()

    thread = threading.Thread(target=asyncio.run, args=(engine(),))
    thread.start()
    assert waiting.wait(5)
    assert not done.is_set()
    clock.advance("1h")
    thread.join(5)
    assert done.is_set()


def test_advance_after_a_waiting_loop_closed_is_harmless() -> None:
    clock = VirtualClock()

    async def abandon() -> None:
        task = asyncio.create_task(clock.wait(JAN_1 + 10, asyncio.Event()))
        await _settle()
        task.cancel()

    asyncio.run(abandon())
    assert clock._waiters == []
    clock.advance(10)
