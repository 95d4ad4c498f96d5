"""Time as the engine sees it: the wall clock, or a virtual one for tests.

The engine never calls ``time.time()`` or ``asyncio.sleep()`` itself. It asks
its :class:`Clock` for ``now()`` and, when nothing is ready, awaits
``clock.wait(next_due, wake)``: that returns once ``next_due`` has come or
``wake`` (the engine's "something arrived" event) is set, whichever is first.

:class:`VirtualClock` only moves when told to (``advance``, ``advance_to``,
``skip_to_next``). ``Engine.run_until_complete`` on a virtual clock, finding
nothing ready, calls ``clock.skip_to_next(store.next_ready_at())`` and goes on;
waiters blocked in ``wait`` on any thread's loop are woken when time passes
their deadline.
"""

from __future__ import annotations

import asyncio
import contextlib
import math
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Protocol

from wfdsl.dsl.durations import format_duration, parse_duration, parse_timestamp

__all__ = [
    "DEFAULT_VIRTUAL_START",
    "Clock",
    "StoreClock",
    "SystemClock",
    "VirtualClock",
    "to_epoch",
]

#: Where a :class:`VirtualClock` starts unless told otherwise: 2025-01-01T00:00:00Z.
DEFAULT_VIRTUAL_START = datetime(2025, 1, 1, tzinfo=UTC).timestamp()

# A real wait sleeps in slices of at most this long and re-reads the wall
# clock, so a wall-clock jump (NTP step, resume from suspend, which the loop's
# monotonic timer does not count) delays a due timer by at most one slice.
_MAX_SLICE = 30.0


class Clock(Protocol):
    """The engine's source of time."""

    def now(self) -> float:
        """Current time as epoch seconds (UTC)."""
        ...

    async def wait(self, until: float | None, wake: asyncio.Event) -> None:
        """Return once ``now() >= until`` or ``wake`` is set, whichever comes
        first (``until=None``: only ``wake``). Never clears ``wake``. May return
        early; callers re-check what is due and call again."""
        ...


def to_epoch(moment: float | int | datetime | str) -> float:
    """Epoch seconds for a number, an aware or naive (UTC) datetime, or ISO text."""
    if isinstance(moment, bool):
        raise TypeError("a time must be epoch seconds, a datetime or ISO 8601 text, not a bool")
    if isinstance(moment, (int, float)):
        seconds = float(moment)
    elif isinstance(moment, datetime):
        aware = moment if moment.tzinfo is not None else moment.replace(tzinfo=UTC)
        seconds = aware.timestamp()
    elif isinstance(moment, str):
        seconds = parse_timestamp(moment).timestamp()
    else:
        raise TypeError(
            "a time must be epoch seconds, a datetime or ISO 8601 text, "
            f"not a {type(moment).__name__}"
        )
    if not math.isfinite(seconds):
        raise ValueError(f"a time must be finite, got {moment!r}")
    return seconds


def _iso(seconds: float) -> str:
    return datetime.fromtimestamp(seconds, UTC).isoformat().replace("+00:00", "Z")


class SystemClock:
    """The wall clock: ``time.time()``; waits sleep for real."""

    __slots__ = ()

    def now(self) -> float:
        """Current wall-clock time as epoch seconds."""
        return time.time()

    async def wait(self, until: float | None, wake: asyncio.Event) -> None:
        """Sleep until ``until`` (wall clock) or until ``wake`` is set."""
        while not wake.is_set():
            if until is None:
                await wake.wait()
                return
            remaining = until - time.time()
            if remaining <= 0:
                return
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(wake.wait(), min(remaining, _MAX_SLICE))

    def __repr__(self) -> str:
        return "SystemClock()"


class StoreClock:
    """The store's time (``Store.now``): what an engine on the wall clock
    reads, so that the leases, timers and history written by every worker
    of one store (on many machines) come from one clock, the database's.
    On SQLite (one host) that is the local wall clock; a server backend
    reads its server's. Waits re-read it, so a local clock that is off does
    not make a timer fire early or late. A :class:`VirtualClock` given to
    the engine overrides it (tests control time)."""

    __slots__ = ("_read",)

    def __init__(self, read: Callable[[], float]) -> None:
        self._read = read

    def now(self) -> float:
        """The store's current time as epoch seconds."""
        return self._read()

    async def wait(self, until: float | None, wake: asyncio.Event) -> None:
        """Sleep until the store's clock reads ``until`` or ``wake`` is set."""
        while not wake.is_set():
            if until is None:
                await wake.wait()
                return
            remaining = until - self._read()
            if remaining <= 0:
                return
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(wake.wait(), min(remaining, _MAX_SLICE))

    def __repr__(self) -> str:
        return "StoreClock()"


@dataclass(slots=True)
class _Waiter:
    until: float
    loop: asyncio.AbstractEventLoop
    future: asyncio.Future[None]


class VirtualClock:
    """A clock that moves only when told to, for tests and ``--virtual-time``.

    ``start`` is epoch seconds, a datetime (naive means UTC) or ISO text;
    default 2025-01-01T00:00:00Z, so runs on virtual time are reproducible.
    Time never goes backwards (``ValueError``). Thread-safe: a test thread may
    ``advance`` while an engine waits on its own loop in another thread.
    """

    __slots__ = ("_lock", "_now", "_waiters")

    def __init__(self, start: float | datetime | str | None = None) -> None:
        self._now = DEFAULT_VIRTUAL_START if start is None else to_epoch(start)
        self._lock = threading.Lock()
        self._waiters: list[_Waiter] = []

    def now(self) -> float:
        """Current virtual time as epoch seconds."""
        return self._now

    def as_datetime(self) -> datetime:
        """Current virtual time as an aware UTC datetime."""
        return datetime.fromtimestamp(self._now, UTC)

    def advance(self, duration: float | str) -> float:
        """Move forward by ``duration`` (seconds, or text such as ``'1h30m'``);
        returns the new time. Negative durations raise ``ValueError``."""
        seconds = parse_duration(duration)
        with self._lock:
            return self._move_to(self._now + seconds)

    def advance_to(self, moment: float | datetime | str) -> float:
        """Move to ``moment`` (epoch seconds, datetime or ISO text); returns the
        new time. Moving to the current time is allowed, backwards is not."""
        target = to_epoch(moment)
        with self._lock:
            if target < self._now:
                raise ValueError(
                    f"a virtual clock never goes backwards: it is {_iso(self._now)}, "
                    f"asked to move to {_iso(target)} "
                    f"({format_duration(self._now - target)} earlier)"
                )
            return self._move_to(target)

    def skip_to_next(self, due: float | None) -> bool:
        """Jump to ``due`` (the next timer) when it lies in the future.

        What ``run_until_complete`` calls when nothing is ready now. Returns
        ``True`` when time moved, ``False`` when ``due`` is ``None`` (nothing
        scheduled) or already past, so the caller can tell "stuck" from "moved".
        """
        if due is None:
            return False
        with self._lock:
            if due <= self._now:
                return False
            self._move_to(due)
            return True

    async def wait(self, until: float | None, wake: asyncio.Event) -> None:
        """Return once virtual time reaches ``until`` (someone advanced it) or
        ``wake`` is set."""
        if wake.is_set() or (until is not None and self._now >= until):
            return
        loop = asyncio.get_running_loop()
        waiter: _Waiter | None = None
        if until is not None:
            waiter = _Waiter(until, loop, loop.create_future())
            with self._lock:
                if self._now >= until:
                    return
                self._waiters.append(waiter)
        woken = loop.create_task(wake.wait())
        try:
            pending: set[asyncio.Future[Any]] = {woken}
            if waiter is not None:
                pending.add(waiter.future)
            await asyncio.wait(pending, return_when=asyncio.FIRST_COMPLETED)
        finally:
            woken.cancel()
            if waiter is not None:
                with self._lock, contextlib.suppress(ValueError):
                    self._waiters.remove(waiter)

    def _move_to(self, target: float) -> float:
        # Called with the lock held.
        self._now = target
        due = [w for w in self._waiters if w.until <= target]
        if due:
            self._waiters = [w for w in self._waiters if w.until > target]
            for waiter in due:
                with contextlib.suppress(RuntimeError):  # its loop is closed: nobody waits
                    waiter.loop.call_soon_threadsafe(_resolve, waiter.future)
        return target

    def __repr__(self) -> str:
        return f"VirtualClock({_iso(self._now)!r})"


def _resolve(future: asyncio.Future[None]) -> None:
    if not future.done():
        future.set_result(None)
