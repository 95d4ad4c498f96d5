"""``recovery``: 10,000 runs with an action in flight, the engine process
SIGKILLed, a new one started on the file: how long until every run has
resumed (its action run again and the run completed).

The first process parks every run inside a ``hang`` action that never
returns. The second registers ``hang`` as an instant action and serves
until all runs completed. It uses the same ``owner`` as the first, as a
restarted service with a stable name would; a run's lease still has to
lapse (``lease_seconds``, engine default 30 s) before anyone may drive it
again, so ``resume_s`` includes that wait; ``after_lease_s`` is the time
from the lease's end to all completed. Target: all resumed in < 5 s.
"""

from __future__ import annotations

import asyncio
import signal
import sqlite3
import time
from typing import Any

from measure import Options, Scratch, read_message, say, spawn_child, summary, target, wfdsl_engine

NAME = "recovery"
KEYS = ("resume_s",)
OWNER = "bench-recovery-worker"


def flow() -> dict[str, Any]:
    return {
        "wfdsl": "1",
        "name": "bench-recovery",
        "start": "call",
        "states": {
            "call": {"type": "task", "action": "hang", "args": {}, "next": "after"},
            "after": {"type": "task", "action": "noop", "args": {}, "end": True},
        },
    }


def completed(path: str) -> int:
    conn = sqlite3.connect(path, timeout=30)
    try:
        return int(
            conn.execute("SELECT count(*) FROM runs WHERE status = 'completed'").fetchone()[0]
        )
    finally:
        conn.close()


def child(request: dict[str, Any]) -> None:
    began = time.perf_counter()
    runs = int(request["runs"])
    engine = wfdsl_engine(
        request["path"], request["synchronous"], owner=OWNER, lease_seconds=request["lease"]
    )
    if request["phase"] == "crash":

        @engine.action("hang")
        async def hang() -> None:
            await asyncio.sleep(86400)

        workflow = engine.register(flow())
        for _ in range(runs):
            engine.start(workflow)

        async def fill() -> None:
            async with engine:
                while engine.driver.in_flight < runs:
                    await asyncio.sleep(0.05)
                say({"in_flight": engine.driver.in_flight, "at": time.time()})
                await asyncio.sleep(86400)  # until SIGKILL

        asyncio.run(fill())
        return

    engine.action("hang", inline=True)(lambda: None)
    opened = time.perf_counter()

    async def resume() -> None:
        async with engine:
            while completed(request["path"]) < runs:
                await asyncio.sleep(0.05)

    asyncio.run(resume())
    say(
        {
            "engine_s": time.perf_counter() - opened,
            "process_s": time.perf_counter() - began,
            "done_at": time.time(),
        }
    )


def run(options: Options) -> dict[str, Any]:
    runs = options.size("runs", 10_000, 300)
    lease = float(options.params.get("lease", 30.0 if not options.quick else 2.0))
    sync = options.params.get("sync", "FULL")
    with Scratch(options.workdir, NAME) as scratch:
        path = str(scratch.path("recovery"))
        request = {"path": path, "synchronous": sync, "runs": runs, "lease": lease}
        crashing = spawn_child(NAME, {**request, "phase": "crash"})
        try:
            filled = read_message(crashing, timeout=3600)
        finally:
            crashing.send_signal(signal.SIGKILL)
            crashing.wait()
        killed_at = time.time()
        restarted = time.perf_counter()
        resuming = spawn_child(NAME, {**request, "phase": "resume"})
        answer = read_message(resuming, timeout=3600 + lease)
        resume_s = time.perf_counter() - restarted
        resuming.wait()
        done = completed(path)
    # Leases were renewed at most lease/3 before the kill.
    lease_end_latest = killed_at + lease
    result: dict[str, Any] = {
        "resume_s": resume_s,
        "after_lease_s": answer["done_at"] - lease_end_latest,
        "engine_s": answer["engine_s"],
        "lease_seconds": lease,
        "in_flight_at_kill": filled["in_flight"],
        "completed": done,
        "sizes": {"runs": runs, "lease_seconds": lease, "synchronous": sync},
        "series": {"resume_s": summary([resume_s])},
        "targets": {"resume": target(resume_s, below=5, text="all resumed in < 5 s")},
    }
    if done != runs:
        result["notes"] = [f"only {done} of {runs} runs completed after the restart"]
    return result
