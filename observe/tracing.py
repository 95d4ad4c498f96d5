"""OpenTelemetry traces of one engine, built on its public API only.

A run is one span (``run WORKFLOW``) with a child span per state entered
(``state PATH``; a parallel branch's or map iteration's states are children
of the parallel or map state's span) and, under a state, one span per action
attempt (``action NAME``) or undo call (``undo NAME``). Spans take their
start and end times from the history events of the transitions the engine
commits (:meth:`Engine.watch`), so a run on a virtual clock is traced in
virtual time. Attributes: ``wfdsl.run_id``, ``wfdsl.workflow``,
``wfdsl.version``, ``wfdsl.state``, ``wfdsl.attempt``, ``wfdsl.action``,
``wfdsl.idempotency_key``, ``wfdsl.seq`` (the history event that started
the span), ``wfdsl.error`` and ``wfdsl.error_message``; a
failed attempt or run has status ERROR.

A trace context given at start (``engine.submit(..., trace_context=
{"traceparent": ...})``) is the run span's parent, and each action call is
handed its attempt span's context (``ctx.trace``), which the built-in
``http`` action sends as ``traceparent``. Needs the ``otel`` extra
(``opentelemetry-api`` and ``-sdk``); nothing imports this module unless
asked. Docs: docs/operations.md "Traces".
"""

from __future__ import annotations

import threading
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

try:
    from opentelemetry import trace
    from opentelemetry.trace import Span, Status, StatusCode, TracerProvider
    from opentelemetry.trace.propagation.tracecontext import TraceContextTextMapPropagator
except ImportError as exc:  # pragma: no cover - depends on the installation
    raise ImportError(
        "wfdsl.observe.tracing needs OpenTelemetry: pip install 'wfdsl[otel]'"
    ) from exc

if TYPE_CHECKING:
    from wfdsl.interpreter.engine import Engine
    from wfdsl.interpreter.machine.steps import CallAction
    from wfdsl.interpreter.run_view import Transition
    from wfdsl.interpreter.store.records import Event

__all__ = ["EngineTracing"]

_ENDS = frozenset({"run_completed", "run_failed", "run_cancelled"})
_PROPAGATOR = TraceContextTextMapPropagator()


def _ns(seconds: float) -> int:
    return int(seconds * 1_000_000_000)


def _thread_of(path: str) -> str:
    return path.rsplit("/", 1)[0] if "/" in path else ""


def _forking_state(thread: str) -> str:
    """The state path that forked a branch (``x/fan/a`` -> ``x/fan``) or a
    map iteration (``x/m[2]`` -> ``x/m``)."""
    if thread.endswith("]"):
        return thread[: thread.rindex("[")]
    return _thread_of(thread)


@dataclass
class _RunSpans:
    span: Span
    attributes: dict[str, Any]
    #: The open state span of each thread: thread id -> (state path, span).
    states: dict[str, tuple[str, Span]] = field(default_factory=dict)
    #: Open action spans by call id.
    calls: dict[str, Span] = field(default_factory=dict)


class EngineTracing:
    """Traces of ``engine``'s runs through ``tracer_provider`` (default: the
    global one). Watching starts at once and stops at :meth:`close`; spans
    of runs still open then are ended. Only what this engine commits is
    traced: a run another process finishes ends there, not here."""

    def __init__(self, engine: Engine, tracer_provider: TracerProvider | None = None) -> None:
        provider = tracer_provider if tracer_provider is not None else trace.get_tracer_provider()
        self.tracer = provider.get_tracer("wfdsl")
        self.engine = engine
        self._runs: dict[str, _RunSpans] = {}
        self._lock = threading.Lock()
        self._unwatch = engine.watch(self._on_transition)
        engine.set_trace_carrier(self.carrier)

    def close(self) -> None:
        """Stop tracing; end the spans still open (at the engine's now)."""
        self._unwatch()
        self.engine.set_trace_carrier(None)
        end = _ns(self.engine.clock.now())
        with self._lock:
            for spans in self._runs.values():
                self._end_all(spans, end)
            self._runs.clear()

    # ---------------------------------------------------------- carrier

    def carrier(self, call: CallAction) -> Mapping[str, str] | None:
        """The W3C trace context of ``call``'s attempt span (what the action
        is handed as ``ctx.trace``), or None when this engine did not see
        the call start."""
        with self._lock:
            spans = self._runs.get(call.run_id)
            span = spans.calls.get(call.call_id) if spans is not None else None
        if span is None:
            return None
        carrier: dict[str, str] = {}
        _PROPAGATOR.inject(carrier, context=trace.set_span_in_context(span))
        return carrier

    # ---------------------------------------------------------- events

    def _on_transition(self, transition: Transition) -> None:
        run = transition.run
        with self._lock:
            spans = self._runs.get(run.id)
            for event in transition.events:
                if spans is None:
                    spans = self._runs[run.id] = self._start_run(run, event)
                self._apply(spans, event)
                if event.type in _ENDS:
                    self._end_run(spans, event)
                    del self._runs[run.id]
                    spans = None

    def _start_run(self, run: Any, event: Event) -> _RunSpans:
        attributes: dict[str, Any] = {"wfdsl.run_id": run.id, "wfdsl.workflow": run.workflow}
        if run.version is not None:
            attributes["wfdsl.version"] = str(run.version)
        parent = run.trace_context
        context = _PROPAGATOR.extract(dict(parent)) if parent else None
        start = event.time if event.type == "run_started" else run.started_at
        span = self.tracer.start_span(
            f"run {run.workflow}",
            context=context,
            attributes=attributes,
            start_time=_ns(start),
        )
        return _RunSpans(span, attributes)

    def _apply(self, spans: _RunSpans, event: Event) -> None:
        kind, path, data, at = event.type, event.state, event.data, _ns(event.time)
        if kind == "state_entered" and path:
            thread = _thread_of(path)
            self._end_state(spans, thread, at)
            parent = spans.span
            if thread:
                forking = spans.states.get(_thread_of(_forking_state(thread)))
                if forking is not None and forking[0] == _forking_state(thread):
                    parent = forking[1]
            span = self.tracer.start_span(
                f"state {path}",
                context=trace.set_span_in_context(parent),
                attributes={
                    **spans.attributes,
                    "wfdsl.state": path,
                    "wfdsl.state_type": str(data.get("type", "")),
                    "wfdsl.seq": event.seq,
                },
                start_time=at,
            )
            spans.states[thread] = (path, span)
        elif kind in ("action_started", "undo_started") and path:
            call_id = str(data.get("call_id"))
            state = spans.states.get(_thread_of(path))
            parent = state[1] if state is not None else spans.span
            verb = "undo" if kind == "undo_started" else "action"
            attributes = {
                **spans.attributes,
                "wfdsl.state": path,
                "wfdsl.action": str(data.get("action", "")),
                "wfdsl.attempt": int(data.get("attempt") or 1),
                "wfdsl.idempotency_key": str(data.get("key", "")),
                "wfdsl.seq": event.seq,
            }
            if kind == "undo_started":
                attributes["wfdsl.undo"] = True
            spans.calls[call_id] = self.tracer.start_span(
                f"{verb} {data.get('action')}",
                context=trace.set_span_in_context(parent),
                attributes=attributes,
                start_time=at,
            )
        elif kind in ("action_completed", "undo_completed", "action_failed"):
            ended = spans.calls.pop(str(data.get("call_id")), None)
            if ended is None:
                return
            if kind == "action_failed":
                _fail(ended, data)
            ended.end(end_time=at)
        elif kind == "branch_completed" and path:
            self._end_state(spans, path, at)

    def _end_state(self, spans: _RunSpans, thread: str, at: int) -> None:
        open_state = spans.states.pop(thread, None)
        if open_state is None:
            return
        # Branches it forked end with it (a cancelled branch has no end event).
        for other in [t for t in spans.states if t.startswith(open_state[0] + "/")]:
            self._end_state(spans, other, at)
        for other in [t for t in spans.states if t.startswith(open_state[0] + "[")]:
            self._end_state(spans, other, at)
        open_state[1].end(end_time=at)

    def _end_run(self, spans: _RunSpans, event: Event) -> None:
        at = _ns(event.time)
        if event.type == "run_failed":
            _fail(spans.span, event.data)
        elif event.type == "run_cancelled":
            spans.span.set_attribute("wfdsl.cancelled", True)
        self._end_all(spans, at)

    def _end_all(self, spans: _RunSpans, at: int) -> None:
        for span in spans.calls.values():
            span.end(end_time=at)
        spans.calls.clear()
        for thread in sorted(spans.states, key=len, reverse=True):
            if thread in spans.states:
                self._end_state(spans, thread, at)
        spans.span.end(end_time=at)


def _fail(span: Span, data: Mapping[str, Any]) -> None:
    error = str(data.get("error") or "Error")
    message = str(data.get("message") or "")
    span.set_attribute("wfdsl.error", error)
    if message:
        span.set_attribute("wfdsl.error_message", message)
    span.set_status(Status(StatusCode.ERROR, f"{error}: {message}" if message else error))
