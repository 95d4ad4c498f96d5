"""The torture's checks (bench/torture_lib.py), shared by the SQLite torture
and the PostgreSQL one, each catch what they count: a run lost or ended
otherwise, a side effect missing, extra, run twice past its kills or run
again after a process that was never killed, a completion that never ran,
an undo done twice, a gap in a history, a timer that fired early. A
torture that reports 0 of each is worth only what these catch."""

from __future__ import annotations

import sys
from collections import Counter
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "bench"))

import torture_lib
from torture_lib import Tally, check_ends, check_history, check_ledger

DONE = {"status": "completed", "vars": {}, "output": 1, "error": None}


def ran(key: str, token: str) -> dict[str, Any]:
    return {"action": "fx", "tag": "t", "key": key, "attempt": 1, "token": token}


def counted(tally: Tally) -> dict[str, int]:
    return {check: getattr(tally, check) for check in torture_lib.CHECKS if getattr(tally, check)}


def test_runs_that_did_not_end_or_ended_otherwise_are_lost_and_diverged() -> None:
    tally = Tally()
    expected = {"a": DONE, "b": DONE, "c": DONE}
    check_ends(tally, {"a": DONE, "b": None, "c": {**DONE, "output": 2}}, expected, "b1: ")
    assert counted(tally) == {"lost": 1, "diverged": 1}
    assert tally.problems[0] == "b1: run b did not finish"
    assert tally.problems[1].startswith("b1: run c ended")


def test_a_call_again_is_allowed_only_after_a_kill_caught_it_in_flight() -> None:
    lines = [ran("k1", "s1"), ran("k1", "s2"), ran("k2", "s2"), ran("k2", "s3")]
    # s1 was killed with k1 in flight: its re-run by s2 is explained. s2 was
    # not killed: k2 running again in s3 is a duplicate no crash caused.
    tally = Tally()
    counts = check_ledger(tally, lines, {"k1", "k2"}, Counter({"k1": 1}), killed={"s1"})
    assert counts == Counter({"k1": 2, "k2": 2})
    assert counted(tally) == {"reexecuted_unkilled": 1, "duplicated": 1}
    assert "k2 ran again after s2, which was not killed" in tally.problems
    assert "k2 ran 2 times (in flight at 0 kills)" in tally.problems


def test_side_effects_missing_or_unknown_to_the_reference_are_counted() -> None:
    tally = Tally()
    check_ledger(
        tally, [ran("k1", "s1"), ran("k9", "s1")], {"k1", "k2"}, Counter(), set(), explain=str.upper
    )
    assert counted(tally) == {"lost": 1, "diverged": 1}
    assert tally.problems == [
        "side effect k2 never ran",
        "side effect k9 is not in the reference (K9)",
    ]


def test_histories_that_disagree_with_the_ledger_or_themselves_are_counted() -> None:
    events = [
        ("r", "action_started", 1, "pay", 0.0, {"call_id": "c1", "key": "k1"}),
        ("r", "action_completed", 2, "pay", 1.0, {"call_id": "c1"}),
        ("r", "undo_completed", 3, "pay", 2.0, {}),
        ("r", "undo_completed", 5, "pay", 3.0, {}),
        ("r", "timer_fired", 6, "nap", 4.0, {"due": 60.0}),
    ]
    tally = Tally()
    check_history(tally, events, ran=set())
    assert counted(tally) == {"lost": 1, "duplicated": 1, "integrity_errors": 1, "diverged": 1}
    assert tally.problems == [
        "k1 completed in the history but never ran",
        "r/pay undone 2 times",
        "history of r has gaps or repeats",
        "r#6 timer fired at 4.0 < due 60.0",
    ]


def test_a_sound_batch_counts_nothing() -> None:
    tally = Tally()
    check_ends(tally, {"a": DONE}, {"a": DONE})
    check_ledger(tally, [ran("k1", "s1")], {"k1"}, Counter(), set())
    events = [
        ("a", "action_started", 1, "pay", 0.0, {"call_id": "c1", "key": "k1"}),
        ("a", "action_completed", 2, "pay", 1.0, {"call_id": "c1"}),
    ]
    check_history(tally, events, ran={"k1"})
    assert counted(tally) == {}
    assert tally.problems == []
