"""What an idle worker costs the database, counted (issue 13 §5 "waiting").

An idle worker used to wake every 250 ms and ask the store twice what was
due: 8 statements a second per worker on PostgreSQL, for nothing. Now it
sleeps until the next due time it knows of, a wake-up, or its safety poll
(``SAFETY_POLL``, of the engine's clock), and asks what is due only when it
may have changed. These tests count the store's transactions (every one goes
through the backend's ``_read``/``_write``, named by what it does), on both
backends, over counted rounds and over virtual time: never by wall time.
"""

from __future__ import annotations

import asyncio
import threading
from collections import Counter
from collections.abc import Callable
from typing import Any

from wfdsl.interpreter.clock import VirtualClock
from wfdsl.interpreter.engine import Engine
from wfdsl.interpreter.engine_loop import SAFETY_POLL
from wfdsl.interpreter.store.open import open_store

#: A hang guard only (the tests wait for conditions, never for time).
HANG_GUARD = 60.0

PARKED = """
wfdsl: "1"
name: parked
signals:
  go: {}
start: rest
states:
  rest: {type: wait, timer: 1d, next: wait_go}
  wait_go: {type: wait, signal: go, next: done}
  done: {type: succeed}
"""

TIMER = """
wfdsl: "1"
name: alarm
start: rest
states:
  rest: {type: wait, timer: 3s, next: done}
  done: {type: succeed}
"""


def counting_store(store_url: str) -> Any:
    """The backend ``store_url`` names, counting each transaction it runs by
    what it does ("finding the next ready time", "polling for changes")."""
    cls = type(open_store(store_url))

    class Counting(cls):  # type: ignore[valid-type,misc]
        done: Counter[str]
        #: Calls of changed_runs: the idle loop's rounds (free or not).
        asked = 0

        def changed_runs(self, since: object | None) -> Any:
            self.asked += 1
            return super().changed_runs(since)

        def _read(self, doing: str, work: Callable[..., Any], *a: Any, **k: Any) -> Any:
            self.done[doing] += 1
            return super()._read(doing, work, *a, **k)

        def _write(self, doing: str, work: Callable[..., Any], *a: Any, **k: Any) -> Any:
            self.done[doing] += 1
            return super()._write(doing, work, *a, **k)

    store = Counting(store_url)
    store.done = Counter()
    return store


async def until(condition: Callable[[], bool]) -> None:
    """Let the serving loop run until ``condition`` holds."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + HANG_GUARD
    while not condition():
        assert loop.time() < deadline, "the serving loop never got there"
        await asyncio.sleep(0.005)


def queries(store: Any) -> Counter[str]:
    """The transactions that read or write tables: all but change polls,
    which cost no query on PostgreSQL while it listens and one ``PRAGMA
    data_version`` (no table) on SQLite."""
    return Counter({k: v for k, v in store.done.items() if k != "polling for changes"})


def test_an_idle_worker_asks_nothing_between_two_safety_polls(store_url: str) -> None:
    clock = VirtualClock()
    store = counting_store(store_url)
    engine = Engine(store=store, clock=clock)
    workflow = engine.register(PARKED)
    for _ in range(20):
        engine.start(workflow)
    engine.run_until_idle()  # all parked on their one-day timer
    driver = engine.driver
    # Fast change polls, so the rounds below take little real time.
    driver.poll_interval = driver.idle_poll_interval = 0.005

    async def scenario() -> tuple[Counter[str], Counter[str], int]:
        before = store.asked
        async with engine:
            # Past the serving loop's first round (its start-up reads).
            await until(lambda: store.asked > before)
            settled = queries(store)
            rounds = store.asked
            # 40 rounds of the idle loop's change check (counted, not timed).
            await until(lambda: store.asked >= rounds + 40)
            between = queries(store) - settled
            # A virtual minute, one safety poll after the other.
            reads = driver.due_reads
            for n in range(1, 13):
                clock.advance(SAFETY_POLL)
                await until(lambda n=n: driver.due_reads >= reads + n)
            minute = queries(store) - settled - between
            return between, minute, driver.due_reads - reads

    between, minute, due_reads = asyncio.run(scenario())
    engine.close()
    # Old: every round asked twice what was due (and claimed nothing).
    assert between == Counter()
    # One look at what is due per safety poll, and nothing claimed.
    assert due_reads == 12
    assert minute["finding the next ready time"] == 12
    assert not any("claiming" in doing for doing in minute)
    # Everything an idle worker asks in that minute, within 1 query a second.
    assert sum(minute.values()) <= 60, minute


def test_a_timer_fires_at_its_due_instant_with_one_wake_up(store_url: str) -> None:
    clock = VirtualClock()
    store = counting_store(store_url)
    engine = Engine(store=store, clock=clock)
    run = engine.start(engine.register(TIMER))
    engine.run_until_idle()
    due = clock.now() + 3  # sooner than the safety poll
    assert engine.get(run.id).status == "waiting"
    driver = engine.driver
    wakes = [0]
    idle = driver.idle

    async def counted_idle(**kwargs: Any) -> None:
        wakes[0] += 1
        await idle(**kwargs)

    driver.idle = counted_idle  # type: ignore[method-assign]

    async def scenario() -> int:
        async with engine:
            await until(lambda: driver.sleeping_until == due)
            asleep = wakes[0]
            clock.advance_to(due)
            await until(lambda: engine.get(run.id).status == "completed")
            return wakes[0] - asleep

    woken = asyncio.run(scenario())
    fired = [e for e in engine.history(run.id) if e.type == "timer_fired"]
    engine.close()
    # The sleep was on the timer itself: fired at the due instant (lag 0 on
    # this clock), after one wake-up (plus the one idle that follows it).
    assert [e.time for e in fired] == [due]
    assert woken <= 2


def test_a_run_started_while_the_driver_reads_what_is_due_is_claimed_at_once(
    store_url: str,
) -> None:
    """``Engine.start`` from another thread (the designer's request handler)
    lands while the serving loop is between reading what is due (nothing)
    and storing that answer. The poke must not be lost to that stale answer:
    with virtual time standing still, no safety poll ever comes, so the run
    starts only if the poke itself makes the driver claim it."""
    clock = VirtualClock()
    store = counting_store(store_url)
    engine = Engine(store=store, clock=clock)
    workflow = engine.register(TIMER)
    driver = engine.driver
    driver.poll_interval = driver.idle_poll_interval = 0.005
    started: list[str] = []
    armed = [False]
    read = type(store).next_ready_at

    def next_ready_at(self: Any, *args: Any, **kwargs: Any) -> Any:
        answer = read(self, *args, **kwargs)  # nothing is due: no runs yet
        if armed[0]:
            armed[0] = False
            starter = threading.Thread(target=lambda: started.append(engine.start(workflow).id))
            starter.start()
            starter.join()
        return answer

    store.next_ready_at = next_ready_at.__get__(store)

    async def scenario() -> str:
        async with engine:
            await until(lambda: driver.sleeping_until is not None)
            armed[0] = True
            clock.advance(SAFETY_POLL)  # the next idle round reads what is due
            await until(lambda: bool(started))
            rounds = store.asked
            # Counted rounds of the idle loop, not time: the run is started
            # long before 200 of them (it needs one tick).
            await until(
                lambda: engine.get(started[0]).status == "waiting" or store.asked >= rounds + 200
            )
            return engine.get(started[0]).status

    status = asyncio.run(scenario())
    engine.close()
    assert status == "waiting"  # started, and parked on its timer
