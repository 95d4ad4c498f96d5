"""Crash torture on PostgreSQL (issue 13, section 4): three worker processes
serve one PostgreSQL database while one of them at a time is SIGKILLed, at
50 points (after commits holding each kind of event, inside action calls,
at random instants), each replaced by a fresh worker; then every run must
end as an uninterrupted reference run does (nothing lost, duplicated or
diverged), every completed call's side effect must be in the ledger, and a
call may run again only after the process that ran it was killed.

``bench/pg_torture.py`` does the work (it reuses the crash harness of
``bench/torture.py``). ``WFDSL_PG_TORTURE_POINTS=500`` runs 500 points once
(about ten times as long); the CI run is bounded by the count of points,
not by time.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from postgres_server import PostgresServer

pytestmark = pytest.mark.slow

TORTURE = Path(__file__).resolve().parents[2] / "bench" / "pg_torture.py"
POINTS = int(os.environ.get("WFDSL_PG_TORTURE_POINTS", "50"))


def test_three_workers_on_postgres_killed_at_50_points_lose_and_repeat_nothing(
    postgres_server: PostgresServer,
) -> None:
    url = postgres_server.create_database("torture")
    reference = postgres_server.create_database("reference")
    proc = subprocess.run(
        [
            sys.executable,
            str(TORTURE),
            "--url",
            url,
            "--reference-url",
            reference,
            "--points",
            str(POINTS),
            "--seed",
            "1",
            "--json",
        ],
        capture_output=True,
        text=True,
        timeout=600 + 20 * POINTS,
    )
    assert proc.stdout.strip(), proc.stderr[-3000:]
    report = json.loads(proc.stdout.strip().splitlines()[-1])
    problems = report.get("problems")
    assert report["points"] >= POINTS
    assert report["workers"] == 3
    assert report["runs"] > 0
    assert report["lost"] == 0, problems
    assert report["duplicated"] == 0, problems
    assert report["reexecuted_unkilled"] == 0, problems
    assert report["diverged"] == 0, problems
    assert report["integrity_errors"] == 0, problems
    assert proc.returncode == 0, proc.stderr[-3000:]
    # The kills were spread over kinds: commits of several event types,
    # calls in flight, random instants.
    assert len(report["by_kind"]) >= 6, report["by_kind"]
