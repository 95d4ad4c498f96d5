"""Run ids on the command line (issue 12 items 1 and 6): a reused id keeps
the earlier runs' histories, `runs list` never cuts an id, and any unique
prefix of an id works wherever an id is taken (ambiguous: exit 4 with the
candidates)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner
from wfdsl.interpreter.clock import VirtualClock
from wfdsl.interpreter.engine import Engine

from wfdsl.cli import cli

COUNT = """
wfdsl: "1"
name: count
input: {type: object, properties: {n: {type: integer}}}
start: one
states:
  one: {type: task, action: noop, next: fin}
  fin: {type: succeed, output: "${ input.n }"}
"""

WAITER = """
wfdsl: "1"
name: waiter
signals: {go: {}}
handlers:
  peek: {return: "${ 'peeked' }"}
start: wait_go
states:
  wait_go: {type: wait, signal: go, as: got, next: done}
  done: {type: succeed, output: "${ vars.got }"}
"""


@pytest.fixture
def workdir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("WFDSL_DB", raising=False)
    monkeypatch.delenv("COLUMNS", raising=False)
    (tmp_path / "count.yaml").write_text(COUNT)
    (tmp_path / "waiter.yaml").write_text(WAITER)
    return tmp_path


def invoke(*args: str) -> tuple[int, str, str]:
    result = CliRunner().invoke(cli, list(args), catch_exceptions=False)
    return result.exit_code, result.stdout, result.stderr


def test_running_twice_under_one_id_keeps_the_first_runs_history(workdir: Path) -> None:
    code, _, _ = invoke("run", "count.yaml", "--run-id", "fan1", "--input", '{"n": 1}')
    assert code == 0
    code, out, _ = invoke("runs", "history", "fan1", "--json")
    first = json.loads(out)
    assert first[-1]["type"] == "run_completed" and first[-1]["data"]["output"] == 1

    code, _, _ = invoke("run", "count.yaml", "--run-id", "fan1", "--input", '{"n": 2}')
    assert code == 0
    # The id shows its newest run, and says where the earlier one is.
    code, out, err = invoke("runs", "history", "fan1")
    assert code == 0 and "execution 2" in err and "--execution 1" in err
    code, out, _ = invoke("runs", "history", "fan1", "--json")
    assert json.loads(out)[-1]["data"]["output"] == 2
    # The first run's events are all still there.
    code, out, _ = invoke("runs", "history", "fan1", "--execution", "1", "--json")
    assert code == 0 and json.loads(out) == first
    code, out, _ = invoke("runs", "show", "fan1", "--execution", "1", "--json")
    assert json.loads(out)["output"] == 1 and json.loads(out)["execution"] == 1
    code, out, _ = invoke("runs", "show", "fan1")
    assert "execution 2 of 2" in out
    code, out, _ = invoke("runs", "list", "--json")
    assert [(r["id"], r["execution"]) for r in json.loads(out)] == [("fan1", 2)]
    code, out, _ = invoke("runs", "list", "--all-executions", "--json")
    assert sorted(r["execution"] for r in json.loads(out)) == [1, 2]
    code, _, err = invoke("runs", "history", "fan1", "--execution", "3")
    assert code == 4 and "no execution 3" in err


def _waiting_runs(count: int, **ids: str) -> list[str]:
    with Engine("wfdsl.db", clock=VirtualClock()) as engine:
        workflow = engine.register(WAITER)
        made = [engine.start(workflow, run_id=run_id).id for run_id in ids.values()]
        made += [r.id for r in engine.start_many(workflow, [None] * count)]
        engine.run_until_idle()
    return made


def test_runs_list_never_cuts_an_id_in_80_columns_or_a_pipe(workdir: Path) -> None:
    long_id = "nightly-report-2026-12-07-customer-eu-west-accounts-receivable"
    made = _waiting_runs(3, long=long_id)
    code, out, _ = invoke("runs", "list")  # not a terminal: rich lays out for 80 columns
    assert code == 0
    for run_id in made:  # whole, on one line: the other columns gave way
        assert run_id in out, out


@pytest.mark.parametrize(
    "command",
    [
        ("runs", "show"),
        ("runs", "history"),
        ("signal", "{id}", "go", "--data", "1"),
        ("call", "{id}", "peek"),
        ("pause",),
        ("resume",),
        ("step",),
        ("cancel",),
    ],
)
def test_a_unique_prefix_works_wherever_a_run_id_is_taken(
    workdir: Path, command: tuple[str, ...]
) -> None:
    (made,) = _waiting_runs(0, one="order-7f3a9c")
    args = [part.replace("{id}", "order-7f") for part in command]
    if "{id}" not in command:
        args.append("order-7f")
    if command == ("resume",) or command == ("step",):
        assert invoke("pause", made)[0] == 0
    code, out, err = invoke(*args)
    assert code == 0, (out, err)
    assert "no run" not in err


def test_an_ambiguous_prefix_exits_4_and_lists_the_candidates(workdir: Path) -> None:
    _waiting_runs(0, a="order-7f3a", b="order-7f9c", c="other")
    for args in (("runs", "show", "order-7f"), ("cancel", "order-7f"), ("signal", "order", "go")):
        code, out, err = invoke(*args)
        assert code == 4, (args, out, err)
        assert "ambiguous" in err and "order-7f3a, order-7f9c" in err
    # Nothing was cancelled or sent.
    code, out, _ = invoke("runs", "list", "--json")
    assert {r["status"] for r in json.loads(out)} == {"waiting"}
