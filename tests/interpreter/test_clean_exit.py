"""A clean exit makes no call run twice: an engine that closes (``wfdsl run``
ending with its own run, SIGTERM on a worker) first finishes the calls it
started, and a run it must hand back is claimable at once."""

from __future__ import annotations

import asyncio
import logging
import threading
from collections import Counter
from pathlib import Path

from wfdsl.interpreter.clock import VirtualClock
from wfdsl.interpreter.engine import Engine

SLOW = """
wfdsl: "1"
name: slow
start: work
states:
  work: {type: task, action: slow.work, end: true}
"""

QUICK = """
wfdsl: "1"
name: quick
start: mark
states:
  mark: {type: task, action: quick.mark, end: true}
"""


class OpenOnDrain(logging.Handler):
    """Opens the gate when the engine says it is finishing its calls in flight."""

    def __init__(self, gate: threading.Event) -> None:
        super().__init__(logging.INFO)
        self.gate = gate
        self.said: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        message = record.getMessage()
        if "in flight before stopping" in message:
            self.said.append(message)
            self.gate.set()


def _engine(
    db: str, clock: VirtualClock, ledger: Counter[str], gate: threading.Event, **options: float
) -> Engine:
    engine = Engine(db, clock=clock, **options)  # type: ignore[arg-type]

    @engine.action("slow.work")
    async def work() -> str:
        ledger["slow.work"] += 1  # the side effect starts here
        while not gate.is_set():
            await asyncio.sleep(0.005)
        return "done"

    @engine.action("quick.mark")
    def mark() -> str:
        ledger["quick.mark"] += 1
        return "marked"

    return engine


def test_closing_finishes_another_runs_call_it_started_so_nobody_runs_it_again(
    tmp_path: Path,
) -> None:
    db, clock, ledger, gate = (
        str(tmp_path / "wf.db"),
        VirtualClock(),
        Counter[str](),
        threading.Event(),
    )
    first = _engine(db, clock, ledger, gate)
    other = first.submit(SLOW).id
    mine = first.submit(QUICK).id
    # Driving the whole store, it starts the other run's call on the way ...
    assert first.run_until_complete(mine).status == "completed"
    assert ledger["slow.work"] == 1 and first.get(other).status == "running"
    # ... and exits while that call is in flight: it waits for it first. The
    # call may finish only once close() has begun draining (its log line),
    # so it certainly finishes inside the drain, however loaded the machine.
    drain = OpenOnDrain(gate)
    logger = logging.getLogger("wfdsl.interpreter.engine")
    level = logger.level
    logger.setLevel(logging.INFO)
    logger.addHandler(drain)
    try:
        first.close()
    finally:
        logger.removeHandler(drain)
        logger.setLevel(level)
    assert drain.said == ["wfdsl: finishing 1 call(s) in flight before stopping (at most 30 s)"]
    with _engine(db, clock, ledger, gate) as second:
        assert second.run_until_complete(other).status == "completed"
        types = [e.type for e in second.history(other)]
    assert ledger == {"slow.work": 1, "quick.mark": 1}
    assert types.count("action_started") == 1


def test_a_run_handed_back_past_the_drain_is_claimable_at_once_not_a_lease_later(
    tmp_path: Path,
) -> None:
    db, clock, ledger, gate = (
        str(tmp_path / "wf.db"),
        VirtualClock(),
        Counter[str](),
        threading.Event(),
    )
    first = _engine(db, clock, ledger, gate, lease_seconds=3600.0, drain_seconds=0.0)
    run_id = first.submit(SLOW).id
    assert first.run_until_complete(first.submit(QUICK).id).status == "completed"
    assert ledger["slow.work"] == 1
    first.close()  # the call does not finish within the drain: handed back
    gate.set()
    with _engine(db, clock, ledger, gate) as second:
        claimed = second.store.claim_ready(
            second.owner, now=clock.now(), lease_seconds=30, limit=10
        )
        assert [row.id for row, _ in claimed] == [run_id]
        second.store.release([lease for _, lease in claimed])
        assert second.run_until_complete(run_id).status == "completed"
    # Re-run only because the drain ran out (as after a crash), same key.
    assert ledger["slow.work"] == 2
