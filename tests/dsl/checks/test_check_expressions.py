"""Unknown functions, wrong argument counts and names out of scope, at the scalar that holds them."""

from __future__ import annotations

import pytest
from test_check_support import assert_findings, findings


@pytest.mark.parametrize(
    ("text", "fragments"),
    [
        pytest.param(
            """
            wfdsl: "1"
            name: t
            start: count
            states:
              count:
                type: set
                set:
                  n: ${ lenght(input.items) }  # <- WF302 at ${
                next: done
              done: {type: succeed}
            """,
            ("calls lenght()", "did you mean 'len'?"),
            id="unknown-function-plain-scalar",
        ),
        pytest.param(
            """
            wfdsl: "1"
            name: t
            start: say
            states:
              say:
                type: task
                action: log
                args: {message: "total: ${ round(input.total, 2, 3) }"}  # <- WF304 at "total
                end: true
            """,
            ("calls round() with 3 arguments", "it takes 1 to 2 arguments"),
            id="wrong-arguments-in-a-quoted-template",
        ),
        pytest.param(
            """
            wfdsl: "1"
            name: t
            start: say
            states:
              say:
                type: task
                action: log
                args:
                  message: |  # <- WF303 at |
                    Hello ${ inptu.name }
                end: true
            """,
            ("reads `inptu`", "did you mean 'input'?"),
            id="unknown-name-in-a-block-scalar",
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
                catch:
                  - {errors: ["*"], next: report}
                next: done
              report:
                type: task
                action: log
                args: {message: "${ error.message }"}  # <- WF303 at "${
                end: true
              done: {type: succeed}
            """,
            ("`error` is not in scope", "add `as: failure` to the catch entry"),
            id="error-is-read-through-the-catch-as",
        ),
        pytest.param(
            """
            wfdsl: "1"
            name: t
            start: ask
            states:
              ask:
                type: task
                action: chat.ask
                args: {link: "${ token }"}  # <- WF303 at "${
                end: true
            """,
            ("`token` (a callback token) is only in scope", "add `callback: true`"),
            id="token-needs-a-callback",
        ),
        pytest.param(
            """
            wfdsl: "1"
            name: t
            vars:
              copy: ${ vars.other }  # <- WF303 at ${
            start: done
            states:
              done: {type: succeed}
            """,
            ("computed before any var exists",),
            id="vars-in-the-initial-vars",
        ),
        pytest.param(
            """
            wfdsl: "1"
            name: t
            search:
              who: ${ args.by }  # <- WF303 at ${
            start: done
            states:
              done: {type: succeed}
            """,
            ("`args` (the call's data) is only in scope in a handler",),
            id="args-outside-a-handler",
        ),
        pytest.param(
            """
            wfdsl: "1"
            name: t
            start: each
            states:
              each:
                type: map
                items: ${ input.items }
                as: line
                do:
                  start: price
                  states:
                    price: {type: task, action: pay, args: {n: "${ line.qty }", i: "${ index }"}, end: true}
                set: {last: "${ index }"}  # <- WF303 at "${
                next: done
              done: {type: succeed}
            """,
            ("`index` is the item's index of map 'each'",),
            id="index-outside-the-body",
        ),
    ],
)
def test_expression_findings(text: str, fragments: tuple[str, ...]) -> None:
    assert_findings(text, *fragments)


def test_every_name_where_it_applies_is_clean() -> None:
    text = """
    wfdsl: "1"
    name: t
    vars: {status: new, started: "${ run.started_at }", email: "${ input.email }"}
    search: {status: "${ vars.status }"}
    handlers:
      approve:
        when: ${ vars.status == 'new' and args.ok }
        set: {status: "${ args.by }"}
        return: "${ {'status': vars.status, 'run': run.id} }"
    start: outer
    states:
      outer:
        type: map
        items: ${ input.groups }
        as: group
        do:
          start: inner
          states:
            inner:
              type: map
              items: ${ group.items }
              do:
                start: work
                states:
                  work:
                    type: task
                    action: pay
                    args: {g: "${ group.name }", item: "${ item.sku }", i: "${ index }"}
                    result: paid
                    set: {last: "${ result.id }"}
                    end: true
              end: true
        next: done
      done: {type: succeed, output: "${ coalesce(vars.status, 'x') }"}
    """
    assert findings(text) == []


def test_one_finding_per_unknown_name_in_an_expression() -> None:
    found = findings(
        """
        wfdsl: "1"
        name: t
        start: done
        states:
          done: {type: succeed, output: "${ foo.a + foo.b + len(bar) }"}
        """
    )
    assert sorted((f.code, f.message.split("`")[1]) for f in found) == [
        ("WF303", "bar"),
        ("WF303", "foo"),
    ]
