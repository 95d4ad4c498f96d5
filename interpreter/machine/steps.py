"""What goes into and comes out of the pure machine (``machine.advance``).

The engine turns the outside world into a :data:`Trigger`, calls
``machine.advance(workflow, run, trigger, inbox=...)`` and gets a
:class:`Transition`: the new run row, events to append, inbox seqs consumed,
messages for other runs, child runs to create, and :data:`Command` s for the
engine to carry out after the commit (call an action, cancel one, answer a
handler call). Timers are not commands: they live in the run's state, and
``RunRow.ready_at`` carries the earliest one for the store's index.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Literal

from ..store.records import Event, InboxMessage, RunRow

__all__ = [
    "CONTROL_CHANNEL",
    "ActionOutcome",
    "CallAction",
    "CallHandler",
    "CancelAction",
    "CancelRun",
    "Command",
    "PauseRun",
    "Recover",
    "ReplyHandler",
    "ResumeRun",
    "StartChild",
    "StartRun",
    "StepRun",
    "Transition",
    "Trigger",
    "Wake",
]


#: Control requests (cancel, pause, resume, step) wait in a run's inbox on
#: this internal channel until the driver of the run applies them between
#: two of its transitions. ``Engine.cancel`` and friends write them, and a
#: run that ends cancelled or failed sends its running children one.
CONTROL_CHANNEL = "__control__"

# ------------------------------------------------------------------ triggers


@dataclass(frozen=True, slots=True, kw_only=True)
class StartRun:
    """A new run: evaluate initial vars, enter ``start``."""

    now: float


@dataclass(frozen=True, slots=True, kw_only=True)
class Wake:
    """Time moved and/or messages arrived: fire due timers, consume what
    waits ask for, advance runnable threads."""

    now: float


@dataclass(frozen=True, slots=True, kw_only=True)
class ActionOutcome:
    """An action call finished. ``call_id`` is the one from :class:`CallAction`;
    an outcome for a call the run no longer expects (a cancelled branch, a
    duplicate after recovery) is ignored."""

    now: float
    call_id: str
    ok: bool
    value: Any = None
    error: str | None = None
    message: str | None = None
    #: JSON data the failure carries (an HTTP error's status and body excerpt,
    #: what an action raised with ``wfdsl.ActionError(details=...)``); None: none.
    details: Any = None
    #: A cache hit: ``value`` is the stored result of this run's call (the
    #: action was not called); ``{"run": ..., "at": ...}`` says whose.
    cached: Mapping[str, Any] | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class CallHandler:
    now: float
    handler: str
    args: Any = None
    call_id: str = ""


@dataclass(frozen=True, slots=True, kw_only=True)
class CancelRun:
    now: float
    compensate: bool = False
    #: Why, when it is not an operator's request (``run_cancelled`` says it):
    #: e.g. the parent run was cancelled.
    reason: str | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class PauseRun:
    now: float


@dataclass(frozen=True, slots=True, kw_only=True)
class ResumeRun:
    now: float


@dataclass(frozen=True, slots=True, kw_only=True)
class StepRun:
    """On a paused run: perform exactly one transition, stay paused."""

    now: float


@dataclass(frozen=True, slots=True, kw_only=True)
class Recover:
    """A process took over the run (start-up, expired lease): re-issue every
    action call that was started but has no recorded outcome."""

    now: float


Trigger = (
    StartRun
    | Wake
    | ActionOutcome
    | CallHandler
    | CancelRun
    | PauseRun
    | ResumeRun
    | StepRun
    | Recover
)


# ------------------------------------------------------------------ commands


@dataclass(frozen=True, slots=True, kw_only=True)
class CallAction:
    """Run an action outside any transaction, then report an
    :class:`ActionOutcome` with the same ``call_id``. ``idempotency_key`` is
    stable across retries of the engine (``run/state-path/attempt``)."""

    call_id: str
    run_id: str
    state: str
    action: str
    args: Mapping[str, Any] = field(default_factory=dict)
    attempt: int = 1
    idempotency_key: str = ""
    timeout: float | None = None
    undo: bool = False
    #: A task with ``cache``: look the result up under this key before
    #: calling, and keep a successful one there (``cache_ttl`` seconds).
    cache_key: str | None = None
    cache_ttl: float | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class CancelAction:
    """Stop waiting for a call (its branch was cancelled); its outcome, if
    it still comes, is ignored."""

    call_id: str


@dataclass(frozen=True, slots=True, kw_only=True)
class StartChild:
    """A subflow: the engine resolves ``workflow`` (a path relative to the
    parent's file, or a stored definition's name), compiles it and creates the
    child run ``run_id`` (derived from parent run, state path and attempt, so
    a recovered parent never starts a second child) unless it exists. The
    child's end is reported to the parent as an inbox message on channel
    ``__child__`` with data ``{"run_id", "status", "output", "error"}``."""

    run_id: str
    parent_run: str
    state: str
    workflow: str
    input: Any = None
    base_file: str | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class ReplyHandler:
    """The answer to a :class:`CallHandler`: its value, or a rejection."""

    call_id: str
    ok: bool
    value: Any = None
    error: str | None = None
    message: str | None = None


Command = CallAction | CancelAction | StartChild | ReplyHandler


@dataclass(frozen=True, slots=True, kw_only=True)
class Transition:
    """The machine's answer to one trigger. ``run`` has ``row_version`` unchanged
    (the store bumps it); ``events`` continue the run's history.

    ``status == "idle"``: nothing to commit (a late or duplicate outcome, a
    repeated start/pause/resume, a rejected handler call, a query); ``run`` is
    the row passed in, but ``commands`` may still hold a :class:`ReplyHandler`
    the engine must deliver. ``outbox`` messages addressed to the run itself
    are its own ``emit`` s that no wait took in this transition."""

    run: RunRow
    events: tuple[Event, ...] = ()
    commands: tuple[Command, ...] = ()
    consumed: tuple[int, ...] = ()
    outbox: tuple[InboxMessage, ...] = ()
    inbox_seen: int = 0
    steps: int = 0
    status: Literal["progressed", "idle"] = "progressed"
