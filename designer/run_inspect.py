"""What a run did in one state, and why it failed: the state panel and the
failure banner of the run page (designer/API.md, "StateDetail", "Failure").

Pure: built from the run's history (public :class:`Event` records), its
live positions (:class:`Position`) and the engine's clock reading.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from wfdsl.interpreter.run_view import Event, Position, WaitFor

from .run_overlay import Overlay, node_of

__all__ = ["failure_of", "lineage_of", "state_detail", "wait_json"]

_ITEM_END = re.compile(r"\[(\d+)\]")


def _error(data: Mapping[str, Any]) -> dict[str, Any]:
    details = data.get("details")
    return {
        "name": data.get("error"),
        "message": data.get("message"),
        "details": dict(details) if isinstance(details, Mapping) and details else None,
    }


def wait_json(node: WaitFor) -> dict[str, Any]:
    """A wait condition as JSON (the engine's ``WaitFor``)."""
    return {
        "kind": node.kind,
        "channel": node.channel,
        "count": node.count,
        "seconds": node.seconds,
        "due": node.due,
        "done": node.done,
        "alternatives": [wait_json(alt) for alt in node.alternatives],
    }


def _nearest_due(node: WaitFor) -> float | None:
    dues = [node.due] if node.due is not None and not node.done else []
    for alt in node.alternatives:
        due = _nearest_due(alt)
        if due is not None:
            dues.append(due)
    return min(dues) if dues else None


def _item(thread: str) -> int | None:
    found = _ITEM_END.findall(thread)
    return int(found[-1]) if found else None


def _attempt(data: Mapping[str, Any], at: float) -> dict[str, Any]:
    return {
        "attempt": data.get("attempt") or 1,
        "action": data.get("action"),
        "key": data.get("key"),
        "started_at": at,
        "ended_at": None,
        "seconds": None,
        "outcome": "running",
        "result": None,
        "error": None,
        "retry": None,
    }


def _end(attempt: dict[str, Any], at: float, outcome: str) -> None:
    attempt["ended_at"] = at
    attempt["seconds"] = round(at - attempt["started_at"], 6)
    attempt["outcome"] = outcome


def state_detail(
    events: Sequence[Event],
    node: str,
    *,
    positions: Iterable[Position] = (),
    now: float,
) -> dict[str, Any]:
    """Every visit of graph node ``node`` with its input, output, error,
    attempts (timings, idempotency keys), undo and live wait."""
    visits: list[dict[str, Any]] = []
    open_by_thread: dict[str, dict[str, Any]] = {}  # thread path -> its latest visit
    current: dict[str, str] = {}  # thread scope -> the path in it now
    calls: dict[str, tuple[dict[str, Any], dict[str, Any]]] = {}  # call id -> (visit, attempt)
    state_type: str | None = None
    failed_path: str | None = None

    def close(path: str, at: float, caught: bool) -> None:
        visit = open_by_thread.get(path)
        if visit is not None and visit["left_at"] is None:
            visit["left_at"] = at
            if caught and visit["error"] is not None:
                visit["caught"] = True

    for event in events:
        path = event.state or ""
        data = event.data
        mine = bool(path) and node_of(path) == node
        if event.type == "state_entered" and path:
            scope = path.rpartition("/")[0]
            previous = current.get(scope)
            if previous is not None:
                close(previous, event.time, caught=True)
            current[scope] = path
            if mine:
                state_type = str(data.get("type") or "") or state_type
                entered: dict[str, Any] = {
                    "thread": path,
                    "item": _item(path),
                    "seq": event.seq,
                    "entered_at": event.time,
                    "left_at": None,
                    "input": None,
                    "output": None,
                    "vars": None,
                    "error": None,
                    "caught": False,
                    "attempts": [],
                    "undo": [],
                    "waiting": None,
                }
                visits.append(entered)
                open_by_thread[path] = entered
            continue
        if event.type == "branch_completed" and path:
            ended = current.pop(path, None)
            if ended is not None:
                close(ended, event.time, caught=False)
            continue
        if event.type in ("run_completed", "run_failed", "run_cancelled"):
            if event.type == "run_failed":
                failed_path = path or None
            for thread in list(open_by_thread):
                close(thread, event.time, caught=False)
            continue
        if not mine:
            continue
        visit = open_by_thread.get(path)
        if visit is None:
            continue
        if event.type == "action_started":
            attempt = _attempt(data, event.time)
            visit["attempts"].append(attempt)
            if visit["input"] is None:
                visit["input"] = data.get("args")
            calls[str(data.get("call_id"))] = (visit, attempt)
        elif event.type == "undo_started":
            attempt = _attempt(data, event.time)
            visit["undo"].append(attempt)
            calls[str(data.get("call_id"))] = (visit, attempt)
        elif event.type in ("action_completed", "undo_completed"):
            found = calls.get(str(data.get("call_id")))
            if found is not None:
                owner, attempt = found
                _end(attempt, event.time, "completed")
                attempt["result"] = data.get("result")
                if event.type == "action_completed" and attempt in owner["attempts"]:
                    owner["output"] = data.get("result")
                    owner["error"] = None
            elif event.type == "undo_completed" and data.get("skipped"):
                visit["undo"].append(
                    {**_attempt({}, event.time), "outcome": "skipped", "result": data.get("reason")}
                )
        elif event.type == "action_failed":
            found = calls.get(str(data.get("call_id")))
            error = _error(data)
            if found is not None:
                owner, attempt = found
                _end(attempt, event.time, "failed")
                attempt["error"] = error
                if attempt in owner["attempts"]:
                    owner["error"] = error
            else:
                visit["error"] = error
        elif event.type == "retry_scheduled":
            if visit["attempts"]:
                visit["attempts"][-1]["retry"] = {
                    "delay": data.get("delay"),
                    "due": data.get("due"),
                }
            visit["error"] = None
        elif event.type == "vars_changed":
            changed = data.get("changed")
            if isinstance(changed, Mapping):
                visit["vars"] = {**(visit["vars"] or {}), **changed}
        elif event.type == "branch_started":
            pass
        elif event.type == "signal_consumed" and visit["output"] is None:
            visit["output"] = {"signal": data.get("channel")}

    overlay = Overlay()
    overlay.feed(events)
    if overlay.failed == node and visits:
        failure = failure_of(events, None)
        newest = visits[-1]
        if failure is not None and (failed_path is None or node_of(failed_path) == node):
            if state_type == "fail" or newest["error"] is None:
                newest["error"] = {
                    "name": failure["error"],
                    "message": failure["message"],
                    "details": failure["details"],
                }
            newest["caught"] = False
    for position in positions:
        visit = open_by_thread.get(position.path)
        if visit is not None and visit["left_at"] is None and position.waiting_for is not None:
            visit["waiting"] = {
                "for": wait_json(position.waiting_for),
                "due": _nearest_due(position.waiting_for),
            }
        elif visit is not None and visit["left_at"] is None and position.due is not None:
            visit["waiting"] = {"for": None, "due": position.due}
    return {
        "path": node,
        "type": state_type,
        "status": overlay.statuses().get(node, "pending"),
        "now": now,
        "visits": visits,
    }


def failure_of(events: Sequence[Event], error: Mapping[str, Any] | None) -> dict[str, Any] | None:
    """Why the run failed: the ``run_failed`` event (``error`` is the run's
    own, for details it carries), the node it failed at and the action
    failure that led there; ``None`` unless the run failed."""
    ended = next((e for e in reversed(events) if e.type == "run_failed"), None)
    if ended is None:
        return None
    overlay = Overlay()
    overlay.feed(events)
    details = ended.data.get("details")
    if not details and error is not None:
        details = error.get("details")
    cause: dict[str, Any] | None = None
    for event in reversed(events):
        if event.seq >= ended.seq:
            continue
        if event.type == "action_failed":
            cause = {"state": node_of(event.state or ""), **_error(event.data)}
            cause["error"] = cause.pop("name")
            break
    name = ended.data.get("error") or (error or {}).get("error")
    message = ended.data.get("message") or (error or {}).get("message")
    if cause is not None and cause["state"] == overlay.failed and cause["error"] == name:
        cause = None
    return {
        "error": name,
        "message": message,
        "details": dict(details) if isinstance(details, Mapping) and details else None,
        "state": overlay.failed,
        "at": ended.time,
        "cause": cause,
    }


def lineage_of(events: Sequence[Event]) -> dict[str, Any]:
    """Where the run came from and who put it back to work: the origin a
    fork's ``run_started`` records (``forked_from``: run, execution, seq,
    state, set) and every ``run_redriven`` (by whom, when, at which state,
    after the failure at which seq), oldest first."""
    origin = None
    if events and events[0].type == "run_started":
        found = events[0].data.get("forked_from")
        if isinstance(found, Mapping) and found.get("run"):
            origin = {
                "run": str(found["run"]),
                "execution": found.get("execution"),
                "seq": found.get("seq"),
                "state": found.get("state"),
                "set": dict(found.get("set") or {}),
            }
    redrives = [redrive_json(e) for e in events if e.type == "run_redriven"]
    return {"forked_from": origin, "redrives": redrives}


def redrive_json(event: Event) -> dict[str, Any]:
    """One ``run_redriven`` event as the run page's lineage line shows it."""
    return {
        "seq": event.seq,
        "at": event.time,
        "by": event.data.get("by"),
        "state": event.data.get("state") or event.state,
        "failed_seq": event.data.get("failed_seq"),
    }
