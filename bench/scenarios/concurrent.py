"""``concurrent``: 1,000 runs x 10 no-op task steps, all ready at once, so
the engine can group-commit. Beside it, in the same run and interleaved:
DBOS Transact on SQLite (the same workflow as ``@DBOS.step`` s),
SpiffWorkflow persisting its JSON per step, and raw SQLite with 100
INSERT+UPDATE per commit (the disk's limit for batched work).

Targets: >= 10,000 steps/s and >= 40x DBOS.
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

NAME = "concurrent"
KEYS = ("wfdsl_steps_per_s", "dbos_steps_per_s", "spiff_steps_per_s", "raw_batched_rows_per_s")


def wfdsl_concurrent(path: Any, synchronous: str, runs: int, steps: int) -> dict[str, float]:
    """Steps/s driving ``runs`` ready runs to the end (``run_until_idle``);
    also what starting them cost (``Engine.start`` of a registered workflow:
    one commit each) and the end-to-end rate including the starts."""
    with wfdsl_engine(path, synchronous) as engine:
        workflow = engine.register(task_flow(steps))
        started = time.perf_counter()
        ids = [engine.start(workflow).id for _ in range(runs)]
        driving = time.perf_counter()
        engine.run_until_idle()
        ended = time.perf_counter()
        finished = [engine.get(i).status for i in ids]
    if finished.count("completed") != runs:
        raise AssertionError(f"wfdsl: {finished.count('completed')} of {runs} runs completed")
    return {
        "steps_per_s": runs * steps / (ended - driving),
        "starts_per_s": runs / (driving - started),
        "end_to_end_steps_per_s": runs * steps / (ended - started),
    }


def peer_rate(module: str, request: dict[str, Any], errors: dict[str, str]) -> dict[str, float]:
    result = peer_env.run_peer(module, request)
    if "error" in result:
        errors[module] = str(result["error"])
        return {}
    return {"steps_per_s": float(result["steps_per_s"])}  # type: ignore[arg-type]


def run(options: Options) -> dict[str, Any]:
    runs = options.size("runs", 1000, 100)
    steps = options.size("steps", 10, 10)
    # DBOS manages ~300 steps/s here: 1,000 runs would take minutes per
    # repetition, so the peers run fewer runs of the same workflow (their
    # rate is per step and flat in the number of runs).
    peer_runs = options.size("peer_runs", 100, 10)
    raw_rows = options.size("raw_rows", 20000, 2000)
    reps = options.repetitions(3)
    errors: dict[str, str] = {}
    with Scratch(options.workdir, NAME) as scratch:
        measures = {
            "wfdsl_full": lambda: wfdsl_concurrent(scratch.path("full"), "FULL", runs, steps),
            "wfdsl_normal": lambda: wfdsl_concurrent(scratch.path("normal"), "NORMAL", runs, steps),
            "raw_batched_full": lambda: {
                "rows_per_s": store_raw.bench_raw(str(scratch.path("raw")), "FULL", raw_rows, 100)
            },
            "raw_batched_normal": lambda: {
                "rows_per_s": store_raw.bench_raw(
                    str(scratch.path("rawn")), "NORMAL", raw_rows, 100
                )
            },
        }
        if options.peers:
            measures["dbos"] = lambda: peer_rate(
                "dbos_peer",
                {
                    "mode": "steps",
                    "runs": peer_runs,
                    "steps": steps,
                    "path": str(scratch.path("dbos")),
                    "concurrent": True,
                },
                errors,
            )
            measures["spiff"] = lambda: peer_rate(
                "spiff_peer",
                {
                    "runs": peer_runs,
                    "steps": steps,
                    "path": str(scratch.path("spiff")),
                    "synchronous": "FULL",
                },
                errors,
            )
        series = interleave(reps, measures)
    wfdsl = median(series.get("wfdsl_full.steps_per_s", []))
    dbos = median(series.get("dbos.steps_per_s", []))
    result: dict[str, Any] = {
        "wfdsl_steps_per_s": wfdsl,
        "wfdsl_normal_steps_per_s": median(series.get("wfdsl_normal.steps_per_s", [])),
        "wfdsl_end_to_end_steps_per_s": median(series.get("wfdsl_full.end_to_end_steps_per_s", [])),
        "wfdsl_starts_per_s": median(series.get("wfdsl_full.starts_per_s", [])),
        "dbos_steps_per_s": dbos,
        "spiff_steps_per_s": median(series.get("spiff.steps_per_s", [])),
        "raw_batched_rows_per_s": median(series.get("raw_batched_full.rows_per_s", [])),
        "raw_batched_normal_rows_per_s": median(series.get("raw_batched_normal.rows_per_s", [])),
        "ratio_vs_dbos": ratio(wfdsl, dbos),
        "ratio_vs_spiff": ratio(wfdsl, median(series.get("spiff.steps_per_s", []))),
        "ratio_vs_raw_batched": ratio(wfdsl, median(series.get("raw_batched_full.rows_per_s", []))),
        "sizes": {
            "runs": runs,
            "steps": steps,
            "peer_runs": peer_runs,
            "raw_rows": raw_rows,
            "reps": reps,
        },
        "series": {name: summary(values) for name, values in series.items()},
        "targets": {
            "steps_per_s": target(wfdsl, above=10_000, text=">= 10,000 steps/s (FULL)"),
            "vs_dbos": target(ratio(wfdsl, dbos), above=40, text=">= 40x DBOS on SQLite"),
        },
    }
    if errors or not options.peers:
        result["peers_unavailable"] = errors or {"all": "--no-peers"}
    return result
