"""``sequential``: one 10-step run at a time, driven to its end before the
next starts, so every transition is its own commit. The reference is raw
SQLite with one INSERT+UPDATE per commit in the same synchronous mode (the
disk's commit rate), measured in the same run, interleaved.

Target: wfdsl steps/s >= 60% of raw commits/s, in the same mode.
"""

from __future__ import annotations

import time
from typing import Any

import peer_env
import store_raw
from measure import (
    Options,
    Scratch,
    interleave,
    median,
    ratio,
    summary,
    target,
    task_flow,
    wfdsl_engine,
)

NAME = "sequential"
KEYS = ("wfdsl_steps_per_s", "raw_commits_per_s")


def wfdsl_sequential(path: Any, synchronous: str, runs: int, steps: int) -> dict[str, float]:
    with wfdsl_engine(path, synchronous) as engine:
        workflow = engine.register(task_flow(steps))
        started = time.perf_counter()
        for _ in range(runs):
            run = engine.start(workflow)
            status = engine.run_until_complete(run.id).status
            if status != "completed":
                raise AssertionError(f"wfdsl: run {run.id} ended {status!r}")
        elapsed = time.perf_counter() - started
    return {"steps_per_s": runs * steps / elapsed}


def run(options: Options) -> dict[str, Any]:
    runs = options.size("runs", 50, 5)
    steps = options.size("steps", 10, 10)
    commits = options.size("raw_commits", 1000, 200)
    peer_runs = options.size("peer_runs", 10, 3)
    reps = options.repetitions(3)
    errors: dict[str, str] = {}
    with Scratch(options.workdir, NAME) as scratch:
        measures = {}
        for sync in ("FULL", "NORMAL"):
            tag = sync.lower()
            measures[f"wfdsl_{tag}"] = lambda s=sync: wfdsl_sequential(
                scratch.path(s), s, runs, steps
            )
            measures[f"raw_{tag}"] = lambda s=sync: {
                "commits_per_s": store_raw.bench_raw(str(scratch.path("raw")), s, commits, 1)
            }
        if options.peers:

            def dbos() -> dict[str, float]:
                request = {
                    "mode": "steps",
                    "runs": peer_runs,
                    "steps": steps,
                    "path": str(scratch.path("dbos")),
                    "concurrent": False,
                }
                result = peer_env.run_peer("dbos_peer", request)
                if "error" in result:
                    errors["dbos_peer"] = str(result["error"])
                    return {}
                return {"steps_per_s": float(result["steps_per_s"])}  # type: ignore[arg-type]

            measures["dbos"] = dbos
        series = interleave(reps, measures)
    full = median(series.get("wfdsl_full.steps_per_s", []))
    normal = median(series.get("wfdsl_normal.steps_per_s", []))
    raw_full = median(series.get("raw_full.commits_per_s", []))
    raw_normal = median(series.get("raw_normal.commits_per_s", []))
    result: dict[str, Any] = {
        "wfdsl_steps_per_s": full,
        "raw_commits_per_s": raw_full,
        "wfdsl_normal_steps_per_s": normal,
        "raw_normal_commits_per_s": raw_normal,
        "ratio_vs_raw": ratio(full, raw_full),
        "ratio_vs_raw_normal": ratio(normal, raw_normal),
        "dbos_steps_per_s": median(series.get("dbos.steps_per_s", [])),
        "sizes": {"runs": runs, "steps": steps, "raw_commits": commits, "reps": reps},
        "series": {name: summary(values) for name, values in series.items()},
        "targets": {
            "vs_raw_full": target(
                ratio(full, raw_full), above=0.6, text=">= 60% of raw commits/s (FULL)"
            ),
            "vs_raw_normal": target(
                ratio(normal, raw_normal), above=0.6, text=">= 60% of raw commits/s (NORMAL)"
            ),
        },
    }
    if errors or not options.peers:
        result["peers_unavailable"] = errors or {"all": "--no-peers"}
    return result
