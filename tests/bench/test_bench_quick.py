"""bench/run.py --quick still runs every scenario and prints its figures.

For breakage, not for timing: the figures are not checked against targets
(CI machines differ), only that each scenario ran without error and printed
every JSON key the issue names with a number. Peers are skipped
(``--no-peers``) so CI never installs DBOS or SpiffWorkflow.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]

KEYS = {
    "concurrent": (
        "wfdsl_steps_per_s",
        "dbos_steps_per_s",
        "spiff_steps_per_s",
        "raw_batched_rows_per_s",
    ),
    "sequential": ("wfdsl_steps_per_s", "raw_commits_per_s"),
    "waiting": ("rss_mb", "start_s", "idle_cpu", "bytes_per_run"),
    "timers": ("p50_ms", "p99_ms"),
    "recovery": ("resume_s",),
    "signal": ("p50_ms", "p99_ms"),
    "validate": ("total_s",),
    "interpret": ("us_per_step",),
    "startup": ("python_ms", "help_ms", "validate_ms", "help_ratio", "validate_ratio"),
}
PEER_KEYS = {"dbos_steps_per_s", "spiff_steps_per_s"}


@pytest.fixture(scope="module")
def results(tmp_path_factory: pytest.TempPathFactory) -> dict[str, dict[str, object]]:
    workdir = tmp_path_factory.mktemp("bench")
    done = subprocess.run(
        [
            sys.executable,
            str(ROOT / "bench" / "run.py"),
            "--quick",
            "--json",
            "--no-peers",
            "--workdir",
            str(workdir),
        ],
        capture_output=True,
        text=True,
        timeout=600,
        cwd=ROOT,
    )
    assert done.returncode == 0, done.stderr[-4000:]
    lines = [json.loads(line) for line in done.stdout.splitlines() if line.strip()]
    assert list(workdir.iterdir()) == [], "scenarios left database files behind"
    return {line["scenario"]: line for line in lines}


@pytest.mark.slow
@pytest.mark.parametrize("scenario", list(KEYS))
def test_scenario_prints_its_keys(results: dict[str, dict[str, object]], scenario: str) -> None:
    result = results[scenario]
    assert "error" not in result, result.get("error")
    for key in KEYS[scenario]:
        assert key in result, f"{scenario} printed no {key!r}"
        if key in PEER_KEYS:
            assert result[key] is None  # --no-peers
            continue
        value = result[key]
        assert isinstance(value, (int, float)) and value >= 0, f"{scenario}.{key} = {value!r}"
    assert isinstance(result["targets"], dict)
    assert result["machine"]["cores"]


@pytest.mark.slow
def test_quick_run_names_peers_as_skipped(results: dict[str, dict[str, object]]) -> None:
    assert results["concurrent"]["peers_unavailable"] == {"all": "--no-peers"}
