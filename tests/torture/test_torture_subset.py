"""The CI slice of the crash torture (issue 6, item 2): ``bench/torture.py
--points 50 --json`` SIGKILLs batches of runs of every crash flow at 50
points (after each kind of commit, inside action calls, at random instants),
recovers each time and finds nothing lost, run twice, different from the
uninterrupted reference, or unsound in the file. About 20 s."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = pytest.mark.slow

TORTURE = Path(__file__).resolve().parents[2] / "bench" / "torture.py"


def test_torture_50_points_loses_duplicates_and_diverges_nothing() -> None:
    proc = subprocess.run(
        [sys.executable, str(TORTURE), "--points", "50", "--seed", "1", "--json"],
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert proc.stdout.strip(), proc.stderr[-3000:]
    report = json.loads(proc.stdout.strip().splitlines()[-1])
    assert report["points"] >= 50
    assert report["runs"] > 0
    problems = report.get("problems")
    assert report["lost"] == 0, problems
    assert report["duplicated"] == 0, problems
    # Every re-run of a call follows a kill of the process that ran it.
    assert report["reexecuted_unkilled"] == 0, problems
    assert report["diverged"] == 0, problems
    assert report["integrity_errors"] == 0, problems
    assert proc.returncode == 0, proc.stderr[-3000:]
    # The kills were spread over kinds: commits of several event types,
    # action calls in flight and random instants.
    assert {"random", "inflight"} & set(report["by_kind"]), report["by_kind"]
    assert len(report["by_kind"]) >= 8, report["by_kind"]
