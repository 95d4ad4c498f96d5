"""``signal``: round trip from ``engine.signal`` in one process (this one)
to the waiting run's next committed transition in another (an engine
process serving the file). Signals are sent one at a time, spaced, so each
is measured alone; the lag is the serving process's commit time (wall
clock, ``on_transition``) minus the time just before ``signal`` was called.
There is no numeric target; SQLite has no notify, so the serving engine
notices another process's commit by polling ``PRAGMA data_version``.
"""

from __future__ import annotations

import asyncio
import random
import time
from typing import Any

from measure import (
    Options,
    Scratch,
    percentile,
    read_message,
    say,
    spawn_child,
    summary,
    wait_flow,
    wfdsl_engine,
)

NAME = "signal"
KEYS = ("p50_ms", "p99_ms")


def child(request: dict[str, Any]) -> None:
    runs = int(request["runs"])
    engine = wfdsl_engine(request["path"], request["synchronous"])
    workflow = engine.register(wait_flow("signal"))
    ids = [engine.start(workflow).id for _ in range(runs)]
    engine.run_until_idle()
    seen: dict[str, float] = {}

    def moved(row: Any, events: Any) -> None:
        if row.id not in seen:
            seen[row.id] = time.time()

    engine.driver.on_transition = moved

    async def serve() -> None:
        async with engine:
            say({"ids": ids})
            deadline = time.time() + request["timeout"]
            while len(seen) < runs and time.time() < deadline:
                await asyncio.sleep(0.01)

    asyncio.run(serve())
    say({"seen": seen})


def run(options: Options) -> dict[str, Any]:
    runs = options.size("runs", 200, 20)
    gap = float(options.params.get("gap", 0.05))
    sync = options.params.get("sync", "FULL")
    with Scratch(options.workdir, NAME) as scratch:
        path = scratch.path("signal")
        request = {
            "path": str(path),
            "synchronous": sync,
            "runs": runs,
            "timeout": runs * gap * 4 + 30,
        }
        process = spawn_child(NAME, request)
        ids = read_message(process, timeout=600)["ids"]
        sent: dict[str, float] = {}
        with wfdsl_engine(path, sync) as sender:
            for run_id in ids:
                sent[run_id] = time.time()
                sender.signal(run_id, "go", None)
                time.sleep(gap * random.uniform(0.5, 1.5))
        seen = read_message(process, timeout=request["timeout"] + 30)["seen"]
        process.wait()
    lags = [(seen[r] - sent[r]) * 1000 for r in ids if r in seen]
    result: dict[str, Any] = {
        "p50_ms": percentile(lags, 50),
        "p99_ms": percentile(lags, 99),
        "max_ms": max(lags, default=None),
        "delivered": len(lags),
        "sizes": {"runs": runs, "gap_s": gap, "synchronous": sync},
        "series": {"round_trip_ms": summary(lags)},
        "targets": {},
    }
    if len(lags) != runs:
        result["notes"] = [f"only {len(lags)} of {runs} signalled runs moved"]
    return result
