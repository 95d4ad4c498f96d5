"""How control moves: a state completes, fails, a thread ends, the run ends.

These few functions are shared by every state type; fork joins, compensation
and the run's end all go through them so the rules live in one place:

- a completed state applies its ``set`` then goes to ``next`` (or ends);
- a failed state tries its own ``catch``, else fails its thread; a failed
  branch or iteration fails its fork state (which tries *its* catch), and a
  failed root thread fails the run (compensating first when asked to);
- a thread given up on (cancelled, or the run ends) stops waiting for its
  call and cancels the child run it waits for, unless the subflow says
  ``parent_close: abandon``; a run that ends cancelled or failed cancels its
  ``wait: false`` children too. The child is sent a control request, so it
  ends through its own transition (and cancels its own children in turn).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from wfdsl.dsl.model import MapState, ParallelState, State, SubflowState, VarPath

from ..store.records import InboxMessage
from . import compensation, forks, retries
from .context import Context
from .run_state import Thread
from .scope import Failure
from .steps import CONTROL_CHANNEL, CancelAction

__all__ = [
    "cancel_thread",
    "complete_state",
    "end_thread",
    "fail_run",
    "fail_state",
    "fail_thread",
    "finish_run",
    "go_next",
]


def complete_state(
    ctx: Context,
    thread: Thread,
    state: State,
    *,
    extra: Mapping[str, Any] | None = None,
    first: tuple[VarPath, Any] | None = None,
    next_state: str | None = None,
) -> None:
    """``state`` is done: write ``first`` (a result), apply ``set``, move on."""
    path = thread.path(state.name)
    try:
        ctx.assign(thread, state.set, path, extra, first)
    except Failure as failure:
        fail_state(ctx, thread, state, failure.error, failure.message)
        return
    go_next(ctx, thread, state, next_state)


def go_next(ctx: Context, thread: Thread, state: State, next_state: str | None = None) -> None:
    target = next_state or state.next
    reset(thread)
    if target:
        thread.at = target
        thread.ph = "run"
    else:
        end_thread(ctx, thread, None, explicit=False)


def reset(thread: Thread) -> None:
    thread.ph = "run"
    thread.att = 0
    thread.t0 = None
    thread.call = None
    thread.due = None
    thread.wait = None
    thread.fork = None
    thread.child = None
    thread.cb = None


def end_thread(ctx: Context, thread: Thread, output: Any, *, explicit: bool) -> None:
    """The thread reached an end: the run completes, or the branch joins."""
    if not thread.is_root:
        forks.child_done(ctx, thread, output)
        return
    if not explicit:
        if ctx.workflow.output is not None:
            try:
                output = ctx.evaluate(ctx.workflow.output, thread, thread.at or "")
            except Failure as failure:
                fail_run(ctx, {"error": failure.error, "message": failure.message})
                return
        else:
            output = dict(thread.vars)
    finish_run(ctx, "completed", output=output)


def fail_state(
    ctx: Context,
    thread: Thread,
    state: State,
    error: str,
    message: str,
    attempts: int = 1,
    details: Any = None,
) -> None:
    """``state`` failed: a parallel, map or subflow with a ``retry`` for the
    error runs again; else its first matching ``catch`` decides, else the
    thread fails. (A task's own retry is decided before it gets here.)"""
    path = thread.path(state.name)
    if (
        isinstance(state, ParallelState | MapState | SubflowState)
        and state.retry
        and retries.schedule_retry(ctx, thread, state, thread.visit_path(state.name), error, path)
    ):
        thread.fork = None
        thread.child = None
        return
    described: dict[str, Any] = {"error": error, "message": message}
    if details is not None:
        described["details"] = details
    for number, catch in enumerate(getattr(state, "catch", ()), start=1):
        if not catch.matches(error):
            continue
        if catch.when is not None:
            seen = {
                "error": error,
                "message": message,
                "details": {} if details is None else details,
            }
            try:
                if not ctx.evaluate(catch.when, thread, path, {"error": seen}):
                    continue
            except Failure as failure:
                # Not caught again: the same entry would fail the same way.
                fail_thread(
                    ctx,
                    thread,
                    {
                        "error": failure.error,
                        "message": f"catch entry {number}'s when: {failure.message}",
                    },
                )
                return
        reset(thread)
        if catch.as_ is not None:
            value = {"error": error, "message": message, "attempts": attempts, "state": path}
            if details is not None:
                value["details"] = details
            try:
                ctx.write(thread, catch.as_, value, path)
            except Failure as failure:
                fail_thread(ctx, thread, {"error": failure.error, "message": failure.message})
                return
        if catch.next:
            thread.at = catch.next
        else:
            end_thread(ctx, thread, None, explicit=False)
        return
    fail_thread(ctx, thread, described)


def fail_thread(ctx: Context, thread: Thread, error: Mapping[str, Any]) -> None:
    if thread.is_root:
        fail_run(ctx, error)
    else:
        forks.child_failed(ctx, thread, error)


def fail_run(ctx: Context, error: Mapping[str, Any]) -> None:
    """An uncaught failure at the top. With ``compensate_on_failure`` every
    recorded undo (of every thread still alive too) runs first."""
    ctx.closing = "failed"
    root = ctx.state.root
    if (
        root is not None
        and ctx.workflow.compensate_on_failure
        and error.get("error") != "CompensationFailed"
        and root.comp is None
    ):
        entries = collect_all_undo(ctx, root)
        if entries:
            reset(root)
            compensation.begin(ctx, root, entries, {"fail": dict(error)})
            return
    finish_run(ctx, "failed", error=error)


def collect_all_undo(ctx: Context, root: Thread) -> list[dict[str, Any]]:
    """Cancel every thread but the root (their undo logs join the root's) and
    cancel the root's own call; the root's log, now holding everything."""
    for thread in [t for t in ctx.threads.values() if t.parent == root.id]:
        cancel_thread(ctx, thread, root.undo)
    cancel_call(ctx, root)
    entries = root.undo
    root.undo = []
    return entries


def finish_run(
    ctx: Context,
    status: str,
    *,
    output: Any = None,
    error: Mapping[str, Any] | None = None,
    reason: str | None = None,
) -> None:
    ctx.closing = status
    root = ctx.state.root
    if root is not None:
        for thread in [t for t in ctx.threads.values() if t.parent == root.id]:
            cancel_thread(ctx, thread, None)
        cancel_call(ctx, root)
        ctx.final_vars = root.vars
    ctx.threads.clear()
    if status != "completed":
        # Children started with `wait: false` end with a parent that did not
        # complete (one that completed meant them to run on their own).
        for child_id in ctx.state.detached:
            cancel_child(ctx, child_id, status)
    ctx.state.detached = []
    ctx.status = status
    ctx.ended_at = ctx.now
    if status == "completed":
        ctx.output = output
        ctx.event("run_completed", None, {"output": output})
    elif status == "failed":
        failure: dict[str, Any] = {
            "error": error.get("error") if error else "Error",
            "message": error.get("message") if error else "",
        }
        if error and error.get("details") is not None:
            failure["details"] = error["details"]
        ctx.error = failure
        ctx.event("run_failed", None, dict(ctx.error))
    else:
        ctx.event("run_cancelled", None, {"reason": reason} if reason else {})


def cancel_call(ctx: Context, thread: Thread) -> None:
    """Stop waiting for the thread's call in flight (its outcome is then
    ignored), or for the child run it waits on (cancelled, unless its
    subflow says ``parent_close: abandon``)."""
    if thread.call is not None:
        ctx.command(CancelAction(call_id=thread.call["id"]))
        thread.call = None
    if thread.ph == "child" and thread.child is not None:
        state = ctx.state_of(thread)
        if isinstance(state, SubflowState) and state.parent_close == "cancel":
            cancel_child(ctx, thread.child["id"], ctx.closing)
        thread.child = None


def cancel_child(ctx: Context, child_id: str, why: str | None) -> None:
    """Ask the running child run ``child_id`` to cancel (a control request in
    its inbox; nothing happens if it has ended already). ``why``: how the
    parent ends (None: only the branch waiting for the child was given up)."""
    reason = (
        f"its parent run '{ctx.run.id}' {why}"
        if why
        else f"its parent run '{ctx.run.id}' stopped waiting for it"
    )
    ctx.outbox.append(
        InboxMessage(
            run_id=child_id,
            channel=CONTROL_CHANNEL,
            data={"op": "cancel", "reason": reason},
            sent_at=ctx.now,
        )
    )


def cancel_thread(ctx: Context, thread: Thread, undo_into: list[dict[str, Any]] | None) -> None:
    """Remove ``thread`` and everything it forked. ``undo_into``: where their
    undo entries go (None: dropped, as for the losers of ``join: any``)."""
    for kid in [t for t in ctx.threads.values() if t.parent == thread.id]:
        cancel_thread(ctx, kid, undo_into)
    cancel_call(ctx, thread)
    if undo_into is not None:
        undo_into.extend(thread.undo)
        if thread.comp is not None:
            undo_into.extend(thread.comp["todo"])
    ctx.threads.pop(thread.id, None)
