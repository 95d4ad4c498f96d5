"""parallel and map: branch copies of vars, joins, failures, concurrency."""

from __future__ import annotations

from typing import Any

from machine_driver import ActionError, Driver

FAN_OUT = """
wfdsl: "1"
name: fan
vars: {shared: 1}
start: fan_out
states:
  fan_out:
    type: parallel
    join: JOIN
    branches:
      notify:
        start: email
        states:
          email: {type: task, action: email.send, result: sent, next: out}
          out: {type: succeed, output: "${ vars.sent }"}
      approve:
        start: wait_ok
        states:
          wait_ok: {type: wait, signal: ok, as: ok, next: done}
          done: {type: succeed, output: "${ vars.ok }"}
    result: outcome
    catch: [{errors: ["*"], as: failure, next: failed}]
    next: after
  after: {type: succeed, output: "${ vars }"}
  failed: {type: succeed, output: "${ vars.failure }"}
"""


def fan(join: str = "all") -> str:
    return FAN_OUT.replace("JOIN", join)


def test_branches_run_on_copies_and_the_parent_gets_the_result() -> None:
    d = Driver(fan())
    d.start()
    assert [e.state for e in d.of_type("branch_started")] == ["fan_out/notify", "fan_out/approve"]
    (call,) = d.pending.values()
    assert call.state == "fan_out/notify/email"
    assert call.idempotency_key == "r1/fan_out/notify/email/1"
    d.complete(value="mail-1")
    assert d.run.status == "waiting"
    d.signal("ok", "yes")
    assert d.run.status == "completed"
    # Branch writes (sent, ok) never leak; the parent has its vars plus result.
    assert d.run.output == {"shared": 1, "outcome": {"notify": "mail-1", "approve": "yes"}}
    assert len(d.of_type("branch_completed")) == 2


def test_join_any_cancels_the_rest_and_keeps_only_completed_outputs() -> None:
    d = Driver(fan("any"))
    d.start()
    d.signal("ok", "yes")
    assert d.run.status == "completed" and d.run.output["outcome"] == {"approve": "yes"}
    assert d.cancelled == ["1"] and not d.pending
    assert d.run.state["threads"] == []


def test_a_failing_branch_cancels_the_others_and_reaches_the_catch() -> None:
    d = Driver(fan())
    d.start()
    d.fail(error="SmtpDown", message="no mail")
    assert d.run.status == "completed"
    assert d.run.output == {
        "error": "SmtpDown",
        "message": "no mail",
        "attempts": 1,
        "state": "fan_out",
    }
    assert len(d.run.state["threads"]) == 0


def test_an_uncaught_branch_failure_fails_the_run() -> None:
    d = Driver(fan().replace('catch: [{errors: ["*"], as: failure, next: failed}]', ""))
    d.start()
    d.fail(error="SmtpDown")
    assert d.run.status == "failed" and d.run.error["error"] == "SmtpDown"


LINES = """
wfdsl: "1"
name: lines
start: charge_lines
states:
  charge_lines:
    type: map
    items: ${ input.lines }
    as: line
    concurrency: CONC
    do:
      start: charge
      states:
        charge: {type: task, action: pay, args: {amount: "${ line.price }", i: "${ index }"}, result: r, next: out}
        out: {type: succeed, output: "${ vars.r }"}
    result: receipts
    catch: [{errors: [Declined], as: failure, next: failed}]
    next: fin
  fin: {type: succeed, output: "${ vars.receipts }"}
  failed: {type: succeed, output: "${ vars.failure.error }"}
"""


def lines(concurrency: int) -> str:
    return LINES.replace("CONC", str(concurrency))


def test_map_runs_at_most_concurrency_iterations_and_keeps_item_order() -> None:
    d = Driver(lines(2), input={"lines": [{"price": p} for p in (10, 20, 30)]})
    d.start()
    assert [c.state for c in d.pending.values()] == [
        "charge_lines[0]/charge",
        "charge_lines[1]/charge",
    ]
    d.complete("2", value="r1")  # the second finishes first: the third starts
    assert [c.args for c in d.pending.values()] == [{"amount": 10, "i": 0}, {"amount": 30, "i": 2}]
    d.complete("3", value="r2")
    d.complete("1", value="r0")
    assert d.run.output == ["r0", "r1", "r2"]


def test_map_with_unlimited_concurrency_and_an_empty_list() -> None:
    d = Driver(lines(100), input={"lines": [{"price": 1}] * 5})
    d.start()
    assert len(d.pending) == 5
    d = Driver(lines(3), input={"lines": []})
    d.start()
    assert d.run.status == "completed" and d.run.output == []


def test_a_failing_iteration_cancels_the_rest_and_reaches_the_map_catch() -> None:
    def pay(args: Any) -> Any:
        if args["i"] == 1:
            raise ActionError("Declined")
        return args["i"]

    d = Driver(lines(4), input={"lines": [{"price": 1}] * 4}, actions={"pay": pay})
    d.start()
    d.perform(d.pending["2"])
    assert d.run.output == "Declined" and set(d.cancelled) == {"1", "3", "4"}


def test_items_that_are_not_a_list_fail_with_expression_error() -> None:
    d = Driver(lines(1).replace("[Declined]", "[ExpressionError]"), input={"lines": "nope"})
    d.start()
    assert d.run.output == "ExpressionError"


def test_nested_parallel_inside_map_sees_the_item_and_has_nested_paths() -> None:
    text = """
wfdsl: "1"
name: nested
start: m
states:
  m:
    type: map
    items: [a, b]
    as: letter
    concurrency: 10
    do:
      start: p
      states:
        p:
          type: parallel
          branches:
            one:
              start: t
              states:
                t: {type: task, action: x, args: {l: "${ letter }"}, end: true}
          result: r
          next: out
        out: {type: succeed, output: "${ vars.r }"}
    result: all
    end: true
"""
    d = Driver(text, actions={"x": lambda args: args["l"]})
    d.start()
    assert [c.state for c in d.calls] == ["m[0]/p/one/t", "m[1]/p/one/t"]
    d.settle()
    assert d.run.output == {"all": [{"one": None}, {"one": None}]}


# ------------------------------------------- retrying a whole fork, tolerating

RETRIED_PARALLEL = """
wfdsl: "1"
name: retried
start: fan_out
states:
  fan_out:
    type: parallel
    retry: {max_attempts: 3, initial_interval: 10s, backoff: 2}
    branches:
      a:
        start: work
        states:
          work: {type: task, action: work, end: true}
      b:
        start: check
        states:
          check: {type: task, action: check, end: true}
    catch: [{errors: ["*"], as: failure, next: gave_up}]
    end: true
  gave_up: {type: fail, error: GaveUp, message: "${ vars.failure.message }"}
"""


def test_a_failed_parallel_runs_again_whole_with_new_idempotency_keys() -> None:
    d = Driver(RETRIED_PARALLEL, now=100.0)
    d.start()
    first = {c.idempotency_key for c in d.pending.values()}
    assert first == {"r1/fan_out/a/work/1", "r1/fan_out/b/check/1"}
    d.fail(error="Flaky")  # one branch fails: the other is cancelled, a retry waits
    (scheduled,) = d.of_type("retry_scheduled")
    assert scheduled.state == "fan_out" and scheduled.data["attempt"] == 2
    assert d.run.status == "waiting" and d.run.ready_at == 110.0
    d.now = 110.0
    d.wake()
    second = {c.idempotency_key for c in d.pending.values()}
    assert second == {"r1/fan_out@2/a/work/1", "r1/fan_out@2/b/check/1"}
    # History keeps the thread paths the graph knows.
    assert {c.state for c in d.pending.values()} == {"fan_out/a/work", "fan_out/b/check"}
    d.complete()
    d.complete()
    assert d.run.status == "completed"


def test_a_parallel_whose_retries_run_out_reaches_its_catch() -> None:
    d = Driver(RETRIED_PARALLEL)
    d.start()
    for _ in range(3):
        d.fail(error="Flaky", message="still down")
        if d.run.ready_at is not None:
            d.now = d.run.ready_at
            d.wake()
    assert d.run.status == "failed"
    assert d.run.error == {"error": "GaveUp", "message": "still down"}
    assert [e.data["attempt"] for e in d.of_type("retry_scheduled")] == [2, 3]


def test_a_parallel_entered_again_in_a_loop_gets_new_keys() -> None:
    text = """
wfdsl: "1"
name: looped
vars: {round: 0}
start: fan_out
states:
  fan_out:
    type: parallel
    branches:
      a:
        start: work
        states:
          work: {type: task, action: work, end: true}
    set: {round: "${ vars.round + 1 }"}
    next: again
  again:
    type: choice
    choices: [{when: "${ vars.round < 2 }", next: fan_out}]
    end: true
"""
    d = Driver(text)
    d.start()
    d.complete()
    keys = [c.idempotency_key for c in d.calls]
    assert keys == ["r1/fan_out/a/work/1", "r1/fan_out#2/a/work/1"]


TOLERANT_MAP = """
wfdsl: "1"
name: tolerant
start: charge_all
states:
  charge_all:
    type: map
    items: ${ input.cards }
    as: card
    concurrency: 10
    tolerated_failures: TOLERANCE
    do:
      start: charge
      states:
        charge: {type: task, action: charge, args: {card: "${ card }"}, result: r, next: out}
        out: {type: succeed, output: "${ vars.r }"}
    result: charged
    catch: [{errors: [ToleratedFailuresExceeded], as: failure, next: too_many}]
    end: true
  too_many: {type: succeed, output: "${ vars.failure }"}
"""


def _tolerant(tolerance: str, outcomes: dict[str, str | None]) -> Driver:
    d = Driver(TOLERANT_MAP.replace("TOLERANCE", tolerance), input={"cards": list(outcomes)})
    d.start()
    for call in list(d.pending.values()):
        if call.call_id not in d.pending:
            continue  # cancelled when the map failed
        error = outcomes[call.args["card"]]
        if error is None:
            d.complete(call.call_id, value=f"paid {call.args['card']}")
        else:
            d.fail(call.call_id, error=error, message=f"{call.args['card']} refused")
    return d


def test_a_map_within_its_tolerated_failures_succeeds_and_says_which_items_failed() -> None:
    d = _tolerant("1", {"c1": None, "c2": "CardDeclined", "c3": None})
    assert d.run.status == "completed"
    assert d.run.output == {
        "charged": {
            "outputs": ["paid c1", None, "paid c3"],
            "failures": [{"index": 1, "error": "CardDeclined", "message": "c2 refused"}],
        }
    }


def test_a_map_past_its_tolerated_failures_fails_with_a_clear_error() -> None:
    d = _tolerant("1", {"c1": "CardDeclined", "c2": "Expired", "c3": None})
    assert d.run.status == "completed"  # caught
    failure = d.run.output
    assert failure["error"] == "ToleratedFailuresExceeded"
    assert failure["message"].startswith("2 of 3 iterations failed, more than the 1 tolerated")


def test_a_percentage_tolerates_a_share_of_the_items() -> None:
    cards = {f"c{i}": ("Boom" if i < 2 else None) for i in range(10)}
    assert _tolerant('"20%"', cards).run.output["charged"]["failures"][1]["index"] == 1
    cards["c2"] = "Boom"
    assert _tolerant('"20%"', cards).run.output["error"] == "ToleratedFailuresExceeded"
