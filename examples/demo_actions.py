"""Demo implementations of the actions the examples call, for trying them out.

    wfdsl run examples/order_saga.yaml --actions examples/demo_actions.py \
        --input @examples/order_saga.input.json

Each action prints one line saying what a real one would do and returns a
value shaped like the real one's (see each example's header comment). They
are deterministic, so a run gives the same output every time; a card token
containing "declined" is refused with ``CardDeclined``, to show the saga's
compensation.
"""

from __future__ import annotations

import sys
from typing import Any

import wfdsl


class CardDeclined(Exception):
    """The payment provider refused the card (a non-retryable error)."""


def _say(text: str) -> None:
    print(f"  [demo] {text}", file=sys.stderr, flush=True)


@wfdsl.action("email.send")
def send_email(to: str, template: str, data: Any = None) -> dict[str, str]:
    _say(f"e-mail {template!r} to {to}")
    return {"id": f"msg-{template}-{to}"}


@wfdsl.action("orders.save")
def save_order(order_id: str, items: list[Any], amount: float) -> dict[str, str]:
    _say(f"save order {order_id}: {len(items)} line(s), {amount}")
    return {"id": order_id}


@wfdsl.action("orders.delete")
def delete_order(order_id: str) -> None:
    _say(f"delete order {order_id}")


@wfdsl.action("inventory.reserve")
def reserve(order_id: str, items: list[Any]) -> dict[str, str]:
    _say(f"reserve stock for {order_id}")
    return {"reservation": f"res-{order_id}"}


@wfdsl.action("inventory.release")
def release(order_id: str) -> None:
    _say(f"release stock of {order_id}")


@wfdsl.action("payments.charge")
def charge(order_id: str, amount: float, card: str) -> dict[str, str]:
    if "declined" in card:
        _say(f"charge {amount} on {card}: declined")
        raise CardDeclined(f"card {card} was declined")
    _say(f"charge {amount} on {card}")
    return {"payment_id": f"pay-{order_id}"}


@wfdsl.action("payments.refund")
def refund(order_id: str, amount: float) -> dict[str, str]:
    _say(f"refund {amount} for {order_id}")
    return {"payout_id": f"po-{order_id}"}


@wfdsl.action("chat.ask")
def ask_in_chat(to: str, text: str, link: str) -> dict[str, str]:
    _say(f"chat to {to}: {text} -> {link}")
    token = link.rsplit("token=", 1)[-1]
    _say(f'answer with: wfdsl complete {token} --output \'{{"by": "{to}"}}\'')
    return {"message_id": f"chat-{to}"}


@wfdsl.action("payments.reimburse")
def reimburse(expense_id: str, amount: float, to: str) -> dict[str, str]:
    _say(f"reimburse {amount} to {to} for {expense_id}")
    return {"payout_id": f"po-{expense_id}"}


class UnknownSku(Exception):
    """No such product (not retried)."""


@wfdsl.action("pricing.quote")
def quote(sku: str, qty: int, line: int) -> dict[str, float]:
    if sku == "NOPE":
        raise UnknownSku(f"no product {sku!r} (line {line})")
    unit = 10.0 + (sum(map(ord, sku)) % 40)
    _say(f"quote line {line}: {qty} x {sku} at {unit}")
    return {"amount": round(unit * qty, 2)}
