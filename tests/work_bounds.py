"""Bounds on work that hold on any machine, however loaded.

A test that asserts ``elapsed < 1.0`` fails when something else holds the
cores; what such a test means is "this does a bounded amount of work, not a
hang or an explosion". :func:`measure_work` counts that work instead: the
function calls made (Python and C, through ``sys.setprofile``, in this thread
and in threads started meanwhile) and the peak of memory allocated
(``tracemalloc``). Both are the same on a quiet and on a busy machine.

Counting calls slows the measured code down by about a half, tracing memory
by several times: pass ``memory=False`` where only the calls matter.
"""

from __future__ import annotations

import sys
import threading
import tracemalloc
from collections.abc import Callable
from dataclasses import dataclass
from types import FrameType
from typing import Any, TypeVar

__all__ = ["Work", "measure_work"]

T = TypeVar("T")


@dataclass(frozen=True, slots=True)
class Work:
    """What one call did: ``calls`` function calls, ``peak_bytes`` allocated at most."""

    calls: int
    peak_bytes: int

    @property
    def peak_mib(self) -> float:
        return self.peak_bytes / 2**20

    def __str__(self) -> str:
        return f"{self.calls:,} calls, peak {self.peak_mib:.1f} MiB"


def measure_work(fn: Callable[[], T], *, memory: bool = True) -> tuple[T, Work]:
    """Call ``fn``; return its result and the work it took (``peak_bytes``
    is 0 unless ``memory``). An exception from ``fn`` propagates."""
    calls = 0
    lock = threading.Lock()

    def count(frame: FrameType, event: str, arg: Any) -> None:
        nonlocal calls
        if event == "call" or event == "c_call":
            with lock:
                calls += 1

    tracing = tracemalloc.is_tracing()
    if memory and not tracing:
        tracemalloc.start()
    if memory:
        tracemalloc.reset_peak()
    threading.setprofile(count)
    sys.setprofile(count)
    try:
        result = fn()
    finally:
        sys.setprofile(None)
        threading.setprofile(None)  # type: ignore[arg-type]
        peak = tracemalloc.get_traced_memory()[1] if memory else 0
        if memory and not tracing:
            tracemalloc.stop()
    return result, Work(calls=calls, peak_bytes=peak)
