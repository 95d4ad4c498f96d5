"""Every examples/*.yaml runs to its intended end on the pure machine, with
fake actions and virtual time (the engine-level twin is test_examples_run.py)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from machine_driver import Action, ActionError, Driver, load

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"
JAN_1_2025 = 1_735_689_600.0


def example(name: str, **kwargs: Any) -> Driver:
    workflow = load((EXAMPLES / name).read_text())
    return Driver(workflow, now=JAN_1_2025, **kwargs)


def fake_actions(*, decline: bool = False) -> dict[str, Action]:
    def charge(args: Any) -> Any:
        if decline:
            raise ActionError("CardDeclined", "declined")
        return {"payment_id": "pay-1"}

    def quote(args: Any) -> Any:
        if args["sku"] == "NOPE":
            raise ActionError("UnknownSku", args["sku"])
        return {"amount": 2.5 * args["qty"]}

    def http(args: Any) -> Any:
        url = args["url"]
        body: Any = {"ok": url.rsplit("/", 1)[-1]}
        if "/orders" in url:
            body = {"totals": [10.0, 20.0, 30.5]}
        elif "/refunds" in url:
            body = {"count": 2}
        return {"status": 200, "headers": {}, "json": body, "text": ""}

    return {
        "email.send": lambda args: {"id": f"{args['template']}:{args['to']}"},
        "orders.save": lambda args: {"id": "ord"},
        "orders.delete": lambda args: None,
        "inventory.reserve": lambda args: {"reservation": "res"},
        "inventory.release": lambda args: None,
        "payments.charge": charge,
        "payments.refund": lambda args: {"payout_id": "po-1"},
        "pricing.quote": quote,
        "http": http,
        "log": lambda args: None,
    }


def templates(d: Driver) -> list[str]:
    return [c.args["template"] for c in d.calls if c.action == "email.send"]


def test_every_example_is_covered() -> None:
    covered = {
        "signup.yaml",
        "order_saga.yaml",
        "refund_approval.yaml",
        "map_fanout.yaml",
        "api_orchestration.yaml",
        "nightly_report.yaml",
        "approval_chain.yaml",
        "invoice_run.yaml",
        "expense_approval.yaml",
    }
    assert {p.name for p in EXAMPLES.glob("*.yaml")} == covered


def test_signup_verified_and_given_up() -> None:
    d = example("signup.yaml", input={"email": "a@b.c"}, actions=fake_actions())
    d.start()
    d.settle(max_time=JAN_1_2025 + 10)
    d.signal("verified", {"source": "link"})
    d.settle()
    assert d.run.status == "completed" and templates(d) == ["verify", "welcome"]
    d = example("signup.yaml", input={"email": "a@b.c"}, actions=fake_actions())
    d.start()
    d.settle()
    assert d.run.error is not None and d.run.error["error"] == "NotVerified"
    assert templates(d) == ["verify", "reminder", "reminder", "reminder"]


ORDER = {
    "order_id": "o-1",
    "email": "a@b.c",
    "card": "tok",
    "amount": 42.5,
    "items": [{"sku": "BOOK-1", "qty": 1}],
}


@pytest.mark.parametrize("decline", [False, True], ids=["paid", "declined"])
def test_order_saga(decline: bool) -> None:
    d = example("order_saga.yaml", input=ORDER, actions=fake_actions(decline=decline))
    d.start()
    d.settle()
    if not decline:
        assert d.run.status == "completed", d.run.error
        assert "orders.delete" not in d.action_names()
        return
    assert d.run.error is not None and d.run.error["error"] == "PaymentFailed"
    undo = [c.action for c in d.calls if c.undo]
    assert undo[-2:] == ["inventory.release", "orders.delete"]


REFUND = {"refund_id": "rf-1", "order_id": "o-1", "amount": 120, "customer_email": "a@b.c"}


def test_refund_approval_by_handler_and_by_expiry() -> None:
    d = example("refund_approval.yaml", input=REFUND, actions=fake_actions())
    d.start()
    d.settle(max_time=JAN_1_2025 + 10)
    assert d.call("status").value["status"] == "pending"
    assert d.call("approve", {"by": "sam"}).value == {"refund_id": "rf-1", "status": "approved"}
    d.settle()
    assert d.run.status == "completed" and d.run.output["status"] == "paid"
    d = example("refund_approval.yaml", input=REFUND, actions=fake_actions())
    d.start()
    d.settle()
    assert d.run.output["status"] == "expired"
    assert templates(d) == ["refund_requested", "refund_escalated", "refund_rejected"]


def test_api_orchestration_ready_early_and_timeout() -> None:
    inputs = {"base_url": "https://api.test", "request_id": "r-1"}
    d = example("api_orchestration.yaml", input=inputs, actions=fake_actions())
    d.signal("ready", {"token": "t"}, wake=False)
    d.start()
    d.settle()
    assert d.run.status == "completed", d.run.error
    assert d.run.output == {"a": {"ok": "a"}, "b": {"ok": "b"}, "c": {"ok": "c"}, "d": {"ok": "d"}}
    d = example("api_orchestration.yaml", input=inputs, actions=fake_actions())
    d.start()
    d.settle()
    assert d.run.error is not None and d.run.error["error"] == "ReadyTimeout"


def test_map_fanout_sums_and_fails_on_unknown_sku() -> None:
    items = [{"sku": f"S{i}", "qty": i + 1} for i in range(6)]
    d = example("map_fanout.yaml", input={"cart_id": "c-7", "items": items}, actions=fake_actions())
    d.start()
    assert len(d.pending) == 4  # concurrency: 4
    d.settle()
    assert d.run.output["line_totals"] == [2.5 * (i + 1) for i in range(6)]
    d = example(
        "map_fanout.yaml",
        input={"cart_id": "c-8", "items": [{"sku": "NOPE", "qty": 1}]},
        actions=fake_actions(),
    )
    d.start()
    d.settle()
    assert d.run.error is not None and d.run.error["error"] == "PricingFailed"


def test_invoice_run_tolerates_a_tenth_of_bounces() -> None:
    def send(args: Any) -> Any:
        if args["to"].startswith("bounce"):
            raise ActionError("MailBounced", f"{args['to']} refused")
        return {"id": f"msg-{args['to']}"}

    actions = {**fake_actions(), "email.send": send}
    customers = [{"email": f"c{i}@x.com", "amount": 5} for i in range(9)]
    d = example(
        "invoice_run.yaml",
        input={
            "month": "2026-11",
            "customers": [*customers, {"email": "bounce@x.com", "amount": 5}],
        },
        actions=actions,
    )
    d.start()
    assert len(d.pending) == 10  # concurrency: 10
    d.settle()
    assert d.run.status == "completed", d.run.error
    assert d.run.output["sent"] == 9 and d.run.output["to_chase"][0]["index"] == 9


def test_nightly_report() -> None:
    d = example("nightly_report.yaml", actions=fake_actions())
    d.start()
    d.settle()
    assert d.run.status == "completed", d.run.error
    assert (d.run.output["orders"], d.run.output["revenue"], d.run.output["refunds"]) == (
        3,
        60.5,
        2,
    )
    assert d.run.output["day"] == "2024-12-31"


CLAIM = {"claim_id": "cl-9", "order_id": "o-1", "amount": 80, "customer_email": "a@b.c"}


def test_approval_chain_signed_off_then_refunded_by_a_child() -> None:
    d = example(
        "approval_chain.yaml",
        input={**CLAIM, "decide_by": "2025-01-31T17:00:00Z"},
        actions=fake_actions(),
    )
    d.start()
    d.signal("evidence", {"kind": "photo"})
    d.signal("evidence", {"kind": "photo"})
    d.settle(max_time=JAN_1_2025 + 10)
    for channel in ("technician_ok", "finance_ok", "quality_ok", "warehouse_ok"):
        d.signal(channel, {"by": "x"})
    d.settle(max_time=JAN_1_2025 + 10)
    (child,) = d.children
    assert child.run_id == "r1/refund" and child.workflow == "refund_approval.yaml"
    d.signal(
        "__child__", {"run_id": child.run_id, "status": "completed", "output": {"status": "paid"}}
    )
    d.settle()
    assert d.run.status == "completed", d.run.error
    assert d.run.output["refund"]["status"] == "paid"


def test_approval_chain_expires_at_its_deadline() -> None:
    d = example(
        "approval_chain.yaml",
        input={**CLAIM, "decide_by": "2025-01-03T00:00:00Z"},
        actions=fake_actions(),
    )
    d.start()
    d.signal("evidence", {"kind": "photo"})
    d.signal("evidence", {"kind": "video"})
    d.settle()
    assert d.run.error is not None and d.run.error["error"] == "ClaimExpired"
    assert templates(d)[0] == "claim_received" and templates(d)[-1] == "claim_expired"


EXPENSE = {
    "expense_id": "ex-1",
    "amount": 84.5,
    "employee": "ada@example.com",
    "manager": "sam@example.com",
}


def test_expense_approval_waits_for_its_token_then_pays() -> None:
    from wfdsl.interpreter.machine.callbacks import CALLBACK_CHANNEL, digest

    links: list[str] = []
    actions = {
        **fake_actions(),
        "chat.ask": lambda args: links.append(args["link"]) or {"message_id": "m"},
        "payments.reimburse": lambda args: {"payout_id": "po-1"},
    }
    d = example("expense_approval.yaml", input=EXPENSE, actions=actions)
    d.start()
    d.settle(max_time=JAN_1_2025 + 3600)
    assert d.run.status == "waiting" and len(links) == 1
    token = links[0].rsplit("token=", 1)[1]
    d.signal(CALLBACK_CHANNEL, {"op": "complete", "id": digest(token), "output": {"by": "sam"}})
    d.settle()
    assert d.run.output == {"status": "paid", "approver": "sam", "payout": "po-1"}


def test_expense_approval_expires_when_the_heartbeats_stop() -> None:
    d = example(
        "expense_approval.yaml",
        input=EXPENSE,
        actions={**fake_actions(), "chat.ask": lambda args: {"message_id": "m"}},
    )
    d.start()
    d.settle()
    assert d.run.output == {"status": "expired"}
    assert d.now - JAN_1_2025 == 2 * 86400
    assert templates(d) == ["expense_expired"]
