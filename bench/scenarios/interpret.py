"""``interpret``: the 10-step workflow with the commit taken out.

- ``us_per_step``: ``machine.advance`` called directly in a loop, each
  ``CallAction`` answered at once by a fake successful ``ActionOutcome``:
  the pure interpreter's cost per task state (no store, no asyncio).
- ``memory_engine_us_per_step``: the whole engine on ``:memory:`` SQLite,
  1,000 runs driven with ``run_until_idle``: what the engine costs per step
  when commits cost no disk.
- ``transitions_us_per_transition``: the ``transitions`` library walking
  a chain of states with an ``after`` callback, in the peers' venv.

Target: at most 25 µs per step.
"""

from __future__ import annotations

import time
from typing import Any

import peer_env
from measure import Options, interleave, median, ratio, summary, target, task_flow, wfdsl_engine

NAME = "interpret"
KEYS = ("us_per_step",)


def pure(runs: int, steps: int) -> dict[str, float]:
    from wfdsl.interpreter import machine
    from wfdsl.interpreter.engine import Engine
    from wfdsl.interpreter.machine.steps import ActionOutcome, CallAction, StartRun

    with Engine(":memory:") as engine:
        workflow = engine.register(task_flow(steps))
    now = 1_767_225_600.0
    taken = 0
    started = time.perf_counter()
    for number in range(runs):
        row = machine.new_run(workflow, run_id=f"r{number}", input=None, now=now)
        t = machine.advance(workflow, row, StartRun(now=now))
        while t.run.status == "running":
            calls = [c for c in t.commands if isinstance(c, CallAction)]
            if not calls:
                raise AssertionError(f"run r{number} is running with nothing to do")
            outcome = ActionOutcome(now=now, call_id=calls[0].call_id, ok=True)
            t = machine.advance(workflow, t.run, outcome)
            taken += 1
        if t.run.status != "completed":
            raise AssertionError(f"run r{number} ended {t.run.status!r}")
    elapsed = time.perf_counter() - started
    if taken != runs * steps:
        raise AssertionError(f"{taken} outcomes for {runs} x {steps} steps")
    return {"us_per_step": elapsed / (runs * steps) * 1e6}


def in_memory(runs: int, steps: int) -> dict[str, float]:
    with wfdsl_engine(":memory:") as engine:
        workflow = engine.register(task_flow(steps))
        for _ in range(runs):
            engine.start(workflow)
        started = time.perf_counter()
        engine.run_until_idle()
        elapsed = time.perf_counter() - started
    return {"us_per_step": elapsed / (runs * steps) * 1e6}


def run(options: Options) -> dict[str, Any]:
    runs = options.size("runs", 1000, 100)
    steps = options.size("steps", 10, 10)
    reps = options.repetitions(5, 2)
    errors: dict[str, str] = {}
    measures = {
        "machine": lambda: pure(runs, steps),
        "memory_engine": lambda: in_memory(runs, steps),
    }
    if options.peers:

        def transitions() -> dict[str, float]:
            result = peer_env.run_peer("transitions_peer", {"steps": steps, "runs": runs})
            if "error" in result:
                errors["transitions_peer"] = str(result["error"])
                return {}
            return {"us_per_transition": float(result["us_per_transition"])}  # type: ignore[arg-type]

        measures["transitions"] = transitions
    series = interleave(reps, measures)
    us = median(series["machine.us_per_step"])
    peer = median(series.get("transitions.us_per_transition", []))
    result: dict[str, Any] = {
        "us_per_step": us,
        "memory_engine_us_per_step": median(series["memory_engine.us_per_step"]),
        "transitions_us_per_transition": peer,
        "ratio_vs_transitions": ratio(us, peer),
        "sizes": {"runs": runs, "steps": steps, "reps": reps},
        "series": {name: summary(values) for name, values in series.items()},
        "targets": {"us_per_step": target(us, below=25.000001, text="<= 25 µs per step")},
    }
    if errors or not options.peers:
        result["peers_unavailable"] = errors or {"all": "--no-peers"}
    return result
