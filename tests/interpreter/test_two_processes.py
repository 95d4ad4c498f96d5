"""Two processes on one store file (ARCHITECTURE.md "Durability", leases).

tests/cli/test_cli_run.py already covers `wfdsl run` waiting for a signal
sent by `wfdsl signal` from another process. This adds the other half: a
`wfdsl worker` started on the same file while `wfdsl run` holds the run (an
action in flight) never drives it at the same time. Every action call writes
its start and end, with its process id, to a ledger outside the database:
each idempotency key runs once, and no two calls of the run overlap.
"""

from __future__ import annotations

import itertools
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest

pytestmark = pytest.mark.slow

FLOW = """
wfdsl: "1"
name: two-procs
signals:
  go: {}
start: slow1
states:
  slow1: {type: task, action: slow, args: {tag: s1}, result: a, next: slow2}
  slow2: {type: task, action: slow, args: {tag: s2}, result: b, next: wait_go}
  wait_go: {type: wait, signal: go, as: got, next: slow3}
  slow3: {type: task, action: slow, args: {tag: s3}, result: c, next: done}
  done: {type: succeed, output: "${ [vars.a, vars.b, vars.got, vars.c] }"}
"""

ACTIONS = """
import json, os, time
import wfdsl

def _log(**entry):
    fd = os.open(os.environ["TWO_LEDGER"], os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
    try:
        os.write(fd, (json.dumps(entry) + "\\n").encode())
        os.fsync(fd)
    finally:
        os.close(fd)

@wfdsl.action("slow")
def slow(tag: str, ctx: wfdsl.ActionContext) -> str:
    _log(at="start", key=ctx.idempotency_key, pid=os.getpid(), t=time.time())
    time.sleep(0.6)
    _log(at="end", key=ctx.idempotency_key, pid=os.getpid(), t=time.time())
    return tag
"""

WFDSL = [sys.executable, "-c", "from wfdsl.cli import main; main()"]


def ledger(path: Path) -> list[dict[str, Any]]:
    if not path.exists():
        return []
    return [json.loads(line) for line in path.read_text().splitlines() if line]


def wait_for(what: str, check: Any, timeout: float = 120.0) -> None:
    deadline = time.monotonic() + timeout
    while not check():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.05)


def test_worker_never_drives_a_run_that_wfdsl_run_holds(tmp_path: Path) -> None:
    (tmp_path / "two.yaml").write_text(FLOW)
    (tmp_path / "twoactions.py").write_text(ACTIONS)
    book = tmp_path / "ledger"
    env = {**os.environ, "PYTHONUNBUFFERED": "1", "TWO_LEDGER": str(book)}
    env.pop("WFDSL_DB", None)
    common = {"cwd": tmp_path, "env": env, "text": True}

    def status() -> str | None:
        probe = subprocess.run(
            [*WFDSL, "runs", "show", "t1", "--json"], capture_output=True, **common
        )
        return json.loads(probe.stdout)["status"] if probe.returncode == 0 else None

    runner = subprocess.Popen(
        [*WFDSL, "run", "two.yaml", "--run-id", "t1", "--actions", "twoactions", "--json"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        **common,
    )
    worker = None
    try:
        # `wfdsl run` holds the run: its first action is in flight.
        wait_for("the first action", lambda: any(e["at"] == "start" for e in ledger(book)))
        worker = subprocess.Popen(
            [*WFDSL, "worker", "--actions", "twoactions"],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            **common,
        )
        wait_for("the run to wait for its signal", lambda: status() == "waiting")
        assert runner.poll() is None
        sent = subprocess.run(
            [*WFDSL, "signal", "t1", "go", "--data", '"go!"'], capture_output=True, **common
        )
        assert sent.returncode == 0, sent.stderr
        out, err = runner.communicate(timeout=60)
        assert runner.returncode == 0, err
        assert json.loads(out)["output"] == ["s1", "s2", "go!", "s3"]
        assert worker.poll() is None, worker.stderr.read() if worker.stderr else ""
    finally:
        runner.kill()
        if worker is not None:
            worker.send_signal(signal.SIGTERM)
            try:
                worker.communicate(timeout=20)
            except subprocess.TimeoutExpired:
                worker.kill()
                worker.communicate()

    entries = ledger(book)
    starts = [e for e in entries if e["at"] == "start"]
    ends = {e["key"]: e for e in entries if e["at"] == "end"}
    assert sorted(e["key"] for e in starts) == ["t1/slow1/1", "t1/slow2/1", "t1/slow3/1"]
    assert set(ends) == {e["key"] for e in starts}
    # The run's actions while `wfdsl run` held it ran in that process, and no
    # two calls of the run overlap in time (one driver at a time).
    assert {e["pid"] for e in starts if e["key"] != "t1/slow3/1"} == {runner.pid}
    spans = sorted((e["t"], ends[e["key"]]["t"]) for e in starts)
    for (_, end), (start, _) in itertools.pairwise(spans):
        assert end <= start
