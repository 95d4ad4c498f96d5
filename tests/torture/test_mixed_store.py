"""A mixed store under SIGKILL (issue 11, the torture paragraph): two
workflows whose actions live in two modules, a worker for each module, and a
``wfdsl run`` of one of them beside the workers, on one file. Workers are
SIGKILLed and restarted while calls are in flight.

What must hold: every run ends as it would uninterrupted (no process fails a
run for an action it was not given: it leaves the call to a process that has
it); every call ran; and a call ran again only after the process that ran it
before was killed (a re-execution by a process that was never killed is a
failure, whatever the bound of docs/guarantees.md section 2 would allow).

It stands on capability routing (issue 11 item 1): a worker leaves calls it
has no action for to a process that has them.
"""

from __future__ import annotations

import json
import os
import signal
import sqlite3
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path

import pytest

import wfdsl

pytestmark = pytest.mark.slow

WFDSL = [sys.executable, "-c", "from wfdsl.cli import main; main()"]
MODULE = """
import json, os, time
import wfdsl

@wfdsl.action("{name}_step")
def step(n: int, ctx: wfdsl.ActionContext) -> int:
    line = {{"key": ctx.idempotency_key, "pid": os.getpid()}}
    fd = os.open(os.environ["LEDGER"], os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
    try:
        os.write(fd, (json.dumps(line) + "\\n").encode())
    finally:
        os.close(fd)
    time.sleep(0.05)  # long enough for a kill to catch calls in flight
    return n + 1
"""
FLOW = """
wfdsl: "1"
name: {name}
vars: {{n: 0}}
start: step
states:
  step:
    type: task
    action: {name}_step
    args: {{n: "${{ vars.n }}"}}
    result: n
    next: more
  more:
    type: choice
    choices: [{{when: "${{ vars.n < 6 }}", next: step}}]
    default: done
  done: {{type: succeed, output: "${{ vars.n }}"}}
"""


def statuses(db: Path) -> dict[str, tuple[str, object]]:
    conn = sqlite3.connect(db, timeout=30)
    try:
        return {
            run_id: (status, json.loads(output) if output else None)
            for run_id, status, output in conn.execute("SELECT id, status, output FROM runs")
        }
    finally:
        conn.close()


def test_mixed_store_with_kills_reruns_only_after_a_kill(tmp_path: Path) -> None:
    db, ledger = tmp_path / "wf.db", tmp_path / "ledger"
    for name in ("alpha", "beta"):
        (tmp_path / f"{name}_actions.py").write_text(MODULE.format(name=name))
        (tmp_path / f"{name}.yaml").write_text(FLOW.format(name=name))
    with wfdsl.Engine(str(db)) as engine:
        for i in range(8):
            for name in ("alpha", "beta"):
                engine.submit(tmp_path / f"{name}.yaml", run_id=f"{name}-{i}")
    env = {**os.environ, "LEDGER": str(ledger), "PYTHONPATH": str(tmp_path)}

    def start(*args: str) -> subprocess.Popen[str]:
        return subprocess.Popen(
            [*WFDSL, *args, "--db", str(db)],
            env=env,
            cwd=tmp_path,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            text=True,
        )

    workers = {name: start("worker", "--actions", f"{name}_actions") for name in ("alpha", "beta")}
    runner = start(
        "run", str(tmp_path / "alpha.yaml"), "--run-id", "solo", "--actions", "alpha_actions"
    )
    killed: set[int] = set()
    try:
        # Six kills, each once the ledger has grown since the last: so each
        # catches work going on, and the test is bounded by counts.
        for k in range(6):
            name = ("alpha", "beta")[k % 2]
            seen = len(ledger.read_text().splitlines()) if ledger.exists() else 0
            deadline = time.monotonic() + 60
            while (len(ledger.read_text().splitlines()) if ledger.exists() else 0) < seen + 3:
                assert time.monotonic() < deadline, ("no progress between kills", statuses(db))
                time.sleep(0.02)
            victim = workers[name]
            victim.send_signal(signal.SIGKILL)
            victim.wait(30)
            killed.add(victim.pid)
            workers[name] = start("worker", "--actions", f"{name}_actions")
        expected = {f"{n}-{i}": ("completed", 6) for n in ("alpha", "beta") for i in range(8)}
        expected["solo"] = ("completed", 6)
        deadline = time.monotonic() + 240
        while statuses(db) != expected and time.monotonic() < deadline:
            time.sleep(0.2)
        assert runner.wait(120) == 0
        assert statuses(db) == expected
    finally:
        for proc in [*workers.values(), runner]:
            if proc.poll() is None:
                proc.terminate()
                proc.wait(60)
    lines = [json.loads(text) for text in ledger.read_text().splitlines()]
    counts = Counter(line["key"] for line in lines)
    assert len(counts) == 17 * 6  # every call of every run ran
    previous: dict[str, int] = {}
    unexplained = []
    for line in lines:
        before = previous.get(line["key"])
        if before is not None and before not in killed:
            unexplained.append((line["key"], before, line["pid"]))
        previous[line["key"]] = line["pid"]
    assert unexplained == [], "re-executions by processes that were never killed"
    conn = sqlite3.connect(db)
    try:
        assert conn.execute("PRAGMA integrity_check").fetchall() == [("ok",)]
    finally:
        conn.close()
