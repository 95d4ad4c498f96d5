"""Every example runs to its intended end on virtual time with test actions
(the actions each example's header comment lists), through the public API."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from wfdsl.interpreter.actions.registry import ActionRegistry
from wfdsl.interpreter.clock import VirtualClock
from wfdsl.interpreter.engine import Engine

import wfdsl

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"


class CardDeclined(Exception):
    pass


class UnknownSku(Exception):
    pass


class MailBounced(Exception):
    pass


class Ledger:
    """Test actions that record every call."""

    def __init__(self, *, decline: bool = False, http_status: int = 200) -> None:
        self.calls: list[tuple[str, dict[str, Any]]] = []
        self.decline = decline
        self.http_status = http_status
        self.registry = ActionRegistry(name="test")
        r = self.registry
        r.register("email.send", self.email)
        r.register("orders.save", self.record("orders.save", {"id": "ord"}))
        r.register("orders.delete", self.record("orders.delete", None))
        r.register("inventory.reserve", self.record("inventory.reserve", {"reservation": "res"}))
        r.register("inventory.release", self.record("inventory.release", None))
        r.register("payments.charge", self.charge)
        r.register("payments.refund", self.record("payments.refund", {"payout_id": "po-1"}))
        r.register("pricing.quote", self.quote)
        r.register("http", self.http)

    def names(self) -> list[str]:
        return [name for name, _ in self.calls]

    def record(self, name: str, value: Any) -> Any:
        def action(**kwargs: Any) -> Any:
            self.calls.append((name, kwargs))
            return value

        return action

    def email(self, to: str, template: str, data: Any = None) -> dict[str, str]:
        self.calls.append(("email.send", {"to": to, "template": template, "data": data}))
        if to.startswith("bounce"):
            raise MailBounced(f"mailbox {to} refused the message")
        return {"id": f"{template}:{to}"}

    def charge(self, order_id: str, amount: float, card: str) -> dict[str, str]:
        self.calls.append(("payments.charge", {"order_id": order_id}))
        if self.decline:
            raise CardDeclined(f"card {card} declined")
        return {"payment_id": "pay-1"}

    async def quote(self, sku: str, qty: int, line: int) -> dict[str, float]:
        self.calls.append(("pricing.quote", {"sku": sku}))
        if sku == "NOPE":
            raise UnknownSku(sku)
        return {"amount": 2.5 * qty}

    def http(
        self, method: str, url: str, json: Any = None, expect: Any = None, headers: Any = None
    ) -> dict[str, Any]:
        self.calls.append(("http", {"method": method, "url": url}))
        body: Any = {"ok": url.rsplit("/", 1)[-1]}
        if "/orders" in url:
            body = {"totals": [10.0, 20.0, 30.5]}
        elif "/refunds" in url:
            body = {"count": 2}
        return {"status": self.http_status, "headers": {}, "json": body, "text": ""}


def make(ledger: Ledger, tmp_path: Path | None = None) -> tuple[Engine, VirtualClock]:
    clock = VirtualClock()
    path = ":memory:" if tmp_path is None else str(tmp_path / "wf.db")
    return Engine(path, clock=clock, actions=ledger.registry), clock


def test_signup_verified_before_any_reminder() -> None:
    ledger = Ledger()
    engine, _ = make(ledger)
    with engine:
        engine.submit(EXAMPLES / "signup.yaml", input={"email": "a@b.c"}, run_id="s1")
        engine.run_until_idle()
        assert engine.get("s1").status == "waiting"
        engine.signal("s1", "verified", {"source": "link"})
        done = engine.run_until_complete("s1")
        assert done.status == "completed", done.error
        assert [d["template"] for n, d in ledger.calls] == ["verify", "welcome"]
        assert done.vars["status"] == "verified"
        assert engine.list_runs(where="email == 'a@b.c'")[0].id == "s1"


def test_signup_gives_up_after_three_reminders_on_virtual_time() -> None:
    ledger = Ledger()
    engine, clock = make(ledger)
    with engine:
        start = clock.now()
        engine.submit(EXAMPLES / "signup.yaml", input={"email": "a@b.c"}, run_id="s2")
        done = engine.run_until_complete("s2")
    assert done.status == "failed"
    assert done.error is not None and done.error["error"] == "NotVerified"
    templates = [d["template"] for _, d in ledger.calls]
    assert templates == ["verify", "reminder", "reminder", "reminder"]
    assert clock.now() - start == pytest.approx(3 * 86400)


def test_signup_verify_handler() -> None:
    ledger = Ledger()
    engine, _ = make(ledger)
    with engine:
        engine.submit(EXAMPLES / "signup.yaml", input={"email": "a@b.c"}, run_id="s3")
        engine.run_until_idle()
        assert engine.call("s3", "verify", {"source": "support"}) == "ok"
        with pytest.raises(wfdsl.HandlerRejected):
            engine.call("s3", "verify", {"source": "support"})
        done = engine.run_until_complete("s3")
    assert done.status == "completed"


ORDER = {
    "order_id": "o-1",
    "email": "a@b.c",
    "card": "tok",
    "amount": 42.5,
    "items": [{"sku": "BOOK-1", "qty": 1}],
}


def test_order_saga_completes() -> None:
    ledger = Ledger()
    engine, _ = make(ledger)
    with engine:
        engine.submit(EXAMPLES / "order_saga.yaml", input=ORDER, run_id="o1")
        done = engine.run_until_complete("o1")
    assert done.status == "completed", done.error
    assert done.output == {
        "order": {"id": "ord"},
        "reservation": {"reservation": "res"},
        "payment": {"payment_id": "pay-1"},
    }
    assert "orders.delete" not in ledger.names()


def test_order_saga_declined_card_compensates_newest_first() -> None:
    ledger = Ledger(decline=True)
    engine, _ = make(ledger)
    with engine:
        engine.submit(EXAMPLES / "order_saga.yaml", input=ORDER, run_id="o2")
        done = engine.run_until_complete("o2")
    assert done.status == "failed"
    assert done.error is not None and done.error["error"] == "PaymentFailed"
    names = ledger.names()
    assert names.count("payments.charge") == 1  # CardDeclined is non-retryable
    undo = [n for n in names if n in ("inventory.release", "orders.delete", "payments.refund")]
    assert undo[-2:] == ["inventory.release", "orders.delete"]


def test_refund_approval_approved_by_handler() -> None:
    ledger = Ledger()
    engine, _ = make(ledger)
    with engine:
        engine.submit(
            EXAMPLES / "refund_approval.yaml",
            run_id="r1",
            input={
                "refund_id": "rf-1",
                "order_id": "o-1",
                "amount": 120,
                "customer_email": "a@b.c",
            },
        )
        engine.run_until_idle()
        assert engine.call("r1", "status")["status"] == "pending"
        assert engine.call("r1", "approve", {"by": "sam"}) == {
            "refund_id": "rf-1",
            "status": "approved",
        }
        done = engine.run_until_complete("r1")
    assert done.status == "completed", done.error
    assert done.output["status"] == "paid"
    assert done.output["approver"] == "sam"


def test_refund_approval_expires_after_escalation() -> None:
    ledger = Ledger()
    engine, _ = make(ledger)
    with engine:
        engine.submit(
            EXAMPLES / "refund_approval.yaml",
            run_id="r2",
            input={
                "refund_id": "rf-2",
                "order_id": "o-1",
                "amount": 120,
                "customer_email": "a@b.c",
            },
        )
        done = engine.run_until_complete("r2")
    assert done.status == "completed", done.error
    assert done.output["status"] == "expired"
    templates = [d["template"] for n, d in ledger.calls if n == "email.send"]
    assert templates == ["refund_requested", "refund_escalated", "refund_rejected"]


def test_api_orchestration_with_ready_signal_sent_early() -> None:
    ledger = Ledger()
    engine, _ = make(ledger)
    with engine:
        engine.submit(
            EXAMPLES / "api_orchestration.yaml",
            run_id="a1",
            input={"base_url": "https://api.test", "request_id": "r-1"},
        )
        engine.signal("a1", "ready", {"token": "t"})  # waits in the inbox
        done = engine.run_until_complete("a1")
    assert done.status == "completed", done.error
    assert done.output == {"a": {"ok": "a"}, "b": {"ok": "b"}, "c": {"ok": "c"}, "d": {"ok": "d"}}
    urls = [d["url"] for _, d in ledger.calls]
    assert urls[0].endswith("/a") and urls[-1].endswith("/d")


def test_api_orchestration_times_out_without_ready() -> None:
    ledger = Ledger()
    engine, _ = make(ledger)
    with engine:
        engine.submit(
            EXAMPLES / "api_orchestration.yaml",
            run_id="a2",
            input={"base_url": "https://api.test", "request_id": "r-2"},
        )
        done = engine.run_until_complete("a2")
    assert done.status == "failed"
    assert done.error is not None and done.error["error"] == "ReadyTimeout"


def test_map_fanout_sums_lines() -> None:
    ledger = Ledger()
    engine, _ = make(ledger)
    items = [{"sku": f"S{i}", "qty": i + 1} for i in range(6)]
    with engine:
        engine.submit(
            EXAMPLES / "map_fanout.yaml", run_id="m1", input={"cart_id": "c-7", "items": items}
        )
        done = engine.run_until_complete("m1")
    assert done.status == "completed", done.error
    assert done.output["line_totals"] == [2.5 * (i + 1) for i in range(6)]
    assert done.output["total"] == round(sum(2.5 * (i + 1) for i in range(6)), 2)


def test_map_fanout_unknown_sku_fails_the_run() -> None:
    ledger = Ledger()
    engine, _ = make(ledger)
    with engine:
        engine.submit(
            EXAMPLES / "map_fanout.yaml",
            run_id="m2",
            input={"cart_id": "c-8", "items": [{"sku": "NOPE", "qty": 1}]},
        )
        done = engine.run_until_complete("m2")
    assert done.status == "failed"
    assert done.error is not None and done.error["error"] == "PricingFailed"


def test_nightly_report_by_hand() -> None:
    ledger = Ledger()
    engine, _ = make(ledger)
    with engine:
        engine.submit(EXAMPLES / "nightly_report.yaml", run_id="n1", input=None)
        done = engine.run_until_complete("n1")
    assert done.status == "completed", done.error
    assert done.output["orders"] == 3
    assert done.output["revenue"] == 60.5
    assert done.output["refunds"] == 2
    assert done.output["day"] == "2024-12-31"  # the virtual clock starts 2025-01-01


def test_approval_chain_end_to_end_with_subflow() -> None:
    ledger = Ledger()
    engine, _clock = make(ledger)
    with engine:
        engine.submit(
            EXAMPLES / "approval_chain.yaml",
            run_id="w1",
            input={
                "claim_id": "cl-9",
                "order_id": "o-1",
                "amount": 80,
                "customer_email": "a@b.c",
                "decide_by": "2025-01-31T17:00:00Z",
            },
        )
        for channel in ("evidence", "evidence"):
            engine.signal("w1", channel, {"kind": "photo"})
        engine.run_until_idle()
        for channel in ("technician_ok", "finance_ok", "quality_ok", "warehouse_ok"):
            engine.signal("w1", channel, {"by": "x"})
        done = engine.run_until_complete("w1")
    assert done.status == "completed", done.error
    assert done.output["refund"]["status"] == "paid"
    assert "payments.refund" in ledger.names()


def test_approval_chain_expires_at_deadline() -> None:
    ledger = Ledger()
    engine, _ = make(ledger)
    with engine:
        engine.submit(
            EXAMPLES / "approval_chain.yaml",
            run_id="w2",
            input={
                "claim_id": "cl-1",
                "order_id": "o-1",
                "amount": 80,
                "customer_email": "a@b.c",
                "decide_by": "2025-01-03T00:00:00Z",
            },
        )
        engine.signal("w2", "evidence", {"kind": "photo"})
        engine.signal("w2", "evidence", {"kind": "video"})
        done = engine.run_until_complete("w2")
    assert done.status == "failed"
    assert done.error is not None and done.error["error"] == "ClaimExpired"
    templates = [d["template"] for n, d in ledger.calls if n == "email.send"]
    assert templates[0] == "claim_received" and templates[-1] == "claim_expired"
    assert "claim_reminder" in templates


def _invoice_run(emails: list[str]) -> tuple[wfdsl.Run, Ledger]:
    ledger = Ledger()
    engine, _ = make(ledger)
    customers = [{"email": email, "amount": 10} for email in emails]
    with engine:
        engine.submit(
            EXAMPLES / "invoice_run.yaml",
            run_id="inv",
            input={"month": "2026-11", "customers": customers},
        )
        return engine.run_until_complete("inv"), ledger


def test_invoice_run_tolerates_one_bounced_mailbox_in_ten() -> None:
    emails = [f"c{i}@example.com" for i in range(9)] + ["bounce@example.com"]
    done, ledger = _invoice_run(emails)
    assert done.status == "completed", done.error
    assert done.output["sent"] == 9
    (chase,) = done.output["to_chase"]
    assert chase["index"] == 9 and chase["error"] == "MailBounced"
    # The bounced delivery was tried three times; the others once.
    assert ledger.names().count("email.send") == 9 + 3


def test_invoice_run_fails_when_more_than_a_tenth_bounce() -> None:
    emails = [f"c{i}@example.com" for i in range(8)] + ["bounce1@x.com", "bounce2@x.com"]
    done, _ = _invoice_run(emails)
    assert done.status == "failed"
    assert done.error is not None and done.error["error"] == "ToleratedFailuresExceeded"


def test_expense_approval_is_completed_through_its_callback_token() -> None:
    ledger = Ledger()
    links: list[str] = []

    def ask(to: str, text: str, link: str) -> dict[str, str]:
        links.append(link)
        return {"message_id": "m-1"}

    ledger.registry.register("chat.ask", ask)
    ledger.registry.register(
        "payments.reimburse", ledger.record("payments.reimburse", {"payout_id": "po-1"})
    )
    engine, _ = make(ledger)
    with engine:
        engine.submit(
            EXAMPLES / "expense_approval.yaml",
            run_id="e1",
            input={"expense_id": "ex-1", "amount": 10, "employee": "a@b.c", "manager": "m@b.c"},
        )
        engine.run_until_idle()
        token = links[0].rsplit("token=", 1)[1]
        engine.complete(token, error="Rejected", message="no receipt")
        done = engine.run_until_complete("e1")
    assert done.output == {"status": "rejected", "reason": "no receipt"}
    assert "payments.reimburse" not in ledger.names()
