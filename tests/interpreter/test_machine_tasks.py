"""task states: calls, results, retries on durable timers, catch, propagation."""

from __future__ import annotations

from typing import Any

from machine_driver import ActionError, Driver

CHARGE = """
wfdsl: "1"
name: charge
vars: {total: 42}
start: charge
states:
  charge:
    type: task
    action: pay
    args: {amount: "${ vars.total }", attempt: "${ run.attempt }"}
    result: payment
    set: {paid: "${ result.id }"}
    retry: {max_attempts: 3, initial_interval: 2s, backoff: 3, non_retryable: [CardDeclined]}
    catch:
      - errors: [CardDeclined]
        as: failure
        next: declined
    next: done
  declined: {type: succeed, output: "${ vars.failure }"}
  done: {type: succeed}
"""


def test_a_task_calls_its_action_with_evaluated_args_and_a_stable_key() -> None:
    d = Driver(CHARGE)
    t = d.start()
    (call,) = t.commands
    assert call.action == "pay" and call.args == {"amount": 42, "attempt": 1}
    assert call.idempotency_key == "r1/charge/1" and call.state == "charge"
    assert d.run.status == "running" and d.run.ready_at is None
    assert d.types() == ["run_started", "state_entered", "action_started"]
    assert d.of_type("action_started")[0].data["args"] == {"amount": 42, "attempt": 1}


def test_result_is_written_then_set_sees_it_and_the_run_completes_with_vars() -> None:
    d = Driver(CHARGE)
    d.start()
    d.complete(value={"id": "p-1"})
    assert d.run.status == "completed"
    assert d.run.output == {"total": 42, "payment": {"id": "p-1"}, "paid": "p-1"}
    assert d.types()[-4:] == ["action_completed", "vars_changed", "state_entered", "run_completed"]
    assert d.run.ended_at == 0.0 and d.run.state["threads"] == []


def test_retries_wait_on_durable_timers_with_backoff_and_keep_the_visit_path() -> None:
    d = Driver(CHARGE, now=100.0)
    d.start()
    d.fail(error="Unavailable")
    assert d.run.status == "waiting" and d.run.ready_at == 102.0
    (scheduled,) = d.of_type("retry_scheduled")
    assert scheduled.data["attempt"] == 2 and scheduled.data["due"] == 102.0
    assert "seed" in scheduled.data
    d.now = 101.0
    assert d.wake().status == "idle" or not d.pending  # not due yet: nothing issued
    assert not d.pending
    d.now = 102.0
    d.wake()
    (call,) = d.pending.values()
    assert call.attempt == 2 and call.idempotency_key == "r1/charge/2"
    assert call.args["attempt"] == 2
    d.fail(error="Unavailable")
    assert d.run.ready_at == 102.0 + 6.0
    d.now = 108.0
    d.wake()
    d.fail(error="Unavailable")  # third attempt: max_attempts reached, nothing catches
    assert d.run.status == "failed"
    assert d.run.error == {"error": "Unavailable", "message": "it broke"}
    assert len(d.calls) == 3


def test_a_caught_error_writes_its_description_and_goes_to_the_catch_target() -> None:
    d = Driver(CHARGE)
    d.start()
    d.fail(error="CardDeclined", message="insufficient funds")
    assert d.run.status == "completed"
    assert d.run.output == {
        "error": "CardDeclined",
        "message": "insufficient funds",
        "attempts": 1,
        "state": "charge",
    }


def test_non_retryable_and_retry_on_limit_what_is_retried() -> None:
    text = CHARGE.replace("[CardDeclined]}", "[CardDeclined, Fatal]}")
    d = Driver(text)
    d.start()
    d.fail(error="Fatal")
    assert d.run.status == "failed" and not d.of_type("retry_scheduled")
    text = CHARGE.replace("backoff: 3, ", "backoff: 3, retry_on: [Flaky], ")
    d = Driver(text)
    d.start()
    d.fail(error="Other")
    assert d.run.status == "failed"


def test_max_duration_stops_retrying_once_the_next_delay_would_pass_it() -> None:
    text = CHARGE.replace("backoff: 3, ", "backoff: 3, max_duration: 5s, ")
    d = Driver(text)
    d.start()
    d.fail(error="Flaky")  # delay 2: at 2 <= 5
    d.now = 2.0
    d.wake()
    d.fail(error="Flaky")  # delay 6: 8 > 5, give up
    assert d.run.status == "failed" and len(d.of_type("retry_scheduled")) == 1


def test_ordered_retriers_pick_the_first_policy_naming_the_error() -> None:
    text = """
wfdsl: "1"
name: retriers
start: a
states:
  a:
    type: task
    action: x
    retry:
      - {errors: [Slow], max_attempts: 2, initial_interval: 10s}
      - {errors: ["*"], max_attempts: 4, initial_interval: 1s}
    end: true
"""
    d = Driver(text)
    d.start()
    d.fail(error="Slow")
    assert d.run.ready_at == 10.0
    d.now = 10.0
    d.wake()
    d.fail(error="Slow")
    assert d.run.status == "failed"
    d = Driver(text)
    d.start()
    d.fail(error="Other")
    assert d.run.ready_at == 1.0


def test_jitter_is_drawn_from_a_recorded_seed_and_is_the_same_on_replay() -> None:
    text = CHARGE.replace("backoff: 3, ", "backoff: 3, jitter: 0.5, ")
    delays = []
    for _ in range(2):
        d = Driver(text)
        d.start()
        d.fail(error="Flaky")
        delays.append(d.of_type("retry_scheduled")[0].data["delay"])
    assert delays[0] == delays[1] and 1.0 <= delays[0] < 3.0 and delays[0] != 2.0


def test_an_expression_error_fails_the_state_with_coordinates_and_is_catchable() -> None:
    text = """
wfdsl: "1"
name: bad
start: a
states:
  a:
    type: task
    action: x
    args: {n: "${ 1 / vars.zero }"}
    catch: [{errors: [ExpressionError], as: oops, next: b}]
    next: b
  b: {type: succeed, output: "${ vars.oops }"}
"""
    d = Driver(text)
    d.start()
    assert not d.calls and d.run.status == "completed"
    assert d.run.output["error"] == "ExpressionError"
    assert d.run.output["message"].startswith("run 'r1' state 'a': ")


def test_an_uncaught_failure_fails_the_run() -> None:
    d = Driver(CHARGE.replace("max_attempts: 3", "max_attempts: 1"))
    d.start()
    d.fail(error="Boom", message="down")
    assert d.run.status == "failed" and d.run.error == {"error": "Boom", "message": "down"}
    assert d.types()[-1] == "run_failed" and d.run.ready_at is None


def test_a_late_or_unknown_outcome_is_ignored() -> None:
    d = Driver(CHARGE)
    d.start()
    before = d.run
    from wfdsl.interpreter.machine.steps import ActionOutcome

    t = d.apply(ActionOutcome(now=1.0, call_id="99", ok=True))
    assert t.status == "idle" and not t.events and d.run is before


def test_a_loop_gives_each_visit_its_own_idempotency_key() -> None:
    text = """
wfdsl: "1"
name: loop
vars: {n: 0}
start: a
states:
  a: {type: task, action: x, set: {n: "${ vars.n + 1 }"}, next: again}
  again:
    type: choice
    choices: [{when: "${ vars.n < 3 }", next: a}]
    default: fin
  fin: {type: succeed}
"""
    d = Driver(text, actions={"x": lambda args: None})
    d.start()
    d.settle()
    assert [c.idempotency_key for c in d.calls] == ["r1/a/1", "r1/a#2/1", "r1/a#3/1"]
    assert d.run.vars["n"] == 3


def test_a_chain_of_states_is_one_transition_counting_steps() -> None:
    text = """
wfdsl: "1"
name: chain
start: s
states:
  s: {type: set, set: {a: 1}, next: c}
  c:
    type: choice
    choices: [{when: "${ vars.a == 1 }", next: t}]
    default: t
  t: {type: task, action: x, end: true}
"""
    d = Driver(text)
    t = d.start()
    assert t.steps == 3 and len(t.commands) == 1


def test_max_steps_stops_entering_and_leaves_the_run_ready() -> None:
    text = """
wfdsl: "1"
name: chain
start: a
states:
  a: {type: set, set: {a: 1}, next: b}
  b: {type: set, set: {b: 1}, next: c}
  c: {type: set, set: {c: 1}, end: true}
"""
    d = Driver(text, max_steps=2)
    t = d.start()
    assert t.steps == 2 and d.run.status == "running" and d.run.ready_at == 0.0
    d.wake()
    assert d.run.status == "completed" and d.run.output == {"a": 1, "b": 1, "c": 1}


def test_fake_actions_drive_a_run_to_its_end() -> None:
    seen: list[Any] = []

    def pay(args: Any) -> Any:
        seen.append(args)
        if len(seen) < 2:
            raise ActionError("Flaky")
        return {"id": "p-9"}

    d = Driver(CHARGE, actions={"pay": pay})
    d.start()
    d.settle()
    assert d.run.status == "completed" and d.run.vars["paid"] == "p-9"
    assert d.now == 2.0


# ------------------------------------------------- retry counts, caps, jitter

UNLIMITED = """
wfdsl: "1"
name: keep-trying
start: pay
states:
  pay:
    type: task
    action: pay
    retry: {max_attempts: unlimited, initial_interval: 1s, backoff: 2, max_interval: 1m}
    end: true
"""


def test_unlimited_attempts_retry_past_any_count_with_delays_held_at_the_cap() -> None:
    d = Driver(UNLIMITED)
    d.start()
    for _ in range(1500):  # 2 ** 1500 overflows a float: the cap must still hold
        d.fail(error="Unavailable")
        d.now = d.run.ready_at
        d.wake()
    assert d.run.status == "running" and len(d.calls) == 1501
    delays = [e.data["delay"] for e in d.of_type("retry_scheduled")]
    assert delays[:7] == [1.0, 2.0, 4.0, 8.0, 16.0, 32.0, 60.0]
    assert set(delays[6:]) == {60.0}


def test_one_attempt_means_no_retries() -> None:
    d = Driver(UNLIMITED.replace("max_attempts: unlimited", "max_attempts: 1"))
    d.start()
    d.fail(error="Unavailable")
    assert d.run.status == "failed" and not d.of_type("retry_scheduled")


def _delays(jitter: str, retries: int = 40) -> list[float]:
    text = UNLIMITED.replace("max_interval: 1m}", f"max_interval: 5s, jitter: {jitter}}}")
    d = Driver(text)
    d.start()
    for _ in range(retries):
        d.fail(error="Unavailable")
        d.now = d.run.ready_at
        d.wake()
    return [e.data["delay"] for e in d.of_type("retry_scheduled")]


def test_no_jittered_delay_ever_exceeds_max_interval() -> None:
    # A 5s cap with 100% fractional jitter once allowed delays up to 10s.
    for mode in ("1.0", "0.5", "full", "equal"):
        delays = _delays(mode)
        assert max(delays) <= 5.0, mode
        assert len(set(delays)) > 3, f"{mode}: the delays are not randomised"


def test_full_jitter_spreads_over_the_whole_delay_and_equal_over_its_upper_half() -> None:
    full = _delays("full")[4:]  # from the fifth retry on the delay is the 5s cap
    equal = _delays("equal")[4:]
    assert min(full) < 2.5 and all(0.0 <= x <= 5.0 for x in full)
    assert all(2.5 <= x <= 5.0 for x in equal)


def test_jitter_is_drawn_from_the_recorded_seed_so_a_replay_waits_the_same() -> None:
    assert _delays("full") == _delays("full")


# --------------------------------------------------------- errors as data

LOOKUP = """
wfdsl: "1"
name: lookup
start: fetch
states:
  fetch:
    type: task
    action: http
    args: {method: GET, url: "https://api.test/users/1"}
    catch:
      - errors: [HttpError]
        when: ${ error.details.status == 404 }
        as: missing
        next: not_found
      - errors: ["*"]
        as: failure
        next: broken
    end: true
  not_found: {type: succeed, output: "${ vars.missing }"}
  broken: {type: succeed, output: "${ vars.failure.error }"}
"""


def test_a_catch_filters_on_the_errors_details_and_as_holds_them() -> None:
    d = Driver(LOOKUP)
    d.start()
    d.fail(error="HttpError", message="GET answered 404", details={"status": 404, "body": "no"})
    assert d.run.output == {
        "error": "HttpError",
        "message": "GET answered 404",
        "attempts": 1,
        "state": "fetch",
        "details": {"status": 404, "body": "no"},
    }
    (failed,) = d.of_type("action_failed")
    assert failed.data["details"] == {"status": 404, "body": "no"}


def test_an_entry_whose_when_does_not_hold_lets_the_next_entry_decide() -> None:
    d = Driver(LOOKUP)
    d.start()
    d.fail(error="HttpError", message="GET answered 500", details={"status": 500})
    assert d.run.output == "HttpError"


def test_details_reach_the_runs_error_through_a_parallel() -> None:
    text = """
wfdsl: "1"
name: p
start: fan
states:
  fan:
    type: parallel
    branches:
      a:
        start: call
        states:
          call: {type: task, action: api, end: true}
    end: true
"""
    d = Driver(text)
    d.start()
    d.fail(error="QuotaExceeded", message="slow down", details={"retry_after": 30})
    assert d.run.status == "failed"
    assert d.run.error == {
        "error": "QuotaExceeded",
        "message": "slow down",
        "details": {"retry_after": 30},
    }
