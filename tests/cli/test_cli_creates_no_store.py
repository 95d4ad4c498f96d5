"""A mistake leaves nothing behind: a command refused for a mistyped flow,
bad input or a store that does not exist creates no database file.

``run`` and ``worker`` create their store, but only once what the user gave
them holds; every command that only reads or acts on stored runs says
``no store at PATH`` (exit 4) instead of creating an empty one."""

from __future__ import annotations

from pathlib import Path

import pytest
from click.testing import CliRunner

from wfdsl.cli import cli

GOOD = """
wfdsl: "1"
name: good
input:
  type: object
  required: [n]
  properties:
    n: {type: integer}
start: done
states:
  done: {type: succeed}
"""

# A typo in a target and a task without its action: two findings.
BAD = """
wfdsl: "1"
name: bad
start: a
states:
  a: {type: task, next: nowhere}
"""

NEEDS_ACTION = """
wfdsl: "1"
name: charges
start: charge
states:
  charge: {type: task, action: payments.charge, next: done}
  done: {type: succeed}
"""


@pytest.fixture
def workdir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("WFDSL_DB", raising=False)
    (tmp_path / "good.yaml").write_text(GOOD)
    (tmp_path / "bad.yaml").write_text(BAD)
    (tmp_path / "charges.yaml").write_text(NEEDS_ACTION)
    (tmp_path / "flows").mkdir()
    (tmp_path / "flows" / "bad.yaml").write_text(BAD)
    return tmp_path


def invoke(*args: str) -> tuple[int, str]:
    result = CliRunner().invoke(cli, list(args), catch_exceptions=False)
    return result.exit_code, result.stderr


def files(folder: Path) -> set[str]:
    return {p.name for p in folder.iterdir() if p.is_file()}


MISTAKES = {
    "run-invalid-flow": (["run", "bad.yaml"], "bad.yaml:6:"),
    "run-missing-input": (["run", "good.yaml"], "input: null is not of type 'object'"),
    "run-wrong-input": (["run", "good.yaml", "--input", '{"n": "x"}'], 'input.n: "x" is not'),
    "run-bad-run-id": (["run", "good.yaml", "--input", '{"n": 1}', "--run-id", "a/b"], "'/'"),
    "run-missing-action": (["run", "charges.yaml"], "nothing was stored"),
    "run-invalid-flow-json": (["run", "bad.yaml", "--json"], '"code": "invalid"'),
    "run-invalid-flow-named-db": (["run", "bad.yaml", "--db", "runs.db"], "bad.yaml:6:"),
    "run-invalid-flow-sqlite-url": (["run", "bad.yaml", "--db", "sqlite:///runs.db"], "bad.yaml"),
    "worker-invalid-flow": (["worker", "bad.yaml"], "bad.yaml:6:"),
    "worker-invalid-flow-among-good": (["worker", "good.yaml", "bad.yaml"], "bad.yaml:6:"),
}


@pytest.mark.parametrize("args, says", MISTAKES.values(), ids=MISTAKES.keys())
def test_a_refused_run_or_worker_creates_no_store(
    workdir: Path, args: list[str], says: str
) -> None:
    before = files(workdir)
    result = CliRunner().invoke(cli, args, catch_exceptions=False)
    assert result.exit_code == 2
    assert says in result.stderr + result.stdout
    assert "Traceback" not in result.stderr
    assert files(workdir) == before  # no wfdsl.db, runs.db, -wal or -shm file


def test_the_corrected_command_creates_the_store(workdir: Path) -> None:
    code, err = invoke("run", "good.yaml", "--input", '{"n": 1}')
    assert code == 0, err
    assert "wfdsl.db" in files(workdir)


READERS = {
    "runs-list": ["runs", "list"],
    "runs-show": ["runs", "show", "r1"],
    "runs-history": ["runs", "history", "r1"],
    "runs-prune": ["runs", "prune", "--older-than", "1d"],
    "runs-retention": ["runs", "retention"],
    "signal": ["signal", "r1", "go", "--data", "{}"],
    "call": ["call", "r1", "h"],
    "complete": ["complete", "tok"],
    "cancel": ["cancel", "r1"],
    "pause": ["pause", "r1"],
    "resume": ["resume", "r1"],
    "step": ["step", "r1"],
    "redrive": ["redrive", "r1"],
    "fork": ["fork", "r1", "--at", "1"],
    "migrate": ["migrate", "--check", "good", "--to", "good.yaml"],
    "test-record": ["test", "record", "r1"],
}


@pytest.mark.parametrize("args", READERS.values(), ids=READERS.keys())
@pytest.mark.parametrize("db", ["wfdsl.db", "sqlite:///wfdsl.db"])
def test_a_command_on_stored_runs_says_there_is_no_store_and_creates_none(
    workdir: Path, args: list[str], db: str
) -> None:
    before = files(workdir)
    code, err = invoke(*args, "--db", db)
    assert code == 4
    assert err.startswith("wfdsl: no store at wfdsl.db")
    assert err.count("\n") == 1  # one line
    assert files(workdir) == before
