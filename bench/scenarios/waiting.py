"""``waiting``: 100,000 runs parked, half on a one-day timer and half on a
signal, in an engine process of their own, so its memory and CPU are read
from /proc without the harness in them.

1. A child process starts every run (``Engine.start_many``, 1,000 per
   commit) and
   drives them until all wait: ``start_s``; its VmRSS then: ``rss_mb``.
2. It keeps serving; over ``idle`` seconds the harness reads its utime+stime
   from /proc/PID/stat: ``idle_cpu`` (fraction of one core).
3. A fresh engine process serves the same file: its VmRSS after the idle
   period is ``idle_rss_mb`` (waiting runs must cost rows, not memory).
4. ``bytes_per_run``: the checkpointed file's size / runs.

The package is byte-compiled first, as ``pip install`` does, so the
children load .pyc files like an installed engine.

Targets: rss < 150 MB, start < 30 s, idle CPU near zero (< 2% of a core
here), <= 2 KB per parked run, idle engine <= 30 MB. The reference: DBOS
with runs in a durable ``DBOS.sleep`` (fewer: it starts ~100 runs/s).
"""

from __future__ import annotations

import asyncio
import os
import signal
import time
from typing import Any

import peer_env
from measure import (
    Options,
    Scratch,
    byte_compile_wfdsl,
    checkpoint,
    cpu_seconds,
    file_bytes,
    peak_rss_mb,
    read_message,
    rss_mb,
    say,
    spawn_child,
    summary,
    target,
    wait_flow,
    wfdsl_engine,
)

NAME = "waiting"
KEYS = ("rss_mb", "start_s", "idle_cpu", "bytes_per_run")


def child(request: dict[str, Any]) -> None:
    engine = wfdsl_engine(request["path"], request["synchronous"])
    if request["start"]:
        runs = int(request["runs"])
        flows = [engine.register(wait_flow("timer")), engine.register(wait_flow("signal"))]
        started = time.perf_counter()
        # Batches of 1,000 per transaction (Engine.start_many), half on each flow.
        for first in range(0, runs, 2000):
            size = min(2000, runs - first)
            engine.start_many(flows[0], [None] * ((size + 1) // 2))
            engine.start_many(flows[1], [None] * (size // 2))
        created = time.perf_counter()
        engine.run_until_idle()
        parked = time.perf_counter()
        say(
            {
                "start_s": parked - started,
                "create_s": created - started,
                "drive_s": parked - created,
                "rss_mb": rss_mb(),
                "peak_rss_mb": peak_rss_mb(),
            }
        )
    else:
        say({"rss_mb": rss_mb()})

    async def serve() -> None:
        async with engine:
            await asyncio.sleep(3600)

    asyncio.run(serve())


def idle_reading(process: Any, seconds: float) -> tuple[float, float]:
    """(CPU fraction of one core, VmRSS MB) of a serving engine over ``seconds``."""
    time.sleep(1.0)  # let it reach its idle loop
    before = cpu_seconds(process.pid)
    time.sleep(seconds)
    used = cpu_seconds(process.pid) - before
    return used / seconds, rss_mb(process.pid)


def stop(process: Any) -> None:
    process.send_signal(signal.SIGTERM)
    try:
        process.wait(10)
    except Exception:
        process.kill()
        process.wait()


def run(options: Options) -> dict[str, Any]:
    runs = options.size("runs", 100_000, 2_000)
    idle = options.size("idle_seconds", 5, 2)
    peer_runs = options.size("peer_runs", 1_000, 50)
    sync = options.params.get("sync", "FULL")
    result: dict[str, Any] = {}
    byte_compile_wfdsl()
    with Scratch(options.workdir, NAME) as scratch:
        path = scratch.path("parked")
        request = {"path": str(path), "synchronous": sync, "runs": runs, "start": True}
        process = spawn_child(NAME, request)
        try:
            started = read_message(process, timeout=3600)
            idle_cpu, serving_rss = idle_reading(process, idle)
        finally:
            stop(process)
        process = spawn_child(NAME, {**request, "start": False})
        try:
            read_message(process, timeout=120)
            fresh_cpu, fresh_rss = idle_reading(process, idle)
        finally:
            stop(process)
        checkpoint(path)
        per_run = file_bytes(path) / runs
        if options.peers:
            dbos = peer_env.run_peer(
                "dbos_peer",
                {"mode": "waiting", "runs": peer_runs, "path": str(scratch.path("dbos"))},
            )
            if "error" in dbos:
                result["peers_unavailable"] = {"dbos_peer": dbos["error"]}
            else:
                result["dbos_runs"] = peer_runs
                result["dbos_start_s"] = dbos["start_s"]
                result["dbos_starts_per_s"] = peer_runs / float(dbos["start_s"])  # type: ignore[arg-type]
                result["dbos_rss_mb"] = dbos["rss_mb"]
        else:
            result["peers_unavailable"] = {"all": "--no-peers"}
    result = {
        "rss_mb": started["rss_mb"],
        "start_s": started["start_s"],
        "idle_cpu": idle_cpu,
        "bytes_per_run": per_run,
        "idle_rss_mb": fresh_rss,
        "idle_cpu_fresh_engine": fresh_cpu,
        "peak_rss_mb": started["peak_rss_mb"],
        "serving_rss_mb": serving_rss,
        "starts_per_s": runs / started["start_s"],
        "create_s": started["create_s"],
        "drive_s": started["drive_s"],
        **result,
        "sizes": {
            "runs": runs,
            "idle_seconds": idle,
            "synchronous": sync,
            "pid_cpu": os.cpu_count(),
        },
        "series": {"start_s": summary([started["start_s"]])},
        "targets": {
            "rss": target(started["rss_mb"], below=150, text="engine RSS < 150 MB"),
            "start": target(started["start_s"], below=30, text="all started in < 30 s"),
            "idle_cpu": target(idle_cpu, below=0.02, text="idle CPU near zero (< 2% of a core)"),
            "bytes": target(per_run, below=2048.01, text="<= 2 KB on disk per parked run"),
            "idle_rss": target(fresh_rss, below=30.01, text="idle engine <= 30 MB"),
        },
    }
    return result
