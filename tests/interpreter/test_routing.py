"""Capability routing: a process drives only the calls it has actions for.

A run whose next call names an action a process lacks is never failed by
it: the process hands the run back to the store, marked with the action it
waits for, and only a process that has the action claims it.
"""

from __future__ import annotations

import logging
from pathlib import Path

import pytest
from wfdsl.interpreter.clock import VirtualClock
from wfdsl.interpreter.engine import Engine

CHARGE = """
wfdsl: "1"
name: checkout
start: charge
states:
  charge:
    type: task
    action: payments.charge
    args: {amount: 5}
    result: receipt
    next: done
  done: {type: succeed, output: "${ vars.receipt }"}
"""

WAITS = """
wfdsl: "1"
name: approval
start: approve
states:
  approve: {type: wait, signal: approve, next: done}
  done: {type: succeed}
"""

SPLIT = """
wfdsl: "1"
name: split
start: both
states:
  both:
    type: parallel
    branches:
      mail:
        start: send
        states:
          send: {type: task, action: email.send, end: true}
      pay:
        start: charge
        states:
          charge: {type: task, action: payments.charge, end: true}
    next: done
  done: {type: succeed}
"""


def _engine(db: str, name: str, ledger: list[str], *actions: str) -> Engine:
    engine = Engine(db, clock=VirtualClock(), owner=name)
    for action in actions:

        def act(amount: int = 0, _action: str = action) -> dict[str, object]:
            ledger.append(f"{name}:{_action}")
            return {"by": name, "amount": amount}

        engine.actions.register(action, act)
    return engine


def test_a_run_whose_action_the_first_worker_lacks_is_completed_by_a_second_that_has_it(
    store_url: str,
) -> None:
    db = store_url
    ledger: list[str] = []
    with _engine(db, "first", ledger) as first:
        run_id = first.submit(CHARGE).id
        first.run_until_idle()
        left = first.get(run_id)
        # Not failed: left for a process that has the action, and says so.
        assert left.status == "running"
        assert left.needs_action == "payments.charge"
        assert left.waiting_for == "waiting for a worker with action payments.charge"
        assert left.to_json()["needs_action"] == "payments.charge"
        assert "action_failed" not in [e.type for e in first.history(run_id)]
        # The first worker does not take it back (no spin, no failure).
        first.run_until_idle()
        assert first.get(run_id).status == "running"
    with _engine(db, "second", ledger, "payments.charge") as second:
        done = second.run_until_complete(run_id)
        types = [e.type for e in done.history()]
    assert done.status == "completed"
    assert done.output == {"by": "second", "amount": 5}
    assert done.needs_action is None
    assert ledger == ["second:payments.charge"]
    assert types.count("action_started") == 1 and "action_failed" not in types


def test_a_claim_takes_a_run_waiting_for_an_action_only_with_that_action(store_url: str) -> None:
    db = store_url
    ledger: list[str] = []
    with _engine(db, "first", ledger) as first:
        run_id = first.submit(CHARGE).id
        first.run_until_idle()
        now = first.clock.now()
        store = first.store
        lacking = store.claim_ready("x", now=now, lease_seconds=30, limit=10, actions={"log"})
        assert lacking == []
        assert store.next_ready_at("x", actions={"log"}) is None
        having = store.claim_ready(
            "y", now=now, lease_seconds=30, limit=10, actions={"log", "payments.charge"}
        )
        assert [row.id for row, _ in having] == [run_id]
        assert having[0][0].needs_action == "payments.charge"


def test_parallel_calls_are_split_between_processes_and_each_runs_once(store_url: str) -> None:
    db = store_url
    ledger: list[str] = []
    with _engine(db, "mailer", ledger, "email.send") as mailer:
        run_id = mailer.submit(SPLIT).id
        mailer.run_until_idle()
        assert mailer.get(run_id).needs_action == "payments.charge"
    with _engine(db, "payer", ledger, "payments.charge") as payer:
        assert payer.run_until_complete(run_id).status == "completed"
    assert sorted(ledger) == ["mailer:email.send", "payer:payments.charge"]


def test_a_process_says_in_its_log_which_action_a_run_waits_for(
    store_url: str, caplog: pytest.LogCaptureFixture
) -> None:
    db = store_url
    with caplog.at_level(logging.WARNING, logger="wfdsl.engine"), _engine(db, "w", []) as worker:
        run_id = worker.submit(CHARGE).id
        worker.run_until_idle()
    assert any(
        run_id in r.getMessage()
        and "waiting for a worker with action 'payments.charge'" in r.getMessage()
        for r in caplog.records
    )


def _said_waiting(caplog: pytest.LogCaptureFixture) -> list[str]:
    return [r.getMessage() for r in caplog.records if "waiting for a worker" in r.getMessage()]


def test_a_run_resumed_at_a_breakpoint_is_not_said_to_wait_for_an_action_the_process_has(
    store_url: str, caplog: pytest.LogCaptureFixture
) -> None:
    # The resume is applied where no driver held the run, a pass that starts
    # no call: the run goes back to the store with its call, which this same
    # process then claims. Nobody lacks the action, so nothing says so.
    with (
        caplog.at_level(logging.INFO, logger="wfdsl"),
        _engine(store_url, "w", [], "payments.charge") as worker,
    ):
        run_id = worker.submit(CHARGE, break_at="charge").id
        assert worker.run_until_complete(run_id).status == "paused"
        worker.resume(run_id)
        assert worker.run_until_complete(run_id).status == "completed"
    assert _said_waiting(caplog) == []


def test_a_run_resumed_by_a_process_without_its_action_is_said_to_wait_for_it(
    store_url: str, caplog: pytest.LogCaptureFixture
) -> None:
    with _engine(store_url, "payer", [], "payments.charge") as payer:
        run_id = payer.submit(CHARGE, break_at="charge").id
        assert payer.run_until_complete(run_id).status == "paused"
    with caplog.at_level(logging.INFO, logger="wfdsl"), _engine(store_url, "other", []) as other:
        other.resume(run_id)
        other.run_until_idle()
        assert other.get(run_id).needs_action == "payments.charge"
    assert _said_waiting(caplog) == [
        f"run {run_id!r}: waiting for a worker with action 'payments.charge' (not registered"
        " in this process); left for a process that has it"
    ]


def test_shell_is_an_action_a_process_has_only_when_enabled(store_url: str) -> None:
    flow = """
wfdsl: "1"
name: sh
start: run
states:
  run: {type: task, action: shell, args: {command: [echo, hi]}, end: true}
"""
    db = store_url
    with Engine(db, clock=VirtualClock()) as plain:
        run_id = plain.submit(flow).id
        plain.run_until_idle()
        assert plain.get(run_id).needs_action == "shell"
        assert [m.action for m in plain.missing_actions(plain.register(flow))] == ["shell"]
    with Engine(db, clock=VirtualClock(), allow_shell=True) as enabled:
        assert enabled.run_until_complete(run_id).status == "completed"


def test_run_until_complete_without_others_drives_only_that_run(store_url: str) -> None:
    db = store_url
    ledger: list[str] = []
    with _engine(db, "e", ledger, "payments.charge") as engine:
        other = engine.submit(CHARGE, run_id="other").id
        mine = engine.submit(CHARGE, run_id="mine").id
        assert engine.run_until_complete(mine, others=False).status == "completed"
        assert engine.history(other) == []  # never started here
        assert engine.run_until_complete(other).status == "completed"
    assert ledger == ["e:payments.charge", "e:payments.charge"]


def test_a_wait_that_times_out_before_any_worker_took_the_call_says_so(tmp_path: Path) -> None:
    """``run_until_complete(timeout=...)`` on real time, for a run whose call
    names an action this process lacks and no worker has taken: not "did not
    end", as if it were slow, but what it waits for."""
    with Engine(tmp_path / "wf.db") as engine:
        run_id = engine.submit(CHARGE).id
        with pytest.raises(TimeoutError) as raised:
            engine.run_until_complete(run_id, timeout=0)
        assert str(raised.value) == (
            f"run {run_id!r} did not end within 0s: it is at state 'charge', "
            "whose call is still queued for a worker with action 'payments.charge' "
            "(this process does not have it, and no worker that has it has taken the "
            "call); start one with that action, e.g. `wfdsl worker --actions MODULE`"
        )
        assert engine.get(run_id).status == "running", "left queued, not failed"


def test_a_wait_that_times_out_on_a_waiting_run_says_what_it_waits_for(tmp_path: Path) -> None:
    with Engine(tmp_path / "wf.db") as engine:
        run_id = engine.submit(WAITS).id
        with pytest.raises(TimeoutError) as raised:
            engine.run_until_complete(run_id, timeout=0)
        assert str(raised.value) == (
            f"run {run_id!r} did not end within 0s: it is waiting (state 'approve' for "
            "signal 'approve')"
        )
