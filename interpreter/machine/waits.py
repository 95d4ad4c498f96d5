"""wait states: timers, deadlines, signals and their any/all/at_least trees.

The wait tree is numbered in pre-order (node 0 is the condition itself); a
thread in a wait keeps ``{"due": {node: time}, "done": [node...], "win":
{any-node: winning child}}``. A signal node completes only when ``count``
messages of its channel are there, and consumes them at that moment (its
``as`` is written then); a node that completed stays completed. Of the
alternatives of an ``any`` that can complete in one step, the one that was
ready first wins (a timer or deadline at its due time, a signal when the last
message it needs was sent, ``all`` when its last part was, ``at_least`` when
its ``count``-th was); on a tie a deadline (``until``) beats a timer, a timer
beats a message, then document order. The winner alone completes, so the
others consume nothing; ``at_least`` stops at ``count``.

The next state: the winning alternative's ``next`` (searched down through
nested ``any``), else the ``next`` of the combinator, else the state's.
"""

from __future__ import annotations

from typing import Any

from wfdsl.dsl.durations import parse_duration, parse_timestamp
from wfdsl.dsl.model import (
    AllWait,
    AnyWait,
    AtLeastWait,
    SignalWait,
    TimerWait,
    UntilWait,
    WaitNode,
    WaitState,
)

from . import flow
from .context import Context
from .run_state import Thread
from .scope import Failure

__all__ = ["enter", "next_due", "poll"]

_FLAT: dict[int, tuple[WaitNode, list[WaitNode], list[tuple[int, ...]]]] = {}


def _flatten(root: WaitNode) -> tuple[list[WaitNode], list[tuple[int, ...]]]:
    cached = _FLAT.get(id(root))
    if cached is not None and cached[0] is root:
        return cached[1], cached[2]
    nodes: list[WaitNode] = []
    kids: list[tuple[int, ...]] = []

    def walk(node: WaitNode) -> int:
        index = len(nodes)
        nodes.append(node)
        kids.append(())
        if isinstance(node, AnyWait | AllWait | AtLeastWait):
            kids[index] = tuple(walk(alt) for alt in node.alternatives)
        return index

    walk(root)
    if len(_FLAT) > 4096:
        _FLAT.clear()
    _FLAT[id(root)] = (root, nodes, kids)
    return nodes, kids


def enter(ctx: Context, thread: Thread, state: WaitState) -> None:
    nodes, _ = _flatten(state.condition)
    path = thread.path(state.name)
    due: dict[str, float] = {}
    try:
        for index, node in enumerate(nodes):
            if isinstance(node, TimerWait):
                due[str(index)] = ctx.now + _seconds(ctx, thread, path, node)
            elif isinstance(node, UntilWait):
                due[str(index)] = _at(ctx, thread, path, node)
    except Failure as failure:
        flow.fail_state(ctx, thread, state, failure.error, failure.message)
        return
    for node_key, at in due.items():
        ctx.event("timer_started", path, {"node": int(node_key), "due": at})
    thread.ph = "wait"
    thread.wait = {"due": due, "done": [], "win": {}}
    poll(ctx, thread)


def _seconds(ctx: Context, thread: Thread, path: str, node: TimerWait) -> float:
    if node.seconds is not None:
        return node.seconds
    assert node.seconds_expr is not None
    value = ctx.evaluate(node.seconds_expr, thread, path)
    try:
        if isinstance(value, bool):
            raise ValueError("a boolean is not a duration")
        return parse_duration(value)
    except (ValueError, TypeError) as exc:
        raise ctx.expression_failure(path, f"timer: {exc}") from None


def _at(ctx: Context, thread: Thread, path: str, node: UntilWait) -> float:
    if node.at is not None:
        return node.at
    assert node.at_expr is not None
    value = ctx.evaluate(node.at_expr, thread, path)
    if isinstance(value, int | float) and not isinstance(value, bool):
        return float(value)
    try:
        if not isinstance(value, str):
            raise ValueError(f"expected an ISO 8601 timestamp or epoch seconds, got {value!r}")
        return parse_timestamp(value).timestamp()
    except (ValueError, TypeError) as exc:
        raise ctx.expression_failure(path, f"until: {exc}") from None


def poll(ctx: Context, thread: Thread) -> bool:
    """Complete what can complete now; True when the whole wait completed."""
    state = ctx.state_of(thread)
    assert isinstance(state, WaitState) and thread.wait is not None
    nodes, kids = _flatten(state.condition)
    wait = thread.wait
    done: set[int] = set(wait["done"])
    path = thread.path(state.name)

    def complete(index: int) -> bool:
        if index in done:
            return True
        node = nodes[index]
        finished = False
        if isinstance(node, TimerWait | UntilWait):
            if ctx.now >= wait["due"][str(index)]:
                ctx.event("timer_fired", path, {"node": index, "due": wait["due"][str(index)]})
                finished = True
        elif isinstance(node, SignalWait):
            finished = _consume(ctx, thread, path, node, index)
        elif isinstance(node, AnyWait):
            ranked = sorted(
                (ready, position, kid)
                for position, kid in enumerate(kids[index])
                if (ready := _ready(ctx, nodes, kids, wait, done, kid)) is not None
            )
            if ranked and complete(ranked[0][2]):
                wait["win"][str(index)] = ranked[0][2]
                finished = True
        elif isinstance(node, AllWait):
            finished = all([complete(kid) for kid in kids[index]])
        else:
            count = 0
            for kid in kids[index]:
                if complete(kid):
                    count += 1
                    if count >= node.count:
                        finished = True
                        break
        if finished:
            done.add(index)
            wait["done"].append(index)
        return finished

    try:
        if not complete(0):
            return False
    except Failure as failure:
        flow.fail_state(ctx, thread, state, failure.error, failure.message)
        return True
    target = _resolve(nodes, kids, wait["win"], 0) or state.next
    flow.complete_state(ctx, thread, state, next_state=target)
    return True


#: Tie-breaks between alternatives ready at the same instant: a deadline is
#: the promise the author made ("by then"), so it beats a timer due with it;
#: time beats a message sent at that very instant.
_RANK_UNTIL, _RANK_TIMER, _RANK_MESSAGE = 0, 1, 2
_ALREADY = (float("-inf"), _RANK_UNTIL)


def _ready(
    ctx: Context,
    nodes: list[WaitNode],
    kids: list[tuple[int, ...]],
    wait: dict[str, Any],
    done: set[int],
    index: int,
) -> tuple[float, int] | None:
    """When node ``index`` could complete (time, tie rank), None if not now."""
    if index in done:
        return _ALREADY
    node = nodes[index]
    if isinstance(node, TimerWait | UntilWait):
        due = float(wait["due"][str(index)])
        if ctx.now < due:
            return None
        return (due, _RANK_UNTIL if isinstance(node, UntilWait) else _RANK_TIMER)
    if isinstance(node, SignalWait):
        sent = ctx.ready_since(node.channel, node.count)
        return None if sent is None else (sent, _RANK_MESSAGE)
    parts = [_ready(ctx, nodes, kids, wait, done, kid) for kid in kids[index]]
    ready = sorted(part for part in parts if part is not None)
    if isinstance(node, AnyWait):
        return ready[0] if ready else None
    needed = len(parts) if isinstance(node, AllWait) else node.count
    return ready[needed - 1] if len(ready) >= needed else None


def _consume(ctx: Context, thread: Thread, path: str, node: SignalWait, index: int) -> bool:
    taken = ctx.take(node.channel, node.count)
    if taken is None:
        return False
    for seq, _ in taken:
        ctx.event("signal_consumed", path, {"channel": node.channel, "seq": seq, "node": index})
    if node.as_ is not None:
        value: Any = taken[0][1] if node.count == 1 else [data for _, data in taken]
        ctx.write(thread, node.as_, value, path)
    return True


def _resolve(
    nodes: list[WaitNode], kids: list[tuple[int, ...]], win: dict[str, int], index: int
) -> str | None:
    node = nodes[index]
    if isinstance(node, AnyWait):
        winner = win.get(str(index))
        if winner is not None:
            found = _resolve(nodes, kids, win, winner)
            if found:
                return found
    return node.next


def next_due(thread: Thread) -> float | None:
    """The earliest timer of a waiting thread that has not fired."""
    wait = thread.wait
    if not wait:
        return None
    done = wait["done"]
    pending = [at for key, at in wait["due"].items() if int(key) not in done]
    return min(pending) if pending else None
