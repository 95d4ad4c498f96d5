"""Steps per second of the interpreter: many runs at once (group commit) and
one run at a time (a commit per transition), on a file, with FULL and NORMAL
synchronous. A step is one committed state transition of one run.

    python bench/steps.py [--runs 1000] [--steps 10]
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

from wfdsl.interpreter.clock import VirtualClock
from wfdsl.interpreter.engine import Engine


def flow(steps: int) -> dict[str, object]:
    states: dict[str, object] = {}
    for i in range(steps):
        last = i == steps - 1
        state: dict[str, object] = {"type": "task", "action": "noop", "args": {}}
        state.update({"end": True} if last else {"next": f"s{i + 1}"})
        states[f"s{i}"] = state
    return {"wfdsl": "1", "name": f"bench-{steps}", "start": "s0", "states": states}


def engine(path: str, synchronous: str) -> Engine:
    e = Engine(path, clock=VirtualClock(), synchronous=synchronous)
    e.action("noop", inline=True)(lambda: None)
    return e


def concurrent(path: str, synchronous: str, runs: int, steps: int) -> float:
    doc = flow(steps)
    with engine(path, synchronous) as e:
        ids = [e.submit(doc).id for _ in range(runs)]
        started = time.perf_counter()
        e.run_until_idle()
        elapsed = time.perf_counter() - started
        assert all(e.get(i).status == "completed" for i in ids[:10])
    return runs * steps / elapsed


def sequential(path: str, synchronous: str, runs: int, steps: int) -> float:
    doc = flow(steps)
    with engine(path, synchronous) as e:
        started = time.perf_counter()
        for _ in range(runs):
            run = e.submit(doc)
            assert e.run_until_complete(run.id).status == "completed"
        elapsed = time.perf_counter() - started
    return runs * steps / elapsed


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=1000)
    parser.add_argument("--steps", type=int, default=10)
    parser.add_argument("--sequential-runs", type=int, default=50)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        for sync in ("FULL", "NORMAL"):
            db = str(Path(tmp) / f"c-{sync}.db")
            rate = concurrent(db, sync, args.runs, args.steps)
            print(
                f"{args.runs} concurrent runs x {args.steps} steps, {sync:<6}: {rate:9.0f} steps/s"
            )
        for sync in ("FULL", "NORMAL"):
            db = str(Path(tmp) / f"s-{sync}.db")
            rate = sequential(db, sync, args.sequential_runs, args.steps)
            print(f"one run at a time x {args.steps} steps,        {sync:<6}: {rate:9.0f} steps/s")


if __name__ == "__main__":
    main()
