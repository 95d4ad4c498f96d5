"""The database going away under a worker (docs/operations.md, "What a
database restart does"): a ``wfdsl worker`` on PostgreSQL keeps running
through a server restart, logs it, and completes every run with each
transition once; an unreachable database at start-up is one line, exit 74.
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
from collections import Counter
from collections.abc import Iterator
from pathlib import Path

import pytest
from postgres_server import PostgresServer, running_server
from wfdsl.interpreter.engine import Engine

WFDSL = [sys.executable, "-c", "from wfdsl.cli import main; main()"]
RUNS = 30

ACTIONS = """
import time
import wfdsl

@wfdsl.action("step")
def step(n: int) -> int:
    time.sleep(0.02)
    return n + 1
"""

FLOW = """
wfdsl: "1"
name: steps
vars: {n: 0}
start: one
states:
  one: {type: task, action: step, args: {n: "${ vars.n }"}, result: n, next: two}
  two: {type: task, action: step, args: {n: "${ vars.n }"}, result: n, next: three}
  three: {type: task, action: step, args: {n: "${ vars.n }"}, result: n, next: done}
  done: {type: succeed, output: "${ vars.n }"}
"""


@pytest.fixture
def own_server() -> Iterator[PostgresServer]:
    """A server of this test's own: it is restarted under the worker."""
    with running_server() as server:
        yield server


def test_a_worker_carries_on_through_a_database_restart(
    own_server: PostgresServer, tmp_path: Path
) -> None:
    url = own_server.create_database()
    (tmp_path / "stepactions.py").write_text(ACTIONS)
    env = {k: v for k, v in os.environ.items() if k != "WFDSL_DB"} | {"PYTHONUNBUFFERED": "1"}
    with Engine(url) as engine:
        flow = engine.register(FLOW)
        ids = [engine.start(flow).id for _ in range(RUNS)]
    worker = subprocess.Popen(
        [*WFDSL, "worker", "--db", url, "--actions", "stepactions"],
        cwd=tmp_path,
        env=env,
        text=True,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )

    def completed() -> int:
        with Engine(url) as engine:
            return sum(engine.get(run_id).status == "completed" for run_id in ids)

    try:
        deadline = time.monotonic() + 180  # hang guards, not speed bounds
        while completed() < 3:
            assert worker.poll() is None and time.monotonic() < deadline
            time.sleep(0.1)
        # A fast shutdown ends every connection (57P01), then it is back.
        own_server._run(
            [
                "pg_ctl",
                "-D",
                str(own_server.data_dir),
                "-l",
                str(own_server.root / "server.log"),  # not our pipes: run() would wait on them
                "-m",
                "fast",
                "-w",
                "restart",
            ]
        )
        while completed() < RUNS:
            assert worker.poll() is None, "the worker died with the database"
            assert time.monotonic() < deadline, f"{completed()} of {RUNS} completed"
            time.sleep(0.2)
    finally:
        worker.terminate()
        _, err = worker.communicate(timeout=60)
    assert worker.returncode == 0, err
    assert "Traceback" not in err
    # The lost connection was logged (the LISTEN one, a pooled one, or a
    # store error the worker retried), not hidden.
    assert "connection" in err.split("Ctrl-C to stop", 1)[1]
    with Engine(url) as engine:
        for run_id in ids:
            run = engine.get(run_id)
            assert run.output == 3
            events = engine.history(run_id)
            assert [e.seq for e in events] == list(range(1, len(events) + 1))
            kinds = Counter(e.type for e in events)
            # Each transition once: three calls completed, one end.
            assert kinds["action_completed"] == 3 and kinds["run_completed"] == 1


def test_an_unreachable_database_at_start_up_is_one_line_and_exit_74(tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if k != "WFDSL_DB"}
    url = f"postgresql://wfdsl:secret@/nodb?host={tmp_path}&connect_timeout=2"
    for command in (["worker"], ["runs", "list"], ["signal", "r1", "go"]):
        done = subprocess.run(
            [*WFDSL, *command, "--db", url], capture_output=True, text=True, env=env
        )
        assert done.returncode == 74, (command, done.stderr)
        lines = done.stderr.strip().splitlines()
        assert lines[0].startswith("wfdsl: store error: cannot connect to the PostgreSQL store")
        assert "secret" not in done.stderr and "Traceback" not in done.stderr
