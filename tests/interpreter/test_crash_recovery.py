"""Crash safety, tested for real (docs/reference.md §5, §8; research/reliability.md §5).

For each kill point, ``crash_harness.py`` runs a flow in a subprocess that
SIGKILLs itself right after a chosen commit (or inside an action, after its
side effect and before it returns). A second process reopens the store and
finishes the run. Then:

- the first process died by SIGKILL (returncode -9);
- the final status, vars, output and error equal an uninterrupted run's;
- from the ledger (outside the engine's database): every idempotency key ran
  exactly once, except a call in flight at the kill (its side effect is in
  the ledger but its completion was not committed), which ran at most twice;
  every action whose ``action_completed`` is in the final history ran; no
  undo completed twice;
- the history is gapless and ``PRAGMA integrity_check`` is ``ok``.
"""

from __future__ import annotations

import json
import os
import signal
import sqlite3
import subprocess
import sys
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import pytest

pytestmark = pytest.mark.slow

HERE = Path(__file__).resolve().parent
HARNESS = HERE / "crash_harness.py"
FLOWS = HERE / "crash_flows"

# (flow, kill spec): after the N-th commit holding an event of that type,
# after N commits of any kind, or inside the N-th action call.
KILL_POINTS = [
    ("retry", "action_started:1"),
    ("retry", "inflight:2"),
    ("retry", "action_failed:1"),
    ("retry", "retry_scheduled:1"),
    ("retry", "action_completed:2"),
    ("timer", "timer_started:1"),
    ("timer", "timer_fired:1"),
    ("timer", "inflight:2"),
    ("signals", "signal_received:1"),
    ("signals", "signal_consumed:1"),
    ("signals", "signal_consumed:2"),
    ("signals", "inflight:3"),
    ("parallel", "branch_started:1"),
    ("parallel", "inflight:2"),
    ("parallel", "branch_completed:1"),
    ("parallel", "branch_completed:2"),
    ("map", "inflight:2"),
    ("map", "action_completed:3"),
    ("map", "branch_completed:2"),
    ("handler", "handler_called:1"),
    ("handler", "vars_changed:1"),
    ("handler", "signal_consumed:1"),
    ("saga", "action_failed:1"),
    ("saga", "undo_started:1"),
    ("saga", "inflight:4"),
    ("saga", "undo_completed:1"),
    ("saga", "undo_completed:2"),
    ("saga", "run_failed:1"),
    ("saga_parallel", "branch_completed:1"),
    ("saga_parallel", "undo_completed:1"),
    ("saga_parallel", "inflight:5"),
    ("subflow", "action_completed:1"),
    ("subflow", "inflight:2"),
    ("subflow", "run_completed:1"),
    ("subflow", "action_completed:2"),
    ("subflow", "signal_consumed:1"),
    ("subflow", "commit:4"),
    # Killed again while recovering (SQLite's compound failures).
    ("retry", "inflight:2+inflight:1"),
    ("saga", "undo_started:1+undo_completed:1"),
    ("map", "inflight:2+commit:2"),
]

if os.environ.get("WFDSL_CRASH_SWEEP"):
    # Every commit and every action call of every flow (SQLite's "fail at
    # the 1st, 2nd, ... Nth operation" loop); points past a flow's end skip.
    KILL_POINTS += [
        (flow.stem, f"{kind}:{n}")
        for flow in sorted(FLOWS.glob("*.yaml"))
        if flow.stem != "child"
        for kind in ("commit", "inflight")
        for n in range(1, 25)
        if (flow.stem, f"{kind}:{n}") not in KILL_POINTS
    ]


def harness(db: Path, ledger: Path, flow: str, kill: str | None = None) -> Any:
    cmd = [
        sys.executable,
        str(HARNESS),
        "--db",
        str(db),
        "--ledger",
        str(ledger),
        "--flow",
        str(FLOWS / f"{flow}.yaml"),
    ]
    if kill:
        cmd += ["--kill-after", kill]
    env = {**os.environ, "PYTHONHASHSEED": "0"}
    return subprocess.run(cmd, capture_output=True, text=True, timeout=60, env=env)


def finished(proc: Any) -> dict[str, Any]:
    assert proc.returncode == 0, proc.stdout[-2000:] + proc.stderr[-4000:]
    result: dict[str, Any] = json.loads(proc.stdout.strip().splitlines()[-1])
    return result


def read_ledger(path: Path) -> list[dict[str, Any]]:
    if not path.exists():
        return []
    return [json.loads(line) for line in path.read_text().splitlines() if line]


def db_events(db: Path) -> list[tuple[str, str, int, str, dict[str, Any]]]:
    """(run id, type, seq, state, data) of every run in the store."""
    conn = sqlite3.connect(db)
    try:
        rows = conn.execute(
            "SELECT r.id, e.type, e.seq, e.state, e.data FROM events e "
            "JOIN runs r ON r.key = e.run_key ORDER BY r.id, e.seq"
        ).fetchall()
    finally:
        conn.close()
    return [(r, t, s, st, json.loads(d) if d else {}) for r, t, s, st, d in rows]


def completed_keys(events: list[tuple[str, str, int, str, dict[str, Any]]]) -> set[str]:
    """Idempotency keys whose completion (action or undo) is committed."""
    keys: dict[tuple[str, str], str] = {}
    done: set[str] = set()
    for run, type_, _, _, data in events:
        if type_ in ("action_started", "undo_started"):
            keys[(run, data["call_id"])] = data["key"]
        elif type_ in ("action_completed", "undo_completed", "action_failed"):
            key = keys.get((run, data.get("call_id", "")))
            if key is not None:
                done.add(key)
    return done


def reference(flow: str, folder: Path) -> dict[str, Any]:
    folder.mkdir()
    result = finished(harness(folder / "wf.db", folder / "ledger", flow))
    return {k: result[k] for k in ("status", "vars", "output", "error")}


def crash_and_recover(flow: str, kill: str, folder: Path) -> dict[str, Any]:
    """Kill a run at ``kill`` (``A+B``: kill the first process at A, the
    recovering one at B), note which calls were in flight at each kill, then
    finish the run in a new process."""
    folder.mkdir()
    db, ledger = folder / "wf.db", folder / "ledger"
    in_flight: Counter[str] = Counter()
    seen = 0
    for spec in kill.split("+"):
        proc = harness(db, ledger, flow, spec)
        if proc.returncode != -signal.SIGKILL:
            return {"first": proc}
        lines = read_ledger(ledger)
        done = completed_keys(db_events(db))
        # Calls this process began whose completion it did not commit.
        in_flight.update({e["key"] for e in lines[seen:]} - done)
        if len({e["token"] for e in lines[seen:]}) > 1:
            return {"first": proc, "mixed": lines[seen:]}
        seen = len(lines)
    before = read_ledger(ledger)
    second = harness(db, ledger, flow)
    conn = sqlite3.connect(db)
    try:
        integrity = conn.execute("PRAGMA integrity_check").fetchall()
    finally:
        conn.close()
    return {
        "first": proc,
        "in_flight": in_flight,
        "before": before,
        "second": second,
        "lines": read_ledger(ledger),
        "events": db_events(db),
        "integrity": integrity,
    }


def point_id(flow: str, kill: str) -> str:
    return f"{flow}-after-{kill.replace(':', '-').replace('+', '-then-')}"


@pytest.fixture(scope="module")
def outcomes(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> dict[str, Any]:
    """Every selected kill point (and each flow's uninterrupted reference),
    run a few at a time: each is two short processes, mostly start-up."""
    selected = [
        (flow, kill)
        for flow, kill in KILL_POINTS
        if any(item.name.endswith(f"[{point_id(flow, kill)}]") for item in request.session.items)
    ]
    tmp = tmp_path_factory.mktemp("crash")
    flows = sorted({flow for flow, _ in selected})
    workers = max(2, min(4, os.cpu_count() or 2))
    with ThreadPoolExecutor(workers) as pool:
        refs = {f: pool.submit(reference, f, tmp / f"reference-{f}") for f in flows}
        runs = {
            point_id(f, k): pool.submit(crash_and_recover, f, k, tmp / point_id(f, k))
            for f, k in selected
        }
        return {
            "references": {f: r.result() for f, r in refs.items()},
            "runs": {i: r.result() for i, r in runs.items()},
        }


@pytest.mark.parametrize(
    ("flow", "kill"), KILL_POINTS, ids=[point_id(flow, kill) for flow, kill in KILL_POINTS]
)
def test_killed_run_recovers_to_the_uninterrupted_result(
    flow: str, kill: str, outcomes: dict[str, Any]
) -> None:
    got = outcomes["runs"][point_id(flow, kill)]
    first = got["first"]
    if first.returncode == 4 and os.environ.get("WFDSL_CRASH_SWEEP"):
        pytest.skip("the run ends before this kill point")
    assert first.returncode == -signal.SIGKILL, (first.returncode, first.stderr[-3000:])
    assert "mixed" not in got, got.get("mixed")
    before, in_flight = got["before"], got["in_flight"]

    result = finished(got["second"])

    # The same end as a run nobody interrupted.
    expected = outcomes["references"][flow]
    assert {k: result[k] for k in expected} == expected

    # Side effects: once per key, the call in flight at the kill at most twice.
    lines = got["lines"]
    assert lines[: len(before)] == before
    counts = Counter(e["key"] for e in lines)
    for key, n in counts.items():
        # Once, plus once more for each kill that caught it in flight.
        limit = 1 + in_flight[key]
        assert n <= limit, f"{key} ran {n} times (in flight at {in_flight[key]} kill(s))"
    events = got["events"]
    completed = completed_keys(events)
    assert completed <= set(counts), f"completed but never ran: {completed - set(counts)}"

    # Compensation never undoes a task twice.
    undone = Counter(
        (run, state) for run, type_, _, state, data in events if type_ == "undo_completed"
    )
    assert all(n == 1 for n in undone.values()), undone

    # Each run's history is gapless; the file is sound.
    by_run: dict[str, list[int]] = {}
    for run, _, seq, _, _ in events:
        by_run.setdefault(run, []).append(seq)
    for run, seqs in by_run.items():
        assert seqs == list(range(1, len(seqs) + 1)), run
    assert got["integrity"] == [("ok",)]


def test_kill_points_cover_every_kind_of_commit() -> None:
    kinds = {kill.split(":")[0] for _, kill in KILL_POINTS}
    assert len(KILL_POINTS) >= 20
    assert {
        "action_started",
        "action_completed",
        "action_failed",
        "retry_scheduled",
        "timer_started",
        "timer_fired",
        "signal_received",
        "signal_consumed",
        "branch_started",
        "branch_completed",
        "handler_called",
        "undo_started",
        "undo_completed",
        "inflight",
        "commit",
    } <= kinds
