"""The run commands of the command line (docs/cli.md): exit codes, --json
documents, and two processes sharing one store file."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest
from click.testing import CliRunner

from wfdsl.cli import cli

WAITER = """
wfdsl: "1"
name: waiter
input:
  type: [object, "null"]
  properties: {n: {type: integer}}
signals:
  go: {}
handlers:
  peek:
    return: ${ 'peeked' }
  never:
    when: ${ false }
    set: {x: 1}
    return: ${ 1 }
start: wait_go
states:
  wait_go: {type: wait, signal: go, as: got, next: done}
  done: {type: succeed, output: "${ vars.got }"}
"""

FAILS = """
wfdsl: "1"
name: fails
start: boom
states:
  boom: {type: fail, error: Boom, message: it broke}
"""

ACTIONS = """
import wfdsl.interpreter.actions.registry as a

@a.action("double")
def double(x: int) -> int:
    return 2 * x
"""

TASK = """
wfdsl: "1"
name: doubler
start: go
states:
  go: {type: task, action: double, args: {x: "${ input.x }"}, result: y, next: fin}
  fin: {type: succeed, output: "${ vars.y }"}
"""


# The console script, run the way the installed `wfdsl` runs it.
WFDSL = [sys.executable, "-c", "from wfdsl.cli import main; main()"]


@pytest.fixture
def workdir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("WFDSL_DB", raising=False)
    (tmp_path / "waiter.yaml").write_text(WAITER)
    (tmp_path / "fails.yaml").write_text(FAILS)
    (tmp_path / "doubler.yaml").write_text(TASK)
    (tmp_path / "myactions.py").write_text(ACTIONS)
    return tmp_path


@pytest.fixture
def store_env(workdir: Path, store_url: str, monkeypatch: pytest.MonkeyPatch) -> str:
    """``$WFDSL_DB`` names a new store, once per backend: every command
    below finds it there, as a user's shell would give it."""
    monkeypatch.setenv("WFDSL_DB", store_url)
    return store_url


def invoke(*args: str) -> tuple[int, str]:
    result = CliRunner().invoke(cli, list(args), catch_exceptions=False)
    return result.exit_code, result.output


def test_run_completes_with_actions_module_and_json(workdir: Path) -> None:
    code, out = invoke(
        "run", "doubler.yaml", "--actions", "myactions", "--input", '{"x": 21}', "--json"
    )
    assert code == 0, out
    doc = json.loads(out)
    assert doc["status"] == "completed" and doc["output"] == 42
    assert doc["history"][-1]["type"] == "run_completed"
    assert (workdir / "wfdsl.db").exists()  # the default --db


def test_run_prints_transitions_and_exit_1_on_failure(workdir: Path) -> None:
    code, out = invoke("run", "fails.yaml")
    assert code == 1
    assert "failed: Boom: it broke" in out  # in words, not `run_failed {...}`


def test_run_invalid_document_and_input_exit_2(workdir: Path) -> None:
    (workdir / "bad.yaml").write_text(FAILS.replace("start: boom", "start: bom"))
    code, out = invoke("run", "bad.yaml")
    assert code == 2
    assert "bom" in out
    code, out = invoke("run", "waiter.yaml", "--input", '{"n": "x"}')
    assert code == 2
    assert "input" in out
    code, _ = invoke("run", "waiter.yaml", "--input", "{not json")
    assert code == 2


def test_run_on_virtual_time_with_wfdsl_db(workdir: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("WFDSL_DB", str(workdir / "env.db"))
    code, out = invoke("run", "fails.yaml", "--virtual-time", "--run-id", "f1")
    assert code == 1, out
    assert (workdir / "env.db").exists()
    code, out = invoke("runs", "show", "f1", "--json")
    assert code == 0
    assert json.loads(out)["error"]["error"] == "Boom"


def test_runs_commands_and_exit_codes(workdir: Path, store_env: str) -> None:
    from wfdsl.interpreter.engine import Engine

    with Engine(store_env) as engine:
        engine.submit(str(workdir / "waiter.yaml"), run_id="w1")
        engine.run_until_idle()
    code, out = invoke("runs", "list", "--json")
    assert code == 0 and [r["id"] for r in json.loads(out)] == ["w1"]
    code, out = invoke("runs", "list", "--status", "waiting")
    assert code == 0 and "w1" in out
    code, out = invoke("runs", "list", "--where", "status == 'completed'", "--json")
    assert json.loads(out) == []
    code, out = invoke("runs", "list", "--where", "status ==")
    assert code == 2
    # An unknown function or name is the same usage error, not "no runs".
    code, out = invoke("runs", "list", "--where", "lenght(workflow) > 0")
    assert code == 2 and "did you mean len()?" in out
    code, out = invoke("runs", "list", "--where", "stauts == 'waiting'")
    assert code == 2 and "did you mean 'status'?" in out
    code, out = invoke("call", "w1", "peek")
    assert code == 0 and json.loads(out) == "peeked"
    code, out = invoke("call", "w1", "never")
    assert code == 5
    assert invoke("runs", "show", "nope")[0] == 4
    assert invoke("runs", "history", "nope")[0] == 4
    assert invoke("signal", "nope", "go")[0] == 4
    assert invoke("cancel", "nope")[0] == 4
    code, out = invoke("pause", "w1", "--json")
    assert code == 0 and json.loads(out)["status"] == "paused"
    code, out = invoke("step", "w1")
    assert code == 0
    code, out = invoke("resume", "w1")
    assert code == 0 and "waiting" in out
    code, out = invoke("signal", "w1", "go", "--data", '{"a": 1}')
    assert code == 0
    code, out = invoke("runs", "history", "w1", "--json")
    types = [e["type"] for e in json.loads(out)]
    assert "paused" in types and "resumed" in types  # no process drives it: the go waits
    code, out = invoke("cancel", "w1", "--json")
    assert code == 0 and json.loads(out)["status"] == "cancelled"
    assert invoke("signal", "w1", "go")[0] == 5  # a finished run takes no messages


@pytest.mark.slow
def test_run_waits_for_a_signal_from_another_process(workdir: Path, store_env: str) -> None:
    env = {**os.environ, "PYTHONUNBUFFERED": "1", "WFDSL_DB": store_env}
    runner = subprocess.Popen(
        [*WFDSL, "run", "waiter.yaml", "--run-id", "x1", "--json"],
        cwd=workdir,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=env,
    )
    try:
        deadline = time.monotonic() + 120  # a hang guard, not a speed bound
        while True:
            probe = subprocess.run(
                [*WFDSL, "runs", "show", "x1", "--json"],
                cwd=workdir,
                capture_output=True,
                text=True,
                env=env,
            )
            if probe.returncode == 0 and json.loads(probe.stdout)["status"] == "waiting":
                break
            assert time.monotonic() < deadline, probe.stderr
            time.sleep(0.1)
        assert runner.poll() is None  # a waiting run keeps `wfdsl run` waiting
        sent = subprocess.run(
            [*WFDSL, "signal", "x1", "go", "--data", '"hi"'],
            cwd=workdir,
            capture_output=True,
            text=True,
            env=env,
        )
        assert sent.returncode == 0, sent.stderr
        out, err = runner.communicate(timeout=120)
    finally:
        runner.kill()
    assert runner.returncode == 0, err
    doc = json.loads(out)
    assert doc["status"] == "completed" and doc["output"] == "hi"


def test_input_from_an_endless_file_is_refused_after_one_mib(workdir: Path) -> None:
    # `--input @/dev/zero` used to read until the memory ran out (13.9 GB
    # in 60 s); `--data @FILE` shares the reader.
    code, out = invoke("run", "waiter.yaml", "--input", "@/dev/zero")
    assert code == 2 and "larger than the limit of 1,048,576 bytes (1 MiB)" in out
    big = workdir / "big.json"
    big.write_text(json.dumps({"blob": "b" * 1_100_000}))
    code, out = invoke("signal", "w1", "go", "--data", f"@{big}")
    assert code == 2 and "larger than the limit" in out
    assert not (workdir / "wfdsl.db").exists()  # refused before any store was opened
