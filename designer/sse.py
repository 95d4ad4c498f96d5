"""The live overlay of a run: state statuses from its history, pushed as Server-Sent Events.

The store has no notifications, so the stream polls: one run row per tick
and the history events after the last one sent (``Store.history`` reads
only those). A tick that finds nothing new sends nothing; a comment line
every ``keepalive`` seconds keeps proxies and the browser awake.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator, Iterable
from typing import Any

from wfdsl.interpreter.engine import Engine
from wfdsl.interpreter.run_view import event_to_json
from wfdsl.interpreter.store.records import Event

__all__ = ["event_stream", "fold_statuses", "state_statuses"]

FINAL = frozenset({"completed", "failed", "cancelled"})


def _parent(path: str) -> str:
    return path.rpartition("/")[0]


def fold_statuses(statuses: dict[str, str], events: Iterable[Event], run_status: str) -> set[str]:
    """Advance ``statuses`` (thread path -> pending/active/waiting/completed/
    failed/compensating) over ``events``; return the paths that changed.

    A state is active from ``state_entered``; it is completed when another
    state of the same scope is entered after it (a thread is in one state at
    a time), waiting while a timer or a signal wait is open, compensating
    while its undo runs, failed when its action failed and the run failed.
    """
    changed: set[str] = set()

    def put(path: str | None, status: str) -> None:
        if path and statuses.get(path) != status:
            statuses[path] = status
            changed.add(path)

    last_failed: str | None = None
    for event in events:
        path = event.state
        kind = event.type
        if kind == "state_entered" and path:
            scope = _parent(path)
            for other, status in list(statuses.items()):
                if (
                    other != path
                    and _parent(other) == scope
                    and status in ("active", "waiting")
                    and not path.startswith(other + "/")
                ):
                    put(other, "completed")
            # A wait state leaves no event when it starts waiting for a signal.
            put(path, "waiting" if event.data.get("type") == "wait" else "active")
        elif kind in ("timer_started",) or kind.startswith("wait"):
            put(path, "waiting")
        elif kind in ("action_started", "retry_scheduled"):
            if path and statuses.get(path) in ("waiting", None):
                put(path, "active")
        elif kind == "action_failed":
            last_failed = path
        elif kind == "undo_started":
            put(path, "compensating")
        elif kind == "undo_completed":
            put(path, "completed")
        elif kind == "branch_completed" and path:
            for other, status in list(statuses.items()):
                if other.startswith(path + "/") and status in ("active", "waiting"):
                    put(other, "completed")
        elif kind == "run_completed":
            for other, status in list(statuses.items()):
                if status in ("active", "waiting"):
                    put(other, "completed")
        elif kind in ("run_failed", "run_cancelled"):
            failed = event.state or last_failed
            for other, status in list(statuses.items()):
                if status in ("active", "waiting", "compensating"):
                    put(
                        other, "failed" if kind == "run_failed" and other == failed else "completed"
                    )
            if kind == "run_failed" and failed:
                put(failed, "failed")
    return changed


def state_statuses(events: Iterable[Event], run_status: str = "running") -> dict[str, str]:
    """Every state the run reached, with its status (unreached states are pending)."""
    statuses: dict[str, str] = {}
    fold_statuses(statuses, events, run_status)
    return statuses


def _message(event: str, data: Any, seq: int) -> str:
    return f"id: {seq}\nevent: {event}\ndata: {json.dumps(data, default=str)}\n\n"


async def event_stream(
    engine: Engine,
    run_id: str,
    *,
    after: int = 0,
    poll: float = 0.25,
    keepalive: float = 15.0,
) -> AsyncIterator[str]:
    """``snapshot``, then ``delta`` whenever something changed, then ``end``."""
    history = engine.history(run_id)
    run = engine.get(run_id)
    statuses = state_statuses(history, run.status)
    seq = history[-1].seq if history else 0
    yield _message("snapshot", {"run": run.to_json(), "states": statuses, "seq": seq}, seq)
    if after and after < seq:
        missed = [event_to_json(e) for e in history if e.seq > after]
        yield _message(
            "delta", {"run": run.to_json(), "states": {}, "events": missed, "seq": seq}, seq
        )
    quiet = 0.0
    last_status = run.status
    while run.status not in FINAL:
        await asyncio.sleep(poll)
        run = engine.get(run_id)
        new = engine.store.history(run_id, after_seq=seq)
        if not new and run.status == last_status:
            quiet += poll
            if quiet >= keepalive:
                quiet = 0.0
                yield ": ping\n\n"
            continue
        quiet = 0.0
        last_status = run.status
        changed = fold_statuses(statuses, new, run.status)
        if new:
            seq = new[-1].seq
        yield _message(
            "delta",
            {
                "run": run.to_json(),
                "states": {path: statuses[path] for path in sorted(changed)},
                "events": [event_to_json(e) for e in new],
                "seq": seq,
            },
            seq,
        )
    yield _message("end", {"run": run.to_json(), "states": statuses}, seq)
