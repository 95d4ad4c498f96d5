"""A run driven alone asks the store what is due once, not once per step
(issue 13 §5 "sequential"): its own commits (a call in flight is next ready
only at its lease's end) cannot make anything due earlier. Counted, never
timed."""

from __future__ import annotations

from pathlib import Path

from wfdsl.interpreter.clock import VirtualClock
from wfdsl.interpreter.engine import Engine


def _ten_steps() -> dict[str, object]:
    states: dict[str, object] = {}
    for i in range(10):
        state: dict[str, object] = {"type": "task", "action": "noop", "args": {}}
        state.update({"end": True} if i == 9 else {"next": f"s{i + 1}"})
        states[f"s{i}"] = state
    return {"wfdsl": "1", "name": "ten", "start": "s0", "states": states}


def test_a_ten_step_run_reads_the_due_time_at_most_once(tmp_path: Path) -> None:
    with Engine(str(tmp_path / "runs.db"), clock=VirtualClock(0)) as engine:
        engine.action("noop", inline=True)(lambda: None)
        workflow = engine.register(_ten_steps())
        before = engine.driver.due_reads
        run = engine.run_until_complete(engine.start(workflow).id)
        assert run.status == "completed"
        assert engine.driver.due_reads - before <= 1


def test_a_timer_set_by_a_commit_is_still_seen(tmp_path: Path) -> None:
    doc = {
        "wfdsl": "1",
        "name": "sleepy",
        "start": "a",
        "states": {
            "a": {"type": "task", "action": "noop", "args": {}, "next": "nap"},
            "nap": {"type": "wait", "timer": "1h", "next": "b"},
            "b": {"type": "task", "action": "noop", "args": {}, "end": True},
        },
    }
    with Engine(str(tmp_path / "runs.db"), clock=VirtualClock(0)) as engine:
        engine.action("noop", inline=True)(lambda: None)
        run = engine.run_until_complete(engine.start(engine.register(doc)).id)
        assert run.status == "completed"
