"""Compensation (docs/reference.md §5): undo actions newest first, durable step by step.

A thread compensating has ``ph = "comp"`` and ``comp = {"todo": [entries,
newest first], "then": what follows, "att": attempt, "t0": first attempt}``.
The head of ``todo`` is the entry being worked on; it is removed in the same
transition as its ``undo_completed`` event, so a crash resumes at the right
entry and nothing is undone twice.

Steno's rule: an entry still ``started`` (the task began but its completion
was never recorded: cancelled in flight, lost, timed out) is first re-run
with its recorded args and idempotency key, then undone; if the re-run fails
for good the entry is skipped (``undo_completed`` with ``skipped``), since
there is then nothing to undo. An undo that fails after the task's retry
policy is exhausted stops compensation with ``CompensationFailed``; the
entries not yet undone go back to the thread's log.

``then``: ``{"next": true}`` completes the current (compensate) state,
``{"fail": error}`` fails the thread with ``error``, ``{"cancel": true}``
ends the run as cancelled.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from wfdsl.dsl.model import TaskState

from . import flow, tasks
from .context import Context
from .run_state import Thread
from .scope import Failure, write_path
from .steps import ActionOutcome

__all__ = ["begin", "fire_retry", "on_outcome"]


def begin(
    ctx: Context, thread: Thread, entries: list[dict[str, Any]], then: Mapping[str, Any]
) -> None:
    todo = sorted(entries, key=lambda entry: entry["seq"], reverse=True)
    thread.ph = "comp"
    thread.call = None
    thread.due = None
    thread.wait = None
    thread.fork = None
    thread.comp = {"todo": todo, "then": dict(then), "att": 1, "t0": ctx.now}
    _step(ctx, thread)


def _task(ctx: Context, entry: Mapping[str, Any]) -> TaskState:
    state = ctx.scopes[entry["sk"]].states[entry["name"]]
    assert isinstance(state, TaskState) and state.undo is not None
    return state


def _step(ctx: Context, thread: Thread) -> None:
    comp = thread.comp
    assert comp is not None
    if not comp["todo"]:
        _finish(ctx, thread, comp["then"])
        return
    entry = comp["todo"][0]
    task = _task(ctx, entry)
    assert task.undo is not None
    attempt = comp["att"]
    if entry["st"] == "started":
        call = {**entry["call"], "id": ctx.next_call_id(), "comp": "rerun"}
        ctx.event(
            "action_started",
            call["path"],
            {
                "call_id": call["id"],
                "action": call["action"],
                "args": call["args"],
                "attempt": call["attempt"],
                "key": call["key"],
                "rerun": True,
            },
        )
    else:
        key = f"{ctx.run.id}/{entry['path']}/undo/{attempt}"
        call = {
            "id": ctx.next_call_id(),
            "path": entry["path"],
            "action": task.undo.action,
            "args": entry.get("args") or {},
            "attempt": attempt,
            "key": key,
            "undo": True,
            "comp": "undo",
        }
        ctx.event(
            "undo_started",
            entry["path"],
            {
                "call_id": call["id"],
                "action": call["action"],
                "args": call["args"],
                "attempt": attempt,
                "key": key,
            },
        )
    thread.call = call
    tasks.issue(ctx, call)


def fire_retry(ctx: Context, thread: Thread) -> bool:
    if thread.call is not None or thread.due is None or ctx.now < thread.due:
        return False
    thread.due = None
    _step(ctx, thread)
    return True


def on_outcome(ctx: Context, thread: Thread, outcome: ActionOutcome) -> None:
    comp = thread.comp
    call = thread.call
    assert comp is not None and call is not None
    thread.call = None
    entry = comp["todo"][0]
    task = _task(ctx, entry)
    path = call["path"]
    error = outcome.error or "Error"
    if call["comp"] == "rerun":
        if outcome.ok:
            ctx.event(
                "action_completed",
                path,
                {
                    "call_id": call["id"],
                    "attempt": call["attempt"],
                    "result": outcome.value,
                    "rerun": True,
                },
            )
            entry["st"] = "done"
            entry["args"] = _undo_args(ctx, thread, task, path, outcome.value)
            _next_entry(comp, ctx.now, keep=True)
        else:
            ctx.event(
                "action_failed",
                path,
                {
                    "call_id": call["id"],
                    "attempt": call["attempt"],
                    "error": error,
                    "message": outcome.message or "",
                    "rerun": True,
                },
            )
            if _retry(ctx, thread, task, error, path):
                return
            ctx.event(
                "undo_completed",
                entry["path"],
                {
                    "skipped": True,
                    "reason": (f"the task's re-run failed ({error}), so there is nothing to undo"),
                },
            )
            _next_entry(comp, ctx.now, keep=False)
        _step(ctx, thread)
        return
    if outcome.ok:
        ctx.event("undo_completed", entry["path"], {"call_id": call["id"], "result": outcome.value})
        _next_entry(comp, ctx.now, keep=False)
        _step(ctx, thread)
        return
    ctx.event(
        "action_failed",
        path,
        {
            "call_id": call["id"],
            "attempt": call["attempt"],
            "error": error,
            "message": outcome.message or "",
            "undo": True,
        },
    )
    if _retry(ctx, thread, task, error, path):
        return
    assert task.undo is not None
    failure = {
        "error": "CompensationFailed",
        "message": (
            f"run '{ctx.run.id}' state '{entry['path']}': undo action '{task.undo.action}' "
            f"failed after {call['attempt']} attempt(s): {error}: {outcome.message or ''}"
        ),
    }
    thread.undo = list(reversed(comp["todo"])) + thread.undo
    thread.comp = None
    flow.reset(thread)
    if comp["then"].get("cancel") or thread.is_root:
        flow.finish_run(ctx, "failed", error=failure)
    else:
        flow.fail_thread(ctx, thread, failure)


def _next_entry(comp: dict[str, Any], now: float, *, keep: bool) -> None:
    comp["att"] = 1
    comp["t0"] = now
    if not keep:
        comp["todo"].pop(0)


def _undo_args(ctx: Context, thread: Thread, task: TaskState, path: str, result: Any) -> Any:
    """A re-run task's undo args: evaluated now, against the thread's vars
    with the re-run's result written where the task writes it."""
    assert task.undo is not None
    if task.undo.args is None:
        return {}
    saved = thread.vars
    try:
        if task.result is not None:
            thread.vars = write_path(saved, task.result.parts, result)
        return ctx.evaluate(task.undo.args, thread, path, {"result": result})
    except Failure:
        return {}
    finally:
        thread.vars = saved


def _retry(ctx: Context, thread: Thread, task: TaskState, error: str, path: str) -> bool:
    comp = thread.comp
    assert comp is not None
    policy = task.retry_policy_for(error)
    if policy is None or not policy.retries(error):
        return False
    attempt = comp["att"]
    if not policy.allows(attempt):
        return False
    seed, fraction = tasks.jitter(ctx.run.id, f"{path}/undo", attempt)
    delay = policy.delay(attempt, fraction)
    if policy.max_duration is not None and ctx.now + delay - comp["t0"] > policy.max_duration:
        return False
    comp["att"] = attempt + 1
    thread.due = ctx.now + delay
    ctx.event(
        "retry_scheduled",
        path,
        {
            "attempt": attempt + 1,
            "delay": delay,
            "due": thread.due,
            "seed": seed,
            "error": error,
            "undo": True,
        },
    )
    return True


def _finish(ctx: Context, thread: Thread, then: Mapping[str, Any]) -> None:
    thread.comp = None
    flow.reset(thread)
    if then.get("cancel"):
        flow.finish_run(ctx, "cancelled")
    elif "fail" in then:
        flow.fail_thread(ctx, thread, then["fail"])
    else:
        flow.complete_state(ctx, thread, ctx.state_of(thread))
