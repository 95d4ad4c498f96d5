"""Controls (cancel, pause, resume, step) are durable requests: the driver
of a run applies them between two transitions, a busy run held by another
process included; a run that has ended refuses them."""

from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import Iterator

import pytest
import wfdsl.interpreter.engine as engine_module
from wfdsl.interpreter.clock import VirtualClock
from wfdsl.interpreter.engine import Engine

from wfdsl.errors import RunEnded

# A loop through an inline action: never waits durably, always ready.
RUNAWAY = """
wfdsl: "1"
name: runaway
input: {type: [object, "null"]}
start: spin
states:
  spin: {type: task, action: noop, next: again}
  again:
    type: choice
    choices:
      - when: ${ input != null }
        next: fin
    default: spin
  fin: {type: succeed}
"""

WAITER = """
wfdsl: "1"
name: waiter
signals: {go: {}}
start: w
states:
  w: {type: wait, signal: go, next: fin}
  fin: {type: succeed}
"""


class Serving:
    """An engine driving the whole store on its own loop in a thread, as
    another process's worker would."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        self.loop = asyncio.new_event_loop()
        self.thread = threading.Thread(target=self.loop.run_until_complete, args=(engine.serve(),))
        self.thread.start()

    def stop(self) -> None:
        self.loop.call_soon_threadsafe(self.engine.stop)
        self.thread.join(60)
        self.loop.close()


@pytest.fixture
def db(store_url: str) -> str:
    """A new store, once per backend (SQLite, PostgreSQL)."""
    return store_url


@pytest.fixture
def runaway(db: str) -> Iterator[tuple[Engine, str]]:
    """A runaway run, driven by a worker engine; yields (another engine, run id)."""
    worker = Engine(db, owner="worker")
    run_id = worker.submit(RUNAWAY).id
    serving = Serving(worker)
    controller = Engine(db, owner="controller")
    _wait(lambda: len(controller.history(run_id)) > 50)
    try:
        yield controller, run_id
    finally:
        serving.stop()
        worker.close()
        controller.close()


def _wait(check: object, limit: float = 60.0) -> None:
    deadline = time.monotonic() + limit
    while not check():  # type: ignore[operator]
        assert time.monotonic() < deadline, "condition not met"
        time.sleep(0.01)


def test_cancel_stops_a_runaway_run_held_by_another_process(runaway: tuple[Engine, str]) -> None:
    controller, run_id = runaway
    cancelled = controller.cancel(run_id)
    assert cancelled.status == "cancelled"
    history = controller.history(run_id)
    assert history[-1].type == "run_cancelled"
    assert [e.seq for e in history] == list(range(1, len(history) + 1))


def test_pause_holds_a_busy_run_and_resume_lets_it_go_on(runaway: tuple[Engine, str]) -> None:
    controller, run_id = runaway
    assert controller.pause(run_id).status == "paused"
    paused_at = len(controller.history(run_id))
    time.sleep(0.3)  # the worker keeps serving meanwhile
    # The call in flight when the pause landed may still report; nothing starts.
    assert len(controller.history(run_id)) - paused_at <= 1
    assert "action_started" not in [e.type for e in controller.history(run_id)[paused_at:]]
    assert controller.resume(run_id).status == "running"
    _wait(lambda: len(controller.history(run_id)) > paused_at + 20)
    assert controller.cancel(run_id).status == "cancelled"


def test_a_control_a_stalled_holder_does_not_take_in_time_is_kept_and_applied_later(
    db: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(engine_module, "_CONTROL_WAIT", 0.1)
    clock = VirtualClock()
    with Engine(db, clock=clock, owner="a") as a, Engine(db, clock=clock, owner="b") as b:
        run_id = a.submit(WAITER).id
        a.run_until_idle()
        # A live process holds the run and does nothing (stopped, SIGSTOP).
        lease = a.store.claim(run_id, "stalled", now=a.clock.now(), lease_seconds=3600)
        assert lease is not None
        assert b.pause(run_id).status == "waiting"  # stored, not yet applied
        a.store.release([lease])
        a.run_until_idle()
        assert a.get(run_id).status == "paused"
        assert [e.type for e in a.history(run_id)].count("paused") == 1


@pytest.mark.parametrize("control", ["cancel", "pause", "resume", "step"])
def test_controls_on_an_ended_run_are_refused_and_change_nothing(db: str, control: str) -> None:
    with Engine(db, clock=VirtualClock()) as engine:
        run_id = engine.submit(WAITER).id
        engine.signal(run_id, "go")
        assert engine.run_until_complete(run_id).status == "completed"
        before = engine.history(run_id)
        with pytest.raises(RunEnded, match="already completed") as refused:
            getattr(engine, control)(run_id)
        assert refused.value.status == "completed" and refused.value.run_id == run_id
        assert engine.history(run_id) == before


def test_a_control_on_a_run_nobody_drives_is_applied_at_once(db: str) -> None:
    with Engine(db, clock=VirtualClock()) as engine:
        run_id = engine.submit(WAITER).id
        engine.run_until_idle()
    with Engine(db, clock=VirtualClock()) as other:
        assert other.pause(run_id).status == "paused"
        assert other.step(run_id).status == "paused"
        assert other.resume(run_id).status == "waiting"
        assert other.cancel(run_id).status == "cancelled"
        types = [e.type for e in other.history(run_id)]
    assert types.count("paused") == 1 and types.count("resumed") == 1
    assert types[-1] == "run_cancelled"
