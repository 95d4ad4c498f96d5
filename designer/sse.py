"""The live overlay of a run: state statuses from its history, pushed as Server-Sent Events.

The store has no notifications, so the stream polls: one run row per tick
and the history events after the last one sent (``Engine.history(after=)``
reads only those), each read in a worker thread. Each message carries the whole overlay (run_overlay.py).
A tick that finds nothing new sends nothing; a comment line every
``keepalive`` seconds keeps proxies and the browser awake.
"""

from __future__ import annotations

import asyncio
import functools
import json
from collections.abc import AsyncIterator, Callable
from typing import Any, TypeVar

import anyio
from wfdsl.interpreter.engine import Engine

from .run_inspect import failure_of
from .run_overlay import Overlay, event_json

__all__ = ["event_stream"]

FINAL = frozenset({"completed", "failed", "cancelled"})

T = TypeVar("T")


def _message(event: str, data: Any, seq: int) -> str:
    return f"id: {seq}\nevent: {event}\ndata: {json.dumps(data, default=str)}\n\n"


async def event_stream(
    engine: Engine,
    run_id: str,
    *,
    after: int | None = None,
    poll: float = 0.25,
    keepalive: float = 15.0,
    limiter: anyio.CapacityLimiter | None = None,
) -> AsyncIterator[str]:
    """``snapshot``, then ``delta`` whenever something changed, then ``end``.
    The engine is read in worker threads (``limiter``), never on the loop."""

    async def read(fn: Callable[..., T], *args: Any, **kwargs: Any) -> T:
        call = functools.partial(fn, *args, **kwargs)
        return await anyio.to_thread.run_sync(call, limiter=limiter)

    history = await read(engine.history, run_id)
    run = await read(engine.get, run_id)
    overlay = Overlay()
    overlay.feed(history)
    seq = history[-1].seq if history else 0
    yield _message(
        "snapshot",
        {
            "run": run.to_json(),
            "states": overlay.statuses(),
            "overlay": overlay.to_json(),
            "seq": seq,
        },
        seq,
    )
    if after is not None and after < seq:
        missed = [event_json(e) for e in history if e.seq > after]
        yield _message(
            "delta",
            {
                "run": run.to_json(),
                "states": {},
                "overlay": overlay.to_json(),
                "events": missed,
                "seq": seq,
            },
            seq,
        )
    quiet = 0.0
    last_status = run.status
    while run.status not in FINAL:
        await asyncio.sleep(poll)
        run = await read(engine.get, run_id)
        new = await read(engine.history, run_id, after=seq)
        if not new and run.status == last_status:
            quiet += poll
            if quiet >= keepalive:
                quiet = 0.0
                yield ": ping\n\n"
            continue
        quiet = 0.0
        last_status = run.status
        changed = overlay.feed(new)
        if new:
            seq = new[-1].seq
        statuses = overlay.statuses()
        yield _message(
            "delta",
            {
                "run": run.to_json(),
                "states": {node: statuses[node] for node in sorted(changed) if node in statuses},
                "overlay": overlay.to_json(),
                "events": [event_json(e) for e in new],
                "seq": seq,
            },
            seq,
        )
    failure = (
        failure_of(await read(engine.history, run_id), run.error)
        if run.status == "failed"
        else None
    )
    yield _message(
        "end",
        {
            "run": run.to_json(),
            "states": overlay.statuses(),
            "overlay": overlay.to_json(),
            "failure": failure,
        },
        seq,
    )
