"""The engine's testing seams `wfdsl test` is built on: intercept_actions
(every call, built-ins too, goes to a handler first) and run_until (reach a
virtual moment with each timer before it firing at its own time)."""

from __future__ import annotations

from typing import Any

import pytest
from wfdsl.interpreter.actions.runner import PROCEED

import wfdsl

FLOW = """\
wfdsl: "1"
name: seams
start: one
states:
  one: {type: task, action: svc.one, args: {n: 1}, result: a, next: say}
  say: {type: task, action: noop, next: nap}
  nap: {type: wait, timer: 1h, next: two}
  two: {type: task, action: svc.two, result: b, next: nap2}
  nap2: {type: wait, timer: 2h, next: fin}
  fin: {type: succeed, output: "${ [vars.a, vars.b] }"}
"""


class Refused(Exception):
    error = "Refused"


def test_intercepted_calls_never_reach_the_registry() -> None:
    clock = wfdsl.VirtualClock()
    seen: list[tuple[str, str, int, dict[str, Any]]] = []
    real: list[str] = []
    with wfdsl.Engine(clock=clock) as engine:
        engine.action("svc.one")(lambda n: real.append("one"))

        async def handler(ctx: wfdsl.ActionContext, args: dict[str, Any]) -> Any:
            seen.append((ctx.action, ctx.state, ctx.attempt, args))
            if ctx.action == "noop":
                return PROCEED  # the real built-in runs
            return {"mocked": ctx.action}

        engine.intercept_actions(handler)
        run = engine.submit(FLOW)
        done = engine.run_until_complete(run.id)
    assert done.output == [{"mocked": "svc.one"}, {"mocked": "svc.two"}]
    assert real == []
    assert [s[:2] for s in seen] == [("svc.one", "one"), ("noop", "say"), ("svc.two", "two")]
    assert seen[0][3] == {"n": 1}


def test_what_the_interceptor_raises_is_the_calls_failure() -> None:
    with wfdsl.Engine(clock=wfdsl.VirtualClock()) as engine:

        def handler(ctx: wfdsl.ActionContext, args: dict[str, Any]) -> Any:
            raise Refused("no")

        engine.intercept_actions(handler)
        done = engine.run_until_complete(engine.submit(FLOW).id)
    assert done.status == "failed"
    assert done.error == {"error": "Refused", "message": "no"}


def test_run_until_fires_each_timer_at_its_own_time() -> None:
    clock = wfdsl.VirtualClock()
    start = clock.now()
    with wfdsl.Engine(clock=clock) as engine:
        engine.intercept_actions(lambda ctx, args: PROCEED if ctx.action == "noop" else 1)
        run = engine.submit(FLOW)
        engine.run_until(start + 5 * 3600)
        history = engine.history(run.id)
        assert engine.get(run.id).status == "completed"
    assert clock.now() == start + 5 * 3600
    fired = [e.time - start for e in history if e.type == "timer_fired"]
    assert fired == [3600, 3 * 3600]  # not all at the target


def test_run_until_stops_at_the_moment_even_with_timers_after_it() -> None:
    clock = wfdsl.VirtualClock()
    start = clock.now()
    with wfdsl.Engine(clock=clock) as engine:
        engine.intercept_actions(lambda ctx, args: PROCEED if ctx.action == "noop" else 1)
        run = engine.submit(FLOW)
        engine.run_until(start + 1800)
        assert engine.get(run.id).status == "waiting"
    assert clock.now() == start + 1800


def test_run_until_needs_a_virtual_clock() -> None:
    with wfdsl.Engine() as engine, pytest.raises(TypeError):
        engine.run_until(0)


def test_a_signals_data_is_in_its_history() -> None:
    flow = (
        'wfdsl: "1"\nname: sig\nstart: w\nstates:\n'
        "  w: {type: wait, signal: go, next: d}\n  d: {type: succeed}\n"
    )
    with wfdsl.Engine(clock=wfdsl.VirtualClock()) as engine:
        run = engine.submit(flow)
        engine.signal(run.id, "go", {"by": "ann"})
        engine.run_until_complete(run.id)
        received = [e for e in engine.history(run.id) if e.type == "signal_received"]
    assert [e.data["data"] for e in received] == [{"by": "ann"}]
