"""parallel and map: forking threads, joining them, failing them together.

Each branch / iteration is a :class:`Thread` whose ``vars`` start as the
forking thread's vars (shared, never changed in place: writes copy along
their path). Thread ids are path prefixes: ``fan_out/notify``, ``lines[3]``.

Decisions: the result of ``join: any`` / ``{count: N}`` holds only the
branches that completed; a map's result lists outputs in item order. Undo
entries of branches that completed or failed, and of branches cancelled
because a sibling failed, join the forking thread's log (a saga must undo
them too); the branches cancelled because the join was already satisfied
are dropped with their entries (docs/reference.md §2: their undo actions are not run).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from wfdsl.dsl.model import MapState, ParallelState

from . import flow
from .context import Context
from .run_state import Thread
from .scope import Failure

__all__ = ["child_done", "child_failed", "enter_map", "enter_parallel"]


def _prefix(thread: Thread) -> str:
    return f"{thread.id}/" if thread.id else ""


def _first_attempt(ctx: Context, thread: Thread, state: ParallelState | MapState) -> None:
    """Count the visit and start attempt 1, unless this is a retry's re-entry."""
    if thread.att == 0:
        thread.visits[state.name] = thread.visits.get(state.name, 0) + 1
        thread.att = 1
        thread.t0 = ctx.now


def _kid_key_path(
    thread: Thread, state: ParallelState | MapState, kid_id: str, tail: str
) -> str | None:
    """The kid's key path (see ``Thread.kp``): the state's visit path, ``@attempt``
    from the second attempt on, then the branch or index; None when that is the id."""
    key = thread.visit_path(state.name)
    if thread.att > 1:
        key = f"{key}@{thread.att}"
    key += tail
    return None if key == kid_id else key


def _scope_key(thread: Thread, *parts: str) -> str:
    return "/".join(p for p in (thread.sk, *parts) if p)


def enter_parallel(ctx: Context, thread: Thread, state: ParallelState) -> None:
    _first_attempt(ctx, thread, state)
    kids: list[str] = []
    thread.ph = "fork"
    thread.fork = {"kids": kids, "out": {}, "n": 0, "need": state.join.needed(len(state.branches))}
    for branch in state.branches:
        kid = Thread(
            f"{_prefix(thread)}{state.name}/{branch.name}",
            parent=thread.id,
            sk=_scope_key(thread, state.name, branch.name),
            key=branch.name,
            at=branch.scope.start,
            vars=thread.vars,
            bind=thread.bind,
        )
        kid.kp = _kid_key_path(thread, state, kid.id, f"/{branch.name}")
        ctx.threads[kid.id] = kid
        kids.append(kid.id)
        ctx.event("branch_started", kid.id, {"branch": branch.name})
    if thread.fork["need"] <= 0:
        _join(ctx, thread, state)


def enter_map(ctx: Context, thread: Thread, state: MapState) -> None:
    _first_attempt(ctx, thread, state)
    path = thread.path(state.name)
    try:
        items = ctx.evaluate(state.items, thread, path)
        if not isinstance(items, list):
            raise ctx.expression_failure(path, f"items must be a list, got {type(items).__name__}")
    except Failure as failure:
        flow.fail_state(ctx, thread, state, failure.error, failure.message)
        return
    thread.ph = "fork"
    thread.fork = {
        "kids": [],
        "out": [None] * len(items),
        "n": 0,
        "need": len(items),
        "next": 0,
        "items": items,
    }
    if not items:
        _join(ctx, thread, state)
        return
    limit = state.concurrency if state.concurrency > 0 else len(items)
    for _ in range(min(limit, len(items))):
        _start_iteration(ctx, thread, state)


def _start_iteration(ctx: Context, thread: Thread, state: MapState) -> None:
    fork = thread.fork
    assert fork is not None
    index = fork["next"]
    fork["next"] = index + 1
    bind = {**(thread.bind or {}), state.as_: fork["items"][index], "index": index}
    kid = Thread(
        f"{_prefix(thread)}{state.name}[{index}]",
        parent=thread.id,
        sk=_scope_key(thread, state.name),
        key=index,
        at=state.do.start,
        vars=thread.vars,
        bind=bind,
    )
    kid.kp = _kid_key_path(thread, state, kid.id, f"[{index}]")
    ctx.threads[kid.id] = kid
    fork["kids"].append(kid.id)
    ctx.event("branch_started", kid.id, {"index": index})


def child_done(ctx: Context, kid: Thread, output: Any) -> None:
    """A branch or iteration ended with ``output``: record it, maybe join."""
    parent = ctx.threads[kid.parent or ""]
    state = ctx.state_of(parent)
    assert isinstance(state, ParallelState | MapState) and parent.fork is not None
    fork = parent.fork
    ctx.threads.pop(kid.id, None)
    fork["kids"].remove(kid.id)
    parent.undo.extend(kid.undo)
    fork["out"][kid.key] = output
    fork["n"] += 1
    ctx.event("branch_completed", kid.id, {"output": output})
    if isinstance(state, MapState) and fork["next"] < len(fork["items"]):
        _start_iteration(ctx, parent, state)
    if fork["n"] >= fork["need"]:
        _join(ctx, parent, state)


def _join(ctx: Context, thread: Thread, state: ParallelState | MapState) -> None:
    fork = thread.fork
    assert fork is not None
    for kid_id in list(fork["kids"]):
        kid = ctx.threads.get(kid_id)
        if kid is not None:
            flow.cancel_thread(ctx, kid, None)
    result: Any = fork["out"]
    if isinstance(state, MapState) and _tolerates(state):
        result = {"outputs": result, "failures": fork.get("failed", [])}
    elif isinstance(result, Mapping):
        # Branch outputs in document order, whatever order they finished in.
        names = [b.name for b in state.branches] if isinstance(state, ParallelState) else []
        result = {name: result[name] for name in names if name in result}
    flow.complete_state(
        ctx,
        thread,
        state,
        extra={"result": result},
        first=(state.result, result) if state.result is not None else None,
    )


def _tolerates(state: MapState) -> bool:
    return state.tolerated_failures is not None or state.tolerated_percent is not None


def _within_tolerance(state: MapState, failed: int, total: int) -> bool:
    if state.tolerated_failures is not None:
        return failed <= state.tolerated_failures
    assert state.tolerated_percent is not None
    return failed * 100 <= state.tolerated_percent * total


def child_failed(ctx: Context, kid: Thread, error: Mapping[str, Any]) -> None:
    """A branch failed: cancel its siblings, fail the fork state (its catch).

    An iteration of a map with ``tolerated_failures`` that stays within the
    bound is recorded as a failure of the map's result instead, and the map
    goes on."""
    parent = ctx.threads[kid.parent or ""]
    state = ctx.state_of(parent)
    fork = parent.fork
    assert fork is not None
    ctx.threads.pop(kid.id, None)
    parent.undo.extend(kid.undo)
    ctx.event("branch_completed", kid.id, {"error": dict(error)})
    name, message = str(error.get("error")), str(error.get("message", ""))
    if isinstance(state, MapState) and _tolerates(state):
        failed = fork.setdefault("failed", [])
        failed.append({"index": kid.key, "error": name, "message": message})
        total = len(fork["items"])
        if _within_tolerance(state, len(failed), total):
            fork["kids"].remove(kid.id)
            fork["n"] += 1
            if fork["next"] < total:
                _start_iteration(ctx, parent, state)
            if fork["n"] >= fork["need"]:
                _join(ctx, parent, state)
            return
        bound = (
            f"{state.tolerated_failures}"
            if state.tolerated_failures is not None
            else f"{state.tolerated_percent:g}%"
        )
        name, message = (
            "ToleratedFailuresExceeded",
            f"{len(failed)} of {total} iterations failed, more than the {bound} tolerated; "
            f"item {kid.key}: {name}: {message}",
        )
    for kid_id in list(fork["kids"]):
        sibling = ctx.threads.get(kid_id)
        if sibling is not None and sibling is not kid:
            flow.cancel_thread(ctx, sibling, parent.undo)
    parent.undo.sort(key=lambda entry: entry["seq"])
    flow.fail_state(ctx, parent, state, name, message, details=error.get("details"))
