"""`wfdsl runs prune` and `wfdsl runs retention` (docs/cli.md)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner

from wfdsl.cli import cli

QUICK = """
wfdsl: "1"
name: quick
start: fin
states:
  fin: {type: succeed}
"""


@pytest.fixture
def workdir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("WFDSL_DB", raising=False)
    (tmp_path / "quick.yaml").write_text(QUICK)
    return tmp_path


def invoke(*args: str) -> tuple[int, str, str]:
    result = CliRunner().invoke(cli, list(args), catch_exceptions=False)
    return result.exit_code, result.stdout, result.stderr


def test_prune_dry_run_then_delete(workdir: Path) -> None:
    for n in range(3):
        assert invoke("run", "quick.yaml", "--run-id", f"q{n}")[0] == 0
    code, out, _ = invoke("runs", "prune", "--older-than", "0s", "--dry-run", "--json")
    assert code == 0
    report = json.loads(out)
    assert report["dry_run"] is True and report["runs"] == 3 and report["events"] == 9
    assert len(json.loads(invoke("runs", "list", "--json")[1])) == 3

    code, out, _ = invoke("runs", "prune", "--older-than", "0s")
    assert code == 0 and out.startswith("deleted 3 run(s) (9 history events) ")
    assert invoke("runs", "list")[1].strip() == "no runs"
    code, out, _ = invoke("runs", "prune", "--older-than", "30d")
    assert code == 0 and out.startswith("deleted 0 run(s)")


@pytest.mark.parametrize(
    ("args", "message"),
    [
        pytest.param(["--older-than", "soon"], "--older-than: invalid duration 'soon'", id="age"),
        pytest.param(
            ["--older-than", "1d", "--status", "running"], "only finished runs", id="status"
        ),
    ],
)
def test_prune_refuses_bad_options(workdir: Path, args: list[str], message: str) -> None:
    invoke("run", "quick.yaml")
    code, _, err = invoke("runs", "prune", *args)
    assert code == 2 and message in err


def test_retention_setting_round_trip(workdir: Path) -> None:
    invoke("run", "quick.yaml")
    assert invoke("runs", "retention")[1].startswith("no retention")
    code, out, _ = invoke("runs", "retention", "--older-than", "30d", "--status", "completed")
    assert code == 0 and out.strip() == "workers delete completed runs 30d after they ended"
    code, out, _ = invoke("runs", "retention", "--json")
    assert json.loads(out) == {"retention": {"older_than": 2592000.0, "statuses": ["completed"]}}
    assert invoke("runs", "retention", "--off")[1].startswith("no retention")
