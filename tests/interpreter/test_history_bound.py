"""A run's history is bounded (docs/operations.md "How much data a run may
hold"): a run that would write past MAX_HISTORY_EVENTS fails with
LimitExceeded saying so, instead of growing for ever."""

from __future__ import annotations

import pytest
from wfdsl.interpreter.clock import VirtualClock
from wfdsl.interpreter.engine import Engine
from wfdsl.interpreter.machine import limits

# Waits durably each round, so only the size of its history can stop it.
POLLER = """
wfdsl: "1"
name: poller
vars: {rounds: 0}
start: poll
states:
  poll:
    type: task
    action: noop
    set: {rounds: "${ vars.rounds + 1 }"}
    next: nap
  nap:
    type: wait
    any:
      - {signal: stop, next: fin}
      - {timer: 1m, next: poll}
  fin: {type: succeed}
"""


def test_a_run_past_the_history_bound_fails_with_a_clear_error(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(limits, "MAX_HISTORY_EVENTS", 60)
    with Engine(clock=VirtualClock()) as engine:
        engine.submit(POLLER, run_id="p")
        run = engine.run_until_complete("p")
        history = run.history()
    assert run.status == "failed"
    assert run.error["error"] == "LimitExceeded"
    assert "its history would pass 60 events" in run.error["message"]
    assert run.error["message"].startswith("run 'p' state ")
    # Nothing of the refused transition was kept: at most the bound, plus the failure.
    assert len(history) <= 62 and history[-1].type == "run_failed"
    assert [e.seq for e in history] == list(range(1, len(history) + 1))


def test_the_bound_is_documented() -> None:
    from pathlib import Path

    docs = (Path(__file__).resolve().parents[2] / "docs" / "operations.md").read_text()
    assert f"{limits.MAX_HISTORY_EVENTS:,} events" in docs
