"""Cron schedules (docs/reference.md §1 ``schedule``): start a run at each tick while a
worker or ``serve`` runs.

Which workflows are scheduled: every definition with a ``schedule`` that an
engine stored (``submit``, ``Engine.register``, ``wfdsl worker FLOW...``)
is listed in the store's schedule index, so any worker on the file fires it;
the newest stored definition of a name is the one that runs.

Decisions (docs/operations.md): ticks are computed with croniter in the
schedule's ``timezone`` (a 02:00 Berlin tick is 02:00 Berlin summer and
winter). Daylight saving time follows cron's rule: a tick whose wall time
falls in the hour skipped in spring fires once, at the end of the gap (03:00);
in the hour repeated in autumn a fixed-hour schedule (``30 2 * * *``) fires
once, at the first 02:30, while one whose hour field is a wildcard (``0 * * *
*``, ``*/15 * * * *``) keeps firing every real hour. A worker that was down fires once for the ticks it missed, not once
per tick (Step Functions/Temporal default catch-up of one); the first time a
worker sees a schedule it starts counting from now (no backfill). A tick's
run id is ``<name>@<tick ISO time>``, created with ``disallow``, and the
schedule's state moves by compare-and-set (``Store.swap_schedule_state``):
of several workers deciding at once only one fires the tick (or skips it),
so a tick fires once however many workers run. ``overlap``: ``skip``
drops a tick while the previous run is active, ``allow`` starts it anyway,
``buffer_one`` remembers one tick and starts it when the previous run ends.
A scheduled run's input is ``null``; its id carries the tick.

A worker re-reads the schedule index every few seconds, so a schedule stored
by another process (``wfdsl run``, ``Engine.register``) starts firing without
a restart.
"""

from __future__ import annotations

import logging
import math
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from wfdsl.dsl.model import Workflow

from wfdsl.errors import RunAlreadyExists, WfdslError

from .store.records import ACTIVE_STATUSES

if TYPE_CHECKING:  # pragma: no cover
    from zoneinfo import ZoneInfo

    from .engine import Engine

__all__ = [
    "INDEX_KEY",
    "RESCAN_SECONDS",
    "Schedules",
    "next_tick",
    "previous_tick",
    "register_schedule",
    "tick_run_id",
]

_log = logging.getLogger("wfdsl.schedules")

#: Schedule state key holding the names of scheduled workflows.
INDEX_KEY = "__scheduled__"


#: Seconds (of the engine's clock) between re-reads of the schedule index.
RESCAN_SECONDS = 5.0


def next_tick(cron: str, timezone: str, after: float) -> float:
    """The first tick of ``cron`` in ``timezone`` strictly after ``after``."""
    # croniter (with dateutil) and the time zones load when a schedule is
    # first computed: most engines have no schedule.
    from zoneinfo import ZoneInfo

    from croniter import croniter  # type: ignore[import-untyped]

    zone = ZoneInfo(timezone)
    start = datetime.fromtimestamp(after, UTC).astimezone(zone)
    ticks = croniter(cron, start)
    fixed_hour = not cron.split()[1].startswith("*")
    while True:
        tick = ticks.get_next(datetime)
        assert isinstance(tick, datetime)
        seconds = tick.timestamp()
        if fixed_hour and _repeated_wall_time(seconds, zone):
            continue  # the wall time came already, before the clocks went back
        return seconds


def previous_tick(cron: str, timezone: str, at: float) -> float:
    """The last tick of ``cron`` in ``timezone`` at or before ``at``."""
    from zoneinfo import ZoneInfo

    from croniter import croniter

    zone = ZoneInfo(timezone)
    # croniter looks strictly before its start and ticks fall on whole
    # seconds: start one whole second past `at` so a tick at `at` counts.
    start = datetime.fromtimestamp(math.floor(at) + 1, UTC).astimezone(zone)
    ticks = croniter(cron, start)
    fixed_hour = not cron.split()[1].startswith("*")
    while True:
        tick = ticks.get_prev(datetime)
        assert isinstance(tick, datetime)
        seconds = tick.timestamp()
        if not (fixed_hour and _repeated_wall_time(seconds, zone)):
            return seconds


def _repeated_wall_time(seconds: float, zone: ZoneInfo) -> bool:
    """Whether this instant is the second occurrence of its local wall time
    (the hour a zone repeats when daylight saving time ends)."""
    local = datetime.fromtimestamp(seconds, zone)
    return local.fold == 1 and local.replace(fold=0).utcoffset() != local.utcoffset()


def register_schedule(engine: Engine, workflow: Workflow) -> None:
    """Add a scheduled workflow's name to the store's schedule index (a
    compare-and-set, so two processes registering at once both land)."""
    if workflow.schedule is None:
        return
    store = engine.store
    while True:
        index = store.schedule_state(INDEX_KEY)
        names = list((index or {}).get("names", []))
        if workflow.name in names:
            return
        if store.swap_schedule_state(INDEX_KEY, index, {"names": [*names, workflow.name]}):
            return


class Schedules:
    """Fires the schedules of one store for one engine's loop."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        self._next: dict[str, float] = {}
        self._scan_at: float | None = None

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
        rescan = self._scan_at is None or now >= self._scan_at
        if not rescan and min(self._next.values(), default=now + 1) > now:
            return []
        self._scan_at = now + RESCAN_SECONDS
        started = []
        for workflow in self._scheduled():
            run_id = self._fire(workflow, now)
            if run_id is not None:
                started.append(run_id)
        return started

    def next_due(self) -> float | None:
        """When the next tick of any schedule comes (what the loop sleeps on)."""
        return min(self._next.values(), default=None)

    def scheduled(self) -> list[str]:
        """Names of the workflows whose schedules this engine fires."""
        return [w.name for w in self._scheduled()]

    def _fire(self, workflow: Workflow, now: float) -> str | None:
        """Decide the schedule's next step from its stored state and move it
        with a compare-and-set: only the worker whose swap wins starts the
        tick's run, so a tick fires once however many workers decide at
        once (a worker that loses looks again at the next loop). The tick to
        start is claimed in the state (``starting``) before its run is
        created, and cleared after: a worker that dies in between leaves it
        for the next one to start."""
        schedule = workflow.schedule
        assert schedule is not None
        name = workflow.name
        store = self.engine.store
        stored = store.schedule_state(name)
        state: dict[str, Any] = dict(stored or {})
        started: str | None = None
        if state.get("starting") is not None:
            # Claimed by a worker that did not get to start it: start it here.
            stored, state, started = self._finish_start(workflow, stored, state)
            if stored is None:
                return started  # someone else moved the state: look again
        last = state.get("last_tick")
        if last is None:
            state["last_tick"] = now
            if not store.swap_schedule_state(name, stored, state):
                self._next[name] = now  # another worker saw it first: read again
                return started
            self._next[name] = next_tick(schedule.cron, schedule.timezone, now)
            return started
        tick = next_tick(schedule.cron, schedule.timezone, float(last))
        previous = state.get("last_run")
        active = previous is not None and self._active(previous)
        fire: float | None = None
        if tick <= now:
            # Fire once for however many ticks were missed, at the latest one
            # (found backwards from now: a long downtime costs no loop).
            latest = max(tick, previous_tick(schedule.cron, schedule.timezone, now))
            state["last_tick"] = latest
            if active and schedule.overlap == "skip":
                _log.info("schedule %s: tick skipped, run %s still active", name, previous)
            elif active and schedule.overlap == "buffer_one":
                state["buffered"] = latest
            else:
                state.pop("buffered", None)  # this tick is newer than any buffered one
                fire = latest
        elif not active and state.get("buffered") is not None:
            fire = float(state.pop("buffered"))
        if fire is not None:
            state["last_run"] = tick_run_id(name, fire)
            state["starting"] = fire
        if fire is not None or tick <= now:
            if not store.swap_schedule_state(name, stored, state):
                # Another worker moved the schedule since we read it: it
                # fired (or skipped) this tick; decide again from its state.
                self._next[name] = now
                return started
            if fire is not None:
                _, _, started = self._finish_start(workflow, state, dict(state))
        self._next[name] = next_tick(schedule.cron, schedule.timezone, float(state["last_tick"]))
        if state.get("buffered") is not None:
            # Poll for the end of the active run.
            self._next[name] = min(self._next[name], now + 1.0)
        return started

    def _finish_start(
        self, workflow: Workflow, stored: dict[str, Any] | None, state: dict[str, Any]
    ) -> tuple[dict[str, Any] | None, dict[str, Any], str | None]:
        """Start the tick claimed in ``state["starting"]`` and clear the
        claim: (the state as stored now, or None when another worker moved
        it first; that state; the id this engine started, if it did)."""
        _, started = self._start(workflow, float(state.pop("starting")))
        if self.engine.store.swap_schedule_state(workflow.name, stored, state):
            return dict(state), state, started
        return None, state, started

    def _active(self, run_id: str) -> bool:
        row = self.engine.store.get_run(run_id)
        return row is not None and row.status in ACTIVE_STATUSES

    def _start(self, workflow: Workflow, tick: float) -> tuple[str, str | None]:
        """Start the tick's run: (the tick's run id, the id if this engine
        started it). Another worker that fired the same tick first owns the
        run, but the run id is still the one overlap must watch."""
        run_id = tick_run_id(workflow.name, tick)
        try:
            self.engine.start(workflow, input=None, run_id=run_id, id_reuse="disallow")
        except RunAlreadyExists:
            return run_id, None  # another worker fired this tick
        except WfdslError:
            _log.exception("schedule %s: cannot start the run %s", workflow.name, run_id)
            return run_id, None
        return run_id, run_id


def tick_run_id(name: str, tick: float) -> str:
    """``<name>@<tick in UTC, ISO 8601>``: the same on every worker."""
    return f"{name}@{datetime.fromtimestamp(tick, UTC).strftime('%Y-%m-%dT%H:%M:%SZ')}"
