"""`wfdsl migrate --check NAME --to FLOW [--map OLD=NEW] [--apply]` (docs/cli.md)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner
from wfdsl.interpreter.clock import VirtualClock
from wfdsl.interpreter.engine import Engine

from tests.interpreter.test_migration import V1, V2, V3
from wfdsl.cli import cli


@pytest.fixture
def workdir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("WFDSL_DB", raising=False)
    for name, text in (("v1", V1), ("v2", V2), ("v3", V3)):
        (tmp_path / f"{name}.yaml").write_text(text)
    return tmp_path


def invoke(*args: str) -> tuple[int, str, str]:
    result = CliRunner().invoke(cli, list(args), catch_exceptions=False)
    return result.exit_code, result.stdout, result.stderr


def _park(run_id: str) -> None:
    """A run of v1 waiting at its review (`wfdsl run` would wait with it)."""
    with Engine("wfdsl.db", clock=VirtualClock()) as engine:
        engine.submit(V1, input={"amount": 5}, run_id=run_id)
        assert engine.run_until_complete(run_id).status == "waiting"


def test_check_then_apply(workdir: Path) -> None:
    _park("k1")
    code, out, _ = invoke("migrate", "--check", "claim", "--to", "v3.yaml")
    assert code == 1
    assert out.strip() == (
        "cannot    k1 (at review): it is at 'review' and the new version has no state "
        "'review'; map it with --map review=NEW"
    )
    code, out, _ = invoke("migrate", "--check", "claim", "--to", "v2.yaml")
    assert (code, out.strip()) == (0, "can move  k1 (at review)")
    code, out, _ = invoke("migrate", "--check", "claim", "--to", "v2.yaml", "--apply", "--json")
    assert code == 0
    (run,) = json.loads(out)["runs"]
    assert run["moved"] is True and run["id"] == "k1"
    assert json.loads(invoke("runs", "show", "k1", "--json")[1])["version"] == "2"
    code, out, _ = invoke("migrate", "--check", "claim", "--to", "v2.yaml")
    assert (code, out.strip()) == (0, "no active runs of claim to move to version 2")


def test_an_invalid_flow_exits_2(workdir: Path) -> None:
    _park("x")
    (workdir / "bad.yaml").write_text('wfdsl: "1"\nname: claim\nstart: nowhere\nstates: {}\n')
    code, _, err = invoke("migrate", "--check", "claim", "--to", "bad.yaml")
    assert code == 2 and "bad.yaml" in err
    code, _, err = invoke("migrate", "--check", "claim", "--to", "v2.yaml", "--map", "review")
    assert code == 2 and "expected OLD=NEW" in err


def test_an_invalid_flow_is_named_before_a_missing_store(workdir: Path) -> None:
    """The mistake in what was typed comes first: an invalid FLOW exits 2
    with its findings even where there is no store yet (and makes none)."""
    (workdir / "bad.yaml").write_text('wfdsl: "1"\nname: claim\nstart: nowhere\nstates: {}\n')
    code, _, err = invoke("migrate", "--check", "claim", "--to", "bad.yaml")
    assert code == 2
    assert err.startswith("bad.yaml:4:9: error[WF105]")  # file:line:col of the finding
    assert "no store" not in err
    assert not (workdir / "wfdsl.db").exists()
    code, _, err = invoke("migrate", "--check", "claim", "--to", "missing.yaml")
    assert code == 2 and err.startswith("missing.yaml:1:1: error[WF009]: the file does not exist")
