"""A flow file that is not UTF-8 is the same WF009 finding everywhere.

``wfdsl validate`` always reported it as a finding; ``wfdsl run``,
``wfdsl worker FILE``, ``Engine.submit`` and ``Engine.register`` used to
crash with a raw ``UnicodeDecodeError`` (exit 70). Now every entry point
refuses it as an invalid document: ``ValidationError`` with the finding at
the first bad byte's line and column, exit 2 on the command line.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner

import wfdsl
from wfdsl.cli import cli

WFDSL = [sys.executable, "-c", "from wfdsl.cli import main; main()"]

# The third line holds a Latin-1 "é" (0xe9), which is not UTF-8.
LATIN1 = (
    'wfdsl: "1"\nname: latin\ndescription: caf\xe9\nstart: go\nstates:\n  go: {type: succeed}\n'
).encode("latin-1")


@pytest.fixture
def latin(tmp_path: Path) -> Path:
    path = tmp_path / "latin.yaml"
    path.write_bytes(LATIN1)
    return path


def _wf009(error: wfdsl.ValidationError, path: Path) -> None:
    (finding,) = error.findings
    assert finding.code == "WF009"
    assert (finding.file, finding.line, finding.col) == (str(path), 3, 17)
    assert "not UTF-8" in finding.message


@pytest.mark.parametrize("how", ["path-text", "pathlike", "register"])
def test_the_python_api_raises_the_wf009_finding(latin: Path, how: str) -> None:
    with wfdsl.Engine(":memory:") as engine, pytest.raises(wfdsl.ValidationError) as raised:
        if how == "path-text":
            engine.submit(str(latin))
        elif how == "pathlike":
            engine.submit(latin)
        else:
            engine.register(str(latin))
    _wf009(raised.value, latin)


def test_validate_and_run_report_the_same_finding_and_run_exits_2(
    latin: Path, tmp_path: Path
) -> None:
    validated = CliRunner().invoke(cli, ["validate", str(latin)])
    ran = CliRunner().invoke(cli, ["run", str(latin), "--db", str(tmp_path / "r.db")])
    assert validated.exit_code == 1
    assert ran.exit_code == 2, ran.output
    expected = f"{latin}:3:17: error[WF009]"
    assert expected in validated.output and expected in ran.output
    assert "Traceback" not in ran.output and "UnicodeDecodeError" not in ran.output


def test_a_worker_named_the_file_exits_2_with_the_finding(latin: Path, tmp_path: Path) -> None:
    done = subprocess.run(
        [*WFDSL, "worker", "--db", str(tmp_path / "w.db"), str(latin)],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 2, done.stderr
    assert f"{latin}:3:17: error[WF009]" in done.stderr
    assert "Traceback" not in done.stderr
