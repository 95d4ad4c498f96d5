"""``pg_concurrent``: 1,000 runs x 10 no-op task steps, all ready at once, on
one PostgreSQL database, driven by 1, 2 and 4 worker processes (issue 13,
section 5). Beside it, in the same run, interleaved, each on a fresh
database of the same durable server (``bench/pg_server.py``):

- ``raw_N``: the raw-PostgreSQL limit (``bench/pg_raw.py``): the same claim
  + group-commit SQL with no interpretation, N processes;
- ``dbos``: DBOS Transact on PostgreSQL (its system database on the same
  server), one process starting every workflow with ``DBOS.start_workflow``
  as the SQLite bench does; fewer runs (it manages ~200 steps/s here).

wfdsl's figure is steps/s from the moment every worker (already started,
its flow registered) is told to go until the last run's completion is
reported; the runs are created before, by the parent. Server and worker CPU
seconds are recorded to show where the time goes.

Targets: 4 workers >= 60% of raw with 4 processes, >= 20x DBOS on PostgreSQL.
"""

from __future__ import annotations

from typing import Any

import peer_env
import pg_raw
import pg_server
import pg_workers
from measure import Options, interleave, median, ratio, summary, target, task_flow

NAME = "pg_concurrent"
KEYS = ("wfdsl_4_steps_per_s", "raw_4_steps_per_s", "dbos_steps_per_s")
PROCESSES = (1, 2, 4)


TOP: dict[str, list[dict[str, Any]]] = {}


def statements_reset(server: Any) -> Any:
    admin = pg_server.connect(server.url("postgres"))
    admin.execute("CREATE EXTENSION IF NOT EXISTS pg_stat_statements")
    admin.execute("SELECT pg_stat_statements_reset()")
    return admin


def statements_read(admin: Any, url: str, steps: int, tag: str) -> float:
    """Statements per step in ``url``'s database since the reset; the top
    five by time go to ``TOP[tag]`` (the profile of where the server's time
    goes)."""
    dbname = pg_server.dbname(url)
    rows = admin.execute(
        "SELECT query, calls, total_exec_time FROM pg_stat_statements s "
        "JOIN pg_database d ON d.oid = s.dbid WHERE d.datname = %s "
        "ORDER BY total_exec_time DESC",
        (dbname,),
    ).fetchall()
    admin.close()
    TOP[tag] = [
        {
            "query": " ".join(str(q).split())[:120],
            "calls_per_step": round(calls / steps, 3),
            "us_per_step": round(total * 1000 / steps, 1),
        }
        for q, calls, total in rows[:6]
    ]
    return sum(int(calls) for _, calls, _ in rows) / steps


def wfdsl_unavailable(url: str) -> str | None:
    """Why wfdsl cannot open a PostgreSQL store here, or None."""
    try:
        store = pg_workers.wfdsl_store(url)
    except Exception as exc:  # no backend yet, no driver
        return f"{type(exc).__name__}: {exc}"
    store.close()
    return None


def wfdsl_rate(server: Any, processes: int, runs: int, steps: int) -> dict[str, float]:
    url = server.create_database("wfc")
    flow = task_flow(steps)
    with pg_workers.engine_on(url) as engine:
        workflow = engine.register(flow)
        for first in range(0, runs, 1000):
            engine.start_many(workflow, [None] * min(1000, runs - first))
    requests = [
        {"kind": "wfdsl", "url": url, "flows": [flow], "owner": f"bench-w{i}"}
        for i in range(processes)
    ]
    fleet = pg_workers.Fleet(requests)
    try:
        admin = statements_reset(server)
        cpu0 = pg_workers.server_cpu_seconds(server.data_dir)
        started = fleet.go()
        ended = fleet.until(lambda f: f.total("completed") >= runs, timeout=600)
        server_cpu = pg_workers.server_cpu_seconds(server.data_dir) - cpu0
    finally:
        final = fleet.finish()
    elapsed = ended - started
    return {
        "statements_per_step": statements_read(admin, url, runs * steps, f"wfdsl_{processes}"),
        "steps_per_s": runs * steps / elapsed,
        "server_cpu_per_step_us": server_cpu / (runs * steps) * 1e6,
        "worker_cpu_per_step_us": sum(m.get("cpu_s", 0.0) for m in final) / (runs * steps) * 1e6,
    }


def raw_rate(server: Any, processes: int, runs: int, steps: int, limit: int) -> dict[str, float]:
    url = server.create_database("raw")
    pg_raw.prepare(url, runs, steps)
    requests = [
        {"kind": "raw", "url": url, "owner": f"raw-{i}", "steps": steps, "limit": limit}
        for i in range(processes)
    ]
    fleet = pg_workers.Fleet(requests)
    try:
        admin = statements_reset(server)
        cpu0 = pg_workers.server_cpu_seconds(server.data_dir)
        started = fleet.go()
        ended = fleet.until(lambda f: all("steps" in m for m in f.last), timeout=600)
        server_cpu = pg_workers.server_cpu_seconds(server.data_dir) - cpu0
    finally:
        fleet.close()
    done = fleet.total("steps")
    if done != runs * steps:
        raise AssertionError(f"raw: {done} of {runs * steps} steps")
    return {
        "statements_per_step": statements_read(admin, url, done, f"raw_{processes}"),
        "steps_per_s": done / (ended - started),
        "server_cpu_per_step_us": server_cpu / done * 1e6,
        "worker_cpu_per_step_us": sum(m["cpu_s"] for m in fleet.last) / done * 1e6,
    }


def dbos_rate(server: Any, runs: int, steps: int, errors: dict[str, str]) -> dict[str, float]:
    url = server.create_database("dbos")
    request = {"mode": "steps", "runs": runs, "steps": steps, "url": url, "concurrent": True}
    result = peer_env.run_peer("dbos_peer", request)
    if "error" in result:
        errors["dbos_peer"] = str(result["error"])
        return {}
    return {"steps_per_s": float(result["steps_per_s"])}  # type: ignore[arg-type]


def run(options: Options) -> dict[str, Any]:
    runs = options.size("runs", 1000, 100)
    steps = options.size("steps", 10, 10)
    peer_runs = options.size("peer_runs", 100, 10)
    # The driver's claim batch (engine_loop.Driver.batch): the same claim.
    limit = options.size("claim_limit", 512, 512)
    reps = options.repetitions(3)
    processes = [int(p) for p in options.params.get("processes", "1,2,4").split(",")]
    errors: dict[str, str] = {}
    server = pg_server.shared_server()
    why = wfdsl_unavailable(server.create_database("probe"))
    measures: dict[str, Any] = {}
    for n in processes:
        measures[f"raw_{n}"] = lambda n=n: raw_rate(server, n, runs, steps, limit)
        if why is None:
            measures[f"wfdsl_{n}"] = lambda n=n: wfdsl_rate(server, n, runs, steps)
    if options.peers:
        measures["dbos"] = lambda: dbos_rate(server, peer_runs, steps, errors)
    series = interleave(reps, measures)
    result: dict[str, Any] = {}
    for n in processes:
        for who in ("wfdsl", "raw"):
            for key in (
                "steps_per_s",
                "server_cpu_per_step_us",
                "worker_cpu_per_step_us",
                "statements_per_step",
            ):
                result[f"{who}_{n}_{key}"] = median(series.get(f"{who}_{n}.{key}", []))
    dbos = median(series.get("dbos.steps_per_s", []))
    top = max(processes)
    wfdsl_top = result.get(f"wfdsl_{top}_steps_per_s")
    raw_top = result.get(f"raw_{top}_steps_per_s")
    result.update(
        {
            "dbos_steps_per_s": dbos,
            f"ratio_{top}_vs_raw": ratio(wfdsl_top, raw_top),
            f"ratio_{top}_vs_dbos": ratio(wfdsl_top, dbos),
            "top_statements": dict(TOP),
            "sizes": {
                "runs": runs,
                "steps": steps,
                "peer_runs": peer_runs,
                "claim_limit": limit,
                "processes": processes,
                "reps": reps,
            },
            "series": {name: summary(values) for name, values in series.items()},
            "targets": {
                "vs_raw": target(
                    ratio(wfdsl_top, raw_top),
                    above=0.6,
                    text=f">= 60% of raw PostgreSQL, {top} processes",
                ),
                "vs_dbos": target(
                    ratio(wfdsl_top, dbos), above=20, text=">= 20x DBOS on PostgreSQL"
                ),
            },
        }
    )
    if why is not None:
        result["wfdsl_unavailable"] = why
    if errors or not options.peers:
        result["peers_unavailable"] = errors or {"all": "--no-peers"}
    return result
