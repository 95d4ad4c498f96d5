"""Every action and every undo executed twice (research/reliability.md, test
plan row 4; Steno's ``RepeatInjected``).

The engine's action runner can run each successful call a second time with
the same arguments and idempotency key and report the second result
(``ActionRunner.repeat_actions``, what a crash between an action's side
effect and its recorded completion does to one call). With it on for every
call, each crash flow (tasks with retries, timers, signals, parallel, map,
a handler, sagas with undo, a subflow) must end exactly as without it, and
the ledger outside the database must show each successful call twice under
one key: actions at-least-once are harmless when they honour their key.
"""

from __future__ import annotations

import sys
from collections import Counter
from pathlib import Path
from typing import Any

import pytest
from wfdsl.interpreter.clock import VirtualClock

import wfdsl

pytestmark = pytest.mark.slow

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "bench"))

import torture_lib  # noqa: E402

H = torture_lib.H


def drive(tmp: Path, repeat: bool) -> tuple[dict[str, Any], Counter[str], Counter[str]]:
    """Every crash flow once: (ends, calls per key, calls per action)."""
    tmp.mkdir()
    db, ledger = tmp / "wf.db", tmp / "ledger"
    clock = VirtualClock()
    engine = wfdsl.Engine(str(db), clock=clock)
    # The runner's fault-injection switch (no public knob: tests only).
    engine._runner.repeat_actions = repeat
    H.register(engine, ledger, H.KillSpec(None))
    try:
        ends = torture_lib.drive_all(engine, clock, torture_lib.run_specs(1))
    finally:
        engine.close()
    lines = torture_lib.read_ledger(ledger)
    return (
        ends,
        Counter(line["key"] for line in lines),
        Counter(line["action"] for line in lines),
    )


def test_every_call_twice_changes_no_run_and_keeps_one_key_per_call(tmp_path: Path) -> None:
    once, keys_once, actions_once = drive(tmp_path / "once", repeat=False)
    twice, keys_twice, actions_twice = drive(tmp_path / "twice", repeat=True)

    assert twice == once
    assert {end["status"] for end in once.values()} >= {"completed", "failed"}
    # The same calls, under the same keys; each ran twice, except calls that
    # failed (a failure is not repeated: nothing to repeat).
    assert set(keys_twice) == set(keys_once)
    for key, n in keys_once.items():
        assert keys_twice[key] in (n, 2 * n), (key, n, keys_twice[key])
    doubled = {key for key, n in keys_once.items() if keys_twice[key] == 2 * n}
    assert len(doubled) >= len(keys_once) // 2
    # Undos too (the saga flows), and the failing actions were not repeated.
    assert actions_twice["undo"] == 2 * actions_once["undo"] > 0
    assert actions_twice["fx"] == 2 * actions_once["fx"] > 0
    assert actions_twice["declined"] == actions_once["declined"] > 0
