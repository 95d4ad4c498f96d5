"""The raw-PostgreSQL limit of the ``pg_concurrent`` scenario: the SQL a
wfdsl worker sends per tick, with no interpretation in between.

A wide ``runs`` table (vars, state, search as jsonb, a row version), a
narrow ``queue`` table beside it (ready time, lease owner, generation,
expiry) and ``events``. ``processes`` worker processes each loop:

1. claim: ``UPDATE queue ... WHERE key IN (SELECT ... WHERE ready_at <= now
   AND (owner IS NULL OR expires < now) ORDER BY ready_at LIMIT n FOR UPDATE
   SKIP LOCKED) RETURNING key, generation`` (one transaction);
2. one group commit per step of the claimed batch: lock the batch's queue
   rows in key order (``FOR UPDATE``) checking owner and generation, update
   every run row (vars, state, version + 1) from arrays, insert the step's
   events (``state_entered``, ``action_started``, ``action_completed`` a run:
   what a no-op task step writes) from arrays, and set ``ready_at``;
3. after the last step: the runs are completed and their queue rows
   released (deleted: a finished run leaves the queue).

Binary parameters with ``unnest`` of arrays, as the research note found
fastest with psycopg 3. Figures: transitions (steps) per second over all
processes, from the moment every process was told to go.
"""

from __future__ import annotations

import json
import os
import sys
import time

SCHEMA = """
CREATE TABLE runs (
    key bigint PRIMARY KEY,
    id text NOT NULL,
    workflow text NOT NULL,
    status text NOT NULL,
    row_version bigint NOT NULL,
    input jsonb,
    vars jsonb,
    state jsonb,
    search jsonb,
    started_at double precision NOT NULL,
    ended_at double precision
);
CREATE TABLE queue (
    key bigint PRIMARY KEY REFERENCES runs (key),
    ready_at double precision,
    owner text,
    generation bigint NOT NULL DEFAULT 0,
    expires double precision
) WITH (fillfactor = 70);
CREATE INDEX queue_ready ON queue (ready_at);
CREATE TABLE events (
    run_key bigint NOT NULL,
    seq integer NOT NULL,
    type text NOT NULL,
    state text,
    time double precision NOT NULL,
    data jsonb,
    PRIMARY KEY (run_key, seq)
);
"""

CLAIM = """
UPDATE queue q SET owner = %(owner)s, generation = q.generation + 1,
    expires = %(now)s + 30
WHERE q.key IN (
    SELECT key FROM queue
    WHERE ready_at <= %(now)s AND (owner IS NULL OR expires < %(now)s)
    ORDER BY ready_at LIMIT %(limit)s FOR UPDATE SKIP LOCKED)
RETURNING q.key, q.generation
"""

LOCK = """
SELECT key FROM queue WHERE key = ANY(%(keys)s) AND owner = %(owner)s
ORDER BY key FOR UPDATE
"""

UPDATE_RUNS = """
UPDATE runs r SET vars = u.vars, state = u.state, status = u.status,
    row_version = r.row_version + 1, ended_at = u.ended_at
FROM unnest(%(keys)s::bigint[], %(vars)s::jsonb[], %(states)s::jsonb[],
            %(statuses)s::text[], %(ended)s::float8[])
    AS u(key, vars, state, status, ended_at)
WHERE r.key = u.key
"""

INSERT_EVENTS = """
INSERT INTO events (run_key, seq, type, state, time, data)
SELECT * FROM unnest(%(keys)s::bigint[], %(seqs)s::int[], %(types)s::text[],
                     %(states)s::text[], %(times)s::float8[], %(data)s::jsonb[])
"""

READY = "UPDATE queue SET ready_at = %(now)s WHERE key = ANY(%(keys)s)"
DONE = "DELETE FROM queue WHERE key = ANY(%(keys)s) AND owner = %(owner)s"


def prepare(url: str, runs: int) -> None:
    """The schema and ``runs`` ready runs."""
    import pg_server
    from psycopg.types.json import Jsonb

    with pg_server.connect(url) as conn:
        conn.execute("DROP TABLE IF EXISTS events, queue, runs")
        conn.execute(SCHEMA)
        with conn.transaction(), conn.cursor() as cur:
            cur.executemany(
                "INSERT INTO runs VALUES (%s, %s, 'bench-10', 'running', 1, NULL, %s, %s,"
                " NULL, %s, NULL)",
                [
                    (k, f"run-{k:06d}", Jsonb({}), Jsonb({"at": "s0"}), time.time())
                    for k in range(runs)
                ],
            )
            cur.executemany(
                "INSERT INTO queue (key, ready_at) VALUES (%s, 0)", [(k,) for k in range(runs)]
            )
        conn.execute("VACUUM ANALYZE")


def work(url: str, owner: str, steps: int, limit: int) -> int:
    """Claim batches until none is left; returns how many steps this process
    committed."""
    import pg_server
    from psycopg.types.json import Jsonb

    done = 0
    with pg_server.connect(url, prepare_threshold=0) as conn:
        conn.autocommit = False
        cur = conn.cursor(binary=True)
        while True:
            now = time.time()
            cur.execute(CLAIM, {"owner": owner, "now": now, "limit": limit})
            claimed = cur.fetchall()
            conn.commit()
            if not claimed:
                return done
            keys = [k for k, _ in claimed]
            seq = 1
            for step in range(steps):
                now = time.time()
                last = step == steps - 1
                cur.execute(LOCK, {"keys": keys, "owner": owner})
                if len(cur.fetchall()) != len(keys):
                    conn.rollback()
                    raise RuntimeError(f"{owner}: lost a lease")
                n = len(keys)
                cur.execute(
                    UPDATE_RUNS,
                    {
                        "keys": keys,
                        "vars": [Jsonb({"step": step}) for _ in keys],
                        "states": [Jsonb({"at": f"s{step + 1}", "seq": seq + 2}) for _ in keys],
                        "statuses": ["completed" if last else "running"] * n,
                        "ended": [now if last else None] * n,
                    },
                )
                event_keys = [k for k in keys for _ in range(3)]
                cur.execute(
                    INSERT_EVENTS,
                    {
                        "keys": event_keys,
                        "seqs": [seq + i for _ in keys for i in range(3)],
                        "types": ["state_entered", "action_started", "action_completed"] * n,
                        "states": [f"s{step}"] * (3 * n),
                        "times": [now] * (3 * n),
                        "data": [
                            Jsonb(d)
                            for _ in keys
                            for d in (
                                None,
                                {"action": "noop", "attempt": 1, "call_id": f"c{step}"},
                                {"result": None, "call_id": f"c{step}"},
                            )
                        ],
                    },
                )
                seq += 3
                if last:
                    cur.execute(DONE, {"keys": keys, "owner": owner})
                else:
                    cur.execute(READY, {"keys": keys, "now": now})
                conn.commit()
                done += n


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
