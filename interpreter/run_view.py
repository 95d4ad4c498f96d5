"""The public :class:`Run`: a snapshot of one run for users of the API.

Times are epoch seconds (UTC) as floats, the same numbers the store, the
history events and ``VirtualClock.now()`` use, so a test can compare them
with the clock directly; :meth:`Run.started` / :meth:`Run.ended` give aware
datetimes for display. ``history()`` reads the store each time it is called
(a snapshot never holds a run's whole history in memory).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from .machine.positions import Position, WaitFor
from .store.records import Event, RunRow

__all__ = ["Event", "Fork", "Position", "Run", "Transition", "WaitFor"]

_ENDED = frozenset({"completed", "failed", "cancelled"})


@dataclass(frozen=True, slots=True, kw_only=True)
class Run:
    """One run as it was when it was read (docs/python-api.md)."""

    id: str
    workflow: str
    version: str | None
    status: str
    input: Any = None
    vars: Mapping[str, Any] = field(default_factory=dict)
    output: Any = None
    error: Mapping[str, Any] | None = None
    started_at: float = 0.0
    ended_at: float | None = None
    search: Mapping[str, Any] = field(default_factory=dict)
    parent_run: str | None = None
    definition_hash: str = ""
    #: The action this run waits for a process to have (its call was left by
    #: a process without it): ``None`` unless it is so waiting.
    needs_action: str | None = None
    #: Which run of its id this is, from 1: a run started under a reused id
    #: is the next execution (``Engine.executions`` lists them).
    execution: int = 1
    #: The W3C trace context the run was started in (``{"traceparent": ...}``), or None.
    trace_context: Mapping[str, str] | None = None
    _history: Callable[[], list[Event]] | None = field(default=None, repr=False, compare=False)
    _positions: Callable[[], tuple[Position, ...]] | None = field(
        default=None, repr=False, compare=False
    )

    @classmethod
    def from_row(
        cls,
        row: RunRow,
        history: Callable[[], list[Event]] | None = None,
        positions: Callable[[], tuple[Position, ...]] | None = None,
    ) -> Run:
        return cls(
            id=row.id,
            workflow=row.workflow,
            version=row.version,
            status=row.status,
            input=row.input,
            vars=row.vars,
            output=row.output,
            error=row.error,
            started_at=row.started_at,
            ended_at=row.ended_at,
            search=row.search,
            parent_run=row.parent_run,
            definition_hash=row.definition_hash,
            needs_action=None if row.status in _ENDED else row.needs_action,
            execution=row.execution,
            trace_context=row.state.get("trace") or None,
            _history=history,
            _positions=positions,
        )

    @property
    def done(self) -> bool:
        """Whether the run has ended (completed, failed or cancelled)."""
        return self.status in _ENDED

    @property
    def waiting_for(self) -> str | None:
        """What keeps the run from moving that no process here can do, in
        words: ``waiting for a worker with action payments.charge``."""
        if self.needs_action is None:
            return None
        return f"waiting for a worker with action {self.needs_action}"

    @property
    def started(self) -> datetime:
        """``started_at`` as an aware UTC datetime."""
        return datetime.fromtimestamp(self.started_at, UTC)

    @property
    def ended(self) -> datetime | None:
        """``ended_at`` as an aware UTC datetime, ``None`` while it runs."""
        return None if self.ended_at is None else datetime.fromtimestamp(self.ended_at, UTC)

    def history(self) -> list[Event]:
        """Every event of the run, oldest first (read from the store now)."""
        return [] if self._history is None else self._history()

    def positions(self) -> tuple[Position, ...]:
        """Where the run was when read: one :class:`Position` per live thread
        (state, phase, what a waiting one waits for and when its timers fire);
        empty once it has ended."""
        return () if self._positions is None or self.done else self._positions()

    def to_json(self) -> dict[str, Any]:
        """A plain mapping for ``--json`` output and the HTTP API."""
        return {
            "id": self.id,
            "workflow": self.workflow,
            "version": self.version,
            "status": self.status,
            "input": self.input,
            "vars": dict(self.vars),
            "output": self.output,
            "error": None if self.error is None else dict(self.error),
            "started_at": self.started_at,
            "ended_at": self.ended_at,
            "search": dict(self.search),
            "parent_run": self.parent_run,
            "definition_hash": self.definition_hash,
            "needs_action": self.needs_action,
            "waiting_for": self.waiting_for,
            "execution": self.execution,
        }


def event_to_json(event: Event) -> dict[str, Any]:
    """One history event as a plain mapping."""
    return {
        "seq": event.seq,
        "type": event.type,
        "time": event.time,
        "state": event.state,
        "data": dict(event.data),
    }


@dataclass(frozen=True, slots=True, kw_only=True)
class Fork:
    """A run started from a point of another run's history (``wfdsl fork``),
    as :meth:`Engine.forks` lists them: the new run, the event ``seq`` and
    top-level ``state`` of the origin it started from, and the var paths
    it patched (``set``)."""

    run: Run
    seq: int
    state: str | None
    set: Mapping[str, Any] = field(default_factory=dict)

    def to_json(self) -> dict[str, Any]:
        """A plain mapping for ``--json`` output and the HTTP API."""
        return {
            "run": self.run.to_json(),
            "seq": self.seq,
            "state": self.state,
            "set": dict(self.set),
        }


@dataclass(frozen=True, slots=True)
class Transition:
    """One committed transition, as :meth:`Engine.watch` hands it over:
    the run right after it and the events it wrote, oldest first."""

    run: Run
    events: tuple[Event, ...]
