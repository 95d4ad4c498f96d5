"""SqliteStore throughput and footprint, beside raw sqlite3 baselines (not a test).

    python bench/store_raw.py [--dir DIR] [--steps 20000] [--parked 20000]

Prints, for synchronous FULL and NORMAL on a file in DIR (default: a temp dir
under the current directory, so the disk is the project's, not a tmpfs):

- store commits/s and steps/s with 1 run update per commit and 100 per
  commit (each update: run row + 2 events, search unchanged, under a lease);
- raw baselines in the same run: plain sqlite3 INSERT (one event row) plus
  UPDATE (one run row) per step, 1 and 100 steps per commit, same PRAGMAs;
- bytes per parked run: a typical run waiting on a signal or a timer after 7
  history events, measured as file growth over N such runs.
"""

from __future__ import annotations

import argparse
import os
import shutil
import sqlite3
import tempfile
import time
from dataclasses import replace

from wfdsl.interpreter.store.records import Definition, Event, RunRow, RunUpdate
from wfdsl.interpreter.store.sqlite.store import SqliteStore

STATE = {
    "seq": 7,
    "threads": [
        {
            "id": "0",
            "at": "wait_for_click",
            "ph": "waiting",
            "t0": 1767225600.25,
            "visits": {"send_verification": 1, "wait_for_click": 1},
            "wait": {"any": [{"signal": "verified", "as": "verification"}, {"timer": 86400.0}]},
            "due": 1767312000.25,
        }
    ],
}
VARS = {"status": "waiting", "reminders": 0}
INPUT = {"email": "someone.with.a.long.name@example.com"}


def typical_run(number: int, *, timer: bool) -> RunRow:
    return RunRow(
        id=f"signup-{number:08d}-3f2a9c",
        workflow="user-signup",
        version="2",
        definition_hash="9" * 64,
        status="waiting",
        input=INPUT,
        vars=VARS,
        started_at=1767225600.0 + number,
        ready_at=1767312000.0 + number if timer else None,
        state=STATE,
        search={"email": INPUT["email"], "status": "waiting"},
    )


def typical_history(run_id: str) -> list[Event]:
    t = 1767225600.0
    return [
        Event(run_id=run_id, seq=1, type="run_started", time=t, data={"input": INPUT}),
        Event(run_id=run_id, seq=2, type="state_entered", time=t, state="send_verification"),
        Event(
            run_id=run_id,
            seq=3,
            type="action_started",
            time=t,
            state="send_verification",
            data={
                "action": "email.send",
                "attempt": 1,
                "idempotency_key": f"{run_id}/send_verification/1",
            },
        ),
        Event(
            run_id=run_id,
            seq=4,
            type="action_completed",
            time=t + 0.2,
            state="send_verification",
            data={"result": {"id": "msg-81723"}},
        ),
        Event(
            run_id=run_id,
            seq=5,
            type="vars_changed",
            time=t + 0.2,
            state="send_verification",
            data={"status": "waiting"},
        ),
        Event(run_id=run_id, seq=6, type="state_entered", time=t + 0.2, state="wait_for_click"),
        Event(
            run_id=run_id,
            seq=7,
            type="timer_started",
            time=t + 0.2,
            state="wait_for_click",
            data={"due": t + 86400.2},
        ),
    ]


def definition() -> Definition:
    return Definition("9" * 64, "user-signup", "2", "wfdsl: '1'\n" * 50, created_at=1.0)


def bench_store(path: str, sync: str, steps: int, per_commit: int) -> float:
    """Steps per second through SqliteStore.commit."""
    runs = max(per_commit, 100)
    store = SqliteStore(path, synchronous=sync)
    store.put_definition(definition())
    rows = {}
    for number in range(runs):
        run = replace(typical_run(number, timer=True), status="running", ready_at=0.0)
        rows[run.id] = store.create_run(run, typical_history(run.id)[:1], now=0.0)
    leases = {
        r.id: lease
        for r, lease in store.claim_ready("bench", now=1.0, lease_seconds=1e9, limit=runs)
    }
    ids = list(rows)
    seqs = dict.fromkeys(ids, 1)
    done = 0
    started = time.perf_counter()
    while done < steps:
        batch = [ids[(done + i) % runs] for i in range(per_commit)]
        updates = []
        for run_id in batch:
            row = rows[run_id]
            seq = seqs[run_id]
            new = replace(row, vars={"status": "running", "step": done}, ready_at=0.0)
            events = (
                Event(run_id=run_id, seq=seq + 1, type="state_entered", time=2.0, state="a"),
                Event(
                    run_id=run_id,
                    seq=seq + 2,
                    type="action_completed",
                    time=2.0,
                    state="a",
                    data={"result": {"ok": True}},
                ),
            )
            updates.append(
                RunUpdate(
                    run=new, expected_version=row.row_version, events=events, lease=leases[run_id]
                )
            )
        results = store.commit(updates, now=2.0)
        for update, result in zip(updates, results, strict=True):
            assert result.outcome == "ok", result
            rows[update.run.id] = replace(update.run, row_version=result.row_version)
            seqs[update.run.id] += 2
        done += per_commit
    elapsed = time.perf_counter() - started
    store.close()
    return done / elapsed


def bench_raw(path: str, sync: str, steps: int, per_commit: int) -> float:
    """Steps per second for one INSERT plus one UPDATE per step, raw sqlite3."""
    conn = sqlite3.connect(path, isolation_level=None)
    conn.execute("PRAGMA journal_mode = WAL")
    conn.execute(f"PRAGMA synchronous = {sync}")
    conn.execute("CREATE TABLE r (key INTEGER PRIMARY KEY, vars TEXT, v INTEGER)")
    conn.execute(
        "CREATE TABLE e (k INTEGER, seq INTEGER, data TEXT, PRIMARY KEY (k, seq)) WITHOUT ROWID"
    )
    conn.executemany("INSERT INTO r VALUES (?, '{}', 0)", [(k,) for k in range(100)])
    done = 0
    started = time.perf_counter()
    while done < steps:
        conn.execute("BEGIN IMMEDIATE")
        for i in range(per_commit):
            step = done + i
            conn.execute(
                "INSERT INTO e VALUES (?, ?, ?)", (step % 100, step, '{"result":{"ok":true}}')
            )
            conn.execute(
                "UPDATE r SET vars = ?, v = v + 1 WHERE key = ?", (f'{{"step":{step}}}', step % 100)
            )
        conn.execute("COMMIT")
        done += per_commit
    elapsed = time.perf_counter() - started
    conn.close()
    return done / elapsed


def file_bytes(path: str) -> int:
    return sum(os.path.getsize(p) for p in (path, path + "-wal") if os.path.exists(p))


def bytes_per_parked_run(path: str, count: int) -> tuple[float, dict[str, float]]:
    store = SqliteStore(path, synchronous="NORMAL")
    store.put_definition(definition())
    conn = store._conn
    assert conn is not None
    conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    before = file_bytes(path)
    for number in range(count):
        run = typical_run(number, timer=number % 2 == 0)
        store.create_run(run, typical_history(run.id), now=0.0)
    conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    after = file_bytes(path)
    per_object: dict[str, float] = {}
    try:
        for name, size in conn.execute("SELECT name, sum(pgsize) FROM dbstat GROUP BY name"):
            per_object[name] = size / count
    except sqlite3.Error:  # dbstat is a compile-time option of SQLite
        pass
    store.close()
    return (after - before) / count, per_object


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--dir", default=None)
    parser.add_argument("--steps", type=int, default=20000)
    parser.add_argument("--parked", type=int, default=20000)
    args = parser.parse_args()
    workdir = args.dir or tempfile.mkdtemp(prefix="wfdsl-bench-", dir=".")
    print(f"SQLite {sqlite3.sqlite_version}, files in {workdir}")
    try:
        for sync in ("FULL", "NORMAL"):
            for per_commit in (1, 100):
                steps = args.steps if per_commit > 1 else max(args.steps // 20, 200)
                tag = f"{sync.lower()}-{per_commit}"
                store_rate = bench_store(
                    os.path.join(workdir, f"store-{tag}.db"), sync, steps, per_commit
                )
                raw_rate = bench_raw(
                    os.path.join(workdir, f"raw-{tag}.db"), sync, steps, per_commit
                )
                print(
                    f"{sync:6} {per_commit:3}/commit: store {store_rate:9.0f} steps/s "
                    f"({store_rate / per_commit:8.0f} commits/s) | raw INSERT+UPDATE "
                    f"{raw_rate:9.0f} steps/s ({raw_rate / per_commit:8.0f} commits/s)"
                )
        per_run, per_object = bytes_per_parked_run(os.path.join(workdir, "parked.db"), args.parked)
        print(
            f"parked run (7 events, 2 search attributes, half on a timer): {per_run:.0f} bytes/run"
        )
        for name, size in sorted(per_object.items(), key=lambda item: -item[1]):
            if size >= 1:
                print(f"  {name:28} {size:7.0f} bytes/run")
    finally:
        if args.dir is None:
            shutil.rmtree(workdir, ignore_errors=True)


if __name__ == "__main__":
    main()
