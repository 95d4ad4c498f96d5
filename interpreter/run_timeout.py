"""What a wait for a run's end that timed out says: why the run did not end.

``Engine.run_until_complete(run_id, timeout=...)`` raises ``TimeoutError``
when the run is still going on after ``timeout`` seconds. "did not end within
5s" alone reads as a slow run; most often it is not slow at all but waiting:
for a worker that has the action its call names (capability routing), for a
signal, a timer, a child run. The message says which, from the run's
positions.
"""

from __future__ import annotations

from .machine.positions import Position, WaitFor
from .run_view import Run

__all__ = ["did_not_end"]


def did_not_end(run: Run, timeout: float) -> str:
    """``run 'r1' did not end within 5s: it is at state 'charge', whose call
    is still queued for a worker with action 'payments.charge' (...)``."""
    head = f"run {run.id!r} did not end within {timeout:g}s"
    positions = run.positions()
    if run.needs_action is not None:
        at = next((p.state for p in positions if p.action == run.needs_action), None)
        where = f"it is at state {at!r}, whose call" if at else "its next call"
        return (
            f"{head}: {where} is still queued for a worker with action "
            f"{run.needs_action!r} (this process does not have it, and no worker that has "
            "it has taken the call); start one with that action, e.g. "
            "`wfdsl worker --actions MODULE`"
        )
    doing = "; ".join(_position(p) for p in positions)
    return f"{head}: it is {run.status}" + (f" ({doing})" if doing else "")


def _position(position: Position) -> str:
    where = f"state {position.state!r}"
    if position.waiting_for is not None:
        return f"{where} for {_wait(position.waiting_for)}"
    if position.action is not None:
        return f"{where}, action {position.action!r}"
    if position.child is not None:
        return f"{where}, child run {position.child!r}"
    return f"{where}, {position.phase}"


def _wait(node: WaitFor) -> str:
    if node.kind == "signal":
        many = f"{node.count} messages on " if node.count > 1 else ""
        return f"{many}signal {node.channel!r}"
    if node.kind in ("timer", "until"):
        return "a timer"
    joined = ", ".join(_wait(alt) for alt in node.alternatives if not alt.done)
    words = {"any": "any of", "all": "all of"}.get(node.kind, f"{node.count} of")
    return f"{words} [{joined}]"
