"""`--json` can be relied on (one JSON document on stdout, errors included,
whatever actions print) and exit codes match docs/cli.md (issue 12, items 7
and 8)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner
from wfdsl.interpreter.engine import Engine

from wfdsl.cli import cli

PRINTS = """
import os
import wfdsl.interpreter.actions.registry as a

@a.action("chatty")
def chatty() -> int:
    print("chatter from print()")
    os.system("echo chatter from a child process")
    os.write(1, b"chatter at fd 1\\n")
    return 7
"""

CHATTY = """
wfdsl: "1"
name: chatty
start: talk
states:
  talk: {type: task, action: chatty, result: n, next: fin}
  fin: {type: succeed, output: "${ vars.n }"}
"""

WAITER = """
wfdsl: "1"
name: waiter
signals:
  go: {schema: {type: object}}
handlers:
  peek: {return: "${ 'peeked' }"}
start: wait_go
states:
  wait_go: {type: wait, signal: go, next: done}
  done: {type: succeed}
"""

DONE = """
wfdsl: "1"
name: done
version: 1
start: fin
states:
  fin: {type: succeed}
"""

WFDSL = [sys.executable, "-c", "from wfdsl.cli import main; main()"]


@pytest.fixture
def workdir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("WFDSL_DB", raising=False)
    (tmp_path / "chatty_actions.py").write_text(PRINTS)
    (tmp_path / "chatty.yaml").write_text(CHATTY)
    (tmp_path / "waiter.yaml").write_text(WAITER)
    (tmp_path / "done.yaml").write_text(DONE)
    return tmp_path


def invoke(*args: str) -> tuple[int, str, str]:
    result = CliRunner().invoke(cli, list(args), catch_exceptions=False)
    return result.exit_code, result.stdout, result.stderr


@pytest.fixture
def stored(workdir: Path) -> Path:
    """A store with w1 waiting for `go` and d1 completed."""
    with Engine("wfdsl.db") as engine:
        engine.submit("waiter.yaml", run_id="w1")
        engine.submit("done.yaml", run_id="d1")
        engine.run_until_idle()
    return workdir


# ------------------------------------------------------------------ --json


@pytest.mark.slow
def test_an_action_that_prints_does_not_corrupt_the_json_document(workdir: Path) -> None:
    # A real process: print(), a child process and a raw write to fd 1.
    done = subprocess.run(
        [*WFDSL, "run", "chatty.yaml", "--actions", "chatty_actions", "--json"],
        cwd=workdir,
        capture_output=True,
        text=True,
        env={k: v for k, v in os.environ.items() if k != "WFDSL_DB"},
        timeout=120,
    )
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout)["output"] == 7  # exactly one document
    for chatter in ("from print()", "from a child process", "at fd 1"):
        assert f"chatter {chatter}" in done.stderr


def test_errors_under_json_are_json_documents(stored: Path) -> None:
    code, out, err = invoke("runs", "show", "nope", "--json")
    assert code == 4
    assert json.loads(out)["error"] == {
        "code": "not_found",
        "message": "no run with id 'nope'",
        "exit": 4,
    }
    assert "no run with id 'nope'" in err  # and one line for a person

    code, out, _ = invoke("runs", "list", "--limit", "lots", "--json")  # a usage error
    assert code == 2 and json.loads(out)["error"]["code"] == "usage"

    code, out, _ = invoke("run", "missing.yaml", "--json")
    assert code == 2 and json.loads(out)["error"]["code"] == "invalid"


def test_call_takes_json(stored: Path) -> None:
    code, out, _ = invoke("call", "w1", "peek", "--json")
    assert code == 0 and json.loads(out) == {"result": "peeked"}
    code, out, _ = invoke("call", "w1", "peek")
    assert code == 0 and json.loads(out) == "peeked"


def test_version_has_one_type_in_history_and_json(stored: Path) -> None:
    _, out, _ = invoke("runs", "history", "d1", "--json")
    started = json.loads(out)[0]
    _, shown, _ = invoke("runs", "show", "d1", "--json")
    assert started["data"]["version"] == json.loads(shown)["version"] == "1"


# ------------------------------------------------------------------ exit codes


@pytest.mark.parametrize("command", ["cancel", "pause", "resume", "step"])
def test_controls_on_an_ended_run_exit_5_and_say_why(stored: Path, command: str) -> None:
    code, out, err = invoke(command, "d1")
    assert code == 5, out
    assert "run d1 has already ended (completed)" in err
    assert "paused;" not in out
    code, out, _ = invoke(command, "d1", "--json")
    assert code == 5 and json.loads(out)["error"]["code"] == "rejected"


@pytest.mark.parametrize("command", ["resume", "step"])
def test_resume_and_step_need_a_paused_run(stored: Path, command: str) -> None:
    code, _, err = invoke(command, "w1")
    assert code == 5 and "not paused" in err


@pytest.mark.parametrize(
    "command",
    [
        ["run"],
        ["worker"],
        ["graph"],
        ["runs", "list"],
        ["runs", "show"],
        ["runs", "history"],
        ["signal"],
        ["call"],
        ["cancel"],
        ["pause"],
        ["resume"],
        ["step"],
        ["complete"],
    ],
    ids=" ".join,
)
def test_every_command_shows_its_exit_codes_in_help(command: list[str]) -> None:
    code, out, _ = invoke(*command, "--help")
    assert code == 0 and "Exit codes: 0" in out
