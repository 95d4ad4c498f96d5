"""Callback tokens: a task that waits for the outside world to complete it.

A task with ``callback`` issues a token when an attempt starts (its ``args``
read it as ``token``); once the action returns, the thread waits (phase
``cb``) until a completion for that token is in the run's inbox, on the
internal channel :data:`CALLBACK_CHANNEL` (``Engine.complete`` writes it:
the durable inbox is the only delivery path). A completion's output is the
task's result; a failure completion is the task's error, retried and caught
as an action's. A heartbeat message moves the heartbeat deadline on.

A token is ``wfcb1.<run id, base64url>.<32 hex digits>``. The digits come
from the entropy the engine passes each transition (random bytes) with the
run id and call id, so a token cannot be guessed from anything stored; the
run keeps only a digest of it (``call["cb"]["d"]``, ``thread.cb["d"]``), and
a token is pending only while its attempt waits: bound to the run's
execution, the state, the visit and the attempt. A completion for a token
nobody waits for any more is consumed and recorded as ``callback_refused``.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
from collections.abc import Mapping
from typing import Any

from .context import Context
from .run_state import Thread

__all__ = [
    "CALLBACK_CHANNEL",
    "digest",
    "new_token",
    "pending",
    "poll",
    "run_of_token",
    "sweep",
    "wait_for_completion",
]

#: Completions and heartbeats of callback tokens travel on this internal channel.
CALLBACK_CHANNEL = "__callback__"

_PREFIX = "wfcb1"


def new_token(ctx: Context, call_id: str) -> str:
    """A fresh token for the call ``call_id`` of this run."""
    seed = hashlib.sha256(
        ctx.entropy + f"\x00{ctx.run.id}\x00{ctx.run.started_at!r}\x00{call_id}".encode()
    ).hexdigest()[:32]
    run = base64.urlsafe_b64encode(ctx.run.id.encode()).rstrip(b"=").decode()
    return f"{_PREFIX}.{run}.{seed}"


def digest(token: str) -> str:
    """What the run keeps of a token: enough to recognise it, not to forge it."""
    return hashlib.sha256(token.encode("utf-8", "surrogatepass")).hexdigest()[:32]


def run_of_token(token: str) -> str | None:
    """The run id a token names, or None when it is not a token at all."""
    parts = token.split(".")
    if len(parts) != 3 or parts[0] != _PREFIX or len(parts[2]) != 32:
        return None
    try:
        padded = parts[1] + "=" * (-len(parts[1]) % 4)
        return base64.urlsafe_b64decode(padded.encode("ascii")).decode("utf-8")
    except (binascii.Error, UnicodeError, ValueError):
        return None


def pending(state: Mapping[str, Any]) -> set[str]:
    """Digests of the tokens a run's machine state still waits on (issued to
    a call in flight, or waited for after it)."""
    found: set[str] = set()
    for thread in state.get("threads", ()):
        cb = thread.get("cb")
        if isinstance(cb, Mapping) and isinstance(cb.get("d"), str):
            found.add(cb["d"])
        call = thread.get("call")
        issued = call.get("cb") if isinstance(call, Mapping) else None
        if isinstance(issued, Mapping) and isinstance(issued.get("d"), str):
            found.add(issued["d"])
    return found


def wait_for_completion(ctx: Context, thread: Thread, call: Mapping[str, Any]) -> None:
    """The action of a callback task returned: wait for its token."""
    issued = call["cb"]
    thread.ph = "cb"
    thread.cb = {
        "d": issued["d"],
        "att": call["attempt"],
        "t0": issued["t0"],
        "beat": issued["t0"],
    }
    for key in ("timeout", "heartbeat"):
        if issued.get(key) is not None:
            thread.cb[key] = issued[key]


def _lapsed(cb: Mapping[str, Any], at: float) -> tuple[str, str] | None:
    """The error of a wait whose deadline had passed at ``at``, or None."""
    timeout = cb.get("timeout")
    if timeout is not None and at >= cb["t0"] + timeout:
        return "Timeout", f"its callback token was not completed within {timeout:g}s"
    heartbeat = cb.get("heartbeat")
    if heartbeat is not None and at >= cb["beat"] + heartbeat:
        return (
            "HeartbeatTimeout",
            f"no heartbeat or completion of its callback token for {heartbeat:g}s",
        )
    return None


def _next_deadline(cb: Mapping[str, Any]) -> float | None:
    dues = []
    if cb.get("timeout") is not None:
        dues.append(cb["t0"] + cb["timeout"])
    if cb.get("heartbeat") is not None:
        dues.append(cb["beat"] + cb["heartbeat"])
    return min(dues) if dues else None


def poll(ctx: Context, thread: Thread) -> bool:
    """Apply the heartbeats and the completion waiting in the inbox, in the
    order they were sent; a deadline that passed before a message was sent
    fails the task first. True when the wait ended."""
    from . import tasks  # tasks imports this module

    cb = thread.cb
    assert cb is not None
    path = thread.path(thread.at or "")
    for message in ctx.unconsumed(CALLBACK_CHANNEL):
        data = message.data
        if not isinstance(data, Mapping) or data.get("id") != cb["d"]:
            continue
        if _lapsed(cb, message.sent_at) is not None:
            break  # too late: the deadline failed the task before this was sent
        ctx.consume(message.seq)
        if data.get("op") == "heartbeat":
            cb["beat"] = max(cb["beat"], message.sent_at)
            ctx.event("callback_heartbeat", path, {"id": cb["d"], "seq": message.seq})
            continue
        attempt = cb["att"]
        thread.cb = None
        thread.due = None
        if data.get("error") is None:
            output = data.get("output")
            ctx.event(
                "callback_completed",
                path,
                {"id": cb["d"], "seq": message.seq, "attempt": attempt, "output": output},
            )
            tasks.succeed(ctx, thread, output, attempt)
            return True
        failed: dict[str, Any] = {
            "id": cb["d"],
            "seq": message.seq,
            "attempt": attempt,
            "error": str(data["error"]),
            "message": str(data.get("message") or ""),
        }
        if data.get("details") is not None:
            failed["details"] = data["details"]
        ctx.event("callback_failed", path, failed)
        tasks.fail(ctx, thread, failed["error"], failed["message"], attempt, data.get("details"))
        return True
    lapsed = _lapsed(cb, ctx.now)
    if lapsed is not None:
        error, why = lapsed
        attempt = cb["att"]
        ctx.event("callback_timed_out", path, {"id": cb["d"], "attempt": attempt, "error": error})
        thread.cb = None
        thread.due = None
        text = f"run '{ctx.run.id}' state '{path}' attempt {attempt}: {why}"
        tasks.fail(ctx, thread, error, text, attempt, None)
        return True
    thread.due = _next_deadline(cb)
    return False


def sweep(ctx: Context) -> None:
    """Consume completions and heartbeats for tokens nobody waits on any more
    (completed already, timed out, retried, cancelled): ``callback_refused``."""
    if not ctx.inbox:
        return
    live = pending({"threads": [{"cb": t.cb, "call": t.call} for t in ctx.threads.values()]})
    for message in ctx.unconsumed(CALLBACK_CHANNEL):
        data = message.data
        token = data.get("id") if isinstance(data, Mapping) else None
        if token in live:
            continue
        ctx.consume(message.seq)
        ctx.event("callback_refused", None, {"id": token, "seq": message.seq, "reason": "stale"})
