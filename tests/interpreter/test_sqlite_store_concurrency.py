"""Several store objects (connections, processes) on one file never share a run."""

from __future__ import annotations

import json
import subprocess
import sys
import threading
from collections import Counter
from dataclasses import replace
from pathlib import Path

from wfdsl.interpreter.store.records import Definition, RunRow, RunUpdate
from wfdsl.interpreter.store.sqlite.store import SqliteStore

DEFINITION = Definition("h", "wf", None, "")


def fill(path: str, count: int, *, status: str = "running") -> None:
    with SqliteStore(path, synchronous="NORMAL") as store:
        store.put_definition(DEFINITION)
        for number in range(count):
            run = RunRow(
                id=f"r{number:04d}",
                workflow="wf",
                version=None,
                definition_hash="h",
                status=status,  # type: ignore[arg-type]
                ready_at=float(number % 7),
            )
            store.create_run(run, (), now=0.0)


def claim_all(path: str, owner: str) -> list[str]:
    """Claim in small batches, parking each claimed run under its lease as an
    engine would (claim_ready hands back runs the owner holds that are still
    due), until nothing is left; the ids this owner got."""
    got: list[str] = []
    with SqliteStore(path, synchronous="NORMAL") as store:
        while True:
            claimed = store.claim_ready(owner, now=10.0, lease_seconds=1000, limit=7)
            if not claimed:
                return got
            got.extend(run.id for run, _ in claimed)
            parked = [
                RunUpdate(
                    run=replace(run, ready_at=None), expected_version=run.row_version, lease=lease
                )
                for run, lease in claimed
            ]
            assert {r.outcome for r in store.commit(parked, now=10.0)} == {"ok"}


def test_threads_with_their_own_connections_never_claim_the_same_run(tmp_path: Path) -> None:
    path = str(tmp_path / "wfdsl.db")
    fill(path, 300)
    results: dict[str, list[str]] = {}

    def worker(owner: str) -> None:
        results[owner] = claim_all(path, owner)

    threads = [threading.Thread(target=worker, args=(f"w{n}",)) for n in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    claimed = Counter(run_id for ids in results.values() for run_id in ids)
    assert len(claimed) == 300
    assert max(claimed.values()) == 1


CLAIMER = """
import json, sys
sys.path.insert(0, sys.argv[3])
from test_sqlite_store_concurrency import claim_all
print(json.dumps(claim_all(sys.argv[1], sys.argv[2])))
"""


def test_processes_never_claim_the_same_run(tmp_path: Path) -> None:
    path = str(tmp_path / "wfdsl.db")
    fill(path, 300)
    processes = [
        subprocess.Popen(
            [sys.executable, "-c", CLAIMER, path, f"p{n}", str(Path(__file__).parent)],
            stdout=subprocess.PIPE,
            text=True,
        )
        for n in range(3)
    ]
    results = []
    for process in processes:
        out, _ = process.communicate(timeout=120)
        assert process.returncode == 0
        results.append(json.loads(out))
    claimed = Counter(run_id for ids in results for run_id in ids)
    assert len(claimed) == 300
    assert max(claimed.values()) == 1


def test_messages_sent_by_another_connection_are_each_consumed_once(tmp_path: Path) -> None:
    """A driver parks a run after every message it consumes while another
    connection keeps sending: every message is consumed exactly once and the
    run is never left parked with a message waiting (no lost wake-up)."""
    path = str(tmp_path / "wfdsl.db")
    fill(path, 1, status="waiting")
    total = 150

    def sender() -> None:
        with SqliteStore(path, synchronous="NORMAL") as store:
            for number in range(total):
                store.send("r0000", "tick", number, now=20.0)

    thread = threading.Thread(target=sender)
    consumed: list[int] = []
    with SqliteStore(path, synchronous="NORMAL") as driver:
        thread.start()
        idle_rounds = 0
        while len(consumed) < total and idle_rounds < 10_000:
            claimed = driver.claim_ready("driver", now=30.0, lease_seconds=60, limit=1)
            if not claimed:
                idle_rounds += 1
                continue
            [(run, lease)] = claimed
            messages = driver.inbox(run.id)
            seen = max((m.seq for m in messages), default=0)
            # Consume what was read, then park (ready_at None) as a machine would.
            update = RunUpdate(
                run=replace(run, ready_at=None),
                expected_version=run.row_version,
                consumed=tuple(m.seq for m in messages),
                inbox_seen=seen,
                lease=lease,
            )
            assert driver.commit([update], now=30.0)[0].outcome == "ok"
            consumed.extend(m.data for m in messages)
        thread.join()
        # Whatever arrived after the last drive must have left the run ready.
        leftover = driver.inbox("r0000")
        final = driver.get_run("r0000")
        assert final is not None
        if leftover:
            assert final.ready_at is not None
            consumed.extend(m.data for m in leftover)
    assert sorted(consumed) == list(range(total))
