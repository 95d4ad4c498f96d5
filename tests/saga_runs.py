"""Runs to inspect, made on a store file before a designer opens it: the
order saga declined (one reservation retried, the card refused with
details, both steps undone), a cart priced by a map with one line retried,
a run parked on a wait for a signal or a one-day timer, and one paused at
a breakpoint.

Each is made by its own engine with test actions on that engine only (the
process-wide registry stays untouched), then the engine is closed, so the
designer's engine finds them as any other process's runs.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from wfdsl.interpreter.clock import VirtualClock
from wfdsl.interpreter.engine import Engine

import wfdsl

EXAMPLES = Path(__file__).resolve().parents[1] / "examples"

DECLINED_INPUT = {
    "order_id": "o-declined",
    "email": "ada@example.com",
    "card": "tok_declined",
    "amount": 42.5,
    "items": [{"sku": "BOOK-1", "qty": 1}],
}

#: A wait for a signal or a timer, for the due time in words.
REMIND = """\
wfdsl: "1"
name: remind-me
description: Wait a day for the approve signal, then remind.
signals:
  approve: {}
start: wait_approval
states:
  wait_approval:
    type: wait
    any:
      - signal: approve
        next: done
      - timer: 1d
        next: remind
  remind:
    type: task
    action: noop
    next: done
  done:
    type: succeed
"""


#: Three steps, for a breakpoint before the second.
STEPS = """\
wfdsl: "1"
name: three-steps
start: first
states:
  first: {type: task, action: noop, next: second}
  second: {type: task, action: noop, next: done}
  done: {type: succeed}
"""


#: Fails once told to: for the failure arriving live.
FAIL_ON_SIGNAL = """\
wfdsl: "1"
name: fail-on-signal
signals:
  go: {}
start: hold
states:
  hold:
    type: wait
    signal: go
    as: why
    next: give_up
  give_up:
    type: fail
    error: GaveUp
    message: "told to give up: ${ vars.why.reason }"
"""


#: Its action fails the first time it is called and works after (the
#: designer's engine in the browser tests has it): a run to redrive.
FLAKY = """\
wfdsl: "1"
name: flaky-once
start: call
states:
  call:
    type: task
    action: flaky.once
    result: answer
    next: done
  done:
    type: succeed
"""


def flaky_action(engine: Engine) -> None:
    """``flaky.once`` on ``engine``: raises ``Unavailable`` once, then answers."""
    calls = {"n": 0}

    @engine.action("flaky.once")
    def once() -> dict[str, int]:
        calls["n"] += 1
        if calls["n"] == 1:
            raise wfdsl.ActionError("Unavailable", "the service was down")
        return {"calls": calls["n"]}


@dataclass(frozen=True)
class Made:
    declined: str
    cart: str
    waiting: str
    paused: str


def _saga_actions(engine: Engine) -> None:
    calls = {"reserve": 0}

    @engine.action("orders.save")
    def save(order_id: str, items: list[Any], amount: float) -> dict[str, str]:
        return {"id": order_id}

    @engine.action("orders.delete")
    def delete(order_id: str) -> None:
        return None

    @engine.action("inventory.reserve")
    def reserve(order_id: str, items: list[Any]) -> dict[str, str]:
        calls["reserve"] += 1
        if calls["reserve"] == 1:
            raise ConnectionError("the warehouse did not answer")
        return {"reservation": f"res-{order_id}"}

    @engine.action("inventory.release")
    def release(order_id: str) -> None:
        return None

    @engine.action("payments.charge")
    def charge(order_id: str, amount: float, card: str) -> dict[str, str]:
        raise wfdsl.ActionError(
            "CardDeclined",
            f"card {card} was declined",
            details={"decline_code": "insufficient_funds", "provider": "acme-pay"},
        )

    @engine.action("payments.refund")
    def refund(order_id: str, amount: float) -> None:
        return None

    @engine.action("email.send")
    def send(to: str, template: str, data: Any = None) -> dict[str, str]:
        return {"id": "m1"}


def make_runs(store: Path) -> Made:
    """The three runs, on ``store``; their ids."""
    # Virtual time, ten minutes ago: the saga's 1 s retry does not sleep.
    saga = Engine(store, clock=VirtualClock(time.time() - 600), synchronous="NORMAL")
    try:
        _saga_actions(saga)
        declined = saga.submit(
            (EXAMPLES / "order_saga.yaml").read_text(), DECLINED_INPUT, run_id="o-declined"
        )
        saga.run_until_complete(declined.id)
        lines = {"n": 0}

        @saga.action("pricing.quote")
        def quote(sku: str, qty: int, line: int) -> dict[str, float]:
            lines["n"] += 1
            if lines["n"] == 2:
                raise ConnectionError("pricing timed out")
            return {"amount": 10.0 * qty}

        cart = saga.submit(
            (EXAMPLES / "map_fanout.yaml").read_text(),
            {"cart_id": "c1", "items": [{"sku": s, "qty": 1} for s in ("A", "B", "C")]},
            run_id="cart-1",
        )
        saga.run_until_complete(cart.id)
    finally:
        saga.close()
    # Real time: the timer is due a day from now, wherever the designer reads it.
    live = Engine(store, synchronous="NORMAL")
    try:
        waiting = live.submit(REMIND, {}, run_id="remind-1")
        paused = live.submit(STEPS, {}, run_id="steps-1", break_at="second")
        live.run_until_idle()
    finally:
        live.close()
    return Made(declined=declined.id, cart=cart.id, waiting=waiting.id, paused=paused.id)
