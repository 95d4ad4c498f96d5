"""``due_timers``: timers on both backends, real time (issue 13, section 5).

Per backend (SQLite: one engine process on a file, the default; PostgreSQL:
``pg_workers`` worker processes, 4 by default, on one database):

- ``spread``: 10,000 runs parked on ``wait: until`` with due times spread
  evenly over one second; the lag of a timer is the wall time its firing
  was committed (seen after the commit, in the worker that fired it) minus
  its due time. Target: p99 lag < 50 ms.
- ``instant``: 10,000 runs due at one instant; ``all_fired_s`` is from the
  due time to the last firing. Target: within 1.2x of 10,000 / the
  concurrent steps/s of the same backend and process count, measured in
  this scenario (1,000 runs x 10 steps, as ``concurrent``).

A run is ``park`` (the wait) then ``done`` (succeed), so a firing is the
run's last transition. The runs are created and driven to their wait by the
harness before the workers start; the due time is chosen from the measured
creation rate so every run is parked (and every worker serving) before it.
"""

from __future__ import annotations

import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pg_server
import pg_workers
from measure import Options, Scratch, percentile, summary, target, task_flow

NAME = "due_timers"
KEYS = (
    "sqlite_spread_p99_ms",
    "sqlite_instant_ratio",
    "postgres_spread_p99_ms",
    "postgres_instant_ratio",
)


def iso(seconds: float) -> str:
    return datetime.fromtimestamp(seconds, UTC).isoformat().replace("+00:00", "Z")


#: What a timer's lag measures (docs/decisions.md "How workers wait and wake").
FIRED_MEANS = (
    "fired = the transaction holding the run's timer_fired event committed; lag = the "
    "wall time the worker that committed it saw the commit (its on_transition hook, "
    "after COMMIT) minus the timer's due time"
)

FLOW: dict[str, Any] = {
    "wfdsl": "1",
    "name": "bench-due",
    "start": "park",
    "states": {
        "park": {"type": "wait", "until": "${ input.due }", "next": "done"},
        "done": {"type": "succeed"},
    },
}


def concurrent_rate(target_url: str, processes: int, runs: int, steps: int) -> float:
    """Steps/s of ``runs`` x ``steps`` ready runs on ``processes`` workers."""
    flow = task_flow(steps)
    with pg_workers.engine_on(target_url) as engine:
        workflow = engine.register(flow)
        for first in range(0, runs, 1000):
            engine.start_many(workflow, [None] * min(1000, runs - first))
    fleet = pg_workers.Fleet(
        [{"kind": "wfdsl", "url": target_url, "flows": [flow]} for _ in range(processes)]
    )
    try:
        started = fleet.go()
        ended = fleet.until(lambda f: f.total("completed") >= runs, timeout=600)
    finally:
        fleet.finish()
    return runs * steps / (ended - started)


def fire(target_url: str, processes: int, runs: int, spread: float) -> dict[str, Any]:
    """Park ``runs`` timers due over ``spread`` seconds, start the workers,
    and read every firing's lag."""
    with pg_workers.engine_on(target_url) as engine:
        workflow = engine.register(FLOW)
        probe = min(1000, runs)
        began = time.time()
        engine.start_many(workflow, [{"due": iso(began + 86400)}] * probe)
        engine.run_until_idle()
        per_run = (time.time() - began) / probe
        base = float(int(time.time() + per_run * runs * 2 + 6)) + 0.5
        for first in range(0, runs, 1000):
            count = min(1000, runs - first)
            inputs = [{"due": iso(base + spread * (first + i) / runs)} for i in range(count)]
            engine.start_many(workflow, inputs)
            engine.run_until_idle()  # park them (the engine fires nothing yet)
    fleet = pg_workers.Fleet(
        [
            {"kind": "wfdsl", "url": target_url, "flows": [FLOW], "due": True, "report": 0.05}
            for _ in range(processes)
        ]
    )
    try:
        fleet.go()
        serving = time.time()
        fleet.until(lambda f: f.total("completed") >= runs, timeout=base - time.time() + 300)
    finally:
        final = fleet.finish()
    lags = sorted(lag for message in final for lag in message.get("lags", []))
    # The probe's runs are due tomorrow: only this batch's timers count.
    return {"lags": lags, "late_start": serving > base, "slack_s": base - serving}


def measure(target_url: Any, processes: int, runs: int, ref: float) -> dict[str, Any]:
    out: dict[str, Any] = {"reference_steps_per_s": ref, "processes": processes}
    spread = fire(target_url(), processes, runs, 1.0)
    lags = spread["lags"]
    out["spread_p50_ms"] = percentile(lags, 50) * 1000
    out["spread_p99_ms"] = percentile(lags, 99) * 1000
    out["spread_max_ms"] = max(lags, default=float("nan")) * 1000
    out["spread_fired"] = len(lags)
    instant = fire(target_url(), processes, runs, 0.0)
    lags = instant["lags"]
    out["instant_all_fired_s"] = max(lags, default=float("nan"))
    out["instant_p50_ms"] = percentile(lags, 50) * 1000
    out["instant_fired"] = len(lags)
    out["instant_bound_s"] = 1.2 * runs / ref
    out["instant_ratio"] = out["instant_all_fired_s"] / (runs / ref)
    notes = [
        f"{name}: workers started {-r['slack_s']:.1f} s after the due time"
        for name, r in (("spread", spread), ("instant", instant))
        if r["late_start"]
    ]
    if notes:
        out["notes"] = notes
    return out


def run(options: Options) -> dict[str, Any]:
    runs = options.size("runs", 10_000, 500)
    ref_runs = options.size("ref_runs", 1000, 100)
    pg_processes = options.size("pg_processes", 4, 2)
    backends = options.params.get("backends", "sqlite,postgres").split(",")
    result: dict[str, Any] = {}
    with Scratch(options.workdir, NAME) as scratch:
        for backend in backends:
            if backend == "sqlite":

                def where(scratch: Scratch = scratch) -> str:
                    return str(Path(scratch.path("timers")))

                processes = 1
            else:
                server = pg_server.shared_server()

                def where(server: Any = server) -> str:
                    return str(server.create_database("due"))

                processes = pg_processes
            ref = concurrent_rate(where(), processes, ref_runs, 10)
            figures = measure(where, processes, runs, ref)
            for key, value in figures.items():
                result[f"{backend}_{key}"] = value
    targets: dict[str, Any] = {}
    series: dict[str, Any] = {}
    for backend in backends:
        p99 = result.get(f"{backend}_spread_p99_ms")
        series[f"{backend}_spread_p99_ms"] = summary([p99] if p99 is not None else [])
        targets[f"{backend}_spread_p99"] = target(
            p99, below=50, text=f"{backend}: spread over 1 s, p99 lag < 50 ms"
        )
        targets[f"{backend}_instant"] = target(
            result.get(f"{backend}_instant_ratio"),
            below=1.2,
            text=f"{backend}: all at one instant fire within 1.2x of N / concurrent steps/s",
        )
    return {
        **result,
        "fired_means": FIRED_MEANS,
        "sizes": {"runs": runs, "ref_runs": ref_runs, "pg_processes": pg_processes},
        "series": series,
        "targets": targets,
    }
