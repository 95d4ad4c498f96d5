"""Retries on durable timers: of a task's action, or of a whole parallel, map
or subflow state.

The policy for the error decides (its ``max_attempts``, ``max_duration``,
backoff and jitter); the delay waits on the thread's ``due`` time, so a crash
during it loses nothing and does not shorten it. ``thread.att`` counts the
state's attempts (1 for the first) and ``thread.t0`` holds when the first
began. The jitter is drawn from a hash of the run, the state's visit path and
the attempt, recorded in ``retry_scheduled``, so a replay waits the same.
"""

from __future__ import annotations

import hashlib

from wfdsl.dsl.model import MapState, ParallelState, SubflowState, TaskState

from .context import Context
from .run_state import Thread

__all__ = ["jitter", "schedule_retry"]

Retried = TaskState | ParallelState | MapState | SubflowState


def schedule_retry(
    ctx: Context, thread: Thread, state: Retried, vpath: str, error: str, path: str
) -> bool:
    """A durable retry timer when the policy for ``error`` allows another attempt."""
    policy = state.retry_policy_for(error)
    if policy is None or not policy.retries(error):
        return False
    if not policy.allows(thread.att):
        return False
    seed, fraction = jitter(ctx.run.id, vpath, thread.att)
    delay = policy.delay(thread.att, fraction)
    first = thread.t0 if thread.t0 is not None else ctx.now
    if policy.max_duration is not None and ctx.now + delay - first > policy.max_duration:
        return False
    thread.att += 1
    thread.due = ctx.now + delay
    thread.ph = "retry"
    ctx.event(
        "retry_scheduled",
        path,
        {"attempt": thread.att, "delay": delay, "due": thread.due, "seed": seed, "error": error},
    )
    return True


def jitter(run_id: str, vpath: str, attempt: int) -> tuple[int, float]:
    """The jitter seed for a retry (recorded in ``retry_scheduled``) and the
    fraction in [0, 1) drawn from it: a hash, so a replay draws the same."""
    digest = hashlib.blake2b(f"{run_id}/{vpath}/{attempt}".encode(), digest_size=4).digest()
    seed = int.from_bytes(digest, "big")
    return seed, seed / 2**32
