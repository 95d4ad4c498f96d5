"""Starter documents for "new workflow" (``POST /api/files``)."""

from __future__ import annotations

from dataclasses import dataclass

__all__ = ["STARTERS", "Starter"]


@dataclass(frozen=True, slots=True)
class Starter:
    title: str
    body: str

    def text(self, name: str) -> str:
        """The document, named after its file (``name`` is a file stem, made a safe YAML scalar)."""
        safe = "".join(ch if ch.isalnum() or ch in "-_" else "-" for ch in name) or "workflow"
        return self.body.replace("NAME", safe)


STARTERS: dict[str, Starter] = {
    "blank": Starter(
        "One task, then done",
        """\
wfdsl: "1"
name: NAME
description: What this workflow does.

start: first
states:
  first:
    type: task
    action: noop
    next: done

  done:
    type: succeed
""",
    ),
    "approval": Starter(
        "Wait for an approval signal, with a timeout",
        """\
wfdsl: "1"
name: NAME
description: Ask for approval and wait for the answer, at most a day.

signals:
  approved: {}

start: ask
states:
  ask:
    type: task
    action: log
    args: {message: "approval requested"}
    next: wait_for_approval

  wait_for_approval:
    type: wait
    any:
      - signal: approved
        next: done
      - timer: 1d
        next: timed_out

  done:
    type: succeed

  timed_out:
    type: fail
    error: TimedOut
""",
    ),
}
