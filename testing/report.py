"""Plain-text pictures of a failed case: a diff per expectation, the history around it.

Shared by ``wfdsl test`` (which colours the lines by their first character)
and the pytest plugin.
"""

from __future__ import annotations

import difflib
import json
from typing import Any

from .expectations import Failure
from .runner import CaseResult

__all__ = ["CONTEXT", "diff_lines", "failure_lines", "history_excerpt"]

CONTEXT = 3  # history events shown on each side of a divergence


def diff_lines(expected: Any, actual: Any) -> list[str]:
    """A unified diff of the two as indented JSON: ``-`` expected, ``+`` actual."""
    want = json.dumps(expected, indent=2, ensure_ascii=False, sort_keys=True, default=str)
    got = json.dumps(actual, indent=2, ensure_ascii=False, sort_keys=True, default=str)
    if "\n" not in want and "\n" not in got:
        return [f"- expected: {want}", f"+ actual:   {got}"]
    lines = list(
        difflib.unified_diff(
            want.splitlines(), got.splitlines(), "expected", "actual", lineterm="", n=2
        )
    )
    return lines[2:] if len(lines) > 2 else lines


def history_excerpt(result: CaseResult, seq: int) -> list[str]:
    """The events around ``seq``, the one at ``seq`` marked with ``>``."""
    history = result.history
    index = next((i for i, e in enumerate(history) if e.seq >= seq), len(history) - 1)
    start = result.run.started_at if result.run else 0.0
    out = []
    for event in history[max(0, index - CONTEXT) : index + CONTEXT + 1]:
        mark = ">" if event.seq == seq else " "
        data = json.dumps(dict(event.data), ensure_ascii=False, default=str)
        if len(data) > 100:
            data = data[:97] + "..."
        at = f"+{event.time - start:g}s"
        out.append(f"{mark} {event.seq:>4} {at:>9} {event.type:<17} {event.state or '-'} {data}")
    return out


def failure_lines(result: CaseResult, failure: Failure) -> list[str]:
    """One failure as text: what, the diff (``-`` expected, ``+`` actual), the history."""
    out = [f"{failure.what}: {failure.message}"]
    if failure.expected is not None or failure.actual is not None:
        out += ["  " + line for line in diff_lines(failure.expected, failure.actual)]
    if failure.seq is not None and result.history:
        out.append(f"  history around seq {failure.seq}:")
        out += ["  " + line for line in history_excerpt(result, failure.seq)]
    return out
