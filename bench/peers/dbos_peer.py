"""DBOS Transact on SQLite (or PostgreSQL, given ``url``), run inside the peers' venv (bench/peer_env.py).

Reads a JSON request on stdin, prints one JSON line:

- ``{"mode": "steps", "runs": N, "steps": S, "path": DB, "concurrent": true}``:
  N workflows of S no-op ``@DBOS.step`` s; ``concurrent`` starts them all with
  ``DBOS.start_workflow`` then waits for every result, else one after the
  other. Prints ``steps_per_s`` (launch excluded, workflows and steps included).
- ``{"mode": "waiting", "runs": N, "path": DB}``: N workflows each in a
  durable ``DBOS.sleep`` of a day; prints ``start_s`` (until every one has
  recorded its sleep) and ``rss_mb`` of this process.
"""

from __future__ import annotations

import json
import os
import sys
import time

from dbos import DBOS, DBOSConfig


def rss_mb() -> float:
    with open("/proc/self/status") as status:
        for line in status:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    return float("nan")


def main() -> None:
    request = json.loads(sys.stdin.read())
    config: DBOSConfig = {
        "name": "wfdsl-bench",
        # A PostgreSQL URL (``url``) or a SQLite file (``path``).
        "system_database_url": request.get("url") or f"sqlite:///{request['path']}",
        "log_level": "ERROR",
    }
    DBOS(config=config)
    steps = int(request.get("steps", 10))

    @DBOS.step()
    def noop() -> None:
        return None

    @DBOS.workflow()
    def ten_steps() -> int:
        for _ in range(steps):
            noop()
        return steps

    @DBOS.workflow()
    def sleeper() -> None:
        DBOS.sleep(86400)

    DBOS.launch()
    runs = int(request["runs"])
    result: dict[str, float] = {}
    if request["mode"] == "steps":
        started = time.perf_counter()
        if request.get("concurrent", True):
            handles = [DBOS.start_workflow(ten_steps) for _ in range(runs)]
            total = sum(h.get_result() for h in handles)
        else:
            total = sum(ten_steps() for _ in range(runs))
        elapsed = time.perf_counter() - started
        assert total == runs * steps, total
        result = {"steps_per_s": total / elapsed, "seconds": elapsed}
    else:
        started = time.perf_counter()
        handles = [DBOS.start_workflow(sleeper) for _ in range(runs)]
        # A sleeper has started once its sleep is recorded as a step.
        while True:
            waiting = [h for h in handles if not DBOS.list_workflow_steps(h.workflow_id)]
            if not waiting:
                break
            time.sleep(0.2)
        result = {"start_s": time.perf_counter() - started, "rss_mb": rss_mb()}
    print(json.dumps(result), flush=True)
    if request["mode"] == "waiting":
        # Sleeping workflows hold executor threads that never end: leave
        # without waiting for them (their state is on disk).
        os._exit(0)
    DBOS.destroy(destroy_registry=True)


if __name__ == "__main__":
    main()
