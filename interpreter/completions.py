"""Completing callback tokens from outside a run (``Engine.complete``).

A completion (or heartbeat) is a message in the run's durable inbox on the
internal callback channel, the path signals take: durable once sent, applied
by whichever process drives the run (``machine/callbacks.py``). Before it
is sent, the token is checked against the run as stored, so that a token
that was never issued, was completed already or went stale is refused with
an error saying which, and nothing is sent. (Two completions racing within
the same instant may both pass the check; the run applies the first and
records the other as ``callback_refused``.)
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from wfdsl.errors import CallbackNotFound, CallbackRefused, WfdslError

from .machine import callbacks
from .machine.limits import MAX_PAYLOAD_BYTES, json_size, payload_size_error
from .run_ids import storable
from .store.errors import RunNotActive
from .store.protocol import Store
from .store.records import RunRow

__all__ = ["send_completion"]


def send_completion(store: Store, token: str, data: dict[str, Any], *, now: float) -> str:
    """Send ``data`` (``op`` complete or heartbeat) for ``token``; the run id.
    ``CallbackNotFound`` or ``CallbackRefused`` when it may not be sent."""
    run_id = callbacks.run_of_token(token) if isinstance(token, str) else None
    shown = _shown(token)
    if run_id is None or not storable(run_id):
        raise CallbackNotFound(f"{shown} is not a callback token (wfcb1.<run>.<32 digits>)")
    row = store.get_run(run_id)
    if row is None:
        raise CallbackNotFound(f"no callback token {shown}: its run {run_id!r} does not exist")
    size = json_size(data, MAX_PAYLOAD_BYTES)
    if size > MAX_PAYLOAD_BYTES:
        raise WfdslError(payload_size_error("a callback completion", size))
    digest = callbacks.digest(token)
    refusal = _refusal(store, row, digest)
    if refusal is not None:
        raise refusal
    try:
        store.send(run_id, callbacks.CALLBACK_CHANNEL, {**data, "id": digest}, now=now)
    except RunNotActive as exc:
        raise CallbackRefused(
            f"callback token of run {run_id!r} is stale: the run has ended ({exc.status})"
        ) from None
    return run_id


def _refusal(store: Store, row: RunRow, digest: str) -> WfdslError | None:
    """Why the token ``digest`` of ``row`` may not be completed now (None: it may)."""
    shown = f"callback token of run {row.id!r}"
    if digest in callbacks.pending(row.state):
        queued = any(
            m.channel == callbacks.CALLBACK_CHANNEL
            and isinstance(m.data, Mapping)
            and m.data.get("id") == digest
            and m.data.get("op") == "complete"
            for m in store.inbox(row.id)
        )
        if not queued:
            return None
        return CallbackRefused(f"{shown} was already completed (its completion is on its way)")
    issued = finished = False
    for execution in store.executions(row.id):
        for event in store.history(row.id, execution=execution.execution):
            if event.data.get("id") != digest:
                continue
            if event.type == "callback_issued":
                issued = True
            elif event.type in ("callback_completed", "callback_failed"):
                finished = True
    if finished:
        return CallbackRefused(f"{shown} was already completed; a token completes once")
    if issued:
        return CallbackRefused(
            f"{shown} is stale: the attempt it was issued to no longer waits for it "
            f"(it timed out, was retried or cancelled, or the run is {row.status})"
        )
    return CallbackNotFound(f"no such {shown}: it was never issued")


def _shown(token: object) -> str:
    """A token as an error message shows it, cut short."""
    text = token if isinstance(token, str) else repr(token)
    return repr(text if len(text) <= 80 else text[:77] + "...")
