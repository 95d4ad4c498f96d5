"""``runs list --where`` and ``db copy`` on large stores (issue 13, section 2).

    python bench/store_scale.py fill URL --runs 100000 [--events 0]
    python bench/store_scale.py where URL [--reps 5] [--explain]
    python bench/store_scale.py copy SRC DST [--replace]

``fill`` writes N synthetic runs (search attributes ``email`` unique,
``amount`` 0..999, ``tier`` one of 4, ``vip`` a bool; a quarter completed
with ``ended_at``) in one ``db copy`` transaction, with ``--events`` history
events each. ``where`` times ``list_runs`` (limit 100, median of
``--reps``) for a fixed set of queries and, on PostgreSQL with
``--explain``, prints each statement's plan with EXPLAIN (ANALYZE,
BUFFERS). ``copy`` runs ``wfdsl db copy`` in a child process and reports its
peak RSS (``ru_maxrss``) and wall time. One JSON object per line.
"""

from __future__ import annotations

import argparse
import json
import resource
import statistics
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from wfdsl.interpreter.store import open_store
from wfdsl.interpreter.store.copy import RUN_FIELDS, Tables
from wfdsl.interpreter.store.records import RunFilter

QUERIES = [
    "email == 'user-4242@example.com'",
    "amount == 7",
    "amount > 990",
    "tier == 'gold' and amount < 10",
    "tier in ['gold', 'silver'] and vip == true and amount >= 998",
    "status == 'completed'",
    "ended_at > 1000050000",
    "email == 'nobody'",
    "not (amount < 999)",
    "ended_at > 1000099990",
    "len(email) > 23",
]

_STATE = json.dumps({"threads": {"": {"state": "wait_go", "visit": 1}}, "seen": 0})


def _runs(count: int) -> Iterator[tuple[Any, ...]]:
    for key in range(1, count + 1):
        finished = key % 4 == 0
        search = {
            "email": f"user-{key}@example.com",
            "amount": key % 1000,
            "tier": ("gold", "silver", "bronze", "lead")[
                key % 4 if not finished else (key // 4) % 4
            ],
            "vip": key % 7 == 0,
        }
        values = {
            "key": key,
            "id": f"run-{key:07d}",
            "name": None,
            "execution": 1,
            "workflow": "scale",
            "version": None,
            "definition_hash": "scale-hash",
            "status": "completed" if finished else "waiting",
            "input": json.dumps({"n": key}),
            "vars": json.dumps({"got": None, "count": key % 10}),
            "output": json.dumps(key) if finished else None,
            "error": None,
            "started_at": 1_000_000_000.0 + key,
            "ended_at": 1_000_000_000.0 + key + 5 if finished else None,
            "ready_at": None if finished else 1_000_000_000.0 + 86_400 + key,
            "state": _STATE,
            "search": json.dumps(search, separators=(",", ":")),
            "parent_run": None,
            "row_version": 3,
            "needs_action": None,
            "lease_generation": 0,
        }
        yield tuple(values[name] for name in RUN_FIELDS)


def _events(count: int, per_run: int) -> Iterator[tuple[Any, ...]]:
    for key in range(1, count + 1):
        for seq in range(1, per_run + 1):
            data = json.dumps({"state": "wait_go", "note": "x" * 40, "seq": seq})
            yield (key, seq, "state_entered", 1_000_000_000.0 + key + seq, "wait_go", data)


def fill(url: str, runs: int, events: int) -> dict[str, Any]:
    store = open_store(url)
    definitions = [("scale-hash", "scale", None, "wfdsl: '1'\nname: scale\n", None, 0.0)]
    tables = Tables(
        definitions=iter(definitions),
        runs=_runs(runs),
        events=_events(runs, events),
        inbox=iter(()),
        schedules=iter(()),
    )
    started = time.perf_counter()
    try:
        count = store.copy_in(tables, replace=True)  # type: ignore[attr-defined]
    finally:
        store.close()
    return {"filled": runs, "events": count.events, "s": round(time.perf_counter() - started, 1)}


def where(url: str, reps: int, explain: bool) -> Iterator[dict[str, Any]]:
    store = open_store(url)
    try:
        for text in QUERIES:
            times: list[float] = []
            found = 0
            for _ in range(reps):
                started = time.perf_counter()
                found = len(store.list_runs(RunFilter(where=text, limit=100)))
                times.append(time.perf_counter() - started)
            row: dict[str, Any] = {
                "where": text,
                "found": found,
                "median_ms": round(statistics.median(times) * 1000, 1),
                "min_ms": round(min(times) * 1000, 1),
            }
            if explain and url.startswith("postgres"):
                row["plan"] = _explain(store, text)
            yield row
    finally:
        store.close()


def _explain(store: Any, text: str) -> list[str]:
    """The plan of the statement ``list_runs`` sends for ``text`` (its
    exact-SQL form; None when this code has no SQL for it)."""
    try:
        from wfdsl.interpreter.store.postgres.query import plan_postgres
        from wfdsl.interpreter.store.postgres.rows import FROM_RUNS, RUN_COLUMNS
    except ImportError:
        return []
    plan = plan_postgres(text)
    try:
        from wfdsl.interpreter.store.postgres.runs import search_names
        from wfdsl.interpreter.store.query import unshadow

        plan = unshadow(plan, store._read("names", search_names))
    except ImportError:
        pass
    if plan.sql is None:
        sql = "SELECT r.key, r.search FROM runs r WHERE r.id IS NOT NULL ORDER BY r.started_at DESC"
        params: tuple[Any, ...] = ()
    else:
        sql = (
            f"SELECT {RUN_COLUMNS} FROM {FROM_RUNS} WHERE r.id IS NOT NULL AND ({plan.sql}) "
            "ORDER BY r.started_at DESC, r.key DESC LIMIT 100"
        )
        params = plan.params

    def work(cur: Any) -> list[str]:
        cur.execute(f"EXPLAIN (ANALYZE, BUFFERS) {sql}", params)
        return [line for (line,) in cur.fetchall()]

    lines: list[str] = store._read("explaining", work)
    return lines


def copy(source: str, destination: str, replace: bool) -> dict[str, Any]:
    argv = [str(Path(sys.executable).parent / "wfdsl"), "db", "copy", source, destination, "--json"]
    if replace:
        argv.append("--replace")
    started = time.perf_counter()
    done = subprocess.run(argv, capture_output=True, text=True)
    took = time.perf_counter() - started
    peak_kb = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    if done.returncode != 0:
        raise SystemExit(done.stdout + done.stderr)
    return {
        "copied": json.loads(done.stdout)["copied"],
        "peak_rss_mb": round(peak_kb / 1024, 1),
        "s": round(took, 1),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="command", required=True)
    p_fill = sub.add_parser("fill")
    p_fill.add_argument("url")
    p_fill.add_argument("--runs", type=int, default=100_000)
    p_fill.add_argument("--events", type=int, default=0)
    p_where = sub.add_parser("where")
    p_where.add_argument("url")
    p_where.add_argument("--reps", type=int, default=5)
    p_where.add_argument("--explain", action="store_true")
    p_copy = sub.add_parser("copy")
    p_copy.add_argument("source")
    p_copy.add_argument("destination")
    p_copy.add_argument("--replace", action="store_true")
    args = parser.parse_args()
    if args.command == "fill":
        print(json.dumps(fill(args.url, args.runs, args.events)))
    elif args.command == "where":
        for row in where(args.url, args.reps, args.explain):
            print(json.dumps(row))
    else:
        print(json.dumps(copy(args.source, args.destination, args.replace)))


if __name__ == "__main__":
    main()
