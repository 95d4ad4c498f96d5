"""choice, set, succeed, fail, emit, subflow and the run's output."""

from __future__ import annotations

from machine_driver import Driver, load_unchecked

ROUTE = """
wfdsl: "1"
name: route
vars: {total: 0}
start: route
states:
  route:
    type: choice
    choices:
      - when: ${ input.total > 1000 }
        next: big
      - when: ${ input.total > 100 }
        next: medium
    default: small
  big: {type: succeed, output: big}
  medium: {type: set, set: {size: medium, double: "${ input.total * 2 }"}, end: true}
  small: {type: fail, error: TooSmall, message: "only ${ input.total }"}
"""


def test_choice_takes_the_first_rule_that_holds() -> None:
    d = Driver(ROUTE, input={"total": 5000})
    d.start()
    assert d.run.status == "completed" and d.run.output == "big"


def test_end_at_the_top_completes_with_the_vars() -> None:
    d = Driver(ROUTE, input={"total": 500})
    d.start()
    assert d.run.output == {"total": 0, "size": "medium", "double": 1000}
    (changed,) = d.of_type("vars_changed")
    assert changed.data == {"changed": {"size": "medium", "double": 1000}}


def test_choice_default_and_fail_state_with_an_evaluated_message() -> None:
    d = Driver(ROUTE, input={"total": 5})
    d.start()
    assert d.run.status == "failed"
    assert d.run.error == {"error": "TooSmall", "message": "only 5"}


def test_no_choice_and_no_default_fails_with_no_choice_matched() -> None:
    text = """
wfdsl: "1"
name: nochoice
start: c
states:
  c:
    type: choice
    choices: [{when: "${ input.x }", next: done}]
  done: {type: succeed}
"""
    d = Driver(load_unchecked(text), input={"x": False})
    d.start()
    assert d.run.error is not None and d.run.error["error"] == "NoChoiceMatched"


def test_workflow_output_is_used_when_succeed_has_none() -> None:
    text = """
wfdsl: "1"
name: out
vars: {a: 1}
output: ${ vars.a + 1 }
start: s
states:
  s: {type: succeed}
"""
    d = Driver(text)
    d.start()
    assert d.run.output == 2


def test_set_reads_vars_as_they_were_before_it() -> None:
    text = """
wfdsl: "1"
name: simultaneous
vars: {a: 1}
start: s
states:
  s: {type: set, set: {a: 10, b: "${ vars.a }", deep.x.y: 3}, end: true}
"""
    d = Driver(text)
    d.start()
    assert d.run.output == {"a": 10, "b": 1, "deep": {"x": {"y": 3}}}


def test_initial_vars_may_use_input_and_now_and_uuid_are_recorded() -> None:
    text = """
wfdsl: "1"
name: hooks
vars: {email: "${ input.email }"}
start: s
states:
  s: {type: set, set: {at: "${ now() }", id: "${ uuid() }"}, end: true}
"""
    d = Driver(text, input={"email": "a@b.c"}, now=50.0)
    d.start()
    assert d.run.vars["email"] == "a@b.c" and d.run.vars["at"] == 50
    (changed,) = d.of_type("vars_changed")
    assert changed.data["hooks"] == {"now": 50.0, "uuids": [d.run.vars["id"]]}
    again = Driver(text, input={"email": "a@b.c"}, now=50.0)
    again.start()
    assert again.run.vars["id"] == d.run.vars["id"]


def test_writing_below_a_non_map_fails_the_state() -> None:
    text = """
wfdsl: "1"
name: clash
vars: {a: [1]}
start: s
states:
  s: {type: set, set: {a.b: 1}, end: true}
"""
    d = Driver(text)
    d.start()
    assert d.run.error is not None and d.run.error["error"] == "ExpressionError"
    assert "vars.a holds a list" in d.run.error["message"]


def test_emit_to_another_run_goes_to_the_outbox() -> None:
    text = """
wfdsl: "1"
name: tell
start: e
states:
  e: {type: emit, signal: done, run: "${ input.parent }", data: {ok: true}, end: true}
"""
    d = Driver(text, input={"parent": "p-1"})
    d.start()
    (message,) = d.sent
    assert (message.run_id, message.channel, message.data) == ("p-1", "done", {"ok": True})


def test_emit_to_itself_feeds_a_later_wait_in_the_same_transition() -> None:
    text = """
wfdsl: "1"
name: self
start: e
states:
  e: {type: emit, signal: ping, data: 7, next: w}
  w: {type: wait, signal: ping, as: got, end: true}
"""
    d = Driver(text)
    t = d.start()
    assert d.run.status == "completed" and d.run.vars["got"] == 7 and not t.outbox


SUB = """
wfdsl: "1"
name: parent
start: child
states:
  child:
    type: subflow
    workflow: refund.yaml
    input: {order: "${ input.order }"}
    result: refund
    catch: [{errors: [RefundFailed], as: why, next: oops}]
    next: fin
  fin: {type: succeed, output: "${ vars.refund }"}
  oops: {type: succeed, output: "${ vars.why.error }"}
"""


def test_subflow_starts_a_child_with_a_derived_id_and_takes_its_output() -> None:
    d = Driver(SUB, input={"order": "o-1"})
    d.start()
    (child,) = d.children
    assert child.run_id == "r1/child" and child.input == {"order": "o-1"}
    assert child.workflow == "refund.yaml" and d.run.status == "waiting"
    d.recover()
    assert d.children[-1] == child  # re-issued identically
    d.signal("__child__", {"run_id": "r1/child", "status": "completed", "output": 12})
    assert d.run.status == "completed" and d.run.output == 12


def test_a_failed_child_fails_the_subflow_state_catchably() -> None:
    d = Driver(SUB, input={"order": "o-1"})
    d.start()
    d.signal(
        "__child__",
        {
            "run_id": "r1/child",
            "status": "failed",
            "error": {"error": "RefundFailed", "message": "no"},
        },
    )
    assert d.run.output == "RefundFailed"


def test_subflow_without_wait_moves_on_with_the_child_id() -> None:
    d = Driver(SUB.replace("result: refund", "result: refund\n    wait: false"))
    d.start()
    assert d.run.output == "r1/child" and len(d.children) == 1


ENDING_CHOICE = """
wfdsl: "1"
name: maybe-work
vars: {seen: true}
start: route
states:
  route:
    type: choice
    choices:
      - when: ${ input.skip }
        end: true
      - when: ${ input.work }
        next: work
    end: true
  work: {type: task, action: work, end: true}
"""


def test_a_choice_branch_that_ends_completes_the_run_without_a_succeed_state() -> None:
    d = Driver(ENDING_CHOICE, input={"skip": True, "work": True})
    d.start()
    assert d.run.status == "completed" and d.run.output == {"seen": True}
    assert not d.calls


def test_a_choice_whose_default_ends_completes_when_no_rule_holds() -> None:
    d = Driver(ENDING_CHOICE, input={"skip": False, "work": False})
    d.start()
    assert d.run.status == "completed" and not d.calls
    d = Driver(ENDING_CHOICE, input={"skip": False, "work": True})
    d.start()
    assert d.action_names() == ["work"]


RETHROW = """
wfdsl: "1"
name: rethrow
start: work
states:
  work:
    type: parallel
    branches:
      only:
        start: charge
        states:
          charge:
            type: task
            action: charge
            catch:
              - errors: ["*"]
                as: caught
                next: rethrow
            end: true
          rethrow:
            type: fail
            error: ${ vars.caught.error }
            message: "charge failed: ${ vars.caught.message }"
    catch:
      - errors: [CardDeclined]
        as: declined
        next: tell
    end: true
  tell: {type: fail, error: "${ input.external_error }", message: "${ vars.declined.message }"}
"""


def test_a_fail_state_re_raises_a_caught_error_under_its_own_name() -> None:
    d = Driver(RETHROW, input={"external_error": "PaymentRejected"})
    d.start()
    d.fail(error="CardDeclined", message="insufficient funds")
    # The branch re-raised CardDeclined, the parallel's catch matched that
    # name, and the run's error came from the input.
    assert d.run.status == "failed"
    assert d.run.error == {
        "error": "PaymentRejected",
        "message": "charge failed: insufficient funds",
    }


def test_a_computed_error_that_is_not_a_name_fails_with_an_expression_error() -> None:
    d = Driver(RETHROW, input={"external_error": None})
    d.start()
    d.fail(error="CardDeclined", message="no")
    assert d.run.status == "failed"
    assert d.run.error is not None and d.run.error["error"] == "ExpressionError"
    assert "error" in d.run.error["message"] and "null" in d.run.error["message"]


def test_a_retried_subflow_starts_a_new_child_per_attempt() -> None:
    text = SUB.replace(
        "    result: refund\n",
        "    result: refund\n    retry: {max_attempts: 2, initial_interval: 1m}\n",
    )
    d = Driver(text, input={"order": "o-1"})
    d.start()
    failed = {"status": "failed", "error": {"error": "RefundFailed", "message": "no"}}
    d.signal("__child__", {"run_id": "r1/child", **failed})
    assert d.run.status == "waiting" and d.run.ready_at == 60.0
    d.now = 60.0
    d.wake()
    assert [c.run_id for c in d.children] == ["r1/child", "r1/child@2"]
    d.recover()
    assert d.children[-1].run_id == "r1/child@2"  # a recovered parent re-issues the same child
    d.signal("__child__", {"run_id": "r1/child@2", **failed})
    assert d.run.output == "RefundFailed"  # retries exhausted: the catch decides
