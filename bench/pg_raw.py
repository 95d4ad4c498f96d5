"""The raw-PostgreSQL limit of the ``pg_concurrent`` scenario: the SQL a
wfdsl worker sends per tick on the PostgreSQL store, with no interpretation.

The database and its runs are made by wfdsl itself (the store's schema, the
runs ``Engine.start_many`` creates, so rows have their real size); then
``processes`` worker processes each loop, with raw psycopg on the store's
tables and the statements of ``interpreter/store/postgres``:

1. claim (one transaction): ``WITH chosen AS (SELECT ... FROM queue WHERE
   ready_at <= now AND needs_action IS NULL AND <lease free> ORDER BY
   ready_at LIMIT n FOR UPDATE SKIP LOCKED) UPDATE queue ... RETURNING``,
   then read the claimed runs' rows;
2. one group commit per step of the claimed batch: lock the batch's queue
   rows in key order (``FOR UPDATE``), read the heads (version, lease
   owner and generation, newest unconsumed message) in a second statement,
   check them, update every run row (vars, state, search, version + 1) and
   queue row (``ready_at``) in ONE statement (the store's ``unnest`` of one
   binary array per column, ``commit.write_rows``), append the step's events
   (``state_entered``, ``action_started``, ``action_completed`` a run: what
   a no-op task step writes) with one binary COPY;
3. the last step's write completes the runs and ends their leases (the
   ``release`` column of the same ``unnest``, as a wfdsl commit of a run it
   keeps nothing of does): no release transaction.

What it leaves out is exactly wfdsl's own work: the machine, the driver's
bookkeeping, building rows and JSON text, the reads a tick makes besides
these. Figures: steps per second over all processes, from the go.
"""

from __future__ import annotations

import json
import os
import sys
import time

CLAIM = """
WITH chosen AS (
    SELECT q.run_key, q.ready_at FROM queue q
    WHERE q.ready_at <= %(now)s AND q.needs_action IS NULL
      AND (q.lease_owner IS NULL OR q.lease_expires_at <= %(now)s
           OR q.lease_owner = %(owner)s)
    ORDER BY q.ready_at LIMIT %(limit)s FOR UPDATE SKIP LOCKED)
UPDATE queue q SET lease_generation = CASE WHEN q.lease_owner = %(owner)s
        THEN q.lease_generation ELSE q.lease_generation + 1 END,
    lease_owner = %(owner)s, lease_expires_at = %(expires)s
FROM chosen WHERE q.run_key = chosen.run_key
RETURNING q.run_key, q.lease_generation
"""

READ_RUNS = """
SELECT r.key, r.id, r.vars, r.state, r.search, r.row_version,
    (SELECT max(e.seq) FROM events e WHERE e.run_key = r.key)
FROM runs r JOIN queue q ON q.run_key = r.key WHERE r.key = ANY(%b::int8[])
"""

LOCK = """
SELECT run_key FROM queue WHERE run_key IN
    (SELECT key FROM runs WHERE id = ANY(%b::text[])) ORDER BY run_key FOR UPDATE
"""

HEADS = """
SELECT r.id, r.key, r.row_version, r.status, q.lease_owner, q.lease_generation,
    (SELECT max(i.seq) FROM inbox i WHERE i.run_key = r.key AND NOT i.consumed),
    r.parent_run
FROM runs r JOIN queue q ON q.run_key = r.key
WHERE r.key = ANY(%b::int8[]) AND r.id IS NOT NULL
"""

COPY = "COPY events (run_key, seq, type, time, state, data) FROM STDIN (FORMAT BINARY)"


def prepare(url: str, runs: int, steps: int) -> None:
    """The store's schema and ``runs`` ready runs of the ``steps``-step flow,
    made by wfdsl."""
    import pg_workers
    from measure import task_flow

    with pg_workers.engine_on(url) as engine:
        workflow = engine.register(task_flow(steps))
        for first in range(0, runs, 1000):
            engine.start_many(workflow, [None] * min(1000, runs - first))
    import pg_server

    with pg_server.connect(url) as conn:
        conn.execute("VACUUM ANALYZE")


def work(url: str, owner: str, steps: int, limit: int) -> int:
    """Claim batches until none is left; returns how many steps this process
    committed."""
    import pg_server
    from wfdsl.interpreter.store.postgres.commit import write_rows

    done = 0
    with pg_server.connect(url) as conn:
        conn.autocommit = False
        cur = conn.cursor()
        while True:
            now = time.time()
            cur.execute(CLAIM, {"owner": owner, "now": now, "limit": limit, "expires": now + 30})
            generations = dict(cur.fetchall())
            if not generations:
                conn.commit()
                return done
            cur.execute(READ_RUNS, (list(generations),))
            rows = {key: list(rest) for key, *rest in cur.fetchall()}
            conn.commit()
            keys = sorted(rows)
            ids = [rows[k][0] for k in keys]
            seq = {k: int(rows[k][5] or 0) + 1 for k in keys}
            for step in range(steps):
                now = time.time()
                last = step == steps - 1
                cur.execute(LOCK, (ids,))
                cur.fetchall()
                cur.execute(HEADS, (keys,))
                heads = {row[1]: row for row in cur.fetchall()}
                run_rows, events = [], []
                for key in keys:
                    _, vars_, state, search, version, _ = rows[key]
                    head = heads[key]
                    if head[4] != owner or head[5] != generations[key] or head[2] != version:
                        raise RuntimeError(f"{owner}: lost the lease or version of {key}")
                    status = "completed" if last else "running"
                    run_rows.append(
                        (
                            key,
                            status,
                            vars_,
                            None,
                            None,
                            now if last else None,
                            state,
                            search,
                            version + 1,
                            None if last else now,
                            None,
                            last,  # the last step's write ends the lease, as wfdsl's does
                        )
                    )
                    rows[key][4] = version + 1
                    call = json.dumps({"call_id": f"{key}-{step}", "action": "noop"})
                    n = seq[key]
                    events += [
                        (key, n, "state_entered", now, f"s{step}", None),
                        (key, n + 1, "action_started", now, f"s{step}", call),
                        (key, n + 2, "action_completed", now, f"s{step}", '{"result":null}'),
                    ]
                    seq[key] = n + 3
                write_rows(cur, run_rows)
                with cur.copy(COPY) as copy:
                    copy.set_types(["int8", "int4", "text", "float8", "text", "text"])
                    for event in events:
                        copy.write_row(event)
                conn.commit()
                done += len(keys)


def child() -> None:
    """A worker process: reads ``{"url", "owner", "steps", "limit"}``, says
    ready, waits for a line on stdin, works, prints its step count."""
    request = json.loads(sys.stdin.readline())
    import psycopg  # noqa: F401  (imported before the start line)

    print(json.dumps({"ready": os.getpid()}), flush=True)
    sys.stdin.readline()
    started = time.perf_counter()
    steps = work(request["url"], request["owner"], request["steps"], request["limit"])
    print(json.dumps({"steps": steps, "seconds": time.perf_counter() - started}), flush=True)


if __name__ == "__main__":
    sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
    child()
