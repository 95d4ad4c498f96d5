"""History events and run positions in words, for people at a terminal.

``waiting for signal `verified` or timer 1d (due Tue 8 Dec 10:00 UTC)``
instead of ``timer_started wait_for_click {"node": 2, "due": 1796698605.48}``.
Built only from public records (:class:`Event`, :class:`Position`,
:class:`WaitFor`); ``--json`` output keeps the raw events.
"""

from __future__ import annotations

import json
from typing import Any

from wfdsl.cli_output import duration, stamp
from wfdsl.interpreter.run_view import Position, WaitFor
from wfdsl.interpreter.store.records import Event

__all__ = ["describe_event", "describe_position", "describe_wait", "short_json"]


def short_json(value: Any, limit: int = 120) -> str:
    text = json.dumps(value, default=str, ensure_ascii=False)
    return text if len(text) <= limit else text[: limit - 3] + "..."


def describe_wait(node: WaitFor, *, human: bool = True) -> str:
    """``signal `verified` or timer 1d (due Tue 8 Dec 10:00 UTC)``; completed
    parts of an ``all`` or ``at_least`` are left out (they are not awaited)."""
    if node.kind == "signal":
        what = f"signal `{node.channel}`"
        return f"{node.count} × {what}" if node.count > 1 else what
    if node.kind in ("timer", "until"):
        when = stamp(node.due, human=human, clock=False) if node.due is not None else ""
        if node.kind == "until":
            return f"the time {when}" if when else "a time"
        due = f"due {when}" if when else ""
        length = f"timer {duration(node.seconds)}" if node.seconds is not None else "timer"
        return f"{length} ({due})" if due else length
    pending = [alt for alt in node.alternatives if not alt.done] or list(node.alternatives)
    parts = [_nested(alt, human) for alt in pending]
    if node.kind == "any":
        return " or ".join(parts)
    if node.kind == "all":
        return " and ".join(parts)
    got = len(node.alternatives) - len(pending)
    need = max(0, node.count - got)
    return f"{need} more of: " + ", ".join(parts)


def _nested(node: WaitFor, human: bool) -> str:
    text = describe_wait(node, human=human)
    return f"({text})" if node.alternatives else text


def describe_position(position: Position, *, human: bool = True) -> str:
    """What one live thread is doing, in words."""
    if position.phase == "waiting" and position.waiting_for is not None:
        return "waiting for " + describe_wait(position.waiting_for, human=human)
    if position.phase == "action":
        attempt = f" (attempt {position.attempt})" if (position.attempt or 1) > 1 else ""
        return f"running action {position.action or '?'}{attempt}"
    if position.phase == "retry":
        due = f", next try {stamp(position.due, human=human, clock=False)}" if position.due else ""
        return f"retrying action {position.action or '?'}{due}"
    if position.phase == "child":
        return f"waiting for child run {position.child}"
    if position.phase == "callback":
        due = f" (deadline {stamp(position.due, human=human, clock=False)})" if position.due else ""
        return f"waiting for its callback token to be completed{due} (wfdsl complete TOKEN)"
    if position.phase == "forked":
        return "waiting for its branches"
    if position.phase == "compensating":
        return "compensating (running undo actions)"
    return position.phase


def describe_event(event: Event) -> str | None:
    """One event in words; ``None`` for events a person need not see live
    (a timer being armed is shown with the wait, ``vars_changed`` and
    ``signal_received`` with what consumes them)."""
    data = dict(event.data)
    kind = event.type
    if kind == "run_started":
        version = data.get("version")
        return f"started {data.get('workflow')}" + (f" version {version}" if version else "")
    if kind == "state_entered":
        return f"entered ({data.get('type')})"
    if kind == "action_started":
        attempt = data.get("attempt") or 1
        return f"action {data.get('action')} started" + (
            f" (attempt {attempt})" if attempt > 1 else ""
        )
    if kind == "action_completed":
        result = data.get("result")
        return "action completed" + (f": {short_json(result)}" if result is not None else "")
    if kind == "action_failed":
        return f"action failed: {data.get('error')}: {data.get('message')}"
    if kind == "callback_issued":
        return "callback token issued; waiting for `wfdsl complete TOKEN` after the action"
    if kind == "callback_completed":
        output = data.get("output")
        return "callback completed" + (f": {short_json(output)}" if output is not None else "")
    if kind == "callback_failed":
        return f"callback failed: {data.get('error')}: {data.get('message')}"
    if kind == "callback_timed_out":
        return f"callback not completed in time: {data.get('error')}"
    if kind == "retry_scheduled":
        return f"retry {data.get('attempt')} in {duration(float(data.get('delay') or 0))}"
    if kind == "timer_fired":
        return "timer fired"
    if kind == "signal_consumed":
        if data.get("channel") == "__child__":
            return f"child run {data.get('child')} ended"
        return f"got signal `{data.get('channel')}`"
    if kind == "branch_started":
        which = data.get("branch", data.get("index"))
        return f"branch {which} started"
    if kind == "branch_completed":
        if "error" in data:
            error = data.get("error") or {}
            return f"branch failed: {error.get('error')}: {error.get('message')}"
        return "branch completed"
    if kind == "handler_called":
        return f"handler {data.get('handler')} called"
    if kind == "paused":
        reason = data.get("reason")
        if reason == "break":
            return f"paused before {data.get('state')} (--break-at)"
        return "paused" if reason == "requested" else "stepped, paused again"
    if kind == "resumed":
        return "resumed"
    if kind == "undo_started":
        return f"undo {data.get('action') or ''} started".replace("  ", " ")
    if kind == "undo_completed":
        return "undo completed"
    if kind == "run_completed":
        return f"completed; output: {short_json(data.get('output'))}"
    if kind == "run_failed":
        return f"failed: {data.get('error')}: {data.get('message')}"
    if kind == "run_cancelled":
        return "cancelled"
    if kind in ("timer_started", "vars_changed", "signal_received"):
        return None
    return f"{kind} {short_json(data)}" if data else kind
