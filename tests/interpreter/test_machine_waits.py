"""wait states: timers, until, signals with the inbox, any / all / at_least."""

from __future__ import annotations

from machine_driver import Driver

SIGNUP = """
wfdsl: "1"
name: signup
vars: {reminders: 0}
start: wait_for_click
states:
  wait_for_click:
    type: wait
    any:
      - signal: verified
        as: verification
        next: welcome
      - timer: 1d
        next: remind
  remind:
    type: set
    set: {reminders: "${ vars.reminders + 1 }"}
    next: too_many
  too_many:
    type: choice
    choices: [{when: "${ vars.reminders >= 3 }", next: give_up}]
    default: wait_for_click
  welcome: {type: succeed, output: "${ vars.verification }"}
  give_up: {type: fail, error: NotVerified}
"""


def test_a_timer_sets_ready_at_and_fires_no_earlier_than_due() -> None:
    d = Driver(SIGNUP, now=1000.0)
    d.start()
    assert d.run.status == "waiting" and d.run.ready_at == 1000.0 + 86400
    d.now = 1000.0 + 86399
    d.wake()
    assert not d.of_type("timer_fired")
    d.now = 1000.0 + 86400
    d.wake()
    assert len(d.of_type("timer_fired")) == 1 and d.run.vars["reminders"] == 1
    assert d.run.ready_at == 1000.0 + 2 * 86400


def test_any_takes_the_signal_and_drops_the_timer() -> None:
    d = Driver(SIGNUP)
    d.start()
    d.signal("verified", {"source": "link"})
    assert d.run.status == "completed" and d.run.output == {"source": "link"}
    assert "signal_received" in d.types() and "signal_consumed" in d.types()
    assert d.transitions[-1].consumed == (1,)


def test_timers_run_out_after_three_reminders() -> None:
    d = Driver(SIGNUP)
    d.start()
    d.settle()
    assert d.run.status == "failed" and d.run.error == {"error": "NotVerified", "message": ""}
    assert d.now == 3 * 86400


def test_a_message_sent_before_anyone_waits_is_kept_for_the_first_wait() -> None:
    text = """
wfdsl: "1"
name: early
start: work
states:
  work: {type: task, action: x, next: w}
  w: {type: wait, signal: go, as: got, end: true}
"""
    d = Driver(text)
    d.start()
    d.signal("go", 1)
    d.signal("other", 2)
    assert d.run.status == "running" and len(d.inbox) == 2
    d.complete()
    assert d.run.status == "completed" and d.run.vars["got"] == 1
    assert [m.channel for m in d.inbox] == ["other"]


def test_count_consumes_that_many_in_order_and_as_gets_a_list() -> None:
    text = """
wfdsl: "1"
name: count
start: w
states:
  w: {type: wait, signal: vote, as: votes, count: 3, end: true}
"""
    d = Driver(text)
    d.start()
    d.signal("vote", "a")
    d.signal("vote", "b")
    assert d.run.status == "waiting" and len(d.inbox) == 2  # nothing taken yet
    d.signal("vote", "c")
    d.signal("vote", "d", wake=False)
    assert d.run.status == "completed" and d.run.vars["votes"] == ["a", "b", "c"]


def test_all_completes_when_every_alternative_has() -> None:
    text = """
wfdsl: "1"
name: both
start: w
states:
  w:
    type: wait
    all: [{signal: a, as: a}, {signal: b, as: b}, {timer: 10s}]
    next: fin
  fin: {type: succeed}
"""
    d = Driver(text)
    d.start()
    d.signal("b", 2)
    assert d.run.vars == {"b": 2} and d.run.status == "waiting"
    d.signal("a", 1)
    assert d.run.status == "waiting"
    d.now = 10.0
    d.wake()
    assert d.run.status == "completed" and d.run.output == {"a": 1, "b": 2}


def test_at_least_and_nested_any_pick_the_right_next() -> None:
    text = """
wfdsl: "1"
name: nested
start: w
states:
  w:
    type: wait
    any:
      - at_least:
          count: 2
          of: [{signal: x}, {signal: y}, {signal: z}]
        next: quorum
      - any: [{signal: stop, next: stopped}, {timer: 1h}]
        next: expired
  quorum: {type: succeed, output: quorum}
  stopped: {type: succeed, output: stopped}
  expired: {type: succeed, output: expired}
"""
    d = Driver(text)
    d.start()
    d.signal("x")
    d.signal("z")
    assert d.run.output == "quorum"
    d = Driver(text)
    d.start()
    d.signal("stop")
    assert d.run.output == "stopped"
    d = Driver(text)
    d.start()
    d.now = 3600.0
    d.wake()
    assert d.run.output == "expired"


def test_any_losers_leave_their_messages_in_the_inbox() -> None:
    text = """
wfdsl: "1"
name: race
start: w
states:
  w:
    type: wait
    any: [{signal: a, next: fin}, {signal: b, next: fin}]
  fin: {type: succeed}
"""
    d = Driver(text)
    d.start()
    d.signal("a", wake=False)
    d.signal("b", wake=False)
    d.wake()
    assert d.run.status == "completed" and [m.channel for m in d.inbox] == ["b"]


def test_timer_and_until_from_expressions() -> None:
    text = """
wfdsl: "1"
name: exprs
start: nap
states:
  nap: {type: wait, timer: "${ input.delay }", next: until}
  until: {type: wait, until: "${ input.at }", end: true}
"""
    d = Driver(text, input={"delay": "1m", "at": "1970-01-01T01:00:00Z"})
    d.start()
    assert d.run.ready_at == 60.0
    d.settle()
    assert d.run.status == "completed" and d.now == 3600.0
    d = Driver(text, input={"delay": "soon", "at": 5})
    d.start()
    assert d.run.error is not None and d.run.error["error"] == "ExpressionError"


def test_signal_wait_state_path_and_inbox_seen() -> None:
    d = Driver(SIGNUP)
    d.start()
    d.signal("nobody", 1)
    assert d.transitions[-1].inbox_seen == 1 and d.run.state["seen"] == 1
    before = len(d.events)
    d.wake()
    assert len(d.events) == before  # seen once: no second signal_received


# ----------------------------------------- several alternatives ready at once

DEADLINE_RACE = """
wfdsl: "1"
name: reminder-or-deadline
input: {type: object, properties: {deadline: {type: number}}}
start: pending
states:
  pending:
    type: wait
    any:
      - timer: 1d
        next: remind
      - until: ${ input.deadline }
        next: expire
  remind: {type: succeed, output: reminded}
  expire: {type: succeed, output: expired}
"""


def test_a_deadline_due_with_a_timer_at_the_same_instant_wins() -> None:
    # The reminder is listed first, but the deadline falls at the same second:
    # no reminder may go out at the deadline.
    d = Driver(DEADLINE_RACE, input={"deadline": 86400.0})
    d.start()
    d.settle()
    assert d.run.output == "expired"
    assert [e.data["node"] for e in d.of_type("timer_fired")] == [2]


def test_the_timer_due_first_wins_even_when_both_are_overdue() -> None:
    # The engine was down past both: the reminder was due an hour before the
    # deadline, so it is the one that happened.
    d = Driver(DEADLINE_RACE, input={"deadline": 90000.0})
    d.start()
    d.now = 200000.0
    d.wake()
    assert d.run.output == "reminded"


def test_an_earlier_deadline_wins_over_a_timer_listed_before_it() -> None:
    d = Driver(DEADLINE_RACE, input={"deadline": 3600.0})
    d.start()
    d.now = 200000.0
    d.wake()
    assert d.run.output == "expired"


SIGNAL_OR_TIMEOUT = """
wfdsl: "1"
name: approval-or-timeout
start: pending
states:
  pending:
    type: wait
    any:
      - signal: approved
        as: approval
        next: approve
      - timer: 1h
        next: expire
  approve: {type: succeed, output: approved}
  expire: {type: succeed, output: expired}
"""


def test_a_signal_sent_after_the_timeout_loses_to_it_when_both_are_seen_at_once() -> None:
    # The approval arrived after the hour was up, while no engine was driving:
    # the timeout happened first, so it wins and the message stays unconsumed.
    d = Driver(SIGNAL_OR_TIMEOUT)
    d.start()
    d.now = 3700.0
    d.signal("approved", {"by": "ann"}, wake=False)
    d.wake()
    assert d.run.output == "expired"
    assert not d.of_type("signal_consumed")


def test_a_signal_sent_before_the_timeout_wins_when_both_are_seen_at_once() -> None:
    d = Driver(SIGNAL_OR_TIMEOUT)
    d.start()
    d.now = 3500.0
    d.signal("approved", {"by": "ann"}, wake=False)
    d.now = 3700.0
    d.wake()
    assert d.run.output == "approved"
