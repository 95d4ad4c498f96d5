"""`wfdsl complete TOKEN` (issue 14 item 8): completes the task waiting on a
callback token from another process; exit 0 sent, 2 a mistake in the
options, 4 no such token, 5 already completed or stale."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner
from wfdsl.interpreter.engine import Engine

from wfdsl.cli import cli

FLOW = """
wfdsl: "1"
name: ask
start: ask
states:
  ask:
    type: task
    action: log
    args: {message: "${ token }"}
    callback: true
    result: answer
    catch:
      - {errors: [Declined], as: no, next: declined}
    end: true
  declined: {type: succeed, output: "${ vars.no.message }"}
"""


def invoke(*args: str) -> tuple[int, str, str]:
    result = CliRunner().invoke(cli, list(args), catch_exceptions=False)
    return result.exit_code, result.stdout, result.stderr


@pytest.fixture
def token(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> str:
    """A run waiting on its callback in ./wfdsl.db, and its token."""
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("WFDSL_DB", raising=False)
    with Engine("wfdsl.db") as engine:
        engine.submit(FLOW, run_id="r1")
        engine.run_until_idle()
        started = [e for e in engine.history("r1") if e.type == "action_started"]
        return str(started[0].data["args"]["message"])


def finish() -> dict:  # type: ignore[type-arg]
    with Engine("wfdsl.db") as engine:
        run = engine.run_until_complete("r1", timeout=60)
        return {"status": run.status, "output": run.output}


def test_complete_with_output_then_again_is_refused(token: str) -> None:
    code, out, err = invoke("complete", token, "--output", '{"ok": true}')
    assert code == 0, err
    assert "callback completed" in out
    assert finish() == {"status": "completed", "output": {"answer": {"ok": True}}}
    code, out, err = invoke("complete", token, "--output", "1", "--json")
    assert code == 5
    assert json.loads(out)["error"]["code"] == "rejected"
    assert "already completed" in err


def test_complete_with_an_error_is_caught_by_the_task(token: str) -> None:
    code, _, err = invoke("complete", token, "--error", "Declined", "--message", "not today")
    assert code == 0, err
    assert finish() == {"status": "completed", "output": "not today"}


def test_a_heartbeat_is_sent_and_the_task_still_waits(token: str) -> None:
    code, out, _ = invoke("complete", token, "--heartbeat", "--json")
    assert code == 0 and json.loads(out) == {"token": token, "sent": "heartbeat"}


@pytest.mark.parametrize(
    "given",
    [
        pytest.param("nonsense", id="not-a-token"),
        pytest.param("wfcb1.bm8." + "0" * 32, id="run-unknown"),
        pytest.param("FORGED", id="forged"),
    ],
)
def test_a_token_never_issued_exits_4(token: str, given: str) -> None:
    if given == "FORGED":
        given = token[:-1] + ("1" if token[-1] != "1" else "2")
    code, _, err = invoke("complete", given)
    assert code == 4 and "token" in err


@pytest.mark.parametrize(
    "args",
    [
        pytest.param(["--output", "1", "--error", "X"], id="output-and-error"),
        pytest.param(["--message", "why"], id="message-without-error"),
        pytest.param(["--heartbeat", "--output", "1"], id="heartbeat-with-output"),
        pytest.param(["--output", "{not json"], id="bad-json"),
    ],
)
def test_mistakes_in_the_options_exit_2(token: str, args: list[str]) -> None:
    code, _, _ = invoke("complete", token, *args)
    assert code == 2
