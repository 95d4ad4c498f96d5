"""``wfdsl run`` drives only what it submitted and can do: a flow naming
actions registered nowhere in the process is refused before anything is
stored, the store's other runs are left to workers unless ``--all``, and a
run waiting for a worker with an action says so in ``runs show``."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner
from wfdsl.interpreter.engine import Engine

from wfdsl.cli import cli

CHARGE = """\
wfdsl: "1"
name: checkout
start: charge
states:
  charge:
    type: task
    action: payments.charge
    undo: {action: payments.refund}
    next: ship
  ship: {type: task, action: noop, end: true}
"""

QUICK = """\
wfdsl: "1"
name: quick
start: mark
states:
  mark: {type: task, action: noop, end: true}
"""


@pytest.fixture
def workdir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("WFDSL_DB", raising=False)
    (tmp_path / "checkout.yaml").write_text(CHARGE)
    (tmp_path / "quick.yaml").write_text(QUICK)
    return tmp_path


def invoke(*args: str) -> tuple[int, str]:
    result = CliRunner().invoke(cli, list(args), catch_exceptions=False)
    return result.exit_code, result.output


def test_run_refuses_a_flow_naming_unregistered_actions_and_stores_nothing(
    workdir: Path,
) -> None:
    code, out = invoke("run", "checkout.yaml")
    assert code == 2
    assert "'payments.charge', 'payments.refund', registered nowhere in this process" in out
    assert "checkout.yaml:7:13: action 'payments.charge' (state 'charge')" in out
    assert "checkout.yaml:8:20: action 'payments.refund' (state 'charge')" in out
    assert "--actions" in out and "Traceback" not in out
    with Engine("wfdsl.db") as engine:
        assert engine.list_runs() == []
        assert engine.store.find_definition("checkout") is None


def test_run_drives_only_its_own_run_unless_all(workdir: Path) -> None:
    with Engine("wfdsl.db") as engine:
        engine.submit(str(workdir / "quick.yaml"), run_id="other")
    code, out = invoke("run", "quick.yaml", "--run-id", "mine")
    assert code == 0, out
    with Engine("wfdsl.db") as engine:
        assert engine.get("mine").status == "completed"
        assert engine.history("other") == []  # left for a worker
    code, out = invoke("run", "quick.yaml", "--run-id", "again", "--all")
    assert code == 0, out
    with Engine("wfdsl.db") as engine:
        assert engine.get("other").status == "completed"


def test_runs_show_says_which_action_a_run_waits_for(workdir: Path) -> None:
    with Engine("wfdsl.db") as engine:
        run_id = engine.submit(str(workdir / "checkout.yaml")).id
        engine.run_until_idle()
    code, out = invoke("runs", "show", run_id)
    assert code == 0
    assert "waiting for a worker with action payments.charge" in out
    code, out = invoke("runs", "show", run_id, "--json")
    doc = json.loads(out)
    assert doc["status"] == "running" and doc["needs_action"] == "payments.charge"
    assert doc["waiting_for"] == "waiting for a worker with action payments.charge"
