"""Bounded loops (issue 14 item 9): a counter loop of choice and set states
is valid and runs; a thread that enters more than ``max_transitions`` states
without a durable wait fails the run with ``LimitExceeded`` naming the loop.

A durable wait is anything that ends the thread's part of a transition: an
action call, a timer or message still to come, a child run. The bound is per
thread, so a map of many iterations is not a loop."""

from __future__ import annotations

from machine_driver import Driver

COUNTER = """
wfdsl: "1"
name: counter
{limit}
vars: {{n: 0}}
start: check
states:
  check:
    type: choice
    choices:
      - when: ${{ vars.n >= input.times }}
        end: true
    default: bump
  bump:
    type: set
    set: {{n: "${{ vars.n + 1 }}"}}
    next: check
"""


def counter(times: int, limit: str = "") -> Driver:
    d = Driver(COUNTER.format(limit=limit), input={"times": times})
    d.start()
    d.settle()
    return d


def test_a_counter_loop_runs_to_its_end_within_one_transition() -> None:
    d = counter(4_000)
    assert d.run.status == "completed" and d.run.output == {"n": 4_000}
    # 4,000 rounds of check + bump, then the last check: nothing waited.
    assert len(d.of_type("state_entered")) == 8_001
    assert len(d.transitions) == 1


def test_a_loop_that_goes_round_too_often_fails_naming_the_loop() -> None:
    d = counter(6_000)  # 12,001 states would be entered; the default bound is 10,000
    assert d.run.status == "failed"
    error = d.run.error
    assert error is not None and error["error"] == "LimitExceeded"
    message = error["message"]
    assert "run 'r1' state 'check'" in message
    assert "entered 10,000 states without a durable wait" in message
    assert "going round 'check' -> 'bump' -> 'check'" in message
    assert "`max_transitions`" in message
    # The refused transition kept nothing of the spin: no 10,000 events.
    assert d.types() == ["run_started", "run_failed"]
    assert d.run.vars == {}


def test_max_transitions_is_set_per_workflow() -> None:
    assert counter(20, "max_transitions: 50").run.status == "completed"
    failed = counter(30, "max_transitions: 50").run
    assert failed.status == "failed" and failed.error is not None
    assert "entered 50 states" in failed.error["message"]
    assert "(now 50)" in failed.error["message"]


def test_a_timer_in_the_loop_is_a_durable_wait() -> None:
    text = """
wfdsl: "1"
name: poll
max_transitions: 5
vars: {n: 0}
start: check
states:
  check:
    type: choice
    choices:
      - when: ${ vars.n >= 100 }
        end: true
    default: nap
  nap: {type: wait, timer: 1s, next: bump}
  bump: {type: set, set: {n: "${ vars.n + 1 }"}, next: check}
"""
    d = Driver(text)
    d.start()
    d.settle()
    assert d.run.status == "completed" and d.run.output == {"n": 100}
    assert d.now == 100.0


def test_a_task_in_the_loop_is_a_durable_wait() -> None:
    text = """
wfdsl: "1"
name: pages
max_transitions: 3
vars: {n: 0}
start: check
states:
  check:
    type: choice
    choices:
      - when: ${ vars.n >= 50 }
        end: true
    default: fetch
  fetch: {type: task, action: page, set: {n: "${ vars.n + 1 }"}, next: check}
"""
    d = Driver(text, actions={"page": lambda args: None})
    d.start()
    d.settle()
    assert d.run.status == "completed" and d.run.output == {"n": 50}


def test_the_bound_is_per_thread_so_a_wide_map_is_no_loop() -> None:
    text = """
wfdsl: "1"
name: wide
max_transitions: 4
start: each
states:
  each:
    type: map
    items: ${ range(200) }
    as: i
    concurrency: 200
    do:
      start: double
      states:
        double: {type: set, set: {x: "${ i * 2 }"}, next: out}
        out: {type: succeed, output: "${ vars.x }"}
    result: doubled
    end: true
"""
    d = Driver(text)
    d.start()
    d.settle()
    assert d.run.status == "completed"
    assert d.run.output["doubled"][199] == 398


def test_a_loop_inside_a_branch_is_named_with_its_branch() -> None:
    text = """
wfdsl: "1"
name: inner
max_transitions: 20
start: fan
states:
  fan:
    type: parallel
    branches:
      count:
        start: check
        states:
          check:
            type: choice
            choices:
              - {when: "${ coalesce(vars.n, 0) >= 100 }", next: out}
            default: bump
          bump: {type: set, set: {n: "${ coalesce(vars.n, 0) + 1 }"}, next: check}
          out: {type: succeed}
    end: true
"""
    d = Driver(text)
    d.start()
    assert d.run.status == "failed" and d.run.error is not None
    message = d.run.error["message"]
    assert "(branch 'fan/count')" in message
    assert "'check' -> 'bump' -> 'check'" in message
