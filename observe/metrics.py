"""Prometheus metrics of one engine, built on its public API only.

Counters and histograms follow the events of each committed transition
(:meth:`Engine.watch`): a transition's events carry their own times, so an
action's latency is the time from its ``action_started`` to its
``action_completed``/``action_failed`` event and a timer's lag the time its
``timer_fired`` event was written minus the ``due`` it records. Gauges are
read when scraped: the active runs by workflow and status come from
:meth:`Engine.list_runs`, the held runs from :attr:`Engine.held_runs`.

Every metric is documented in docs/operations.md ("Metrics").
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from typing import TYPE_CHECKING, Any

from prometheus_client import CollectorRegistry, Counter, Histogram
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.registry import Collector
from wfdsl.interpreter.store.records import ACTIVE_STATUSES

if TYPE_CHECKING:
    from wfdsl.interpreter.engine import Engine
    from wfdsl.interpreter.run_view import Transition

__all__ = ["LATENCY_BUCKETS", "SCAN_LIMIT", "EngineMetrics"]

# Action latency buckets in seconds: 1 ms to 10 minutes.
LATENCY_BUCKETS = (0.001, 0.005, 0.01, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300, 600)
# Timer lag buckets in seconds: a timer fired within 10 ms of due up to an hour late.
LAG_BUCKETS = (0.01, 0.05, 0.1, 0.5, 1, 2, 5, 10, 30, 60, 300, 3600)
# The most active runs a scrape counts per status (each scrape lists them).
SCAN_LIMIT = 100_000

_ENDS = {"run_completed": "completed", "run_failed": "failed", "run_cancelled": "cancelled"}
_OUTCOMES = {
    "action_completed": "completed",
    "action_failed": "failed",
    "undo_completed": "completed",
    "undo_failed": "failed",
}


class EngineMetrics:
    """The metrics of ``engine`` in ``registry`` (a fresh one by default).

    Watching starts at once and stops at :meth:`close`. Only this engine's
    transitions are counted (its driving and its control requests); the
    run gauges cover the whole store."""

    def __init__(self, engine: Engine, registry: CollectorRegistry | None = None) -> None:
        self.engine = engine
        self.registry = registry if registry is not None else CollectorRegistry()
        r = self.registry
        self.transitions = Counter(
            "wfdsl_transitions", "Transitions committed by this engine.", ["workflow"], registry=r
        )
        self.runs_started = Counter(
            "wfdsl_runs_started", "Runs this engine started driving.", ["workflow"], registry=r
        )
        self.runs_ended = Counter(
            "wfdsl_runs_ended", "Runs that ended here.", ["workflow", "status"], registry=r
        )
        self.action_calls = Counter(
            "wfdsl_action_calls",
            "Action attempts that ended, by outcome.",
            ["workflow", "action", "kind", "outcome"],
            registry=r,
        )
        self.action_seconds = Histogram(
            "wfdsl_action_duration_seconds",
            "Time from an action attempt's start to its end.",
            ["workflow", "action", "kind", "outcome"],
            buckets=LATENCY_BUCKETS,
            registry=r,
        )
        self.retries = Counter(
            "wfdsl_action_retries",
            "Retries scheduled after a failed attempt.",
            ["workflow"],
            registry=r,
        )
        self.timer_lag = Histogram(
            "wfdsl_timer_lag_seconds",
            "How late a timer fired (fired minus due).",
            ["workflow"],
            buckets=LAG_BUCKETS,
            registry=r,
        )
        self.messages_received = Counter(
            "wfdsl_messages_received", "Messages runs saw arrive.", ["workflow"], registry=r
        )
        self.messages_consumed = Counter(
            "wfdsl_messages_consumed", "Messages runs consumed.", ["workflow"], registry=r
        )
        r.register(_Gauges(engine))
        # (run id, call id) -> (action, kind, start time) of attempts in flight.
        self._started: dict[tuple[str, str], tuple[str, str, float]] = {}
        self._lock = threading.Lock()
        self._unwatch: Callable[[], None] | None = engine.watch(self.observe)

    def observe(self, transition: Transition) -> None:
        """Count one committed transition (what ``Engine.watch`` calls)."""
        run = transition.run
        workflow = run.workflow
        with self._lock:
            self.transitions.labels(workflow).inc()
            for event in transition.events:
                self._event(run.id, workflow, event.type, event.time, event.data)

    def _event(self, run_id: str, workflow: str, type: str, time: float, data: Any) -> None:
        if type == "run_started":
            self.runs_started.labels(workflow).inc()
        elif type in _ENDS:
            self.runs_ended.labels(workflow, _ENDS[type]).inc()
        elif type in ("action_started", "undo_started"):
            kind = "action" if type == "action_started" else "undo"
            key = (run_id, str(data.get("call_id")))
            self._started[key] = (str(data.get("action")), kind, time)
        elif type in _OUTCOMES:
            started = self._started.pop((run_id, str(data.get("call_id"))), None)
            if started is None:
                return  # started before this engine watched (another process, a restart)
            action, kind, t0 = started
            outcome = _OUTCOMES[type]
            self.action_calls.labels(workflow, action, kind, outcome).inc()
            self.action_seconds.labels(workflow, action, kind, outcome).observe(max(0.0, time - t0))
        elif type == "retry_scheduled":
            self.retries.labels(workflow).inc()
        elif type == "timer_fired":
            due = data.get("due")
            if isinstance(due, int | float):
                self.timer_lag.labels(workflow).observe(max(0.0, time - due))
        elif type == "signal_received":
            self.messages_received.labels(workflow).inc()
        elif type == "signal_consumed":
            self.messages_consumed.labels(workflow).inc()

    def close(self) -> None:
        """Stop watching the engine (the registry keeps its values)."""
        if self._unwatch is not None:
            self._unwatch()
            self._unwatch = None


class _Gauges(Collector):
    """What a scrape reads from the store and the driver at that moment."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine

    def collect(self) -> Iterator[GaugeMetricFamily]:
        runs = GaugeMetricFamily(
            "wfdsl_runs",
            "Active runs in the store, by workflow and status.",
            labels=["workflow", "status"],
        )
        counts: dict[tuple[str, str], int] = {}
        for status in sorted(ACTIVE_STATUSES):
            for run in self.engine.list_runs(status=status, limit=SCAN_LIMIT):
                key = (run.workflow, status)
                counts[key] = counts.get(key, 0) + 1
        for (workflow, status), n in sorted(counts.items()):
            runs.add_metric([workflow, status], n)
        yield runs
        held = GaugeMetricFamily("wfdsl_worker_held_runs", "Runs this engine holds a lease on now.")
        held.add_metric([], self.engine.held_runs)
        yield held

    def describe(self) -> Iterator[GaugeMetricFamily]:
        return iter(())
