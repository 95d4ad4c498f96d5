"""What the compiler makes of a document: one record per state, values compiled once.

Each test writes a small workflow and reads the compiled model the
interpreter and designer receive.
"""

from __future__ import annotations

import hashlib
import json
import random
import textwrap
from pathlib import Path
from typing import Any

import pytest
from wfdsl.dsl.compiler import compile_document
from wfdsl.dsl.expressions import Constant, Expression, MappingValue, Template
from wfdsl.dsl.findings import Finding
from wfdsl.dsl.loader import parse_document
from wfdsl.dsl.model import (
    AllWait,
    AnyWait,
    AtLeastWait,
    ChoiceState,
    CompensateState,
    EmitState,
    FailState,
    MapState,
    ParallelState,
    RetryPolicy,
    SetState,
    SignalWait,
    SubflowState,
    SucceedState,
    TaskState,
    TimerWait,
    UntilWait,
    VarPath,
    WaitState,
    Workflow,
)

ROOT = Path(__file__).resolve().parents[2]

HEADER = 'wfdsl: "1"\nname: t\n'


def compile_yaml(body: str) -> tuple[Workflow | None, list[Finding]]:
    text = HEADER + textwrap.dedent(body).lstrip("\n")
    doc = parse_document(text, "t.yaml")
    assert doc.ok, doc.findings
    return compile_document(doc)


def compiled(body: str) -> Workflow:
    workflow, findings = compile_yaml(body)
    assert findings == []
    assert workflow is not None
    return workflow


def only_finding(body: str) -> Finding:
    _, findings = compile_yaml(body)
    assert len(findings) == 1, findings
    return findings[0]


# ------------------------------------------------------------------ states


def test_a_task_compiles_with_args_result_timeout_catch_and_undo() -> None:
    wf = compiled("""
        start: charge
        states:
          charge:
            type: task
            action: payments.charge
            args: {order: "${ input.order_id }", currency: EUR}
            result: payment.receipt
            timeout: 30s
            catch:
              - errors: [CardDeclined]
                as: failure
                next: refund
            undo: {action: payments.refund, args: {payment: "${ vars.payment.id }"}}
            next: done
          refund: {type: succeed}
          done: {type: succeed}
        """)
    task = wf.states["charge"]
    assert isinstance(task, TaskState)
    assert task.path == ("states", "charge")
    assert task.action == "payments.charge"
    assert isinstance(task.args, MappingValue)
    assert task.args.evaluate({"input": {"order_id": "o1"}}) == {"order": "o1", "currency": "EUR"}
    assert task.result == VarPath(("payment", "receipt"))
    assert task.timeout == 30.0
    assert task.catch[0].errors == ("CardDeclined",)
    assert task.catch[0].as_ == VarPath(("failure",))
    assert task.catch[0].next == "refund"
    assert task.undo is not None and task.undo.action == "payments.refund"
    assert task.successors() == ("done", "refund")


def test_every_state_type_compiles_to_its_record() -> None:
    wf = compiled("""
        start: a
        states:
          a: {type: task, action: noop, next: b}
          b:
            type: choice
            choices: [{when: "${ input.x > 1 }", next: c}]
            default: c
          c: {type: wait, timer: 1h30m, next: d}
          d: {type: set, set: {n: 1}, next: e}
          e: {type: emit, signal: done, data: "${ vars.n }", run: "${ input.parent }", next: f}
          f: {type: subflow, workflow: child.yaml, input: {x: 1}, result: child, wait: false, next: g}
          g: {type: compensate, next: h}
          h: {type: fail, error: Broken, message: "n is ${ vars.n }", compensate: true}
          i: {type: succeed, output: "${ vars.n }"}
        """)
    kinds = {name: type(state) for name, state in wf.states.items()}
    assert kinds == {
        "a": TaskState, "b": ChoiceState, "c": WaitState, "d": SetState, "e": EmitState,
        "f": SubflowState, "g": CompensateState, "h": FailState, "i": SucceedState,
    }  # fmt: skip
    choice = wf.states["b"]
    assert isinstance(choice, ChoiceState)
    assert choice.choices[0].when.evaluate({"input": {"x": 2}}) is True
    assert choice.default == "c"
    emit = wf.states["e"]
    assert isinstance(emit, EmitState) and emit.signal == "done" and emit.run is not None
    sub = wf.states["f"]
    assert isinstance(sub, SubflowState) and sub.wait is False and sub.result == VarPath(("child",))
    fail = wf.states["h"]
    assert isinstance(fail, FailState) and fail.compensate
    assert fail.error.evaluate({}) == "Broken"
    assert isinstance(fail.message, Template)
    assert fail.message.evaluate({"vars": {"n": 3}}) == "n is 3"


def test_parallel_branches_and_map_bodies_are_scopes_with_json_paths() -> None:
    wf = compiled("""
        start: fan_out
        states:
          fan_out:
            type: parallel
            join: {count: 1}
            branches:
              notify:
                start: email
                states:
                  email: {type: task, action: email.send, end: true}
              approve:
                start: ok
                states:
                  ok: {type: succeed}
            result: outcome
            next: lines
          lines:
            type: map
            items: ${ input.lines }
            concurrency: 4
            do:
              start: charge
              states:
                charge: {type: task, action: pay, args: {amount: "${ item.price }"}, end: true}
            result: receipts
            end: true
        """)
    fan_out = wf.states["fan_out"]
    assert isinstance(fan_out, ParallelState)
    assert [b.name for b in fan_out.branches] == ["notify", "approve"]
    assert fan_out.join.kind == "count" and fan_out.join.needed(2) == 1
    email = fan_out.branches[0].scope.states["email"]
    assert email.path == ("states", "fan_out", "branches", "notify", "states", "email")
    assert wf.state_at(("fan_out", "notify", "email")) is email
    lines = wf.states["lines"]
    assert isinstance(lines, MapState)
    assert lines.as_ == "item" and lines.concurrency == 4
    assert lines.do.path == ("states", "lines", "do")
    assert lines.do.states["charge"].path == ("states", "lines", "do", "states", "charge")


# ------------------------------------------------------------------- waits


def test_a_nested_wait_tree_keeps_each_alternatives_next() -> None:
    wf = compiled("""
        start: w
        states:
          w:
            type: wait
            any:
              - all:
                  - {signal: a, as: got.a}
                  - {signal: b, as: got.b, count: 2}
                next: ok
              - at_least:
                  count: 2
                  of: [{signal: x}, {signal: y}, {timer: 10m}]
                next: ok
              - until: "2030-01-01T00:00:00Z"
                next: late
              - timer: ${ input.delay }
                next: late
          ok: {type: succeed}
          late: {type: succeed}
        """)
    wait = wf.states["w"]
    assert isinstance(wait, WaitState)
    tree = wait.condition
    assert isinstance(tree, AnyWait) and tree.next is None
    all_, at_least, until, timer = tree.alternatives
    assert isinstance(all_, AllWait) and all_.next == "ok"
    first, second = all_.alternatives
    assert (
        isinstance(first, SignalWait)
        and first.channel == "a"
        and first.as_ == VarPath(("got", "a"))
    )
    assert isinstance(second, SignalWait) and second.count == 2
    assert isinstance(at_least, AtLeastWait) and at_least.count == 2
    assert isinstance(at_least.alternatives[2], TimerWait)
    assert at_least.alternatives[2].seconds == 600.0
    assert isinstance(until, UntilWait) and until.at == 1893456000.0 and until.at_expr is None
    assert isinstance(timer, TimerWait) and timer.seconds is None
    assert isinstance(timer.seconds_expr, Expression)
    assert wait.successors() == ("ok", "late")


def test_a_state_level_wait_keeps_its_next_on_the_state() -> None:
    wf = compiled("""
        start: nap
        states:
          nap: {type: wait, timer: 90, next: go}
          go: {type: succeed}
        """)
    nap = wf.states["nap"]
    assert isinstance(nap, WaitState) and nap.next == "go"
    assert isinstance(nap.condition, TimerWait)
    assert nap.condition.seconds == 90.0 and nap.condition.next is None


# ------------------------------------------------------------------- retry


def test_a_single_retry_map_is_one_policy_for_every_error() -> None:
    wf = compiled("""
        start: t
        states:
          t:
            type: task
            action: a
            retry: {max_attempts: 5, initial_interval: 2s, backoff: 3, max_interval: 1m,
                    max_duration: 10m, jitter: 0.1, non_retryable: [CardDeclined]}
            end: true
        """)
    task = wf.states["t"]
    assert isinstance(task, TaskState)
    assert task.retry == (
        RetryPolicy(errors=("*",), max_attempts=5, initial_interval=2.0, backoff=3.0,
                    max_interval=60.0, max_duration=600.0, jitter=0.1,
                    non_retryable=("CardDeclined",), path=("states", "t", "retry")),
    )  # fmt: skip


def test_a_retry_list_is_ordered_policies_each_naming_its_errors() -> None:
    wf = compiled("""
        start: t
        states:
          t:
            type: task
            action: a
            retry:
              - errors: [Timeout]
                max_attempts: 10
              - errors: "*"
                max_attempts: 2
            end: true
        """)
    task = wf.states["t"]
    assert isinstance(task, TaskState)
    assert [p.errors for p in task.retry] == [("Timeout",), ("*",)]
    assert task.retry_policy_for("Timeout") is task.retry[0]
    assert task.retry_policy_for("HttpError") is task.retry[1]


def test_without_retry_or_defaults_a_task_gets_one_attempt() -> None:
    wf = compiled("""
        start: t
        states:
          t: {type: task, action: a, end: true}
        """)
    task = wf.states["t"]
    assert isinstance(task, TaskState)
    assert task.retry == () and task.retry_policy_for("Anything") is None
    assert task.timeout is None


def test_defaults_apply_to_every_task_that_sets_none_of_its_own() -> None:
    wf = compiled("""
        defaults:
          retry: {max_attempts: 4}
          timeout: 1m
        start: a
        states:
          a: {type: task, action: x, next: b}
          b: {type: task, action: x, retry: {max_attempts: 1}, timeout: 5s, next: c}
          c:
            type: parallel
            branches:
              only:
                start: inner
                states:
                  inner: {type: task, action: x, end: true}
            end: true
        """)
    a, b = wf.states["a"], wf.states["b"]
    assert isinstance(a, TaskState) and isinstance(b, TaskState)
    assert wf.defaults.timeout == 60.0
    assert a.retry == wf.defaults.retry and a.retry[0].max_attempts == 4 and a.timeout == 60.0
    assert b.retry[0].max_attempts == 1 and b.timeout == 5.0
    inner = wf.state_at(("c", "only", "inner"))
    assert isinstance(inner, TaskState) and inner.retry[0].max_attempts == 4


# ------------------------------------------------------------- workflow level


def test_the_workflow_records_source_hash_file_extensions_and_top_level_keys() -> None:
    text = textwrap.dedent("""\
        wfdsl: "1"
        name: report
        version: 3
        x-designer: {zoom: 2}
        vars: {status: new, email: "${ input.email }"}
        search: {status: "${ vars.status }"}
        signals: {ready: , done: {schema: {type: object}}}
        handlers:
          poke:
            when: ${ vars.status == 'new' }
            set: {status: poked}
            emit: {signal: ready}
            return: ${ 'ok' }
          peek:
            return: ${ vars.status }
        schedule: {cron: "0 2 * * *", timezone: Europe/Berlin, overlap: buffer_one}
        id_reuse: disallow
        timeout: 1d
        compensate_on_failure: true
        imports: [my.actions]
        start: s
        states:
          s: {type: succeed, x-designer: {x: 1, y: 2}}
        """)
    doc = parse_document(text, "report.yaml")
    wf, findings = compile_document(doc)
    assert findings == [] and wf is not None
    assert wf.source_hash == hashlib.sha256(text.encode()).hexdigest()
    assert wf.source_text == text and wf.file == "report.yaml"
    assert wf.source_map is doc.source_map
    assert wf.version == 3 and wf.id_reuse == "disallow" and wf.timeout == 86400.0
    assert wf.extensions == {"x-designer": {"zoom": 2}}
    assert wf.states["s"].extensions == {"x-designer": {"x": 1, "y": 2}}
    assert wf.vars is not None
    assert wf.vars.evaluate({"input": {"email": "a@b.c"}}) == {"status": "new", "email": "a@b.c"}
    assert set(wf.search) == {"status"}
    assert wf.signals["ready"].schema is None and wf.signals["done"].schema == {"type": "object"}
    assert wf.handlers["poke"].emit is not None and not wf.handlers["poke"].is_query
    assert wf.handlers["peek"].is_query
    assert wf.schedule is not None and wf.schedule.overlap == "buffer_one"
    assert wf.schedule.timezone == "Europe/Berlin"
    assert wf.compensate_on_failure and wf.imports == ("my.actions",)


def test_expressions_are_precompiled_and_constants_folded() -> None:
    wf = compiled("""
        start: s
        states:
          s:
            type: set
            set:
              plain: hello
              typed: ${ input.n + 1 }
              text: "n=${ input.n }"
              nested: {a: 1, b: [2, 3]}
              escaped: "$${ not an expression }"
            end: true
        """)
    values = {a.target.text: a.value for a in wf.states["s"].set}
    assert values["plain"] == Constant("hello") and values["plain"].is_constant
    assert isinstance(values["typed"], Expression) and values["typed"].source == "input.n + 1"
    assert values["typed"].evaluate({"input": {"n": 1}}) == 2
    assert isinstance(values["text"], Template)
    assert values["nested"] == Constant({"a": 1, "b": [2, 3]})
    assert values["escaped"] == Constant("${ not an expression }")


# ---------------------------------------------------------------- findings


@pytest.mark.parametrize(
    ("body", "code", "line", "col"),
    [
        pytest.param("""
            start: s
            states:
              s: {type: set, set: {x: "${ 1 + }"}, end: true}
            """, "WF301", 5, 27, id="expression-syntax"),
        pytest.param("""
            start: s
            states:
              s:
                type: set
                set:
                  x: ${ int('x') }
                end: true
            """, "WF305", 8, 10, id="constant-expression-error"),
        pytest.param("""
            start: s
            states:
              s: {type: wait, timer: soon, next: t}
              t: {type: succeed}
            """, "WF502", 5, 26, id="invalid-duration"),
        pytest.param("""
            defaults: {timeout: forever}
            start: s
            states:
              s: {type: succeed}
            """, "WF502", 3, 21, id="invalid-defaults-timeout"),
        pytest.param("""
            start: s
            states:
              s: {type: wait, until: "not a time", next: t}
              t: {type: succeed}
            """, "WF503", 5, 26, id="invalid-timestamp"),
        pytest.param("""
            schedule: {cron: "0 25 * * *"}
            start: s
            states:
              s: {type: succeed}
            """, "WF504", 3, 18, id="invalid-cron-hour"),
        pytest.param("""
            schedule: {cron: "@daily"}
            start: s
            states:
              s: {type: succeed}
            """, "WF504", 3, 18, id="cron-macro"),
        pytest.param("""
            schedule: {cron: "0 2 * * *", timezone: Europe/Berln}
            start: s
            states:
              s: {type: succeed}
            """, "WF505", 3, 41, id="invalid-timezone"),
        pytest.param("""
            start: s
            states:
              s: {type: task, action: a, result: vars.total, end: true}
            """, "WF212", 5, 38, id="vars-prefix-on-target"),
        pytest.param("""
            start: s
            states:
              s: {type: task, action: a, catch: [{errors: "*", as: "bad path", next: s}], end: true}
            """, "WF212", 5, 56, id="catch-as"),
        pytest.param("""
            start: m
            states:
              m: {type: map, items: [1], as: index, do: {start: x, states: {x: {type: succeed}}}, end: true}
            """, "WF212", 5, 34, id="map-as-hides-index"),
    ],
)  # fmt: skip
def test_each_compiler_finding_points_at_its_node(
    body: str, code: str, line: int, col: int
) -> None:
    finding = only_finding(body)
    assert (finding.code, finding.line, finding.col) == (code, line, col), finding.format()
    assert finding.file == "t.yaml"


def test_a_vars_prefixed_target_suggests_the_relative_path() -> None:
    finding = only_finding("""
        start: s
        states:
          s: {type: set, set: {vars.total: 1}, end: true}
        """)
    assert finding.code == "WF212" and finding.suggestion == "write 'total'"


def test_a_syntax_error_message_gives_the_exact_position_inside_the_string() -> None:
    finding = only_finding("""
        start: s
        states:
          s: {type: set, set: {x: "${ 1 + }"}, end: true}
        """)
    assert "(at line 5, column 33)" in finding.message


def test_expressions_that_read_names_or_call_clocks_are_not_evaluated_at_compile_time() -> None:
    compiled("""
        start: s
        states:
          s:
            type: set
            set: {a: "${ input.x / 0 }", b: "${ now() }", c: "${ uuid() }", d: "${ 1 + 1 }"}
            end: true
        """)


# ------------------------------------------------------------ never raises


def _examples() -> list[tuple[str, str]]:
    return [(p.name, p.read_text()) for p in sorted((ROOT / "examples").glob("*.yaml"))]


def _mutate(value: Any, rng: random.Random, depth: int = 0) -> Any:
    """A random change somewhere in ``value``: wrong types, deleted keys, odd strings."""
    junk = [
        None,
        True,
        0,
        -1,
        1.5,
        "",
        "${",
        "${ x +",
        "10 minutes",
        [],
        {},
        "vars.x",
        "a..b",
        [1, {}],
    ]
    if isinstance(value, dict) and value and depth < 8:
        key = rng.choice(list(value))
        action = rng.random()
        copy = dict(value)
        if action < 0.2:
            del copy[key]
        elif action < 0.4:
            copy[key] = rng.choice(junk)
        else:
            copy[key] = _mutate(copy[key], rng, depth + 1)
        return copy
    if isinstance(value, list) and value and depth < 8:
        copy = list(value)
        index = rng.randrange(len(copy))
        copy[index] = (
            _mutate(copy[index], rng, depth + 1) if rng.random() < 0.7 else rng.choice(junk)
        )
        return copy
    return rng.choice(junk)


@pytest.mark.parametrize(("name", "text"), _examples(), ids=[n for n, _ in _examples()])
def test_the_compiler_never_raises_on_mutated_examples(name: str, text: str) -> None:
    from wfdsl.dsl.api import dump_mapping

    data = json.loads(json.dumps(parse_document(text).data))
    rng = random.Random(name)
    for _ in range(15):
        mutated = data
        for _ in range(rng.randint(1, 4)):
            mutated = _mutate(mutated, rng)
        if not isinstance(mutated, dict):
            continue
        doc = parse_document(dump_mapping(mutated))
        workflow, findings = compile_document(doc)
        assert workflow is not None
        assert all(isinstance(f, Finding) for f in findings)


def test_the_compiler_never_raises_on_the_invalid_corpus() -> None:
    for path in sorted((ROOT / "tests" / "dsl" / "invalid").glob("*.yaml")):
        doc = parse_document(path.read_text(), path.name)
        compile_document(doc)  # no exception, whatever the document
