"""`main`: no traceback ever reaches a user; internal errors exit 70 with a hint;
the installed `wfdsl` script works (one real subprocess)."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner

from wfdsl import cli_validate
from wfdsl.cli import EXIT_INTERNAL, cli, main

ROOT = Path(__file__).resolve().parents[2]
CORPUS = sorted((ROOT / "tests" / "dsl" / "invalid").glob("*.yaml")) + sorted(
    (ROOT / "examples").glob("*.yaml")
)


def test_an_internal_error_exits_70_with_one_line_and_a_hint(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    def broken(*args: object, **kwargs: object) -> None:
        raise KeyError("boom")

    monkeypatch.setattr(cli_validate, "check_file", broken)
    monkeypatch.delenv("WFDSL_DEBUG", raising=False)
    with pytest.raises(SystemExit) as exit_:
        main(["validate", str(CORPUS[0])])
    assert exit_.value.code == EXIT_INTERNAL
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "internal error: KeyError" in err and "WFDSL_DEBUG=1" in err
    assert "Traceback" not in err

    monkeypatch.setenv("WFDSL_DEBUG", "1")
    with pytest.raises(KeyError):
        main(["validate", str(CORPUS[0])])


def test_main_returns_the_command_exit_code(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exit_:
        main(["validate", str(ROOT / "examples" / "signup.yaml")])
    assert exit_.value.code == 0


def _mutations(text: str, count: int = 12) -> list[str]:
    """Broken variants of a document: truncated, a line dropped, a line indented."""
    lines = text.splitlines(keepends=True)
    picks = sorted({len(lines) * k // count for k in range(1, count)})
    out = [text[: len(text) * k // 5] for k in range(1, 5)]
    out += ["".join(lines[:i] + lines[i + 1 :]) for i in picks[::2]]
    out += ["".join([*lines[:i], " " + lines[i], *lines[i + 1 :]]) for i in picks[1::2]]
    out += [text.replace("${", "${ (", 1), text.replace(":", "", 3), text.replace("next", "nxt")]
    return out


@pytest.mark.parametrize("flow", CORPUS, ids=lambda p: p.stem)
def test_broken_documents_never_reach_the_internal_error_handler(flow: Path) -> None:
    runner = CliRunner()
    text = flow.read_text(encoding="utf-8")
    variants = [text, *_mutations(text)] if flow.parent.name == "examples" else [text]
    for i, variant in enumerate(variants):
        command = ["validate", "-"] if i % 2 else ["validate", "--json", "--strict", "-"]
        result = runner.invoke(cli, command, input=variant)
        # An exception here would become exit 70 under main(): a bug.
        assert result.exception is None or isinstance(result.exception, SystemExit), (
            variant,
            result.exception,
        )
        assert result.exit_code in (0, 1)


def test_the_installed_script_runs(tmp_path: Path) -> None:
    script = shutil.which("wfdsl") or str(Path(sys.executable).with_name("wfdsl"))
    assert Path(script).exists(), "the wfdsl console script is not installed"
    env = {**os.environ, "NO_COLOR": "1"}
    good = subprocess.run(
        [script, "validate", str(ROOT / "examples" / "signup.yaml")],
        capture_output=True,
        text=True,
        env=env,
        cwd=tmp_path,
        timeout=60,
    )
    assert good.returncode == 0, good.stderr
    bad = subprocess.run(
        [script, "validate", str(ROOT / "tests" / "dsl" / "invalid" / "unknown_next_target.yaml")],
        capture_output=True,
        text=True,
        env=env,
        cwd=tmp_path,
        timeout=60,
    )
    assert bad.returncode == 1 and "error[WF201]" in bad.stdout and "^" in bad.stdout
    assert "Traceback" not in bad.stderr
