"""The smaller CLI mistakes of issue 12 item 9, each as a user meets it."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner
from wfdsl.interpreter.engine import Engine

from wfdsl.cli import cli

WAITER = """
wfdsl: "1"
name: waiter
signals:
  go: {schema: {type: object}}
start: wait_go
states:
  wait_go: {type: wait, signal: go, next: done}
  done: {type: succeed}
"""


@pytest.fixture
def workdir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("WFDSL_DB", raising=False)
    (tmp_path / "waiter.yaml").write_text(WAITER)
    return tmp_path


def invoke(*args: str, input: str | None = None) -> tuple[int, str, str]:
    result = CliRunner().invoke(cli, list(args), input=input, catch_exceptions=False)
    return result.exit_code, result.stdout, result.stderr


@pytest.fixture
def stored(workdir: Path) -> Path:
    with Engine("wfdsl.db") as engine:
        engine.submit("waiter.yaml", run_id="w1")
        engine.run_until_idle()
    return workdir


def test_break_at_an_unknown_state_is_refused_with_did_you_mean(workdir: Path) -> None:
    code, _, err = invoke("run", "waiter.yaml", "--break-at", "wait_og")
    assert code == 2
    assert "has no state 'wait_og'; did you mean 'wait_go'?" in err
    assert not (workdir / "wfdsl.db").exists()  # nothing was stored


def test_a_mistyped_status_is_refused_with_did_you_mean(stored: Path) -> None:
    code, out, err = invoke("runs", "list", "--status", "runing")
    assert code == 2 and "no runs" not in out
    assert "did you mean 'running'?" in err


def test_a_mistyped_signal_name_gets_did_you_mean(stored: Path) -> None:
    code, _, err = invoke("signal", "w1", "goo", "--data", "{}")
    assert code == 5 and "did you mean 'go'?" in err


def test_signal_without_data_says_null_and_hints_data(stored: Path) -> None:
    code, _, err = invoke("signal", "w1", "go")
    assert code == 5
    assert "null is not of type 'object'" in err and "None" not in err
    assert "pass --data JSON" in err


def test_graph_refuses_a_suffix_it_cannot_write(workdir: Path) -> None:
    code, _, err = invoke("graph", "waiter.yaml", "-o", "x.png")
    assert code == 2 and "cannot tell the format from 'x.png'" in err
    assert not (workdir / "x.png").exists()
    code, _, _ = invoke("graph", "waiter.yaml", "-o", "x.svg")
    assert code == 0 and (workdir / "x.svg").read_text().startswith("<?xml")


def test_graph_reads_standard_input(workdir: Path) -> None:
    code, out, _ = invoke("graph", "-", input=WAITER)
    assert code == 0 and out.startswith("flowchart TD") and "wait_go" in out
    code, _, err = invoke("graph", "-", input=WAITER.replace("next: done", "next: dnoe"))
    assert code == 2 and "<stdin>:" in err


@pytest.mark.parametrize(
    "command", [["runs", "list"], ["runs", "show", "x"], ["runs", "history", "x"], ["pause", "x"]]
)
def test_read_only_commands_never_create_a_store(workdir: Path, command: list[str]) -> None:
    code, _, err = invoke(*command)
    assert code == 4 and "no store at wfdsl.db" in err
    assert not (workdir / "wfdsl.db").exists()


def test_virtual_time_runs_stay_out_of_the_real_store(workdir: Path) -> None:
    (workdir / "quick.yaml").write_text(WAITER.replace("start: wait_go", "start: done"))
    code, _, _ = invoke("run", "quick.yaml", "--virtual-time")
    assert code == 0
    assert not (workdir / "wfdsl.db").exists()
    # Named explicitly, a store is used.
    code, _, _ = invoke("run", "quick.yaml", "--virtual-time", "--db", "fake.db", "--json")
    assert code == 0 and (workdir / "fake.db").exists()


def test_a_virtual_run_left_waiting_in_memory_says_so(workdir: Path) -> None:
    code, _, err = invoke("run", "waiter.yaml", "--virtual-time")
    assert code == 1
    assert "waiting for signal `go`" in err and "--db PATH" in err


def test_serve_takes_the_worker_options_and_shows_path() -> None:
    code, out, _ = invoke("serve", "--help")
    assert code == 0
    for option in ("--owner NAME", "--lease SECONDS", "--synchronous", "--db PATH"):
        assert option in out, option
    assert "--db TEXT" not in out


def test_runs_list_json_of_an_empty_store_is_an_empty_list(stored: Path) -> None:
    code, out, _ = invoke("runs", "list", "--status", "failed", "--json")
    assert code == 0 and json.loads(out) == []


@pytest.mark.parametrize("command", ["worker", "serve"])
@pytest.mark.parametrize("lease", ["0", "-1", "nan"])
def test_a_lease_that_is_not_a_positive_number_of_seconds_is_refused(
    workdir: Path, command: str, lease: str
) -> None:
    code, _, err = invoke(command, "--lease", lease)
    assert code == 2
    assert "--lease" in err and "Traceback" not in err
    assert not (workdir / "wfdsl.db").exists()
