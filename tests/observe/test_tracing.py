"""OpenTelemetry traces (docs/operations.md "Traces"): a saga run gives one
span tree (run -> states -> action attempts and undo calls) through the SDK's
in-memory exporter; a trace context given at start is the run span's parent
and reaches the actions, the built-in http action as `traceparent`."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import httpx
import pytest
from opentelemetry.sdk.trace import ReadableSpan, TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace import StatusCode
from wfdsl.interpreter.actions.registry import ActionRegistry
from wfdsl.interpreter.clock import VirtualClock
from wfdsl.interpreter.engine import Engine
from wfdsl.observe.tracing import EngineTracing

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"
PARENT = "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01"


class CardDeclined(Exception):
    pass


def saga_actions() -> ActionRegistry:
    registry = ActionRegistry(name="saga")

    @registry.action("orders.save")
    def save(order_id: str, items: Any, amount: Any) -> dict[str, str]:
        return {"id": order_id}

    @registry.action("orders.delete")
    def delete(order_id: str) -> None:
        return None

    @registry.action("inventory.reserve")
    def reserve(order_id: str, items: Any) -> dict[str, str]:
        return {"reservation": f"res-{order_id}"}

    @registry.action("inventory.release")
    def release(order_id: str) -> None:
        return None

    @registry.action("payments.charge")
    def charge(order_id: str, amount: Any, card: str) -> dict[str, str]:
        raise CardDeclined(f"card {card} was declined")

    @registry.action("payments.refund")
    def refund(order_id: str, amount: Any) -> None:
        return None

    @registry.action("email.send")
    def send(to: str, template: str, data: Any = None) -> dict[str, str]:
        return {"id": "m"}

    return registry


@pytest.fixture
def exporter() -> InMemorySpanExporter:
    return InMemorySpanExporter()


@pytest.fixture
def provider(exporter: InMemorySpanExporter) -> TracerProvider:
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    return provider


def _tree(spans: tuple[ReadableSpan, ...]) -> list[tuple[int, str]]:
    """(depth, name) in start order, depth-first."""
    children: dict[int | None, list[ReadableSpan]] = {}
    ids = {s.context.span_id for s in spans}
    for span in spans:
        parent = span.parent.span_id if span.parent is not None else None
        children.setdefault(parent if parent in ids else None, []).append(span)
    out: list[tuple[int, str]] = []

    def walk(parent: int | None, depth: int) -> None:
        for span in sorted(
            children.get(parent, []), key=lambda s: (s.start_time, s.attributes.get("wfdsl.seq", 0))
        ):
            out.append((depth, span.name))
            walk(span.context.span_id, depth + 1)

    walk(None, 0)
    return out


def test_a_saga_run_is_one_span_tree(
    tmp_path: Path, provider: TracerProvider, exporter: InMemorySpanExporter
) -> None:
    order = json.loads((EXAMPLES / "order_saga.input.json").read_text())
    order["card"] = "tok_declined"
    with Engine(tmp_path / "t.db", clock=VirtualClock(), actions=saga_actions()) as engine:
        tracing = EngineTracing(engine, provider)
        run = engine.submit(
            EXAMPLES / "order_saga.yaml",
            input=order,
            run_id="o-1",
            trace_context={"traceparent": PARENT},
        )
        assert engine.run_until_complete(run.id).error["error"] == "PaymentFailed"
        tracing.close()

    spans = exporter.get_finished_spans()
    assert _tree(spans) == [
        (0, "run order-saga"),
        (1, "state save_order"),
        (2, "action orders.save"),
        (1, "state reserve_inventory"),
        (2, "action inventory.reserve"),
        (1, "state charge_payment"),
        (2, "action payments.charge"),
        (1, "state undo_order"),
        (2, "undo inventory.release"),
        (2, "undo orders.delete"),
        (1, "state payment_failed"),
    ]
    by_name = {s.name: s for s in spans}
    root = by_name["run order-saga"]
    # The trace given at start is the run's: same trace id, its span the parent.
    assert f"{root.context.trace_id:032x}" == PARENT.split("-")[1]
    assert f"{root.parent.span_id:016x}" == PARENT.split("-")[2]
    assert {s.context.trace_id for s in spans} == {root.context.trace_id}
    assert root.attributes["wfdsl.run_id"] == "o-1"
    assert root.attributes["wfdsl.workflow"] == "order-saga"
    assert root.attributes["wfdsl.version"] == "1"
    assert root.status.status_code is StatusCode.ERROR
    assert root.attributes["wfdsl.error"] == "PaymentFailed"
    charge = by_name["action payments.charge"]
    assert charge.attributes["wfdsl.state"] == "charge_payment"
    assert charge.attributes["wfdsl.attempt"] == 1
    assert charge.attributes["wfdsl.idempotency_key"] == "o-1/charge_payment/1"
    assert charge.attributes["wfdsl.error"] == "CardDeclined"
    assert charge.status.status_code is StatusCode.ERROR
    assert by_name["state charge_payment"].attributes["wfdsl.state_type"] == "task"
    # Every span ends after it starts and within its parent's span.
    ends = {s.context.span_id: s for s in spans}
    for span in spans:
        assert span.end_time is not None and span.end_time >= span.start_time
        if span.parent is not None and span.parent.span_id in ends:
            assert ends[span.parent.span_id].end_time >= span.end_time


def test_retries_are_one_span_per_attempt(
    tmp_path: Path, provider: TracerProvider, exporter: InMemorySpanExporter
) -> None:
    flow = """
wfdsl: "1"
name: retried
start: call
states:
  call:
    type: task
    action: flaky
    retry: {max_attempts: 3, initial_interval: 1s}
    next: fin
  fin: {type: succeed}
"""
    calls: list[int] = []
    with Engine(tmp_path / "r.db", clock=VirtualClock()) as engine:

        @engine.action("flaky")
        def flaky(ctx: Any) -> str:
            calls.append(ctx.attempt)
            if ctx.attempt < 3:
                raise ConnectionError("not yet")
            return "ok"

        tracing = EngineTracing(engine, provider)
        engine.submit(flow, run_id="r1")
        assert engine.run_until_complete("r1").status == "completed"
        tracing.close()
    attempts = [s for s in exporter.get_finished_spans() if s.name == "action flaky"]
    assert [s.attributes["wfdsl.attempt"] for s in attempts] == [1, 2, 3]
    assert [s.status.status_code for s in attempts] == [
        StatusCode.ERROR,
        StatusCode.ERROR,
        StatusCode.UNSET,
    ]


def test_the_http_action_sends_its_attempt_span_as_traceparent(
    tmp_path: Path, provider: TracerProvider, exporter: InMemorySpanExporter
) -> None:
    seen: list[str | None] = []

    def answer(request: httpx.Request) -> httpx.Response:
        seen.append(request.headers.get("traceparent"))
        return httpx.Response(200, json={"ok": True})

    flow = """
wfdsl: "1"
name: caller
start: ask
states:
  ask: {type: task, action: http, args: {url: "https://api.example/x"}, end: true}
"""
    with Engine(tmp_path / "h.db", clock=VirtualClock()) as engine:
        engine._runner.builtins.http._transport = httpx.MockTransport(answer)
        tracing = EngineTracing(engine, provider)
        engine.submit(flow, run_id="h1", trace_context={"traceparent": PARENT})
        engine.run_until_complete("h1")
        tracing.close()
        # Without tracing, the action still gets the run's own trace context.
        engine.submit(flow, run_id="h2", trace_context={"traceparent": PARENT})
        engine.run_until_complete("h2")
    (attempt,) = [s for s in exporter.get_finished_spans() if s.name == "action http"]
    assert seen[0] == f"00-{attempt.context.trace_id:032x}-{attempt.context.span_id:016x}-01"
    assert seen[1] == PARENT
    assert engine.get  # the engine closed cleanly


def test_a_bad_trace_context_is_refused_before_anything_is_stored(tmp_path: Path) -> None:
    with Engine(tmp_path / "b.db") as engine:
        with pytest.raises(ValueError, match="W3C traceparent"):
            engine.submit(
                'wfdsl: "1"\nname: x\nstart: a\nstates:\n  a: {type: succeed}\n',
                trace_context={"traceparent": "nonsense"},
            )
        assert engine.list_runs() == []
