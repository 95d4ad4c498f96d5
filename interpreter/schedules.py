"""Cron schedules (DSL.md §1 ``schedule``): start a run at each tick while a
worker or ``serve`` runs.

Which workflows are scheduled: every definition with a ``schedule`` that an
engine stored (``submit``, ``Engine.register``, ``wfdsl worker FLOW...``)
is listed in the store's schedule index, so any worker on the file fires it;
the newest stored definition of a name is the one that runs.

Decisions (docs/engine.md): ticks are computed with croniter in the
schedule's ``timezone`` (a 02:00 Berlin tick is 02:00 Berlin summer and
winter); a worker that was down fires once for the ticks it missed, not once
per tick (Step Functions/Temporal default catch-up of one); the first time a
worker sees a schedule it starts counting from now (no backfill). A tick's
run id is ``<name>@<tick ISO time>``, created with ``disallow``, so two
workers on one file never start the same tick twice. ``overlap``: ``skip``
drops a tick while the previous run is active, ``allow`` starts it anyway,
``buffer_one`` remembers one tick and starts it when the previous run ends.
"""

from __future__ import annotations

import logging
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any
from zoneinfo import ZoneInfo

from croniter import croniter  # type: ignore[import-untyped]
from wfdsl.dsl.model import Workflow

from wfdsl.errors import RunAlreadyExists, WfdslError

from .records import ACTIVE_STATUSES

if TYPE_CHECKING:  # pragma: no cover
    from .engine import Engine

__all__ = ["INDEX_KEY", "Schedules", "next_tick", "register_schedule"]

_log = logging.getLogger("wfdsl.schedules")

#: Schedule state key holding the names of scheduled workflows.
INDEX_KEY = "__scheduled__"


def next_tick(cron: str, timezone: str, after: float) -> float:
    """The first tick of ``cron`` in ``timezone`` strictly after ``after``."""
    zone = ZoneInfo(timezone)
    start = datetime.fromtimestamp(after, UTC).astimezone(zone)
    tick = croniter(cron, start).get_next(datetime)
    assert isinstance(tick, datetime)
    return tick.timestamp()


def register_schedule(engine: Engine, workflow: Workflow) -> None:
    """Add a scheduled workflow's name to the store's schedule index."""
    if workflow.schedule is None:
        return
    index = engine.store.schedule_state(INDEX_KEY) or {"names": []}
    names = list(index.get("names", []))
    if workflow.name not in names:
        names.append(workflow.name)
        engine.store.set_schedule_state(INDEX_KEY, {"names": names})


class Schedules:
    """Fires the schedules of one store for one engine's loop."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        self._next: dict[str, float] = {}

    def _scheduled(self) -> list[Workflow]:
        store = self.engine.store
        index = store.schedule_state(INDEX_KEY) or {}
        found = []
        for name in index.get("names", []):
            stored = store.find_definition(name)
            if stored is None:
                continue
            try:
                workflow = self.engine.definitions.get(stored.hash)
            except WfdslError:
                _log.exception("schedule of %r: its definition does not compile", name)
                continue
            if workflow.schedule is not None:
                found.append(workflow)
        return found

    def fire_due(self) -> list[str]:
        """Start the runs whose tick has come; returns their ids."""
        now = self.engine.clock.now()
        if self._next and min(self._next.values()) > now:
            return []
        started = []
        for workflow in self._scheduled():
            run_id = self._fire(workflow, now)
            if run_id is not None:
                started.append(run_id)
        return started

    def next_due(self) -> float | None:
        """When the next tick of any schedule comes (what the loop sleeps on)."""
        return min(self._next.values(), default=None)

    def _fire(self, workflow: Workflow, now: float) -> str | None:
        schedule = workflow.schedule
        assert schedule is not None
        store = self.engine.store
        state: dict[str, Any] = dict(store.schedule_state(workflow.name) or {})
        last = state.get("last_tick")
        if last is None:
            state["last_tick"] = now
            store.set_schedule_state(workflow.name, state)
            self._next[workflow.name] = next_tick(schedule.cron, schedule.timezone, now)
            return None
        tick = next_tick(schedule.cron, schedule.timezone, float(last))
        previous = state.get("last_run")
        active = previous is not None and self._active(previous)
        started: str | None = None
        if tick <= now:
            # Fire once for however many ticks were missed, at the latest one.
            latest = tick
            while True:
                following = next_tick(schedule.cron, schedule.timezone, latest)
                if following > now:
                    break
                latest = following
            state["last_tick"] = latest
            if active and schedule.overlap == "skip":
                _log.info("schedule %s: tick skipped, run %s still active", workflow.name, previous)
            elif active and schedule.overlap == "buffer_one":
                state["buffered"] = latest
            else:
                started = self._start(workflow, latest)
                state["last_run"] = started or previous
        elif not active and state.get("buffered") is not None:
            started = self._start(workflow, float(state.pop("buffered")))
            state["last_run"] = started or previous
        if started is not None or tick <= now:
            store.set_schedule_state(workflow.name, state)
        self._next[workflow.name] = next_tick(
            schedule.cron, schedule.timezone, float(state["last_tick"])
        )
        if state.get("buffered") is not None:
            # Poll for the end of the active run.
            self._next[workflow.name] = min(self._next[workflow.name], now + 1.0)
        return started

    def _active(self, run_id: str) -> bool:
        row = self.engine.store.get_run(run_id)
        return row is not None and row.status in ACTIVE_STATUSES

    def _start(self, workflow: Workflow, tick: float) -> str | None:
        stamp = datetime.fromtimestamp(tick, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
        run_id = f"{workflow.name}@{stamp}"
        try:
            run = self.engine.start(workflow, input=None, run_id=run_id, id_reuse="disallow")
        except RunAlreadyExists:
            return None  # another worker fired this tick
        except WfdslError:
            _log.exception("schedule %s: cannot start the run of %s", workflow.name, stamp)
            return None
        return run.id
