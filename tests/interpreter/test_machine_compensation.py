"""Compensation (§6): newest first, durable progress, Steno's re-run rule."""

from __future__ import annotations

from typing import Any

from machine_driver import ActionError, Driver

SAGA = """
wfdsl: "1"
name: saga
COMP
start: save
states:
  save:
    type: task
    action: orders.save
    result: order
    undo: {action: orders.delete, args: {id: "${ vars.order.id }"}}
    next: reserve
  reserve:
    type: task
    action: stock.reserve
    result: reservation
    undo: {action: stock.release, args: {r: "${ vars.reservation }"}}
    retry: {max_attempts: 2, initial_interval: 1s}
    next: charge
  charge:
    type: task
    action: pay
    catch: [{errors: [CardDeclined], next: undo_all}]
    next: fin
  undo_all: {type: compensate, next: declined}
  declined: {type: fail, error: PaymentFailed, message: card declined}
  fin: {type: succeed}
"""


def saga(comp: str = "") -> str:
    return SAGA.replace("COMP", comp)


def actions(**overrides: Any) -> dict[str, Any]:
    def declined(args: Any) -> Any:
        raise ActionError("CardDeclined")

    base: dict[str, Any] = {
        "orders.save": lambda args: {"id": "o-1"},
        "orders.delete": lambda args: None,
        "stock.reserve": lambda args: "res-1",
        "stock.release": lambda args: None,
        "pay": declined,
    }
    base.update(overrides)
    return base


def test_compensate_undoes_newest_first_with_args_from_completion_time() -> None:
    d = Driver(saga(), actions=actions())
    d.start()
    d.settle()
    assert d.action_names() == [
        "orders.save",
        "stock.reserve",
        "pay",
        "stock.release",
        "orders.delete",
    ]
    undos = [c for c in d.calls if c.undo]
    assert [c.args for c in undos] == [{"r": "res-1"}, {"id": "o-1"}]
    assert undos[0].idempotency_key == "r1/reserve/undo/1"
    assert len(d.of_type("undo_started")) == 2 and len(d.of_type("undo_completed")) == 2
    assert d.run.status == "failed" and d.run.error["error"] == "PaymentFailed"


def test_progress_is_durable_each_undo_is_marked_done_before_the_next() -> None:
    d = Driver(saga(), actions=actions())
    d.start()
    for _ in range(3):
        d.perform(next(iter(d.pending.values())))
    (release,) = d.pending.values()
    assert release.action == "stock.release"
    d.perform(release)
    (delete,) = d.pending.values()
    # A crash now: Recover re-issues only the delete, never the release again.
    d.recover()
    assert [c.action for c in d.calls[-2:]] == ["orders.delete", "orders.delete"]
    assert d.calls[-1] == delete
    d.settle()
    assert [c.action for c in d.calls].count("stock.release") == 1


def test_fail_with_compensate_and_compensate_on_failure() -> None:
    text = saga().replace(
        "{type: fail, error: PaymentFailed, message: card declined}",
        "{type: fail, error: PaymentFailed, compensate: true}",
    )
    text = text.replace("next: undo_all}", "next: declined}")
    d = Driver(text, actions=actions())
    d.start()
    d.settle()
    assert [c.action for c in d.calls if c.undo] == ["stock.release", "orders.delete"]
    assert d.run.error["error"] == "PaymentFailed"
    d = Driver(
        saga("compensate_on_failure: true").replace(
            "catch: [{errors: [CardDeclined], next: undo_all}]", ""
        ),
        actions=actions(),
    )
    d.start()
    d.settle()
    assert [c.action for c in d.calls if c.undo] == ["stock.release", "orders.delete"]
    assert d.run.status == "failed" and d.run.error["error"] == "CardDeclined"


def test_steno_a_started_task_without_completion_is_rerun_then_undone() -> None:
    d = Driver(saga(), actions=actions())
    d.start()
    d.perform(next(iter(d.pending.values())))  # save completes
    (reserve,) = d.pending.values()
    d.cancel(compensate=True)  # reserve is in flight
    assert d.cancelled == [reserve.call_id]
    (rerun,) = d.pending.values()
    assert (rerun.action, rerun.args, rerun.idempotency_key, rerun.undo) == (
        "stock.reserve",
        reserve.args,
        reserve.idempotency_key,
        False,
    )
    d.settle()
    assert [c.action for c in d.calls[2:]] == ["stock.reserve", "stock.release", "orders.delete"]
    assert d.calls[3].args == {"r": "res-1"}
    assert d.run.status == "cancelled"


def test_a_task_that_failed_for_good_is_not_undone() -> None:
    def down(args: Any) -> Any:
        raise ActionError("Down")

    d = Driver(saga("compensate_on_failure: true"), actions=actions(**{"stock.reserve": down}))
    d.start()
    d.settle()
    assert [c.action for c in d.calls if c.undo] == ["orders.delete"]
    assert d.run.error["error"] == "Down"


def test_an_undo_that_keeps_failing_fails_the_run_with_compensation_failed() -> None:
    def stuck(args: Any) -> Any:
        raise ActionError("Stuck", "warehouse offline")

    d = Driver(saga(), actions=actions(**{"stock.release": stuck}))
    d.start()
    d.settle()
    assert [c.action for c in d.calls if c.undo] == ["stock.release", "stock.release"]
    assert d.run.status == "failed" and d.run.error["error"] == "CompensationFailed"
    assert "warehouse offline" in d.run.error["message"]


def test_cancel_without_compensation_just_stops() -> None:
    d = Driver(saga(), actions=actions())
    d.start()
    d.cancel()
    assert d.run.status == "cancelled" and d.cancelled == ["1"]
    assert d.types()[-1] == "run_cancelled"


def test_branch_undo_logs_join_the_parent_on_completion() -> None:
    text = """
wfdsl: "1"
name: branches
start: p
states:
  p:
    type: parallel
    branches:
      a:
        start: t
        states:
          t: {type: task, action: a, undo: {action: undo_a}, end: true}
      b:
        start: t
        states:
          t: {type: task, action: b, undo: {action: undo_b}, end: true}
    next: c
  c: {type: compensate, end: true}
"""
    d = Driver(text, actions={n: (lambda args: None) for n in ("a", "b", "undo_a", "undo_b")})
    d.start()
    d.settle()
    assert [c.action for c in d.calls if c.undo] == ["undo_b", "undo_a"]
    assert d.run.status == "completed"
