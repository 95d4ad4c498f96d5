"""Reads of vars that some path from the start has not assigned (WF401) or nothing assigns (WF402)."""

from __future__ import annotations

import pytest
from test_check_support import assert_findings, findings

CLEAN = [
    pytest.param(
        """
        wfdsl: "1"
        name: t
        vars: {rate: 0}
        start: route
        states:
          route:
            type: choice
            choices:
              - {when: "${ input.vip }", next: discount}
            default: charge
          discount: {type: set, set: {rate: 0.2}, next: charge}
          charge: {type: task, action: pay, args: {rate: "${ vars.rate }"}, end: true}
        """,
        id="initial-value-covers-every-path",
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
              - {when: "${ input.vip }", next: vip}
            default: normal
          vip: {type: set, set: {rate: 0.2}, next: charge}
          normal: {type: set, set: {rate: 0}, next: charge}
          charge: {type: task, action: pay, args: {rate: "${ vars.rate }"}, end: true}
        """,
        id="assigned-on-both-branches-of-a-choice",
    ),
    pytest.param(
        """
        wfdsl: "1"
        name: t
        start: fetch
        states:
          fetch: {type: task, action: get, result: page, next: check}
          check:
            type: choice
            choices:
              - {when: "${ vars.page.next }", next: wait_a_bit}
            default: done
          wait_a_bit: {type: wait, timer: 1s, next: fetch}
          done: {type: succeed, output: "${ vars.page.items }"}
        """,
        id="loop-that-assigns-before-every-read",
    ),
    pytest.param(
        """
        wfdsl: "1"
        name: t
        start: charge
        states:
          charge:
            type: task
            action: pay
            result: payment
            catch:
              - {errors: ["*"], as: failure, next: report}
            next: done
          report: {type: task, action: log, args: {message: "${ vars.failure.message }"}, end: true}
          done: {type: succeed, output: "${ vars.payment.id }"}
        """,
        id="catch-as-on-the-catch-edge-result-on-the-next-edge",
    ),
    pytest.param(
        """
        wfdsl: "1"
        name: t
        start: nap
        states:
          nap:
            type: wait
            all: [{signal: a, as: a}, {signal: b, as: b}]
            next: use
          use: {type: task, action: log, args: {message: "${ vars.a }${ vars.b }"}, end: true}
        """,
        id="all-assigns-every-alternative",
    ),
    pytest.param(
        """
        wfdsl: "1"
        name: t
        start: nap
        states:
          nap:
            type: wait
            any:
              - {signal: reply, as: reply, next: answer}
              - {timer: 1h, next: give_up}
          answer: {type: task, action: log, args: {message: "${ vars.reply.text }"}, end: true}
          give_up: {type: fail, error: NoReply}
        """,
        id="any-alternative-assigns-on-its-own-next",
    ),
    pytest.param(
        """
        wfdsl: "1"
        name: t
        start: prepare
        states:
          prepare: {type: set, set: {customer: "${ input.customer }"}, next: fan_out}
          fan_out:
            type: parallel
            branches:
              a:
                start: quote
                states:
                  quote:
                    type: task
                    action: quote
                    args: {who: "${ vars.customer.id }"}
                    result: q
                    next: a_done
                  a_done: {type: succeed, output: "${ vars.q }"}
            result: quotes
            next: done
          done: {type: succeed, output: "${ vars.quotes.a }${ vars.customer }"}
        """,
        id="branch-sees-the-fork-and-its-own-writes-result-comes-back",
    ),
    pytest.param(
        """
        wfdsl: "1"
        name: t
        start: settings
        states:
          settings: {type: set, set: {config.limit: 3}, next: use}
          use: {type: task, action: log, args: {message: "${ vars.config.limit }${ vars.config }"}, end: true}
        """,
        id="nested-paths",
    ),
    pytest.param(
        """
        wfdsl: "1"
        name: t
        start: charge
        states:
          charge:
            type: task
            action: payments.charge
            result: payment
            set: {charged_at: "${ now() }"}
            undo:
              action: payments.refund
              args: {payment: "${ vars.payment.id }", at: "${ vars.charged_at }", raw: "${ result }"}
            end: true
        """,
        id="undo-args-read-the-tasks-own-result-and-set",
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
              - {when: "${ input.vip }", next: discount}
            default: charge
          discount: {type: set, set: {rate: 0.2}, next: charge}
          charge:
            type: task
            action: pay
            args: {rate: "${ coalesce(vars.rate, 0) }", code: "${ vars.code if has(vars, 'code') else '' }"}
            end: true
        """,
        id="reads-guarded-by-coalesce-or-has",
    ),
]


@pytest.mark.parametrize("text", CLEAN)
def test_clean(text: str) -> None:
    assert findings(text) == []


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
                  - {when: "${ input.vip }", next: discount}
                default: skip
              discount: {type: set, set: {rate: 0.2}, next: charge}
              skip: {type: set, set: {note: none}, next: charge}
              charge:
                type: task
                action: pay
                args: {rate: "${ vars.rate }"}  # <- WF401 at "${
                end: true
            """,
            "state 'charge' reads vars.rate, which is not assigned on every path from the start "
            "(not on the way from 'skip')",
            id="one-branch-of-a-choice-names-the-path",
        ),
        pytest.param(
            """
            wfdsl: "1"
            name: t
            start: check
            states:
              check:
                type: choice
                choices:
                  - {when: "${ vars.page.next }", next: fetch}  # <- WF401 at "${
                default: done
              fetch: {type: task, action: get, result: page, next: check}
              done: {type: succeed}
            """,
            "(not when the run starts)",
            id="loop-read-before-the-first-assignment",
        ),
        pytest.param(
            """
            wfdsl: "1"
            name: t
            start: charge
            states:
              charge:
                type: task
                action: pay
                result: payment
                set: {paid: true}
                catch:
                  - {errors: [Timeout], next: report}
                next: report
              report:
                type: task
                action: log
                args: {message: "${ vars.paid }"}  # <- WF401 at "${
                end: true
            """,
            "not on the way from 'charge'",
            id="set-does-not-apply-on-the-catch-edge",
        ),
        pytest.param(
            """
            wfdsl: "1"
            name: t
            start: nap
            states:
              nap:
                type: wait
                at_least:
                  count: 1
                  of: [{signal: a, as: a}, {signal: b, as: b}]
                next: use
              use:
                type: task
                action: log
                args:
                  message: ${ vars.b }  # <- WF401 at ${
                end: true
            """,
            "state 'use' reads vars.b",
            id="at-least-one-of-two",
        ),
        pytest.param(
            """
            wfdsl: "1"
            name: t
            start: each
            states:
              each:
                type: map
                items: ${ input.lines }
                do:
                  start: price
                  states:
                    price: {type: task, action: quote, result: quote, end: true}
                next: report
              report:
                type: task
                action: log
                args:
                  message: ${ vars.quote }  # <- WF401 at ${
                end: true
            """,
            "assigned only by 'price' in the body of map 'each', on that scope's own copy",
            id="map-body-copy-is-gone-after-the-map",
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
                  a:
                    start: a_work
                    states:
                      a_work: {type: task, action: noop, result: mine, end: true}
                  b:
                    start: b_work
                    states:
                      b_work:
                        type: task
                        action: log
                        args:
                          message: ${ vars.mine }  # <- WF401 at ${
                        end: true
                next: done
              done: {type: succeed}
            """,
            "not at the start of branch 'b' of 'fan_out'",
            id="branches-never-see-each-others-writes",
        ),
        pytest.param(
            """
            wfdsl: "1"
            name: t
            search:
              stage: ${ vars.stage }  # <- WF401 at ${
            start: go
            states:
              go: {type: set, set: {stage: started}, end: true}
            """,
            "search attributes are recomputed after every transition",
            id="search-sees-only-the-initial-vars",
        ),
        pytest.param(
            """
            wfdsl: "1"
            name: t
            vars: {status: new}
            handlers:
              peek:
                return: ${ vars.result }  # <- WF401 at ${
            start: go
            states:
              go: {type: task, action: noop, result: result, end: true}
            """,
            "a handler may be called at any moment of the run",
            id="handlers-see-only-the-initial-vars",
        ),
        pytest.param(
            """
            wfdsl: "1"
            name: t
            output: ${ vars.total }  # <- WF401 at ${
            start: route
            states:
              route:
                type: choice
                choices:
                  - {when: "${ input.sum }", next: add}
                default: done
              add: {type: set, set: {total: 1}, next: done}
              done: {type: succeed}
            """,
            "not assigned on every path to an end of the run",
            id="workflow-output-at-the-ends",
        ),
        pytest.param(
            """
            wfdsl: "1"
            name: t
            vars: {discount: 0}
            start: charge
            states:
              charge:
                type: task
                action: pay
                args: {amount: "${ vars.discont }"}  # <- WF402 at "${
                end: true
            """,
            "did you mean 'discount'?",
            id="never-assigned-suggests",
        ),
        pytest.param(
            """
            wfdsl: "1"
            name: t
            vars: {status: new}
            handlers:
              approve:
                set: {approver: "${ args.by }"}
            start: route
            states:
              route:
                type: choice
                choices:
                  - {when: "${ vars.approver }", next: done}  # <- WF401 at "${
                default: done
              done: {type: succeed}
            """,
            "not when the run starts",
            id="a-handler-set-is-an-assignment-but-never-a-definite-one",
        ),
    ],
)
def test_findings(text: str, fragment: str) -> None:
    found = assert_findings(text, fragment)
    assert all(f.severity == "warning" for f in found)


def test_each_var_is_reported_once_per_scalar() -> None:
    found = findings(
        """
        wfdsl: "1"
        name: t
        start: say
        states:
          say: {type: task, action: log, args: {m: "${ vars.x.a }${ vars.x.b }"}, end: true}
        """
    )
    assert [f.code for f in found] == ["WF402"]
