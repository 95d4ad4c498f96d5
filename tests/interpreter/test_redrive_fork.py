"""Redrive a failed run where it failed; fork a new run from any point of a
run's history (docs/operations.md "Redrive" and "Fork")."""

from __future__ import annotations

import sqlite3
from pathlib import Path
from typing import Any

import pytest
from wfdsl.interpreter.clock import VirtualClock
from wfdsl.interpreter.engine import Engine
from wfdsl.interpreter.repair import RestartRefused

# charge fails until the "bank" is fixed; its undo is recorded when it starts.
SHOP = """
wfdsl: "1"
name: shop
vars: {tries: 0, token: "${ uuid() }", amount: "${ input.amount }"}
start: reserve
states:
  reserve:
    type: task
    action: stock.reserve
    args: {order: "${ input.order }"}
    result: reservation
    undo: {action: stock.release, args: {reservation: "${ vars.reservation }"}}
    set: {tries: "${ vars.tries + 1 }"}
    next: charge
  charge:
    type: task
    action: bank.charge
    args: {amount: "${ vars.amount }"}
    retry: {max_attempts: 2, initial_interval: 1s}
    result: payment
    next: check
  check:
    type: choice
    choices:
      - when: ${ vars.payment.ok }
        next: done
    default: refund
  refund:
    type: compensate
    next: failed
  failed: {type: fail, error: Refunded, message: refunded}
  done: {type: succeed}
"""


class Bank:
    def __init__(self) -> None:
        self.up = False
        self.calls: list[tuple[str, Any]] = []

    def install(self, engine: Engine) -> None:
        @engine.action("stock.reserve")
        def reserve(order: str, ctx: Any) -> str:
            self.calls.append(("reserve", ctx.idempotency_key))
            return f"res-{order}"

        @engine.action("stock.release")
        def release(reservation: str, ctx: Any) -> None:
            self.calls.append(("release", reservation))

        @engine.action("bank.charge")
        def charge(amount: Any, ctx: Any) -> dict[str, Any]:
            self.calls.append(("charge", ctx.idempotency_key))
            if not self.up:
                raise ConnectionError("bank is down")
            return {"ok": amount is not None and amount < 100}


@pytest.fixture
def shop(tmp_path: Path) -> tuple[Engine, Bank]:
    engine = Engine(tmp_path / "shop.db", clock=VirtualClock())
    bank = Bank()
    bank.install(engine)
    yield engine, bank
    engine.close()


def test_a_failed_run_is_redriven_at_the_state_that_failed(shop: tuple[Engine, Bank]) -> None:
    engine, bank = shop
    run = engine.submit(SHOP, input={"order": "o1", "amount": 10}, run_id="o1")
    failed = engine.run_until_complete(run.id)
    assert failed.status == "failed" and failed.error["error"] == "ConnectionError"
    vars_at_failure = dict(failed.vars)
    bank.up = True

    redriven = engine.redrive("o1", by="ops@example")
    assert redriven.status == "running"
    assert dict(redriven.vars) == vars_at_failure
    done = engine.run_until_complete("o1")

    assert done.status == "completed"
    # reserve ran once; charge twice before, once after with a new key.
    assert [c for c in bank.calls if c[0] == "reserve"] == [("reserve", "o1/reserve/1")]
    charges = [key for name, key in bank.calls if name == "charge"]
    assert charges == ["o1/charge/1", "o1/charge/2", "o1/charge#2/1"]
    history = done.history()
    redrive = next(e for e in history if e.type == "run_redriven")
    assert redrive.data["by"] == "ops@example" and redrive.data["state"] == "charge"
    assert redrive.data["error"]["error"] == "ConnectionError"
    # The history goes on: seqs stay gapless across the redrive.
    assert [e.seq for e in history] == list(range(1, len(history) + 1))
    assert history[-1].type == "run_completed"


def test_redrive_keeps_the_undo_log_of_what_ran_before(shop: tuple[Engine, Bank]) -> None:
    engine, bank = shop
    engine.submit(SHOP, input={"order": "o2", "amount": 500}, run_id="o2")
    engine.run_until_complete("o2")
    bank.up = True
    # An amount the bank refuses sends the redriven run to its compensate state.
    engine.redrive("o2")
    engine.run_until_complete("o2")
    assert engine.get("o2").status == "failed"  # charge ok=False -> refund -> failed
    assert ("release", "res-o2") in bank.calls


def test_redrive_is_refused_for_a_run_that_did_not_fail(shop: tuple[Engine, Bank]) -> None:
    engine, bank = shop
    bank.up = True
    engine.submit(SHOP, input={"order": "o3", "amount": 10}, run_id="o3")
    engine.run_until_complete("o3")
    with pytest.raises(RestartRefused, match="it is completed, and only a failed run"):
        engine.redrive("o3")


def test_redrive_is_refused_after_compensation(shop: tuple[Engine, Bank]) -> None:
    engine, bank = shop
    bank.up = True
    engine.submit(SHOP, input={"order": "o4"}, run_id="o4")
    assert engine.run_until_complete("o4").error["error"] == "Refunded"
    with pytest.raises(RestartRefused, match="undo actions"):
        engine.redrive("o4")


def test_redrive_is_refused_when_the_definition_is_gone(tmp_path: Path) -> None:
    db = tmp_path / "gone.db"
    with Engine(db, clock=VirtualClock()) as engine:
        Bank().install(engine)
        engine.submit(SHOP, input={"order": "o5"}, run_id="o5")
        engine.run_until_complete("o5")
    conn = sqlite3.connect(db)
    conn.execute("PRAGMA foreign_keys = OFF")
    conn.execute("DELETE FROM definitions")
    conn.commit()
    conn.close()
    with Engine(db, clock=VirtualClock()) as engine:
        with pytest.raises(RestartRefused, match="definition it is pinned to"):
            engine.redrive("o5")
        assert engine.get("o5").status == "failed"


def test_a_fork_starts_a_new_run_at_a_state_with_patched_vars(shop: tuple[Engine, Bank]) -> None:
    engine, bank = shop
    engine.submit(SHOP, input={"order": "o6"}, run_id="o6")
    original = engine.run_until_complete("o6")
    before = original.history()
    bank.up = True
    bank.calls.clear()

    fork = engine.fork("o6", at="charge", set={"amount": 42}, new_run_id="o6-fixed")
    done = engine.run_until_complete(fork.id)

    assert done.status == "completed"
    assert done.vars["amount"] == 42 and done.vars["reservation"] == "res-o6"
    assert done.vars["token"] == original.vars["token"]  # uuid() as the original got it
    # Nothing before the fork point ran again.
    assert [name for name, _ in bank.calls] == ["charge"]
    assert bank.calls[0][1] == "o6-fixed/charge/1"
    first = done.history()[0]
    assert first.type == "run_started"
    assert first.data["forked_from"] == {
        "run": "o6",
        "execution": 1,
        "seq": next(e.seq for e in before if e.type == "state_entered" and e.state == "charge"),
        "state": "charge",
        "set": {"amount": 42},
    }
    # The original is untouched.
    assert engine.get("o6").status == "failed" and engine.get("o6").history() == before


def test_a_run_lists_its_forks_with_where_each_started(shop: tuple[Engine, Bank]) -> None:
    engine, bank = shop
    engine.submit(SHOP, input={"order": "o8"}, run_id="o8")
    history = engine.run_until_complete("o8").history()
    bank.up = True
    assert engine.forks("o8") == []

    first = engine.fork("o8", at="charge", set={"amount": 7}, new_run_id="o8-a")
    engine.clock.advance("1s")  # type: ignore[attr-defined]
    second = engine.fork("o8", at="reserve", new_run_id="o8-b")
    engine.run_until_complete(first.id)

    forks = engine.forks("o8")
    entered = {e.state: e.seq for e in history if e.type == "state_entered"}
    charge, reserve = entered["charge"], entered["reserve"]
    assert [(f.run.id, f.seq, f.state, dict(f.set)) for f in forks] == [
        ("o8-a", charge, "charge", {"amount": 7}),
        ("o8-b", reserve, "reserve", {}),
    ]
    assert forks[0].run.status == "completed" and forks[1].run.id == second.id
    assert forks[0].to_json()["run"]["id"] == "o8-a"
    assert [f.run.id for f in engine.forks("o8", limit=1)] == ["o8-a"]
    # A fork of a fork belongs to its own origin's list.
    engine.fork("o8-a", at="charge", new_run_id="o8-a-1")
    assert [f.run.id for f in engine.forks("o8-a")] == ["o8-a-1"]
    assert len(engine.forks("o8")) == 2


def test_a_fork_at_a_seq_inherits_the_undo_log(shop: tuple[Engine, Bank]) -> None:
    engine, bank = shop
    engine.submit(SHOP, input={"order": "o7"}, run_id="o7")
    history = engine.run_until_complete("o7").history()
    bank.up = True
    seq = next(e.seq for e in history if e.type == "action_failed")  # inside charge
    fork = engine.fork("o7", at=seq, set={"amount": 500})
    assert engine.run_until_complete(fork.id).error["error"] == "Refunded"
    # The refund undid the reservation the original run made.
    assert ("release", "res-o7") in bank.calls


def test_a_fork_names_what_it_cannot_find(shop: tuple[Engine, Bank]) -> None:
    engine, _ = shop
    engine.submit(SHOP, input={"order": "o8"}, run_id="o8")
    engine.run_until_complete("o8")
    with pytest.raises(
        RestartRefused, match=r"never entered a state 'chrage'; it entered: charge, "
    ):
        engine.fork("o8", at="chrage")
    with pytest.raises(RestartRefused, match="no event with seq 999"):
        engine.fork("o8", at=999)
