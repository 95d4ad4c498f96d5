"""Sync actions that hang past their timeout (issue 6, "task hangs").

A thread cannot be killed, so a hung sync call keeps its thread; what the
runner promises is that such calls do not starve the healthy ones: a timed-out
call's thread is abandoned and replaced, up to a cap, after which calls that
would only pile up fail at once with ``ThreadsExhausted``. These tests use real
time (short timeouts) because the hangs are real threads, but assert no
durations: a hung call holds its thread until the test releases it (or for
minutes), so a healthy call that answers at all did not wait behind it.
"""

from __future__ import annotations

import asyncio
import logging
import threading
import time
from collections.abc import Iterator
from typing import Any

import pytest
from wfdsl.interpreter.actions.registry import ActionRegistry
from wfdsl.interpreter.actions.runner import ActionRunner
from wfdsl.interpreter.engine import Engine
from wfdsl.interpreter.machine.steps import ActionOutcome, CallAction


class Hangs:
    """Actions that block until released; counts how many calls started and returned."""

    def __init__(self) -> None:
        self.release = threading.Event()
        self.lock = threading.Lock()
        self.started = 0
        self.returned = 0
        self.threads: list[threading.Thread] = []

    def __call__(self) -> str:
        with self.lock:
            self.started += 1
            self.threads.append(threading.current_thread())
        self.release.wait(300)  # until released: far past every timeout here
        with self.lock:
            self.returned += 1
        return "late"

    def all_returned(self, within: float = 5.0) -> bool:
        deadline = time.monotonic() + within
        while True:
            with self.lock:
                if self.returned == self.started:
                    return True
            if time.monotonic() >= deadline:
                return False
            time.sleep(0.01)


@pytest.fixture
def hangs() -> Iterator[list[Hangs]]:
    """Hanging actions, all released at the end: every hung call has returned
    before the next test (abandoned threads end then; the others go back to
    their pool, and end when it is closed)."""
    made: list[Hangs] = []
    yield made
    for hang in made:
        hang.release.set()
    for hang in made:
        assert hang.all_returned(), "a hung call outlived the test"


def hang(made: list[Hangs]) -> Hangs:
    made.append(Hangs())
    return made[-1]


def call(action: str, call_id: str, timeout: float | None = None) -> CallAction:
    return CallAction(
        action=action, args={}, call_id=call_id, run_id="r1", state="s", timeout=timeout
    )


async def calls(
    runner: ActionRunner, action: str, n: int, timeout: float | None
) -> list[ActionOutcome]:
    return await asyncio.gather(
        *(runner.run(call(action, f"{action}-{i}", timeout)) for i in range(n))
    )


def test_forty_hung_sync_calls_do_not_starve_a_healthy_one(
    hangs: list[Hangs], caplog: pytest.LogCaptureFixture
) -> None:
    stuck = hang(hangs)
    registry = ActionRegistry(name="test")
    registry.register("legacy.fetch", stuck)
    registry.register("lookup", lambda: "fresh")

    async def main(runner: ActionRunner) -> tuple[list[ActionOutcome], ActionOutcome]:
        hung = await calls(runner, "legacy.fetch", 40, timeout=0.2)
        # With the pool exhausted it would queue behind the 32 hung calls,
        # which hold their threads until released, and time out.
        healthy = await runner.run(call("lookup", "h", timeout=60))
        return hung, healthy

    caplog.set_level(logging.WARNING, logger="wfdsl.actions")
    with ActionRunner(registry) as runner:  # 32 threads
        hung, healthy = asyncio.run(main(runner))
        assert {(o.error, o.ok) for o in hung} == {("Timeout", False)}
        assert healthy.ok and healthy.value == "fresh", healthy.error
    warnings = [r.getMessage() for r in caplog.records if "did not return" in r.getMessage()]
    assert warnings == [
        "action 'legacy.fetch' did not return after its timeout; its thread is abandoned "
        "(1 abandoned)"
    ], "one warning per action name, not one per thread"
    stuck.release.set()
    for thread in stuck.threads:
        thread.join(5)
        assert not thread.is_alive(), "abandoned threads end once their calls return"


def test_past_the_cap_a_hung_action_fails_fast_naming_it_while_others_still_run(
    hangs: list[Hangs],
) -> None:
    stuck = hang(hangs)
    registry = ActionRegistry(name="test")
    registry.register("legacy.fetch", stuck)
    registry.register("lookup", lambda: "fresh")

    async def main(runner: ActionRunner) -> tuple[ActionOutcome, ActionOutcome]:
        await calls(runner, "legacy.fetch", 2, timeout=0.05)  # 2 abandoned: the cap
        # No timeout: run, it would hang until released, then answer "late".
        refused = await runner.run(call("legacy.fetch", "again"))
        return refused, await runner.run(call("lookup", "h", timeout=60))

    with ActionRunner(registry, max_threads=2) as runner:
        refused, healthy = asyncio.run(main(runner))
        assert refused.error == "ThreadsExhausted"
        assert stuck.started == 2, "the refused call never reached the action"
        assert refused.message is not None
        assert refused.message.startswith(
            "sync action 'legacy.fetch' was not started: it has a call still running past "
            "its timeout, and 2 threads are already abandoned to such calls, the most allowed "
            "(hung: 'legacy.fetch' x2); it can run again once they return."
        )
        assert "their own timeouts, or make them async" in refused.message
        assert healthy.ok, "an action that is not hung still runs at the cap"
        assert stuck.started == 2, "the refused call never ran"

        stuck.release.set()
        assert stuck.all_returned()
        again = runner.run_sync(call("legacy.fetch", "after", timeout=5))
        assert again.ok and again.value == "late", "accepted again once the hung calls returned"


def test_when_every_thread_is_held_past_its_timeout_queued_and_new_calls_fail(
    hangs: list[Hangs],
) -> None:
    stuck = hang(hangs)
    ran: list[str] = []
    registry = ActionRegistry(name="test")
    registry.register("legacy.fetch", stuck)
    registry.register("lookup", lambda: ran.append("lookup") or "fresh")

    async def main(runner: ActionRunner) -> tuple[ActionOutcome, ActionOutcome]:
        hung = asyncio.gather(*(runner.run(call("legacy.fetch", f"f{i}", 0.1)) for i in (1, 2)))
        await asyncio.sleep(0.02)
        # Queued behind the two hung calls, with no timeout of its own.
        queued = asyncio.create_task(runner.run(call("lookup", "queued")))
        await hung
        new = await runner.run(call("lookup", "new", timeout=5))
        return await asyncio.wait_for(queued, 30), new

    # No thread may be abandoned: timed-out calls keep their threads.
    with ActionRunner(registry, max_threads=2, max_abandoned_threads=0) as runner:
        queued, new = asyncio.run(main(runner))
        for refused in (queued, new):
            assert refused.error == "ThreadsExhausted"
            assert "every worker thread is held by a call past its timeout" in (
                refused.message or ""
            )
        assert ran == [], "neither call ran"
        stuck.release.set()
        assert stuck.all_returned()
        assert runner.run_sync(call("lookup", "after", timeout=5)).ok, "the threads are back"
    with pytest.raises(ValueError, match="max_abandoned_threads must be at least 0"):
        ActionRunner(registry, max_abandoned_threads=-1)


def test_an_abandoned_thread_that_returns_makes_room_for_an_overdue_one(
    hangs: list[Hangs], caplog: pytest.LogCaptureFixture
) -> None:
    first, second = hang(hangs), hang(hangs)
    registry = ActionRegistry(name="test")
    registry.register("first", first)
    registry.register("second", second)
    registry.register("lookup", lambda: "fresh")

    async def main(runner: ActionRunner) -> tuple[ActionOutcome, ActionOutcome]:
        await runner.run(call("first", "1", timeout=0.05))  # abandoned: the cap of 1
        await runner.run(call("second", "2", timeout=0.05))  # overdue: holds the one thread
        blocked = await runner.run(call("lookup", "blocked"))
        first.release.set()  # the abandoned thread returns: "second" is abandoned in turn
        await asyncio.to_thread(first.all_returned)
        return blocked, await runner.run(call("lookup", "free", timeout=5))

    caplog.set_level(logging.WARNING, logger="wfdsl.actions")
    with ActionRunner(registry, max_threads=1, max_abandoned_threads=1) as runner:
        blocked, free = asyncio.run(main(runner))
        assert (
            "the cap of 1 abandoned sync action threads is reached: action 'second' keeps "
            "its thread past its timeout" in caplog.text
        )
        assert blocked.error == "ThreadsExhausted"
        assert "(hung: 'first' x1, 'second' x1)" in (blocked.message or "")
        assert free.ok, "the overdue call's thread was replaced once the cap had room"
        assert second.started == 1 and second.returned == 0, "still hung, not counted"


STUCK = """
wfdsl: "1"
name: stuck
start: fetch
states:
  fetch:
    type: task
    action: legacy.fetch
    timeout: 200ms
    retry: {max_attempts: 3, initial_interval: 100ms}
    next: done
  done: {type: succeed}
"""

HEALTHY = """
wfdsl: "1"
name: healthy
start: look
states:
  look: {type: task, action: lookup, result: found, next: done}
  done: {type: succeed, output: "${ vars.found }"}
"""


def test_a_run_whose_task_hangs_does_not_stop_another_runs_sync_task(
    hangs: list[Hangs],
) -> None:
    stuck = hang(hangs)
    registry = ActionRegistry(name="test")
    registry.register("legacy.fetch", stuck)
    registry.register("lookup", lambda: "fresh")

    with Engine(":memory:", actions=registry) as engine:
        hung = engine.start_many(engine.register(STUCK), [None] * 40)
        first = engine.submit(HEALTHY)
        # The 40 hung calls hold their threads far past this timeout.
        assert engine.run_until_complete(first.id, timeout=60).output == "fresh"
        ended: list[Any] = [engine.run_until_complete(r.id, timeout=10) for r in hung]
        assert {r.status for r in ended} == {"failed"}
        # The first attempts time out; the retries find the cap of abandoned
        # threads reached by 'legacy.fetch' itself and are refused at once.
        assert {(r.error or {}).get("error") for r in ended} <= {"Timeout", "ThreadsExhausted"}
        later = engine.submit(HEALTHY)
        assert engine.run_until_complete(later.id, timeout=60).output == "fresh"
    stuck.release.set()
    assert stuck.all_returned()


def test_a_call_that_times_out_still_queued_says_it_never_started(hangs: list[Hangs]) -> None:
    """Every worker thread busy: a sync call queued behind them reaches its
    timeout without starting. It must not read as a slow action ("did not
    finish ... its worker thread runs on"), and it must never run later."""
    stuck = hang(hangs)
    ran: list[str] = []
    registry = ActionRegistry(name="test")
    registry.register("legacy.fetch", stuck)
    registry.register("lookup", lambda: ran.append("lookup") or "fresh")

    async def main(runner: ActionRunner) -> ActionOutcome:
        # No timeout: it holds the only thread until the test releases it.
        holder = asyncio.create_task(runner.run(call("legacy.fetch", "holder")))
        while stuck.started == 0:  # the thread has taken it
            await asyncio.sleep(0.01)
        queued = await runner.run(call("lookup", "queued", timeout=0.05))
        stuck.release.set()
        await holder
        return queued

    with ActionRunner(registry, max_threads=1) as runner:
        queued = asyncio.run(main(runner))
        assert (queued.ok, queued.error) == (False, "Timeout")
        assert queued.message == (
            "action 'lookup' did not start within 50ms (attempt 1): it was still queued, "
            "waiting for one of this process's 1 sync action threads, all busy with other "
            "calls; give the blocking actions their own timeouts, or make them async"
        )
        assert runner.run_sync(call("lookup", "after", timeout=5)).ok
        assert ran == ["lookup"], "the call that timed out in the queue never ran"
