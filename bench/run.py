"""The benchmarks of issue 5, wfdsl beside its peers, in one command.

    python bench/run.py [--scenario NAME]... [--quick] [--json] [--no-peers]
                        [--reps N] [--param NAME=VALUE]...

Scenarios (bench/scenarios/): concurrent, sequential, waiting, timers,
recovery, signal, validate, interpret, startup; ``--suite scale`` runs issue
13's set instead (pg_concurrent, concurrent, sequential, due_timers,
pg_recovery, pg_waiting: PostgreSQL beside SQLite, on a server it starts). Each measures wfdsl and its reference
in the same run, interleaved, several repetitions, and reports medians,
min-max and the ratio. Peers (DBOS, SpiffWorkflow, transitions) run in their
own virtualenv (bench/peer_env.py), created on first use; ``--no-peers``
skips them. ``--profile N`` prints cProfile's top N entries (own time) of
what runs in this process. ``--quick`` runs every scenario at a small size (for breakage,
not for figures). ``--json`` prints one JSON object per scenario, one a
line, instead of the table. ``--param runs=10000`` overrides a size.
"""

from __future__ import annotations

import importlib
import json
import sys
import time
import traceback
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

from measure import Options, machine
from scenarios import ORDER, SCALE


def load(name: str) -> Any:
    return importlib.import_module(f"scenarios.{name}")


def fmt(value: Any) -> str:
    if isinstance(value, float):
        if value == 0 or abs(value) >= 100:
            return f"{value:,.0f}"
        return f"{value:.3g}"
    return str(value)


def print_table(result: dict[str, Any]) -> None:
    print(f"\n== {result['scenario']}  ({result['seconds']:.1f} s, load {result['load_avg']})")
    if "error" in result:
        print(f"  ERROR: {result['error']}")
    for key, value in result.items():
        if (isinstance(value, (int, float)) and key not in ("seconds",)) or value is None:
            if key in ("seconds",):
                continue
            print(f"  {key:<34} {fmt(value)}")
    for name, series in result.get("series", {}).items():
        if series.get("median") is not None:
            print(
                f"  · {name:<32} median {fmt(series['median'])}  "
                f"min {fmt(series['min'])}  max {fmt(series['max'])}  (n={len(series['values'])})"
            )
    for name, goal in result.get("targets", {}).items():
        mark = {True: "met", False: "NOT met", None: "unmeasured"}[goal["met"]]
        print(f"  target {name}: {goal['target']}: {fmt(goal['value'])} -> {mark}")
    for peer, why in result.get("peers_unavailable", {}).items():
        print(f"  peer unavailable: {peer}: {why}")


def main() -> int:
    if sys.argv[1:2] == ["--child"] and len(sys.argv) == 3:
        # An engine child: nothing more is imported than the scenario needs,
        # since some scenarios read the child's memory.
        load(sys.argv[2]).child(json.loads(sys.stdin.read()))
        return 0
    import argparse

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--scenario", action="append", choices=sorted({*ORDER, *SCALE}))
    parser.add_argument(
        "--suite", choices=("default", "scale"), default="default", help="scale: issue 13's set"
    )
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--json", action="store_true")
    parser.add_argument("--no-peers", action="store_true")
    parser.add_argument("--reps", type=int)
    parser.add_argument("--param", action="append", default=[], metavar="NAME=VALUE")
    parser.add_argument("--workdir", type=Path, default=Path(__file__).resolve().parent)
    parser.add_argument(
        "--profile",
        type=int,
        metavar="N",
        help="run under cProfile and print the top N entries by own time to stderr",
    )
    parser.add_argument("--child", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        load(args.child).child(json.loads(sys.stdin.read()))
        return 0
    options = Options(
        quick=args.quick,
        peers=not args.no_peers,
        reps=args.reps,
        params=dict(p.split("=", 1) for p in args.param),
        workdir=args.workdir,
    )
    if not args.json:
        print(json.dumps(machine()))
    failed = 0
    for name in args.scenario or (SCALE if args.suite == "scale" else ORDER):
        module = load(name)
        started = time.perf_counter()
        info = machine()
        profiler = None
        if args.profile:
            import cProfile

            profiler = cProfile.Profile()
        try:
            if profiler is not None:
                profiler.enable()
            try:
                figures = module.run(options)
            finally:
                if profiler is not None:
                    profiler.disable()
                    import pstats

                    stats = pstats.Stats(profiler, stream=sys.stderr)
                    stats.sort_stats("tottime").print_stats(args.profile)
            result: dict[str, Any] = {"scenario": name, **figures}
        except Exception as exc:  # one broken scenario must not hide the others
            failed += 1
            result = {"scenario": name, "error": f"{type(exc).__name__}: {exc}"}
            result.update(dict.fromkeys(module.KEYS))
            traceback.print_exc(file=sys.stderr)
        result["seconds"] = round(time.perf_counter() - started, 2)
        result["load_avg"] = info["load_avg"]
        result["machine"] = info
        if args.json:
            print(json.dumps(result), flush=True)
        else:
            print_table(result)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
