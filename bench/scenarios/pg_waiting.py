"""``pg_waiting``: 100,000 runs parked on PostgreSQL, half on a one-day timer
and half on a signal (issue 13, section 5).

1. The harness creates them (``Engine.start_many``, 1,000 per commit) and
   drives them until all wait: ``start_s``.
2. ``bytes_per_run``: the growth of every table of the database with its
   indexes and TOAST (``pg_total_relation_size``) from the migrated empty
   schema to all parked, over the runs, as it is (dead tuples of the
   creation included); ``bytes_per_run_compact`` after ``VACUUM FULL``.
3. ``workers`` idle worker processes (4) then serve the database for
   ``idle_seconds``: ``queries_per_s_per_worker`` counts the statements
   they ran (``pg_stat_statements``, exact, the harness's own reads are
   from another database) and ``xacts_per_s_per_worker`` the database's
   transactions (``pg_stat_database``; backends report them within ~1 s,
   so the window is long); ``idle_cpu_per_worker`` from /proc.

Targets: <= 4 KB per parked run, <= 1 query per second per idle worker.
"""

from __future__ import annotations

import time
from typing import Any

import pg_server
import pg_workers
from measure import Options, cpu_seconds, summary, target, wait_flow

NAME = "pg_waiting"
KEYS = ("bytes_per_run", "queries_per_s_per_worker")

SIZE = """
SELECT coalesce(sum(pg_total_relation_size(c.oid)), 0) FROM pg_class c
JOIN pg_namespace n ON n.oid = c.relnamespace
WHERE c.relkind IN ('r', 'm', 'p')
  AND n.nspname NOT IN ('pg_catalog', 'information_schema') AND n.nspname NOT LIKE 'pg_toast%'
"""


def database_bytes(url: str) -> int:
    with pg_server.connect(url) as conn:
        return int(conn.execute(SIZE).fetchone()[0])


def statements(admin: Any, dbname: str) -> tuple[int, int]:
    """(statements run in ``dbname`` so far, its transactions so far)."""
    admin.execute("SELECT pg_stat_clear_snapshot()")
    calls = admin.execute(
        "SELECT coalesce(sum(calls), 0) FROM pg_stat_statements s "
        "JOIN pg_database d ON d.oid = s.dbid WHERE d.datname = %s",
        (dbname,),
    ).fetchone()[0]
    xacts = admin.execute(
        "SELECT xact_commit + xact_rollback FROM pg_stat_database WHERE datname = %s", (dbname,)
    ).fetchone()[0]
    return int(calls), int(xacts)


def top_statements(admin: Any, dbname: str, before: dict[str, int], seconds: float) -> Any:
    """The statements idle workers sent in the window, most frequent first."""
    now = calls_by_query(admin, dbname)
    rates = {q: (n - before.get(q, 0)) / seconds for q, n in now.items()}
    ranked = sorted(((r, q) for q, r in rates.items() if r > 0), reverse=True)
    return [{"query": q[:120], "per_s": round(r, 3)} for r, q in ranked[:8]]


def calls_by_query(admin: Any, dbname: str) -> dict[str, int]:
    rows = admin.execute(
        "SELECT query, calls FROM pg_stat_statements s "
        "JOIN pg_database d ON d.oid = s.dbid WHERE d.datname = %s",
        (dbname,),
    ).fetchall()
    out: dict[str, int] = {}
    for query, calls in rows:
        key = " ".join(str(query).split())
        out[key] = out.get(key, 0) + int(calls)
    return out


def run(options: Options) -> dict[str, Any]:
    runs = options.size("runs", 100_000, 2_000)
    idle = options.size("idle_seconds", 30, 5)
    workers = options.size("workers", 4, 2)
    server = pg_server.shared_server()
    url = server.create_database("wait")
    dbname = pg_server.dbname(url)
    flows = [wait_flow("timer"), wait_flow("signal")]
    with pg_workers.engine_on(url) as engine:
        registered = [engine.register(doc) for doc in flows]
        empty = database_bytes(url)
        started = time.perf_counter()
        for first in range(0, runs, 2000):
            size = min(2000, runs - first)
            engine.start_many(registered[0], [None] * ((size + 1) // 2))
            engine.start_many(registered[1], [None] * (size // 2))
        created = time.perf_counter()
        engine.run_until_idle()
        parked = time.perf_counter()
        waiting = len(engine.list_runs(status="waiting", limit=runs + 1))
    full = database_bytes(url)
    admin = pg_server.connect(server.url("postgres"))
    admin.execute("CREATE EXTENSION IF NOT EXISTS pg_stat_statements")
    fleet = pg_workers.Fleet(
        [{"kind": "wfdsl", "url": url, "flows": flows, "report": 1.0} for _ in range(workers)]
    )
    try:
        fleet.go()
        time.sleep(3.0)  # their first claims and sweeps, then idle
        cpu0 = [cpu_seconds(pid) for pid in fleet.pids]
        calls0, xacts0 = statements(admin, dbname)
        by_query = calls_by_query(admin, dbname)
        window = time.perf_counter()
        time.sleep(idle)
        calls1, xacts1 = statements(admin, dbname)
        seconds = time.perf_counter() - window
        idle_top = top_statements(admin, dbname, by_query, seconds * workers)
        cpu = [cpu_seconds(pid) - c for pid, c in zip(fleet.pids, cpu0, strict=True)]
    finally:
        fleet.finish()
    with pg_server.connect(url) as conn:
        conn.execute("VACUUM FULL")
    compact = database_bytes(url)
    admin.close()
    per_run = (full - empty) / runs
    qps = (calls1 - calls0) / seconds / workers
    return {
        "bytes_per_run": per_run,
        "bytes_per_run_compact": (compact - empty) / runs,
        "queries_per_s_per_worker": qps,
        "xacts_per_s_per_worker": (xacts1 - xacts0) / seconds / workers,
        "idle_cpu_per_worker": sum(cpu) / seconds / workers,
        "idle_statements_per_s_per_worker": idle_top,
        "start_s": parked - started,
        "create_s": created - started,
        "drive_s": parked - created,
        "parked": waiting,
        "sizes": {"runs": runs, "idle_seconds": idle, "workers": workers},
        "series": {"bytes_per_run": summary([per_run]), "queries_per_s": summary([qps])},
        "targets": {
            "bytes": target(per_run, below=4096.01, text="<= 4 KB in the database per parked run"),
            "idle_queries": target(qps, below=1.0001, text="<= 1 query/s per idle worker"),
        },
    }
