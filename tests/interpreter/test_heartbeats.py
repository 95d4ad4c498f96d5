"""Heartbeats (issue 13 §1 "Orphans"): a driving engine records that it is
alive about once a second, in the store's clock, so a killed worker's runs
are taken over by the silence of its heartbeat, on any host and under any
owner name, within seconds rather than a lease later. A default owner of
this host is still judged by its pid (a stopped process keeps its runs)."""

from __future__ import annotations

import os
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import pytest
from wfdsl.interpreter.engine import Engine
from wfdsl.interpreter.orphans import (
    IDLE_AFTER,
    IDLE_SWEEP_INTERVAL,
    SILENT_AFTER,
    SWEEP_INTERVAL,
    Orphans,
    default_owner,
)
from wfdsl.interpreter.store.records import Definition, RunRow
from wfdsl.interpreter.store.sqlite.store import SqliteStore

FLOW = """
wfdsl: "1"
name: beats
start: charge
states:
  charge: {type: task, action: charge, args: {}, result: receipt, next: done}
  done: {type: succeed, output: "${ vars.receipt }"}
"""

ACTIONS = """
import asyncio, os
import wfdsl

@wfdsl.action("charge")
async def charge() -> dict:
    open(os.environ["BEATS_MARK"], "a").write("x")
    await asyncio.sleep(3600)  # in flight until the process is killed
    return {"by": "doomed"}
"""

WFDSL = [sys.executable, "-c", "from wfdsl.cli import main; main()"]
HANG_GUARD = 120.0
DOOMED = ("--owner", "far-host-worker", "--lease", "3600")


def test_a_store_names_the_owners_whose_heartbeat_stopped(tmp_path: Path) -> None:
    with SqliteStore(str(tmp_path / "runs.db")) as store:
        store.beat("a", now=10.0)
        store.beat("b", now=10.0)
        store.beat("b", now=14.0)
        assert store.silent_owners(before=12.0) == {"a"}
        assert store.silent_owners(before=20.0) == {"a", "b"}
        store.retire(["a"])
        assert store.silent_owners(before=20.0) == {"b"}
        assert store.silent_owners(before=5.0) == set()  # nobody silent that long


def _leased_run(store: SqliteStore, owner: str) -> None:
    store.put_definition(Definition("h", "wf", None, ""))
    store.create_run(
        RunRow(id="r", workflow="wf", version=None, definition_hash="h", status="running"),
        (),
        now=100.0,
    )
    assert store.claim("r", owner, now=100.0, lease_seconds=3600) is not None


def test_an_owner_elsewhere_is_dead_once_silent_for_the_threshold_not_before(
    tmp_path: Path,
) -> None:
    store = SqliteStore(str(tmp_path / "runs.db"))
    _leased_run(store, "far-host-worker")
    store.beat("far-host-worker", now=100.0)
    now = [100.0 + SILENT_AFTER - 0.5]
    looking = Orphans(store, "survivor", restart=False, now=lambda: now[0])
    assert looking.sweep(now[0]) == {}  # still within its beats
    now[0] = 100.0 + SILENT_AFTER + 0.5
    looking._next_sweep = 0.0  # the next periodic look
    assert looking.sweep(now[0]) == {"far-host-worker": 1}
    assert store.silent_owners(before=1e12) == set()  # forgotten once taken over
    store.close()


def test_a_stopped_process_of_this_host_keeps_its_runs_whatever_its_heartbeat(
    tmp_path: Path,
) -> None:
    store = SqliteStore(str(tmp_path / "runs.db"))
    alive = default_owner()  # this very process: alive, though it never beats again
    _leased_run(store, alive)
    store.beat(alive, now=100.0)
    looking = Orphans(store, "survivor", restart=False, now=lambda: 1000.0)
    assert looking.sweep(1000.0) == {}
    store.close()


@pytest.mark.slow
def test_a_killed_worker_elsewhere_is_taken_over_by_its_silence_not_its_lease(
    tmp_path: Path,
) -> None:
    db = tmp_path / "runs.db"
    mark = tmp_path / "mark"
    (tmp_path / "beatsactions.py").write_text(ACTIONS)
    with Engine(db) as engine:
        workflow = engine.register(FLOW)
        ids = [engine.start(workflow).id for _ in range(5)]
    env = {**os.environ, "PYTHONUNBUFFERED": "1", "BEATS_MARK": str(mark)}
    env.pop("WFDSL_DB", None)
    # An explicit owner name: no pid to check, as for a worker on another host.
    doomed = subprocess.Popen(
        [*WFDSL, "worker", "--db", str(db), "--actions", "beatsactions", *DOOMED],
        cwd=tmp_path,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    try:
        deadline = time.monotonic() + HANG_GUARD
        while not (mark.exists() and len(mark.read_text()) == len(ids)):
            assert doomed.poll() is None, doomed.communicate()
            assert time.monotonic() < deadline, "the worker never started its calls"
            time.sleep(0.05)
        conn = sqlite3.connect(db, timeout=30)
        beats = conn.execute("SELECT owner FROM workers").fetchall()
        leases = conn.execute("SELECT DISTINCT lease_owner, lease_expires_at FROM runs").fetchall()
        conn.close()
        assert beats == [("far-host-worker",)]
        assert {owner for owner, _ in leases} == {"far-host-worker"}
        # Nobody could take these runs for an hour by their leases.
        assert min(end for _, end in leases) > time.time() + 1800
    finally:
        doomed.send_signal(signal.SIGKILL)
        doomed.communicate()

    with Engine(db, owner="survivor", lease_seconds=3600) as survivor:

        @survivor.action("charge")
        def charge() -> dict[str, str]:
            return {"by": "survivor"}

        done = [survivor.run_until_complete(i, timeout=HANG_GUARD) for i in ids]
    assert [run.output for run in done] == [{"by": "survivor"}] * len(ids)


def test_an_idle_engine_stops_beating_and_beats_again_before_it_claims(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """An idle worker's heartbeat was a query a second for nobody (it holds
    no lease to judge): it forgets its row instead, and beats first thing
    before its next claim, so its new leases are judged by a fresh beat."""
    store = SqliteStore(str(tmp_path / "runs.db"))
    tick = [1000.0]
    monkeypatch.setattr("wfdsl.interpreter.orphans.time.monotonic", lambda: tick[0])
    holding = [True]
    beats = Orphans(
        store, "worker-1", restart=False, now=lambda: tick[0], holding=lambda: holding[0]
    )
    beats.beat_once()
    assert store.silent_owners(before=1e12) == {"worker-1"}  # busy: it beats
    holding[0] = False
    tick[0] += IDLE_AFTER - 0.5
    beats.beat_once()  # lately busy: still beats
    assert store.silent_owners(before=1e12) == {"worker-1"}
    tick[0] += 1.0
    beats.beat_once()  # idle: the row goes, and nothing more is written
    assert store.silent_owners(before=1e12) == set()
    beats.beat_once()
    assert store.silent_owners(before=1e12) == set()
    tick[0] += 1.0
    beats.before_claim()  # about to hold leases again: a fresh beat first
    assert store.silent_owners(before=tick[0] - 0.5) == set()
    assert store.silent_owners(before=tick[0] + 0.5) == {"worker-1"}
    store.close()


def test_an_idle_engine_looks_for_dead_workers_less_often(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    store = SqliteStore(str(tmp_path / "runs.db"))
    tick = [1000.0]
    monkeypatch.setattr("wfdsl.interpreter.orphans.time.monotonic", lambda: tick[0])
    holding = [True]
    looking = Orphans(store, "w", restart=False, now=lambda: 1.0, holding=lambda: holding[0])
    looking.sweep(1.0)
    assert looking.next_sweep_in() == SWEEP_INTERVAL
    holding[0] = False
    tick[0] += IDLE_AFTER
    looking.sweep(1.0)
    assert looking.next_sweep_in() == IDLE_SWEEP_INTERVAL
    store.close()
