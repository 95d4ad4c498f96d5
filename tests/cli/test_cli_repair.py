"""`wfdsl redrive` and `wfdsl fork` (docs/cli.md): a failed run restarts
where it failed, a fork starts a new run from a point of a history; a
refusal says why and exits 5, a bad --set exits 2."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest
from click.testing import CliRunner
from wfdsl.interpreter.clock import VirtualClock
from wfdsl.interpreter.engine import Engine

from wfdsl.cli import cli

FLAKY = """
wfdsl: "1"
name: flaky
vars: {greeting: hello}
start: prepare
states:
  prepare: {type: set, set: {prepared: true}, next: call}
  call:
    type: task
    action: flaky.call
    args: {greeting: "${ vars.greeting }"}
    retry: {max_attempts: 1}
    result: answer
    next: fin
  fin: {type: succeed, output: "${ vars.answer }"}
"""

ACTIONS = """
from pathlib import Path
import wfdsl

@wfdsl.action("flaky.call")
def call(greeting: str) -> str:
    if not Path("fixed").exists():
        raise ConnectionError("upstream is down")
    return greeting + " world"
"""


@pytest.fixture(scope="module")
def actions_file(tmp_path_factory: pytest.TempPathFactory) -> str:
    # One file for the module: the process-wide registry keeps what it imported.
    path = tmp_path_factory.mktemp("actions") / "flaky_actions.py"
    path.write_text(ACTIONS)
    return str(path)


@pytest.fixture
def workdir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, actions_file: str) -> Path:
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("WFDSL_DB", raising=False)
    monkeypatch.setenv("FLAKY_ACTIONS", actions_file)
    (tmp_path / "flaky.yaml").write_text(FLAKY)
    return tmp_path


def invoke(*args: str) -> tuple[int, str, str]:
    result = CliRunner().invoke(cli, list(args), catch_exceptions=False)
    return result.exit_code, result.stdout, result.stderr


def _failed_run(run_id: str) -> None:
    code, _, _ = invoke(
        "run", "flaky.yaml", "--actions", os.environ["FLAKY_ACTIONS"], "--run-id", run_id
    )
    assert code == 1


def _drive(run_id: str) -> dict[str, object]:
    with Engine("wfdsl.db", clock=VirtualClock()) as engine:
        engine.action("flaky.call")(lambda greeting: greeting + " world")
        run = engine.run_until_complete(run_id)
        return {"status": run.status, "output": run.output}


def test_redrive_restarts_a_failed_run_where_it_failed(workdir: Path) -> None:
    _failed_run("f1")
    code, out, err = invoke("redrive", "f1", "--by", "ops")
    assert code == 0, err
    assert out.strip() == (
        "redriven run f1 at state call (it failed with ConnectionError: upstream is down); "
        "it is now running"
    )
    assert _drive("f1") == {"status": "completed", "output": "hello world"}
    code, out, _ = invoke("runs", "history", "f1", "--json")
    types = [e["type"] for e in json.loads(out)]
    assert types.count("run_redriven") == 1 and types[-1] == "run_completed"


def test_redrive_of_a_run_that_did_not_fail_exits_5(workdir: Path) -> None:
    (workdir / "fixed").write_text("")
    code, _, err = invoke(
        "run", "flaky.yaml", "--actions", os.environ["FLAKY_ACTIONS"], "--run-id", "ok1"
    )
    assert code == 0, err
    code, out, err = invoke("redrive", "ok1", "--json")
    assert code == 5
    assert "it is completed, and only a failed run can be redriven" in err
    assert json.loads(out)["error"]["code"] == "rejected"


def test_redrive_of_an_unknown_run_exits_4(workdir: Path) -> None:
    _failed_run("f2")
    code, _, err = invoke("redrive", "nope")
    assert code == 4 and "no run with id 'nope'" in err


def test_fork_starts_a_new_run_with_patched_vars(workdir: Path) -> None:
    _failed_run("f3")
    code, out, err = invoke(
        "fork", "f3", "--at", "call", "--set", 'greeting="bonjour"', "--run-id", "f3b"
    )
    assert code == 0, err
    assert out.strip() == 'forked run f3b from f3 at seq 4 (state call), set greeting="bonjour"'
    assert _drive("f3b") == {"status": "completed", "output": "bonjour world"}
    code, out, _ = invoke("runs", "show", "f3", "--json")
    assert json.loads(out)["status"] == "failed"  # the original is untouched


def test_fork_refuses_a_set_that_is_not_json(workdir: Path) -> None:
    _failed_run("f4")
    code, _, err = invoke("fork", "f4", "--at", "call", "--set", "greeting=bonjour")
    assert code == 2
    assert "is not JSON" in err and "--set 'greeting=\"bonjour\"'" in err


def test_fork_at_a_point_the_run_never_reached_exits_5(workdir: Path) -> None:
    _failed_run("f5")
    code, _, err = invoke("fork", "f5", "--at", "fin")
    assert code == 5 and "never entered a state 'fin'" in err
