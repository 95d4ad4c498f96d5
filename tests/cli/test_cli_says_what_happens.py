"""`wfdsl run`, `runs show` and `wfdsl worker` say in words what runs do:
what a wait waits for and when its timers fire, the `log` action's messages,
runs ending on a worker (issue 12, items 4 and 5)."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from click.testing import CliRunner
from wfdsl.interpreter.engine import Engine

from wfdsl.cli import cli

WAITS = """
wfdsl: "1"
name: clicker
start: hello
signals:
  verified: {}
states:
  hello:
    type: task
    action: log
    args: {message: "hello ${ input.name }"}
    next: wait_for_click
  wait_for_click:
    type: wait
    any:
      - {signal: verified, next: done}
      - {timer: 1d, next: done}
  done: {type: succeed}
"""

HELLO = """
wfdsl: "1"
name: hello
start: greet
states:
  greet:
    type: task
    action: log
    args: {message: "hello ${ input.name }"}
    end: true
"""

WFDSL = [sys.executable, "-c", "from wfdsl.cli import main; main()"]


@pytest.fixture
def workdir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("WFDSL_DB", raising=False)
    (tmp_path / "clicker.yaml").write_text(WAITS)
    (tmp_path / "hello.yaml").write_text(HELLO)
    return tmp_path


def invoke(*args: str) -> tuple[int, str, str]:
    result = CliRunner().invoke(cli, list(args), catch_exceptions=False)
    return result.exit_code, result.stdout, result.stderr


def test_run_says_what_a_wait_waits_for_and_days_visibly_pass(workdir: Path) -> None:
    code, out, _ = invoke("run", "clicker.yaml", "--virtual-time", "--input", '{"name": "Ada"}')
    assert code == 0, out
    assert "timer_started" not in out and '"node"' not in out  # no raw events
    lines = out.splitlines()
    waiting = next(line for line in lines if "waiting for" in line)
    # VirtualClock starts at 2025-01-01T00:00:00Z; the timer is due a day later.
    assert waiting.endswith(
        "wait_for_click  waiting for signal `verified` or timer 1d (due 2025-01-02T00:00:00Z)"
    ), waiting
    fired = next(line for line in lines if "timer fired" in line)
    assert fired.startswith("2025-01-02T00:00:00Z"), fired  # the date moved on
    assert lines[-1].startswith("run ") and "completed" in lines[-1]


def test_runs_show_gives_positions_waits_and_due_times(workdir: Path) -> None:
    with Engine("wfdsl.db") as engine:
        engine.submit("clicker.yaml", input={"name": "Ada"}, run_id="c1")
        engine.run_until_idle()
        due = engine.get("c1").positions()[0].waiting_for.alternatives[1].due  # type: ignore[union-attr]
    code, out, _ = invoke("runs", "show", "c1")
    assert code == 0, out
    assert "status    waiting" in out
    stamp = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(due))
    assert f"wait_for_click: waiting for signal `verified` or timer 1d (due {stamp})" in out

    code, out, _ = invoke("runs", "show", "c1", "--json")
    (position,) = json.loads(out)["positions"]
    assert position["path"] == "wait_for_click" and position["phase"] == "waiting"
    alternatives = position["waiting_for"]["alternatives"]
    assert [a["kind"] for a in alternatives] == ["signal", "timer"]
    assert alternatives[0]["channel"] == "verified" and alternatives[1]["due"] == due


def test_the_readme_hello_prints_its_log_message(workdir: Path) -> None:
    code, out, _ = invoke("run", "hello.yaml", "--input", '{"name": "Ada"}')
    assert code == 0
    assert "greet  log: hello Ada" in out

    code, out, err = invoke("run", "hello.yaml", "--input", '{"name": "Ada"}', "--json")
    assert code == 0
    assert json.loads(out)["status"] == "completed"  # stdout: the one document
    assert "log: hello Ada" in err  # the message still reaches the terminal


FAILS = """
wfdsl: "1"
name: fails
start: boom
states:
  boom: {type: fail, error: Boom, message: it broke}
"""


def _worker(workdir: Path, *extra: str) -> str:
    """Run a worker until every run has ended, stop it with SIGTERM, return stderr."""
    env = {**os.environ, "PYTHONUNBUFFERED": "1", "NO_COLOR": "1"}
    env.pop("WFDSL_DB", None)
    proc = subprocess.Popen(
        [*WFDSL, "worker", "--db", "wfdsl.db", *extra],
        cwd=workdir,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=env,
    )
    try:
        with Engine("wfdsl.db") as engine:
            deadline = time.monotonic() + 60
            while not all(r.done for r in engine.list_runs()):
                assert time.monotonic() < deadline, "the worker never finished the runs"
                time.sleep(0.05)
        proc.send_signal(signal.SIGTERM)
        _, err = proc.communicate(timeout=60)
    finally:
        proc.kill()
    return err


@pytest.mark.slow
def test_worker_prints_run_completions_and_with_v_transitions(workdir: Path) -> None:
    with Engine("wfdsl.db") as engine:
        engine.submit("hello.yaml", input={"name": "Ada"}, run_id="w1")
        engine.submit(FAILS, run_id="f1")
    err = _worker(workdir)
    assert "w1 hello  completed" in err, err
    assert "f1 fails  failed: Boom: it broke" in err
    assert "greet  log: hello Ada" in err  # the log action reaches the terminal
    assert "entered (task)" not in err  # transitions only with -v

    (workdir / "wfdsl.db").unlink()
    with Engine("wfdsl.db") as engine:
        engine.submit("hello.yaml", input={"name": "Bo"}, run_id="w1")
    err = _worker(workdir, "-v")
    assert "w1 hello  greet  entered (task)" in err, err
    assert "w1 hello  completed" in err
