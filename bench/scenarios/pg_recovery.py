"""``pg_recovery``: kill -9 one of 4 workers with 1,000 runs in flight; how
long until all its runs resumed on the survivors (issue 13, section 5).

The runs are ``call`` (action ``hold``) then ``after`` (``noop``). The
workers (``bench/pg_workers.py``) serve them; ``hold`` hangs, so once every
run's call is in flight the workers hold all 1,000 between them. The
harness then tells the survivors (SIGUSR1) that calls started from now on
return at once, and SIGKILLs the worker holding the most. ``resume_s`` is
from the kill until the survivors have completed as many runs as the
killed worker held: its runs were taken over, their calls issued again and
the runs finished (the survivors' own calls stay hung, so no other run can
complete). Nobody waits for the 30 s leases to lapse: a dead worker must be
noticed (heartbeats on PostgreSQL; on SQLite a dead pid of this host).

By default on both backends (``--param backends=postgres`` for one), 4
workers (``--param workers=N``). Target: all resumed in < 5 s.
"""

from __future__ import annotations

import os
import signal
from pathlib import Path
from typing import Any

import pg_server
import pg_workers
from measure import Options, Scratch, summary, target

NAME = "pg_recovery"
KEYS = ("postgres_resume_s",)

FLOW: dict[str, Any] = {
    "wfdsl": "1",
    "name": "bench-recovery",
    "start": "call",
    "states": {
        "call": {"type": "task", "action": "hold", "args": {}, "next": "after"},
        "after": {"type": "task", "action": "noop", "args": {}, "end": True},
    },
}


def once(where: str, workers: int, runs: int) -> dict[str, Any]:
    with pg_workers.engine_on(where) as engine:
        workflow = engine.register(FLOW)
        for first in range(0, runs, 1000):
            engine.start_many(workflow, [None] * min(1000, runs - first))
    fleet = pg_workers.Fleet(
        [{"kind": "wfdsl", "url": where, "flows": [FLOW]} for _ in range(workers)]
    )
    try:
        started = fleet.go()
        filled = fleet.until(lambda f: f.total("in_flight") >= runs, timeout=600)
        held = [int(m.get("in_flight", 0)) for m in fleet.last]
        victim = max(range(workers), key=held.__getitem__)
        for index, pid in enumerate(fleet.pids):
            if index != victim:
                os.kill(pid, signal.SIGUSR1)
        fleet.kill(victim)
        killed = fleet.until(lambda f: victim in f.dead, timeout=60)
        resumed = fleet.until(lambda f: f.total("completed") >= held[victim], timeout=600)
    finally:
        fleet.finish()
    return {
        "resume_s": resumed - killed,
        "fill_s": filled - started,
        "victim_held": held[victim],
        "held": held,
    }


def run(options: Options) -> dict[str, Any]:
    runs = options.size("runs", 1000, 100)
    workers = options.size("workers", 4, 4)
    reps = options.repetitions(3, 1)
    backends = options.params.get("backends", "postgres,sqlite").split(",")
    result: dict[str, Any] = {}
    series: dict[str, Any] = {}
    targets: dict[str, Any] = {}
    with Scratch(options.workdir, NAME) as scratch:
        for backend in backends:
            values: list[float] = []
            details: list[dict[str, Any]] = []
            for _ in range(reps):
                if backend == "sqlite":
                    where = str(Path(scratch.path("recovery")))
                else:
                    where = pg_server.shared_server().create_database("rec")
                got = once(where, workers, runs)
                values.append(got["resume_s"])
                details.append({k: v for k, v in got.items() if k != "resume_s"})
            series[f"{backend}_resume_s"] = summary(values)
            median = series[f"{backend}_resume_s"]["median"]
            result[f"{backend}_resume_s"] = median
            result[f"{backend}_runs"] = details
            targets[f"{backend}_resume"] = target(
                median, below=5, text=f"{backend}: all resumed in < 5 s after kill -9"
            )
    return {
        **result,
        "sizes": {"runs": runs, "workers": workers, "reps": reps},
        "series": series,
        "targets": targets,
    }
