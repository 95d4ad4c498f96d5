"""``wfdsl worker [FLOW|DIR]...`` (docs/cli.md) as a real process: it drives
runs other processes submit and signal, registers flows so their schedules
fire, stops cleanly on SIGTERM, and hands abandoned actions over at once."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from wfdsl.interpreter.engine import Engine
from wfdsl.interpreter.engine_loop import Driver
from wfdsl.interpreter.schedules import INDEX_KEY

WFDSL = [sys.executable, "-c", "from wfdsl.cli import main; main()"]

ACTIONS = """
import os, time
import wfdsl.interpreter.actions.registry as a

@a.action("double")
def double(x: int) -> int:
    return 2 * x

@a.action("gated")
def gated(ledger: str, gate: str) -> str:
    # Records that it started, then runs until the test opens the gate.
    with open(ledger, "a") as f:
        f.write("started\\n")
    while not os.path.exists(gate):
        time.sleep(0.01)
    return "done"

@a.action("slow_once")
def slow_once(marker: str) -> str:
    # The first attempt hangs for an hour (the worker is stopped meanwhile);
    # a re-run is quick.
    if not os.path.exists(marker):
        open(marker, "w").close()
        time.sleep(3600)
    return "done"
"""

DOUBLER = """
wfdsl: "1"
name: doubler
start: go
states:
  go: {type: task, action: double, args: {x: "${ input.x }"}, result: y, next: fin}
  fin: {type: succeed, output: "${ vars.y }"}
"""

WAITER = """
wfdsl: "1"
name: waiter
signals: {go: {}}
start: w
states:
  w: {type: wait, signal: go, as: got, next: fin}
  fin: {type: succeed, output: "${ vars.got }"}
"""

SLOW = """
wfdsl: "1"
name: slow
start: go
states:
  go: {type: task, action: slow_once, args: {marker: "${ input.marker }"}, result: r, next: fin}
  fin: {type: succeed, output: "${ vars.r }"}
"""

GATED = """
wfdsl: "1"
name: gated
start: go
states:
  go: {type: task, action: gated, args: {ledger: "${ input.ledger }", gate: "${ input.gate }"}, end: true}
"""

NIGHTLY = """
wfdsl: "1"
name: nightly
schedule: {cron: "0 2 * * *", timezone: Europe/Berlin}
start: fin
states:
  fin: {type: succeed}
"""


@pytest.fixture
def workdir(tmp_path: Path) -> Path:
    (tmp_path / "myactions.py").write_text(ACTIONS)
    flows = tmp_path / "flows"
    flows.mkdir()
    (flows / "nightly.yaml").write_text(NIGHTLY)
    (flows / "waiter.yaml").write_text(WAITER)
    (flows / "notes.yml").write_text("just: notes\n")
    return tmp_path


class Worker:
    def __init__(self, workdir: Path, *args: str, db: str = "w.db") -> None:
        env = {k: v for k, v in os.environ.items() if k != "WFDSL_DB"}
        self.process = subprocess.Popen(
            [*WFDSL, "worker", "--db", db, "--actions", "myactions", *args],
            cwd=workdir,
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )

    def stop(self, signum: int = signal.SIGTERM) -> tuple[int, str]:
        self.process.send_signal(signum)
        # Only a guard against a hang: a worker stops at once, whatever its
        # actions are doing, or this raises.
        _, err = self.process.communicate(timeout=120)
        return self.process.returncode, err


@pytest.fixture
def start_worker(workdir: Path) -> Iterator[Callable[..., Worker]]:
    workers: list[Worker] = []

    def start(*args: str, db: str = "w.db") -> Worker:
        worker = Worker(workdir, *args, db=db)
        workers.append(worker)
        return worker

    yield start
    for worker in workers:
        if worker.process.poll() is None:
            worker.process.kill()
            worker.process.communicate()


def wait_for(check: Callable[[], bool], timeout: float = 120.0) -> None:
    """Poll ``check``; the timeout only guards against a hang."""
    deadline = time.monotonic() + timeout
    while not check():
        if time.monotonic() > deadline:
            raise AssertionError("condition not met in time")
        time.sleep(0.05)


def status(db: Path | str, run_id: str) -> str:
    with Engine(db) as engine:
        return engine.get(run_id).status


def test_worker_drives_runs_from_other_processes_and_stops_on_sigterm(
    workdir: Path, start_worker: Callable[..., Worker], store_url: str
) -> None:
    # A SQLite file beside the worker, then a PostgreSQL database.
    db = workdir / "w.db" if "://" not in store_url else store_url
    worker = start_worker(db=str(db))
    with Engine(db) as engine:  # this test process submits; the worker drives
        engine.submit(DOUBLER, input={"x": 21}, run_id="d1")
        engine.submit(WAITER, run_id="w1")
    wait_for(lambda: status(db, "d1") == "completed")
    wait_for(lambda: status(db, "w1") == "waiting")
    sent = subprocess.run(
        [*WFDSL, "signal", "w1", "go", "--data", '"hi"', "--db", str(db)],
        capture_output=True,
        text=True,
        check=False,
    )
    assert sent.returncode == 0, sent.stderr
    wait_for(lambda: status(db, "w1") == "completed")
    with Engine(db) as engine:
        assert engine.get("d1").output == 42
        assert engine.get("w1").output == "hi"
    code, err = worker.stop(signal.SIGTERM)
    assert code == 0
    assert "Traceback" not in err
    assert err.strip().endswith("worker stopped")


def test_worker_stops_on_sigint_too(workdir: Path, start_worker: Callable[..., Worker]) -> None:
    worker = start_worker()
    wait_for(lambda: (workdir / "w.db").exists())
    time.sleep(0.3)
    code, err = worker.stop(signal.SIGINT)
    assert code == 0 and "Traceback" not in err


def test_worker_registers_flow_files_and_directories(
    workdir: Path, start_worker: Callable[..., Worker]
) -> None:
    (workdir / "doubler.yaml").write_text(DOUBLER)
    worker = start_worker("flows", "doubler.yaml")
    db = workdir / "w.db"

    def registered() -> bool:
        if not db.exists():
            return False
        with Engine(db) as engine:
            index = engine.store.schedule_state(INDEX_KEY) or {}
            return bool(engine.store.find_definition("doubler")) and index.get("names") == [
                "nightly"
            ]

    def driving() -> bool:
        # The schedule's first sight is written by the worker's loop, which
        # handles SIGTERM; registration alone comes before the handler (a
        # SIGTERM then, on a loaded machine, killed it: exit -15).
        with Engine(db) as engine:
            return "last_tick" in (engine.store.schedule_state("nightly") or {})

    wait_for(registered)
    wait_for(driving)
    code, err = worker.stop()
    assert code == 0
    assert "registered nightly from flows/nightly.yaml (schedule '0 2 * * *' Europe/Berlin" in err
    assert "registered waiter from flows/waiter.yaml (no schedule)" in err
    assert "skipping flows/notes.yml: not a valid workflow" in err
    with Engine(db) as engine:
        # The worker saw the schedule (first sight: counting from its start).
        state = engine.store.schedule_state("nightly")
        assert state is not None and "last_tick" in state


def test_worker_refuses_an_invalid_named_flow(workdir: Path) -> None:
    (workdir / "bad.yaml").write_text('wfdsl: "1"\nname: bad\nstart: nowhere\nstates: {}\n')
    done = subprocess.run(
        [*WFDSL, "worker", "--db", "w.db", "bad.yaml"],
        cwd=workdir,
        capture_output=True,
        text=True,
        timeout=30,
        check=False,
    )
    assert done.returncode == 2
    assert "bad.yaml" in done.stderr and "Traceback" not in done.stderr


def test_a_stopped_worker_hands_its_action_in_flight_to_the_next_at_once(
    workdir: Path, start_worker: Callable[..., Worker]
) -> None:
    db = workdir / "w.db"
    marker = workdir / "started"
    # No duration is asserted: the action hangs for an hour and the lease
    # is an hour, so the stop returning at all means that past its drain
    # (0 s) it did not wait for the action, and the run completing at all
    # means the stopped worker handed it over instead of letting its lease
    # run out.
    first = start_worker("--lease", "3600", "--drain", "0")
    with Engine(db) as engine:
        engine.submit(SLOW, input={"marker": str(marker)}, run_id="s1")
    wait_for(marker.exists)
    code, err = first.stop()
    assert code == 0 and "Traceback" not in err
    assert status(db, "s1") == "running"
    second = start_worker("--lease", "3600")
    wait_for(lambda: status(db, "s1") == "completed")
    second.stop()


def test_sigterm_lets_the_call_in_flight_finish_so_no_worker_runs_it_again(
    workdir: Path, start_worker: Callable[..., Worker]
) -> None:
    db, ledger, gate = workdir / "w.db", workdir / "ledger", workdir / "gate"
    first = start_worker("--lease", "30")
    with Engine(db) as engine:
        engine.submit(GATED, input={"ledger": str(ledger), "gate": str(gate)}, run_id="g1")
    wait_for(ledger.exists)
    first.process.send_signal(signal.SIGTERM)
    # Draining: it has not let go of the call (nor exited) while the call runs.
    time.sleep(0.5)
    assert first.process.poll() is None
    gate.touch()
    code, err = first.stop()
    assert code == 0 and "Traceback" not in err
    # Its outcome was committed before the exit: no later worker runs it again.
    assert status(db, "g1") == "completed"
    assert ledger.read_text() == "started\n"


def test_idle_poll_backs_off_after_a_second_without_activity(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    with Engine(":memory:") as engine:
        driver: Driver = engine.driver
        now = [1000.0]
        monkeypatch.setattr("wfdsl.interpreter.engine_loop.time.monotonic", lambda: now[0])
        driver._active_at = now[0]
        assert driver.current_poll_interval() == driver.poll_interval == 0.05
        now[0] += 0.9
        assert driver.current_poll_interval() == 0.05
        now[0] += 0.2
        assert driver.current_poll_interval() == driver.idle_poll_interval == 0.25

        async def poked_idle() -> None:
            driver.bind(asyncio.get_running_loop())
            driver.poke("anything")  # a wake-up from this process ...
            await driver.idle()

        asyncio.run(asyncio.wait_for(poked_idle(), 5))
        assert driver.current_poll_interval() == 0.05  # ... makes it fast again
