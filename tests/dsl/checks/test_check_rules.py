"""Choices, joins, compensation, catches and signals: rules about one state or declaration."""

from __future__ import annotations

import pytest
from test_check_support import assert_findings, findings


@pytest.mark.parametrize(
    "when",
    [
        pytest.param("true", id="constant-true"),
        pytest.param("${ true }", id="expression-true"),
    ],
)
def test_a_choice_that_always_holds_needs_no_default(when: str) -> None:
    text = f"""
    wfdsl: "1"
    name: t
    start: route
    states:
      route:
        type: choice
        choices:
          - when: ${{ input.vip }}
            next: done
          - when: {when}
            next: done
      done: {{type: succeed}}
    """
    assert findings(text) == []


def test_a_condition_and_its_negation_are_exhaustive() -> None:
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
                  - when: ${ not (input.total > 100) }
                    next: small
                  - when: ${ input.total  >  100 }
                    next: big
              small: {type: succeed}
              big: {type: succeed}
            """
        )
        == []
    )


def test_opposite_comparisons_are_not_proven_and_need_a_default() -> None:
    assert_findings(
        """
        wfdsl: "1"
        name: t
        start: route
        states:
          route:  # <- WF206 at route
            type: choice
            choices:
              - {when: "${ input.total > 100 }", next: big}
              - {when: "${ input.total <= 100 }", next: small}
          small: {type: succeed}
          big: {type: succeed}
        """,
        "choice 'route' has no `default`",
        "add `default: <state>`",
    )


@pytest.mark.parametrize(
    ("join", "fragment"),
    [
        pytest.param(
            "{count: 3}", "joins on 3 of its 2 branches, which can never be met", id="too-many"
        ),
        pytest.param("{count: 0}", "would complete before any branch has", id="zero"),
    ],
)
def test_join_count_outside_the_branches(join: str, fragment: str) -> None:
    assert_findings(
        f"""
        wfdsl: "1"
        name: t
        start: fan_out
        states:
          fan_out:
            type: parallel
            join: {join}  # <- WF209 at {join.split()[1].rstrip("}")}
            branches:
              a: {{start: x, states: {{x: {{type: succeed}}}}}}
              b: {{start: y, states: {{y: {{type: succeed}}}}}}
            next: done
          done: {{type: succeed}}
        """,
        fragment,
    )


def test_join_count_within_the_branches_is_clean() -> None:
    assert (
        findings(
            """
            wfdsl: "1"
            name: t
            start: fan_out
            states:
              fan_out:
                type: parallel
                join: {count: 2}
                branches:
                  a: {start: x, states: {x: {type: succeed}}}
                  b: {start: y, states: {y: {type: succeed}}}
                next: done
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
            compensate_on_failure: true  # <- WF210 at true
            start: work
            states:
              work: {type: task, action: noop, end: true}
            """,
            "`compensate_on_failure` is set, but no task",
            id="compensate-on-failure",
        ),
        pytest.param(
            """
            wfdsl: "1"
            name: t
            start: work
            states:
              work: {type: task, action: noop, next: broken}
              broken: {type: fail, error: Broken, compensate: true}  # <- WF210 at true
            """,
            "fail state 'broken' has `compensate: true`",
            id="fail-compensate",
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
                undo: {action: refund}
                next: fan_out
              fan_out:
                type: parallel
                branches:
                  a:
                    start: ship
                    states:
                      ship: {type: task, action: ship, next: undo_a}
                      undo_a: {type: compensate, end: true}  # <- WF210 at undo_a
                next: done
              done: {type: succeed}
            """,
            "of branch 'a' of 'fan_out', but no task there",
            id="a-branch-undoes-only-its-own-tasks",
        ),
    ],
)
def test_compensation_without_undo(text: str, fragment: str) -> None:
    assert_findings(text, fragment)


def test_a_top_level_compensate_counts_undo_in_branches() -> None:
    assert (
        findings(
            """
            wfdsl: "1"
            name: t
            start: fan_out
            states:
              fan_out:
                type: parallel
                branches:
                  a:
                    start: charge
                    states:
                      charge: {type: task, action: pay, undo: {action: refund}, end: true}
                next: roll_back
              roll_back: {type: compensate, next: done}
              done: {type: succeed}
            """
        )
        == []
    )


@pytest.mark.parametrize(
    ("catch", "fragment"),
    [
        pytest.param(
            """
              - errors: ["*"]
                next: done
              - errors: [Timeout]  # <- WF211 at errors
                next: done
            """,
            'entry 1 already matches "*"',
            id="after-a-wildcard",
        ),
        pytest.param(
            """
              - errors: [Timeout, HttpError]
                next: done
              - errors: [HttpError]  # <- WF211 at errors
                next: done
              - errors: ["*"]
                next: done
            """,
            "HttpError is already caught by entry 1",
            id="every-error-named-before",
        ),
    ],
)
def test_unused_catch_entries(catch: str, fragment: str) -> None:
    entries = "\n".join("      " + line for line in catch.strip("\n").splitlines())
    text = (
        'wfdsl: "1"\nname: t\nstart: work\nstates:\n  work:\n    type: task\n'
        f"    action: noop\n    catch:\n{entries}\n    next: done\n  done: {{type: succeed}}\n"
    )
    assert_findings(text, fragment)


SIGNALS = """
wfdsl: "1"
name: t
signals:
  approved: {{}}
  rejected: {{}}
handlers:
  approve:
    emit: {{signal: {handler}, data: "${{ args }}"}}
start: tell
states:
  tell: {{type: emit, signal: {emit}, next: other}}
  other: {{type: emit, signal: anything, run: "${{ input.parent }}", next: decide}}
  decide:
    type: wait
    any:
      - {{signal: {wait}, next: done}}
      - {{signal: rejected, next: done}}
  done: {{type: succeed}}
"""


def test_declared_signals_used_everywhere_are_clean() -> None:
    """An emit to another run (`run:` given) names that run's channel: not checked."""
    assert findings(SIGNALS.format(handler="approved", emit="approved", wait="approved")) == []


@pytest.mark.parametrize(
    ("where", "fragment"),
    [
        pytest.param(
            {"handler": "aproved"}, "handler 'approve' emits signal 'aproved'", id="handler"
        ),
        pytest.param({"emit": "aproved"}, "emit 'tell' sends signal 'aproved'", id="emit"),
        pytest.param({"wait": "aproved"}, "wait 'decide' waits on signal 'aproved'", id="wait"),
    ],
)
def test_undeclared_signal(where: dict[str, str], fragment: str) -> None:
    values = {"handler": "approved", "emit": "approved", "wait": "approved", **where}
    text = SIGNALS.format(**values)
    lines = text.lstrip("\n").splitlines()
    line = next(n for n, t in enumerate(lines, start=1) if "aproved" in t)
    # Waiting on the misspelt name leaves `approved` unused too (WF506, info).
    found = [f for f in findings(text) if f.code != "WF506"]
    assert [(f.code, f.line, f.col) for f in found] == [
        ("WF501", line, lines[line - 1].index("aproved") + 1)
    ]
    assert found[0].suggestion == "did you mean 'approved'?"
    assert fragment in found[0].message


def test_without_declarations_any_channel_goes() -> None:
    assert (
        findings(
            """
            wfdsl: "1"
            name: t
            start: nap
            states:
              nap: {type: wait, signal: whatever, next: done}
              done: {type: succeed}
            """
        )
        == []
    )


def test_a_signal_only_emitted_is_unused() -> None:
    found = assert_findings(
        """
        wfdsl: "1"
        name: t
        signals:
          audit: {}  # <- WF506 at audit
        start: tell
        states:
          tell: {type: emit, signal: audit, end: true}
        """,
        "signal 'audit' is declared but nothing in this workflow waits on it",
    )
    assert found[0].severity == "info"


def test_a_catch_entry_with_a_when_does_not_hide_the_entries_after_it() -> None:
    text = """
    wfdsl: "1"
    name: t
    start: fetch
    states:
      fetch:
        type: task
        action: http
        args: {url: "https://api.test/x"}
        catch:
          - errors: ["*"]
            when: ${ error.details.status == 404 }
            next: missing
          - errors: ["*"]
            next: broken
        end: true
      missing: {type: succeed}
      broken: {type: fail, error: Broken}
    """
    assert findings(text) == []
    # Without the `when`, the second entry can never match.
    assert [f.code for f in findings(text.replace("when:", "x-when:"))] == ["WF211"]


def test_error_is_in_scope_only_in_a_catch_entrys_when() -> None:
    found = findings(
        """
        wfdsl: "1"
        name: t
        start: fetch
        states:
          fetch:
            type: task
            action: http
            args: {url: "${ error.message }"}
            catch:
              - {errors: [HttpError], when: "${ error.details.status >= 500 }", next: retry_later}
            end: true
          retry_later: {type: succeed}
        """
    )
    assert [(f.code, f.path[-1]) for f in found] == [("WF303", "url")]
