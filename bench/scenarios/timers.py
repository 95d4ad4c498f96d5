"""``timers``: 10,000 runs whose timers are all due in the same second, on
real time, in an engine process of their own. The lag of a timer is the
wall time at which its firing was committed (``on_transition`` after the
commit) minus its due time. The reference is the due time itself: the
target is p99 lag < 50 ms.
"""

from __future__ import annotations

import asyncio
import time
from datetime import UTC, datetime
from typing import Any

from measure import (
    Options,
    Scratch,
    percentile,
    read_message,
    say,
    spawn_child,
    summary,
    target,
    wait_flow,
    wfdsl_engine,
)

NAME = "timers"
KEYS = ("p50_ms", "p99_ms")


def iso(seconds: float) -> str:
    return datetime.fromtimestamp(seconds, UTC).isoformat().replace("+00:00", "Z")


def child(request: dict[str, Any]) -> None:
    runs = int(request["runs"])
    engine = wfdsl_engine(request["path"], request["synchronous"])
    workflow = engine.register(wait_flow("until"))
    # Time the first starts to pick a due time all runs can be parked before.
    probe = min(1000, runs)
    began = time.time()
    engine.start_many(workflow, [{"due": iso(began + 3600)}] * probe)
    per_start = (time.time() - began) / probe
    due = float(int(time.time() + per_start * runs * 3 + 3)) + 0.5
    ids = [
        run.id
        for first in range(0, runs, 1000)
        for run in engine.start_many(workflow, [{"due": iso(due)}] * min(1000, runs - first))
    ]
    engine.run_until_idle()
    parked_at = time.time()
    lags: list[float] = []

    def fired(row: Any, events: Any) -> None:
        now = time.time()
        for event in events:
            if event.type == "timer_fired" and abs(event.data.get("due", 0) - due) < 1:
                lags.append(now - due)

    engine.driver.on_transition = fired

    async def serve() -> None:
        async with engine:
            deadline = due + 120
            while len(lags) < runs and time.time() < deadline:
                await asyncio.sleep(0.05)

    asyncio.run(serve())
    say(
        {
            "lags": lags,
            "runs": len(ids),
            "slack_s": due - parked_at,
            "parked_late": parked_at > due,
        }
    )


def run(options: Options) -> dict[str, Any]:
    runs = options.size("runs", 10_000, 500)
    sync = options.params.get("sync", "FULL")
    reps = options.repetitions(1, 1)
    p50s: list[float] = []
    p99s: list[float] = []
    maxes: list[float] = []
    notes: list[str] = []
    with Scratch(options.workdir, NAME) as scratch:
        for _ in range(reps):
            request = {"path": str(scratch.path("timers")), "synchronous": sync, "runs": runs}
            process = spawn_child(NAME, request)
            answer = read_message(process, timeout=3600)
            process.wait()
            lags = answer["lags"]
            if len(lags) != runs:
                notes.append(f"only {len(lags)} of {runs} timers fired within 120 s of due")
            if answer["parked_late"]:
                notes.append("runs were still being parked at the due time")
            p50s.append(percentile(lags, 50) * 1000)
            p99s.append(percentile(lags, 99) * 1000)
            maxes.append(max(lags, default=float("nan")) * 1000)
    p99 = summary(p99s)["median"]
    result: dict[str, Any] = {
        "p50_ms": summary(p50s)["median"],
        "p99_ms": p99,
        "max_ms": summary(maxes)["median"],
        "fired": len(lags),
        "sizes": {"runs": runs, "synchronous": sync, "reps": reps},
        "series": {"p50_ms": summary(p50s), "p99_ms": summary(p99s), "max_ms": summary(maxes)},
        "targets": {"p99": target(p99, below=50, text="p99 lag < 50 ms")},
    }
    if notes:
        result["notes"] = notes
    return result
