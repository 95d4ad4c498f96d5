"""Handlers, pause / resume / step / break points, cancel, run timeout, search."""

from __future__ import annotations

from machine_driver import Driver

APPROVAL = """
wfdsl: "1"
name: approval
vars: {status: new}
search:
  status: ${ vars.status }
  broken: ${ 1 / vars.zero }
handlers:
  approve:
    when: ${ vars.status == 'new' }
    set: {status: approved, by: "${ args.who }"}
    emit: {signal: decided, data: "${ args }"}
    return: ${ 'ok ' + vars.status }
  peek:
    return: ${ vars.status }
start: work
states:
  work: {type: task, action: x, next: wait}
  wait: {type: wait, signal: decided, as: decision, next: fin}
  fin: {type: succeed}
"""


def test_a_handler_sets_emits_returns_and_its_emit_feeds_a_waiting_thread() -> None:
    d = Driver(APPROVAL)
    d.start()
    d.complete()
    assert d.run.status == "waiting" and d.run.search == {"status": "new", "broken": None}
    reply = d.call("approve", {"who": "ada"})
    assert reply.ok and reply.value == "ok approved"
    assert d.run.status == "completed" and d.run.vars["decision"] == {"who": "ada"}
    assert d.run.vars["by"] == "ada" and d.run.search["status"] == "approved"
    assert len(d.of_type("handler_called")) == 1


def test_a_guard_that_does_not_hold_rejects_and_changes_nothing() -> None:
    d = Driver(APPROVAL)
    d.start()
    d.call("approve", {"who": "ada"})
    run = d.run
    reply = d.call("approve", {"who": "bob"})
    assert not reply.ok and reply.error == "HandlerRejected"
    assert d.run is run and d.transitions[-1].status == "idle"


def test_queries_work_on_finished_runs_and_mutations_do_not() -> None:
    d = Driver(APPROVAL)
    d.start()
    d.complete()
    d.call("approve", {"who": "ada"})
    assert d.call("peek").value == "approved"
    reply = d.call("approve", {"who": "x"})
    assert reply.error == "HandlerRejected" and "completed" in (reply.message or "")
    assert d.call("nope").error == "HandlerNotFound"


def test_pause_keeps_outcomes_timers_and_messages_for_resume() -> None:
    text = """
wfdsl: "1"
name: pausing
start: a
states:
  a: {type: task, action: x, result: r, next: nap}
  nap: {type: wait, timer: 10s, next: b}
  b: {type: task, action: y, end: true}
"""
    d = Driver(text)
    d.start()
    d.pause()
    assert d.run.status == "paused" and d.run.ready_at is None
    d.complete(value=1)  # the action finished: recorded, but nothing new starts
    assert d.run.vars == {"r": 1} and d.run.status == "paused"
    assert "state_entered" not in d.types()[-2:]
    d.resume()
    assert d.run.status == "waiting" and d.run.ready_at == 10.0
    d.pause()
    d.now = 20.0
    d.wake()
    assert not d.of_type("timer_fired")
    d.resume()
    assert d.of_type("timer_fired") and [c.action for c in d.pending.values()] == ["y"]


def test_step_enters_exactly_one_state_and_stays_paused() -> None:
    text = """
wfdsl: "1"
name: stepping
start: a
states:
  a: {type: set, set: {a: 1}, next: b}
  b: {type: set, set: {b: 1}, next: c}
  c: {type: succeed}
"""
    d = Driver(text, break_at=("b",))
    d.start()
    assert d.run.status == "paused" and d.run.vars == {"a": 1}
    assert d.of_type("paused")[0].data == {"reason": "break", "state": "b"}
    d.step()
    assert d.run.status == "paused" and d.run.vars == {"a": 1, "b": 1}
    assert d.transitions[-1].steps == 1
    d.resume()
    assert d.run.status == "completed"


def test_workflow_timeout_fails_the_run_at_its_deadline() -> None:
    text = """
wfdsl: "1"
name: slow
timeout: 1h
start: w
states:
  w: {type: wait, signal: never, end: true}
"""
    d = Driver(text, now=100.0)
    d.start()
    assert d.run.ready_at == 3700.0
    d.settle()
    assert d.run.status == "failed" and d.run.error["error"] == "Timeout"


def test_cancel_stops_everything() -> None:
    d = Driver(APPROVAL)
    d.start()
    d.cancel()
    assert d.run.status == "cancelled" and d.cancelled == ["1"]
    assert d.cancel().status == "idle"


def test_secrets_are_masked_in_history() -> None:
    text = """
wfdsl: "1"
name: secret
start: a
states:
  a: {type: task, action: http, args: {auth: "Bearer ${ secret('TOKEN') }"}, end: true}
"""
    d = Driver(text, secrets={"TOKEN": "s3cr3t"})
    d.start()
    (call,) = d.pending.values()
    assert call.args == {"auth": "Bearer s3cr3t"}
    assert d.of_type("action_started")[0].data["args"] == {"auth": "Bearer ***"}
