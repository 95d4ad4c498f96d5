"""``recovery``: 10,000 runs with an action in flight, the engine process
SIGKILLed, a new one started on the file: how long until every run has
resumed (its action run again and the run completed).

The first process parks every run inside a ``hang`` action that never
returns. The second registers ``hang`` as an instant action and serves
until all runs completed. With ``--param owner=same`` (the default) both
use one ``owner`` name, as a restarted service with a stable name would
(``wfdsl worker --owner``): the restarted engine takes its own leases back
at its first drive. With ``--param owner=default`` both use default owner
ids (``host:pid:start:space:random``) and the second sees that the first's
process is dead. Either way nobody waits for the leases (engine default
30 s) to lapse (interpreter/orphans.py); ``resume_s`` is from the restart
(process start included) to all completed, ``engine_s`` from the engine
opened. Target: all resumed in < 5 s.
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
        request["path"],
        request["synchronous"],
        owner=OWNER if request["owner"] == "same" else None,
        lease_seconds=request["lease"],
    )
    if request["phase"] == "crash":

        @engine.action("hang")
        async def hang() -> None:
            await asyncio.sleep(86400)

        workflow = engine.register(flow())
        for first in range(0, runs, 1000):
            engine.start_many(workflow, [None] * min(1000, runs - first))

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
        }
    )


def run(options: Options) -> dict[str, Any]:
    runs = options.size("runs", 10_000, 300)
    lease = float(options.params.get("lease", 30.0))
    sync = options.params.get("sync", "FULL")
    owner = options.params.get("owner", "same")
    if owner not in ("same", "default"):
        raise SystemExit(f"recovery: --param owner=same or owner=default, not {owner!r}")
    with Scratch(options.workdir, NAME) as scratch:
        path = str(scratch.path("recovery"))
        request = {"path": path, "synchronous": sync, "runs": runs, "lease": lease, "owner": owner}
        crashing = spawn_child(NAME, {**request, "phase": "crash"})
        try:
            filled = read_message(crashing, timeout=3600)
        finally:
            crashing.send_signal(signal.SIGKILL)
            crashing.wait()
        restarted = time.perf_counter()
        resuming = spawn_child(NAME, {**request, "phase": "resume"})
        answer = read_message(resuming, timeout=3600 + lease)
        resume_s = time.perf_counter() - restarted
        resuming.wait()
        done = completed(path)
    result: dict[str, Any] = {
        "resume_s": resume_s,
        "engine_s": answer["engine_s"],
        "lease_seconds": lease,
        "in_flight_at_kill": filled["in_flight"],
        "completed": done,
        "sizes": {"runs": runs, "lease_seconds": lease, "synchronous": sync, "owner": owner},
        "series": {"resume_s": summary([resume_s])},
        "targets": {"resume": target(resume_s, below=5, text="all resumed in < 5 s")},
    }
    if done != runs:
        result["notes"] = [f"only {done} of {runs} runs completed after the restart"]
    return result
