"""Crash takeover (interpreter/orphans.py, docs/operations.md "Crashes and
stops"): runs whose action was in flight when their worker was SIGKILLed
resume as soon as a worker is back, not a lease later, when the dead holder
is known: the same ``--owner`` restarted, or a default owner id of a process
of this host that no longer exists. A live worker's runs are never taken,
not even from a stopped (SIGSTOP) one, until its lease lapses.

The workers are real ``wfdsl worker`` processes on one store (a SQLite
file, then a PostgreSQL database); each call of
the ``charge`` action appends its idempotency key, process and time to a
ledger outside the database.
"""

from __future__ import annotations

import json
import os
import signal
import sqlite3
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import psycopg
import pytest
from wfdsl.interpreter.engine import Engine
from wfdsl.interpreter.orphans import default_owner, is_dead, parse_owner
from wfdsl.interpreter.store.sqlite.store import SqliteStore

FLOW = """
wfdsl: "1"
name: takeover
start: charge
states:
  charge: {type: task, action: charge, args: {}, result: receipt, next: done}
  done: {type: succeed, output: "${ vars.receipt }"}
"""

ACTIONS = """
import asyncio, json, os, time
import wfdsl

@wfdsl.action("charge")
async def charge(ctx: wfdsl.ActionContext) -> dict:
    entry = {"key": ctx.idempotency_key, "pid": os.getpid(), "t": time.time()}
    fd = os.open(os.environ["TAKEOVER_LEDGER"], os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
    try:
        os.write(fd, (json.dumps(entry) + "\\n").encode())
        os.fsync(fd)
    finally:
        os.close(fd)
    if os.environ.get("TAKEOVER_HANG"):
        await asyncio.sleep(3600)  # in flight until the process is killed
    return {"pid": os.getpid()}
"""

WFDSL = [sys.executable, "-c", "from wfdsl.cli import main; main()"]
RUNS = 20
# Longer than any test here can last: runs that complete did not wait for
# their leases to lapse. So no duration is asserted, on a loaded machine
# neither; the waits below time out only to turn a hang into a failure.
LONG_LEASE = 3600.0
HANG_GUARD = 120.0


class Store:
    """The test's side of the file: runs created, state read, ledger."""

    def __init__(self, folder: Path, url: str | None = None) -> None:
        self.folder = folder
        self.db = url or str(folder / "wf.db")
        self.postgres = "://" in self.db
        self.ledger_path = folder / "ledger"
        (folder / "takeoveractions.py").write_text(ACTIONS)
        with Engine(self.db) as engine:
            workflow = engine.register(FLOW)
            self.ids = [engine.start(workflow).id for _ in range(RUNS)]

    def ledger(self) -> list[dict[str, Any]]:
        if not self.ledger_path.exists():
            return []
        return [json.loads(line) for line in self.ledger_path.read_text().splitlines() if line]

    def runs(self) -> list[tuple[str, str, str | None, float | None]]:
        """(status, output, lease owner, lease end) of every run."""
        if self.postgres:
            with psycopg.connect(self.db, autocommit=True) as pg:
                return pg.execute(
                    "SELECT r.status, r.output, q.lease_owner, q.lease_expires_at "
                    "FROM runs r JOIN queue q ON q.run_key = r.key ORDER BY r.id"
                ).fetchall()
        conn = sqlite3.connect(self.db, timeout=30)
        try:
            return conn.execute(
                "SELECT status, output, lease_owner, lease_expires_at FROM runs ORDER BY id"
            ).fetchall()
        finally:
            conn.close()

    def write_lock_free(self) -> bool:
        """No transaction of another process is open (SQLite: its write lock)."""
        if self.postgres:
            with psycopg.connect(self.db, autocommit=True) as pg:
                row = pg.execute(
                    "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() "
                    "AND pid <> pg_backend_pid() AND xact_start IS NOT NULL"
                ).fetchone()
                return row is not None and row[0] == 0
        conn = sqlite3.connect(self.db, timeout=0.2, isolation_level=None)
        try:
            conn.execute("BEGIN IMMEDIATE")
            conn.execute("ROLLBACK")
            return True
        except sqlite3.OperationalError:
            return False
        finally:
            conn.close()

    @contextmanager
    def worker(
        self, *options: str, hang: bool, lease: float = LONG_LEASE
    ) -> Iterator[subprocess.Popen[str]]:
        env = {**os.environ, "PYTHONUNBUFFERED": "1", "TAKEOVER_LEDGER": str(self.ledger_path)}
        env.pop("WFDSL_DB", None)
        env.pop("TAKEOVER_HANG", None)
        if hang:
            env["TAKEOVER_HANG"] = "1"
        cmd = [*WFDSL, "worker", "--db", self.db, "--actions", "takeoveractions"]
        process = subprocess.Popen(
            [*cmd, "--lease", str(lease), *options],
            cwd=self.folder,
            env=env,
            text=True,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
        )
        try:
            yield process
        finally:
            if process.poll() is None:
                process.send_signal(signal.SIGCONT)
                process.send_signal(signal.SIGTERM)
            try:
                process.communicate(timeout=20)
            except subprocess.TimeoutExpired:
                process.kill()
                process.communicate()

    def crash_with_calls_in_flight(self, *options: str) -> str:
        """A worker starts every run's call, then is SIGKILLed; the owner
        name its leases carry."""
        with self.worker(*options, hang=True) as first:
            wait_for("every call in flight", lambda: len(self.ledger()) == RUNS, first)
            first.send_signal(signal.SIGKILL)
            first.wait()
        assert first.returncode == -signal.SIGKILL
        runs = self.runs()
        owners = {owner for _, _, owner, _ in runs}
        assert {status for status, _, _, _ in runs} == {"running"}
        assert len(owners) == 1
        # Left alone, nobody could resume these runs for about an hour.
        assert min(end for _, _, _, end in runs if end is not None) > time.time() + LONG_LEASE / 2
        (owner,) = owners
        assert owner is not None
        return owner

    def resume(self, *options: str) -> int:
        """A new worker on the file, once every run completed: its pid."""
        with self.worker(*options, hang=False) as second:
            wait_for("every run to complete", self.all_completed, second)
        return second.pid

    def all_completed(self) -> bool:
        return all(status == "completed" for status, _, _, _ in self.runs())


def wait_for(
    what: str, check: Any, process: subprocess.Popen[str], timeout: float = HANG_GUARD
) -> None:
    deadline = time.monotonic() + timeout
    while not check():
        if process.poll() is not None:
            _, err = process.communicate()
            raise AssertionError(f"the worker exited ({process.returncode}) before {what}: {err}")
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.05)


def assert_each_call_ran_again_in(store: Store, pid: int) -> None:
    """Every run completed by ``pid``, its call re-issued with the key the
    killed worker had used (at-least-once, same idempotency key)."""
    outputs = [json.loads(output) for _, output, _, _ in store.runs()]
    assert outputs == [{"pid": pid}] * RUNS
    calls = store.ledger()
    first = {e["key"] for e in calls if e["pid"] != pid}
    again = {e["key"] for e in calls if e["pid"] == pid}
    assert len(first) == RUNS
    assert again == first


@pytest.mark.slow
def test_a_worker_restarted_with_its_owner_name_resumes_its_runs_at_once(
    tmp_path: Path, store_url: str
) -> None:
    store = Store(tmp_path, store_url)
    owner = store.crash_with_calls_in_flight("--owner", "billing-worker")
    assert owner == "billing-worker"

    pid = store.resume("--owner", "billing-worker")

    # Completed at all: long before the hour's lease would have lapsed.
    assert_each_call_ran_again_in(store, pid)


@pytest.mark.slow
def test_runs_of_a_killed_worker_with_a_default_owner_resume_at_once(
    tmp_path: Path, store_url: str
) -> None:
    store = Store(tmp_path, store_url)
    owner = store.crash_with_calls_in_flight()
    assert parse_owner(owner) is not None  # host:pid:start:space:random

    pid = store.resume()

    assert_each_call_ran_again_in(store, pid)


@pytest.mark.slow
def test_a_running_worker_takes_over_from_a_peer_killed_beside_it(
    tmp_path: Path, store_url: str
) -> None:
    store = Store(tmp_path, store_url)
    with store.worker(hang=True) as doomed:
        wait_for("every call in flight", lambda: len(store.ledger()) == RUNS, doomed)
        with store.worker(hang=False) as survivor:
            # Past the survivor's start-up look: the peer was alive then.
            time.sleep(2)
            assert {e["pid"] for e in store.ledger()} == {doomed.pid}
            doomed.send_signal(signal.SIGKILL)
            doomed.wait()
            # Noticed by the survivor's periodic look, not the hour's lease.
            wait_for("every run to complete", store.all_completed, survivor)
    assert_each_call_ran_again_in(store, survivor.pid)


@pytest.mark.slow
def test_a_live_workers_runs_are_left_alone_until_its_lease_lapses(
    tmp_path: Path, store_url: str
) -> None:
    store = Store(tmp_path, store_url)
    lease = 5.0
    with store.worker(hang=True, lease=lease) as holder:
        wait_for("every call in flight", lambda: len(store.ledger()) == RUNS, holder)
        with store.worker(hang=False) as other:
            # The other worker looks for dead holders about once a second.
            time.sleep(3)
            assert other.poll() is None
            assert {e["pid"] for e in store.ledger()} == {holder.pid}
            assert {(s, o is not None) for s, _, o, _ in store.runs()} == {("running", True)}

            # Stopped, the holder is still alive: it no longer renews, and
            # its runs wait for its leases to lapse. (Stop it outside a
            # transaction, or the other worker would wait for the file.)
            for _ in range(50):
                holder.send_signal(signal.SIGSTOP)
                time.sleep(0.05)
                if store.write_lock_free():
                    break
                holder.send_signal(signal.SIGCONT)
                time.sleep(0.05)
            lease_end = min(end for _, _, _, end in store.runs() if end is not None)
            wait_for("every run to complete", store.all_completed, other, timeout=lease + 30)

        again = [e for e in store.ledger() if e["pid"] == other.pid]
        assert len(again) == RUNS
        assert min(e["t"] for e in again) >= lease_end
        holder.send_signal(signal.SIGKILL)


def test_only_a_process_that_is_certainly_gone_counts_as_dead() -> None:
    mine = default_owner()
    me = parse_owner(mine)
    assert me is not None and me.pid == os.getpid()
    assert not is_dead(mine)

    # Exited and reaped: no such process.
    child = subprocess.Popen([sys.executable, "-c", "pass"])
    stat = Path(f"/proc/{child.pid}/stat").read_text()
    start = stat.rpartition(")")[2].split()[19]
    child.wait()
    reaped = f"{me.host}:{child.pid}:{start}:{me.space}:0123abcd"
    assert is_dead(reaped)

    # Exited, not yet reaped (a zombie holds nothing).
    zombie = subprocess.Popen([sys.executable, "-c", "pass"])
    stat_path = Path(f"/proc/{zombie.pid}/stat")
    start = stat_path.read_text().rpartition(")")[2].split()[19]
    deadline = time.monotonic() + HANG_GUARD
    while stat_path.read_text().rpartition(")")[2].split()[0] != "Z":
        assert time.monotonic() < deadline
        time.sleep(0.01)
    assert is_dead(f"{me.host}:{zombie.pid}:{start}:{me.space}:0123abcd")
    zombie.wait()

    # The pid exists but belongs to a process started at another time.
    assert is_dead(f"{me.host}:{os.getpid()}:{me.start + 1}:{me.space}:0123abcd")

    # Never dead: a process elsewhere (another host, container or boot),
    # explicit names, ids that carry no start time.
    assert not is_dead(f"{me.host}:{child.pid}:{start}:{'0' * 12}:0123abcd")
    assert not is_dead("billing-worker")
    assert not is_dead(f"{me.host}:{child.pid}:0123abcd")


def test_release_orphans_frees_only_the_owners_named_gone(tmp_path: Path) -> None:
    store = SqliteStore(str(tmp_path / "wf.db"))
    engine = Engine(store=store)
    workflow = engine.register(FLOW)
    ids = [engine.start(workflow).id for _ in range(3)]
    now = time.time()
    leases = {
        run_id: store.claim(run_id, owner, now=now, lease_seconds=60)
        for run_id, owner in zip(ids, ["gone", "gone", "alive"], strict=True)
    }
    conn = sqlite3.connect(tmp_path / "wf.db", isolation_level=None)
    # In flight: ready when the lease ends; the third waits for a message only.
    conn.execute("UPDATE runs SET ready_at = ? WHERE id IN (?, ?)", (now + 60, ids[0], ids[2]))
    conn.execute("UPDATE runs SET ready_at = NULL WHERE id = ?", (ids[1],))
    asked: list[str] = []

    def orphaned(owner: str) -> bool:
        asked.append(owner)
        return owner == "gone"

    assert store.release_orphans(orphaned, now=now + 1) == {"gone": 2}
    assert sorted(asked) == ["alive", "gone"]
    rows = {r[0]: r[1:] for r in conn.execute("SELECT id, lease_owner, ready_at FROM runs")}
    assert rows[ids[0]] == (None, now + 1)
    assert rows[ids[1]] == (None, None)
    assert rows[ids[2]] == ("alive", now + 60)
    # A freed run is claimed again with a new generation: the dead holder's
    # commits are refused.
    before = leases[ids[0]]
    again = store.claim(ids[0], "next", now=now + 1, lease_seconds=60)
    assert before is not None and again is not None
    assert again.generation > before.generation
    conn.close()
    engine.close()
