"""Targets, next/end, reachability and spin cycles: the shape of the state graph."""

from __future__ import annotations

import pytest
from test_check_support import assert_findings, findings

CLEAN = """
wfdsl: "1"
name: clean
start: route
states:
  route:
    type: choice
    choices:
      - when: ${ input.express }
        next: fan_out
    default: nap
  nap: {type: wait, timer: 1h, next: fan_out}
  fan_out:
    type: parallel
    branches:
      left:
        start: work
        states:
          work: {type: task, action: noop, end: true}
      right:
        start: wait_ok
        states:
          wait_ok:
            type: wait
            any:
              - {signal: ok, next: right_done}
              - {timer: 1d, next: right_failed}
          right_done: {type: succeed}
          right_failed: {type: fail, error: Late}
    next: done
  done: {type: succeed}
"""


def test_a_well_formed_graph_is_clean() -> None:
    assert findings(CLEAN) == []


@pytest.mark.parametrize(
    ("text", "fragment"),
    [
        pytest.param(
            """
            wfdsl: "1"
            name: t
            start: first
            states:
              first: {type: task, action: noop, next: secnd}  # <- WF201 at secnd
              second: {type: succeed}
            """,
            "did you mean 'second'?",
            id="misspelt-next-suggests",
        ),
        pytest.param(
            """
            wfdsl: "1"
            name: t
            start: work
            states:
              work:
                type: task
                action: noop
                catch:
                  - errors: [Timeout]
                    next: nowhere  # <- WF201 at nowhere
                next: done
              done: {type: succeed}
            """,
            "catch entry 1 of state 'work' goes to 'nowhere'",
            id="catch-next",
        ),
        pytest.param(
            """
            wfdsl: "1"
            name: t
            start: fan_out
            states:
              fan_out:
                type: parallel
                branches:
                  left:
                    start: lft  # <- WF201 at lft
                    states:
                      left_work: {type: task, action: noop, end: true}
                next: done
              done: {type: succeed}
            """,
            "`start` in branch 'left' of 'fan_out' is 'lft'",
            id="unknown-branch-start",
        ),
        pytest.param(
            """
            wfdsl: "1"
            name: t
            start: go
            states:
              go: {type: task, action: noop, next: inner}  # <- WF201 at inner
              each:
                type: map
                items: ${ input.items }
                do:
                  start: inner
                  states:
                    inner: {type: succeed}
                end: true
            """,
            "which is a state of the body of map 'each'",
            id="top-level-next-into-a-map-body",
        ),
        pytest.param(
            """
            wfdsl: "1"
            name: t
            start: fan_out
            states:
              fan_out:
                type: parallel
                branches:
                  left:
                    start: left_work
                    states:
                      left_work: {type: task, action: noop, next: right_work}  # <- WF205 at right_work
                  right:
                    start: right_work
                    states:
                      right_work: {type: task, action: noop, end: true}
                next: done
              done: {type: succeed}
            """,
            "a state of branch 'right' of 'fan_out'",
            id="next-into-a-sibling-branch",
        ),
    ],
)
def test_targets(text: str, fragment: str) -> None:
    assert_findings(text, fragment)


@pytest.mark.parametrize(
    ("text", "fragment"),
    [
        pytest.param(
            """
            wfdsl: "1"
            name: t
            start: greet
            states:
              greet:  # <- WF204 at greet
                type: set
                set: {x: 1}
            """,
            "has neither `next` nor `end`",
            id="set-without-next",
        ),
        pytest.param(
            """
            wfdsl: "1"
            name: t
            start: greet
            states:
              greet:
                type: task
                action: noop
                end: false  # <- WF204 at false
            """,
            "`end: false` does not say where to go",
            id="end-false-alone",
        ),
        pytest.param(
            """
            wfdsl: "1"
            name: t
            start: nap
            states:
              nap:  # <- WF204 at nap
                type: wait
                any:
                  - {signal: go, next: done}
                  - {timer: 1h}
              done: {type: succeed}
            """,
            "has neither",
            id="wait-with-an-alternative-without-next",
        ),
        pytest.param(
            """
            wfdsl: "1"
            name: t
            start: fan_out
            states:
              fan_out:
                type: parallel
                branches:
                  left:
                    start: left_work
                    states:
                      left_work: {type: emit, signal: x, next: left_done, end: true}  # <- WF204 at left_work
                      left_done: {type: succeed}
                next: done
              done: {type: succeed}
            """,
            "has both `next: left_done` and `end: true`",
            id="both-inside-a-branch",
        ),
    ],
)
def test_next_or_end(text: str, fragment: str) -> None:
    assert_findings(text, fragment)


def test_a_wait_whose_alternatives_all_name_their_next_needs_no_next() -> None:
    assert (
        findings(
            """
            wfdsl: "1"
            name: t
            start: nap
            states:
              nap:
                type: wait
                any:
                  - {signal: go, next: done}
                  - any:
                      - {timer: 1h, next: done}
                      - {signal: stop, next: done}
              done: {type: succeed}
            """
        )
        == []
    )


@pytest.mark.parametrize(
    ("text", "fragment"),
    [
        pytest.param(
            """
            wfdsl: "1"
            name: t
            start: work
            states:
              work: {type: task, action: noop, end: true}
              orphan: {type: task, action: noop, next: work}  # <- WF202 at orphan
            """,
            "state 'orphan' is unreachable",
            id="unreachable",
        ),
        pytest.param(
            """
            wfdsl: "1"
            name: t
            start: poll
            states:
              poll: {type: task, action: noop, next: nap}  # <- WF203 at poll
              nap: {type: wait, timer: 1m, next: poll}
            """,
            "stays among 'poll', 'nap' forever",
            id="loop-through-a-wait-without-a-way-out-once-at-its-entry",
        ),
        pytest.param(
            """
            wfdsl: "1"
            name: t
            start: route
            states:
              route:
                type: choice
                choices:
                  - {when: "${ input.a }", next: done}
                default: one
              one: {type: task, action: noop, next: two}  # <- WF203 at one
              two: {type: task, action: noop, next: three}
              three: {type: task, action: noop, next: two}
              done: {type: succeed}
            """,
            "no end can be reached from state 'one'",
            id="reported-where-the-flow-commits-not-at-every-state-behind",
        ),
    ],
)
def test_reachability(text: str, fragment: str) -> None:
    assert_findings(text, fragment)


def test_an_unreachable_chain_or_loop_is_one_finding_at_its_entry() -> None:
    assert_findings(
        """
        wfdsl: "1"
        name: t
        start: work
        states:
          work: {type: task, action: noop, end: true}
          a: {type: task, action: noop, next: b}  # <- WF202 at a:
          b: {type: task, action: noop, next: a}
          c: {type: task, action: noop, next: d}  # <- WF202 at c:
          d: {type: task, action: noop, end: true}
        """,
        "state 'a' is unreachable: no path from `start` ('work') leads to it (nor to 'b' behind it)",
        "(nor to 'd' behind it)",
    )


def test_a_broken_graph_gives_no_reachability_knock_ons() -> None:
    """`cleanup` is unreachable and `work` cannot end only because of the typo."""
    assert_findings(
        """
        wfdsl: "1"
        name: t
        start: work
        states:
          work: {type: task, action: noop, next: claenup}  # <- WF201 at claenup
          cleanup: {type: task, action: noop, end: true}
        """,
        "did you mean 'cleanup'?",
    )


@pytest.mark.parametrize(
    ("text", "fragment"),
    [
        pytest.param(
            """
            wfdsl: "1"
            name: t
            vars: {n: 0}
            start: again
            states:
              again:  # <- WF207 at again
                type: choice
                choices:
                  - {when: "${ vars.n > 3 }", next: done}
                default: again
              done: {type: succeed}
            """,
            "states 'again' -> 'again'",
            id="choice-to-itself",
        ),
        pytest.param(
            """
            wfdsl: "1"
            name: t
            vars: {n: 0}
            start: tell
            states:
              tell: {type: emit, signal: tick, next: check}  # <- WF207 at tell
              check:
                type: choice
                choices:
                  - {when: "${ vars.n > 3 }", next: done}
                default: tell
              done: {type: succeed}
            """,
            "cycle of choice/emit states that never waits and changes nothing",
            id="emit-changes-no-vars",
        ),
        pytest.param(
            """
            wfdsl: "1"
            name: t
            vars: {n: 0}
            start: bump
            states:
              bump: {type: set, set: {n: "${ vars.n + 1 }"}, next: check}  # <- WF207 at bump
              check:
                type: choice
                choices:
                  - {when: true, next: bump}
                  - {when: "${ vars.n > 3 }", next: done}
                default: done
              done: {type: succeed}
            """,
            "has no way out (its exits sit behind constant conditions)",
            id="exit-hidden-behind-a-constant-true",
        ),
    ],
)
def test_spin_cycles(text: str, fragment: str) -> None:
    assert_findings(text, fragment)


@pytest.mark.parametrize(
    "loop",
    [
        pytest.param(
            """
              check:
                type: choice
                choices:
                  - {when: "${ vars.n >= 3 }", next: done}
                default: bump
              bump: {type: set, set: {n: "${ vars.n + 1 }"}, next: check}
            """,
            id="choice-and-set",
        ),
        pytest.param(
            """
              check:
                type: choice
                choices:
                  - {when: "${ vars.n < 3 }", next: bump}
                end: true
              bump: {type: set, set: {n: "${ vars.n + 1 }"}, next: tell}
              tell: {type: emit, signal: tick, next: check}
            """,
            id="choice-set-emit-ending-by-default",
        ),
        pytest.param(
            """
              check:
                type: choice
                choices:
                  - {when: "${ vars.n < 3 }", next: bump}
                default: done
              bump: {type: set, set: {n: "${ vars.n + 1 }"}, next: again}
              again:
                type: choice
                choices:
                  - {when: "${ vars.n < 10 }", next: check}
            """,
            id="a-choice-without-default-may-fail-out",
        ),
    ],
)
def test_a_counter_loop_that_can_exit_is_valid(loop: str) -> None:
    # Guarded at run time by max_transitions instead (tests/interpreter).
    text = f"""
            wfdsl: "1"
            name: t
            vars: {{n: 0}}
            start: check
            states:
{loop}
              done: {{type: succeed}}
            """
    assert [f for f in findings(text) if f.code == "WF207"] == []


def test_a_loop_through_a_task_or_wait_is_no_spin() -> None:
    assert (
        findings(
            """
            wfdsl: "1"
            name: t
            vars: {n: 0}
            start: check
            states:
              check:
                type: choice
                choices:
                  - {when: "${ vars.n > 3 }", next: done}
                default: work
              work: {type: task, action: noop, set: {n: "${ vars.n + 1 }"}, next: check}
              done: {type: succeed}
            """
        )
        == []
    )


# --------------------------------------------------- a choice that ends the run


def test_a_choice_may_end_its_thread_from_a_branch_or_by_default() -> None:
    assert (
        findings(
            """
            wfdsl: "1"
            name: t
            start: route
            states:
              route:
                type: choice
                choices:
                  - when: ${ input.skip }
                    end: true
                  - when: ${ input.vip }
                    next: vip
                end: true
              vip: {type: succeed}
            """
        )
        == []
    )


@pytest.mark.parametrize(
    ("text", "fragment"),
    [
        pytest.param(
            """
            wfdsl: "1"
            name: t
            start: route
            states:
              route:
                type: choice
                choices:
                  - when: ${ input.skip }  # <- WF204 at when
                    next: done
                    end: true
                default: done
              done: {type: succeed}
            """,
            "choice 1 of state 'route' has both `next: done` and `end: true`",
            id="a-rule-with-both",
        ),
        pytest.param(
            """
            wfdsl: "1"
            name: t
            start: route
            states:
              route:
                type: choice
                choices:
                  - when: ${ input.skip }  # <- WF204 at when
                default: done
              done: {type: succeed}
            """,
            "choice 1 of state 'route' has neither `next` nor `end`",
            id="a-rule-with-neither",
        ),
        pytest.param(
            """
            wfdsl: "1"
            name: t
            start: route
            states:
              route:  # <- WF204 at route
                type: choice
                choices:
                  - {when: "${ input.skip }", next: done}
                default: done
                end: true
              done: {type: succeed}
            """,
            "has both `default: done` and `end: true`",
            id="default-and-end",
        ),
    ],
)
def test_a_choice_says_where_each_branch_goes(text: str, fragment: str) -> None:
    assert_findings(text, fragment)
