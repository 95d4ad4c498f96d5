"""task states: calls, outcomes, retries on durable timers, the undo log.

A call's ``idempotency_key`` is ``run/state-path/attempt``; a state entered
again (a loop) gets ``#visit`` after its path from the second visit on
(``run/remind#2/1``), so each visit is a distinct effect while the attempts
of one visit share the path.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from typing import Any

from wfdsl.dsl.model import TaskState

from . import callbacks, flow
from .context import Context
from .retries import jitter, schedule_retry
from .run_state import Thread
from .scope import Failure
from .steps import ActionOutcome, CallAction

__all__ = [
    "enter",
    "fail",
    "fire_retry",
    "issue",
    "jitter",
    "on_outcome",
    "schedule_retry",
    "succeed",
    "visit_path",
]


def visit_path(thread: Thread, name: str) -> str:
    return thread.visit_path(name)


def enter(ctx: Context, thread: Thread, state: TaskState) -> None:
    thread.visits[state.name] = thread.visits.get(state.name, 0) + 1
    thread.att = 1
    thread.t0 = ctx.now
    start_attempt(ctx, thread, state)


def start_attempt(ctx: Context, thread: Thread, state: TaskState) -> None:
    path = thread.path(state.name)
    call_id = token = None
    if state.callback is not None:
        call_id = ctx.next_call_id()
        token = callbacks.new_token(ctx, call_id)
    try:
        args = (
            ctx.evaluate(
                state.args,
                thread,
                path,
                {"token": token} if token is not None else None,
                attempt=thread.att,
            )
            if state.args is not None
            else {}
        )
        if not isinstance(args, Mapping):
            raise ctx.expression_failure(path, f"args must be a map, got {type(args).__name__}")
    except Failure as failure:
        flow.fail_state(ctx, thread, state, failure.error, failure.message, thread.att)
        return
    vpath = visit_path(thread, state.name)
    call: dict[str, Any] = {
        "id": call_id or ctx.next_call_id(),
        "path": path,
        "action": state.action,
        "args": args,
        "attempt": thread.att,
        "key": f"{ctx.run.id}/{vpath}/{thread.att}",
    }
    if state.timeout is not None:
        call["timeout"] = state.timeout
    if state.cache is not None and state.callback is None:
        try:
            call["cache"] = _cache_key(ctx, thread, state, args, path)
        except Failure as failure:
            flow.fail_state(ctx, thread, state, failure.error, failure.message, thread.att)
            return
    thread.call = call
    thread.ph = "call"
    thread.due = None
    ctx.event(
        "action_started",
        path,
        {
            "call_id": call["id"],
            "action": state.action,
            "args": args,
            "attempt": thread.att,
            "key": call["key"],
        },
    )
    if token is not None:
        assert state.callback is not None
        issued: dict[str, Any] = {"d": callbacks.digest(token), "t0": ctx.now}
        limits = {"timeout": state.callback.timeout, "heartbeat": state.callback.heartbeat}
        issued.update({k: v for k, v in limits.items() if v is not None})
        call["cb"] = issued
        ctx.event(
            "callback_issued",
            path,
            {"call_id": call["id"], "attempt": thread.att, "id": issued["d"], **limits},
        )
    if state.undo is not None:
        _log_start(ctx, thread, state, vpath, call)
    issue(ctx, call)


def _cache_key(
    ctx: Context, thread: Thread, state: TaskState, args: Any, path: str
) -> dict[str, Any]:
    """The call's cache entry: a digest of the action, the cache's version and
    its key (default: the evaluated args), and the time to live."""
    cache = state.cache
    assert cache is not None
    key = ctx.evaluate(cache.key, thread, path) if cache.key is not None else args
    try:
        text = json.dumps([state.action, cache.version, key], sort_keys=True, separators=(",", ":"))
    except (TypeError, ValueError) as exc:
        raise ctx.expression_failure(path, f"cache key: {exc}") from None
    entry: dict[str, Any] = {"key": hashlib.sha256(text.encode()).hexdigest()}
    if cache.ttl is not None:
        entry["ttl"] = cache.ttl
    return entry


def _log_start(
    ctx: Context, thread: Thread, state: TaskState, vpath: str, call: Mapping[str, Any]
) -> None:
    """Record, when the task starts, that it may need undoing (§6)."""
    recorded = {k: call[k] for k in ("action", "args", "key", "attempt", "path")}
    for entry in thread.undo:
        if entry["path"] == vpath and entry["st"] == "started":
            entry["call"] = recorded
            return
    thread.undo.append(
        {
            "seq": ctx.state.seq,
            "path": vpath,
            "sk": thread.sk,
            "name": state.name,
            "st": "started",
            "call": recorded,
        }
    )


def issue(ctx: Context, call: Mapping[str, Any]) -> None:
    ctx.command(
        CallAction(
            call_id=call["id"],
            run_id=ctx.run.id,
            state=call["path"],
            action=call["action"],
            args=call["args"],
            attempt=call["attempt"],
            idempotency_key=call["key"],
            timeout=call.get("timeout"),
            undo=bool(call.get("undo")),
            cache_key=call["cache"]["key"] if "cache" in call else None,
            cache_ttl=call["cache"].get("ttl") if "cache" in call else None,
        )
    )


def fire_retry(ctx: Context, thread: Thread) -> bool:
    """A retry whose delay is over starts its attempt."""
    if thread.due is None or ctx.now < thread.due:
        return False
    state = ctx.state_of(thread)
    assert isinstance(state, TaskState)
    start_attempt(ctx, thread, state)
    return True


def on_outcome(ctx: Context, thread: Thread, outcome: ActionOutcome) -> None:
    call = thread.call
    assert call is not None
    thread.call = None
    state = ctx.state_of(thread)
    assert isinstance(state, TaskState)
    path = call["path"]
    if outcome.ok:
        completed: dict[str, Any] = {
            "call_id": call["id"],
            "attempt": call["attempt"],
            "result": outcome.value,
        }
        if "cache" in call:
            # A hit names the run whose call produced the value.
            hit = outcome.cached
            completed["cache"] = (
                {"hit": True, "key": call["cache"]["key"], **hit}
                if hit is not None
                else {"hit": False, "key": call["cache"]["key"]}
            )
        ctx.event("action_completed", path, completed)
        if call.get("cb") is not None:
            # The action handed the token out: now the outside world completes it.
            callbacks.wait_for_completion(ctx, thread, call)
            callbacks.poll(ctx, thread)
            return
        succeed(ctx, thread, outcome.value, call["attempt"])
        return
    error = outcome.error or "Error"
    message = outcome.message or ""
    failed: dict[str, Any] = {
        "call_id": call["id"],
        "attempt": call["attempt"],
        "error": error,
        "message": message,
    }
    if outcome.details is not None:
        failed["details"] = outcome.details
    ctx.event("action_failed", path, failed)
    fail(ctx, thread, error, message, call["attempt"], outcome.details)


def succeed(ctx: Context, thread: Thread, value: Any, attempt: int) -> None:
    """The task's attempt produced ``value`` (an action's return value, or a
    callback completion's output): ``result``, ``set``, the undo log, next."""
    state = ctx.state_of(thread)
    assert isinstance(state, TaskState)
    path = thread.path(state.name)
    extra = {"result": value}
    try:
        ctx.assign(
            thread,
            state.set,
            path,
            extra,
            (state.result, value) if state.result is not None else None,
        )
        if state.undo is not None:
            _log_done(ctx, thread, state, visit_path(thread, state.name), extra)
    except Failure as failure:
        flow.fail_state(ctx, thread, state, failure.error, failure.message, attempt)
        return
    flow.go_next(ctx, thread, state)


def fail(
    ctx: Context, thread: Thread, error: str, message: str, attempt: int, details: Any
) -> None:
    """The task's attempt failed (its action, or its callback): retry it
    when the policy says so, else ``catch`` decides."""
    state = ctx.state_of(thread)
    assert isinstance(state, TaskState)
    path = thread.path(state.name)
    vpath = visit_path(thread, state.name)
    if schedule_retry(ctx, thread, state, vpath, error, path):
        return
    if state.undo is not None and error not in ("Timeout", "HeartbeatTimeout"):
        # The action failed: there is nothing to undo. After a Timeout the
        # effect may have happened, so the entry stays (re-run, then undone).
        thread.undo = [e for e in thread.undo if not (e["path"] == vpath and e["st"] == "started")]
    flow.fail_state(ctx, thread, state, error, message, attempt, details)


def _log_done(
    ctx: Context, thread: Thread, state: TaskState, vpath: str, extra: Mapping[str, Any]
) -> None:
    """The undo args are evaluated when the task completes (they may read what
    the task wrote, e.g. ``vars.payment.id``), against the vars after its
    ``result`` and ``set``."""
    assert state.undo is not None
    args = (
        ctx.evaluate(state.undo.args, thread, thread.path(state.name), extra)
        if state.undo.args is not None
        else {}
    )
    for entry in thread.undo:
        if entry["path"] == vpath and entry["st"] == "started":
            entry["st"] = "done"
            entry["args"] = args
            return
