"""README's first command runs the order saga end to end, for real (real
time, a real SQLite file, the demo actions), and each example's demo actions
cover what the examples call."""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def _readme_run_command() -> list[str]:
    text = (ROOT / "README.md").read_text(encoding="utf-8")
    line = next(line for line in text.splitlines() if "&& wfdsl run " in line)
    return line.rsplit("&& ", 1)[1].split()


def test_readme_run_command_completes_the_order_saga(tmp_path: Path) -> None:
    command = _readme_run_command()
    assert command[:2] == ["wfdsl", "run"]
    shutil.copytree(ROOT / "examples", tmp_path / "examples")
    wfdsl = shutil.which("wfdsl") or str(Path(sys.executable).with_name("wfdsl"))
    done = subprocess.run(
        [wfdsl, *command[1:], "--json"],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=120,
        env={**os.environ, "NO_COLOR": "1"},
    )
    assert done.returncode == 0, done.stderr
    result = json.loads(done.stdout)
    assert result["status"] == "completed"
    assert result["output"]["payment"] == {"payment_id": "pay-o-1"}
    assert (tmp_path / "wfdsl.db").exists()


def test_a_declined_card_is_compensated(tmp_path: Path) -> None:
    shutil.copytree(ROOT / "examples", tmp_path / "examples")
    data = json.loads((ROOT / "examples/order_saga.input.json").read_text())
    data["card"] = "tok_declined"
    wfdsl = shutil.which("wfdsl") or str(Path(sys.executable).with_name("wfdsl"))
    done = subprocess.run(
        [
            wfdsl,
            "run",
            "examples/order_saga.yaml",
            "--actions",
            "examples/demo_actions.py",
            "--input",
            json.dumps(data),
            "--json",
        ],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 1, done.stderr
    assert json.loads(done.stdout)["error"]["error"] == "PaymentFailed"
    assert "release stock of o-1" in done.stderr and "delete order o-1" in done.stderr


def test_demo_actions_cover_every_custom_action_of_the_examples() -> None:
    called: set[str] = set()
    for flow in (ROOT / "examples").glob("*.yaml"):
        called.update(re.findall(r"action: ([a-z_]+\.[a-z_.]+)", flow.read_text()))
    source = (ROOT / "examples/demo_actions.py").read_text()
    registered = set(re.findall(r'@wfdsl\.action\("([^"]+)"\)', source))
    assert called <= registered, sorted(called - registered)
