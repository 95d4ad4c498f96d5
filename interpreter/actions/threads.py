"""The worker threads that run sync actions for an
:class:`~wfdsl.interpreter.actions.runner.ActionRunner`.

A thread cannot be killed, so a sync call that outlives its timeout keeps
running in its thread. :meth:`WorkerPool.abandon` takes that thread out of
the pool's count (a new one takes its place) so hung calls cannot starve the
healthy ones; the number abandoned at once is capped, and past the cap the
calls that would only pile up are refused with :class:`ThreadsExhausted`.
"""

from __future__ import annotations

import asyncio
import collections
import contextlib
import logging
import queue
import threading
import time
import weakref
from collections.abc import Callable
from typing import Any

__all__ = ["ThreadsExhausted", "WorkerPool"]

_log = logging.getLogger("wfdsl.actions")


class ThreadsExhausted(Exception):
    """A sync call refused without running: the pool's threads are held by
    sync calls that outlived their timeout."""

    error = "ThreadsExhausted"


class _Outbox:
    """Results of one loop's sync calls, handed back in batches: a finished
    thread appends, and only the first of a batch wakes the loop, so many calls
    finishing together cost one wake-up instead of one each."""

    __slots__ = ("done", "lock", "loop", "scheduled")

    def __init__(self, loop: asyncio.AbstractEventLoop) -> None:
        self.loop = loop
        self.lock = threading.Lock()
        self.done: collections.deque[tuple[asyncio.Future[Any], bool, Any]] = collections.deque()
        self.scheduled = False

    def put(self, future: asyncio.Future[Any], ok: bool, value: Any) -> None:
        with self.lock:
            self.done.append((future, ok, value))
            if self.scheduled:
                return
            self.scheduled = True
        with contextlib.suppress(RuntimeError):  # the loop closed: nobody waits any more
            self.loop.call_soon_threadsafe(self.drain)

    def drain(self) -> None:
        with self.lock:
            items = list(self.done)
            self.done.clear()
            self.scheduled = False
        for future, ok, value in items:
            if future.done():  # timed out or cancelled meanwhile: the result is dropped
                continue
            if ok:
                future.set_result(value)
            else:
                future.set_exception(value)


# What a sync call is doing, as the pool sees it.
_QUEUED = 0  # waiting for a thread
_RUNNING = 1
_OVERDUE = 2  # past its timeout, its thread still counted (the abandoned cap is full)
_ABANDONED = 3  # past its timeout, its thread replaced and left to finish on its own
_DONE = 4  # returned, or skipped because it timed out or was cancelled while queued


class _Job:
    """One sync call handed to the pool; ``future`` resolves on the caller's loop."""

    __slots__ = ("action", "deadline", "fn", "future", "kwargs", "outbox", "ran", "state")

    def __init__(
        self,
        outbox: _Outbox,
        future: asyncio.Future[Any],
        fn: Callable[..., Any],
        kwargs: dict[str, Any],
        action: str,
        deadline: float | None,
    ) -> None:
        self.outbox = outbox
        self.future = future
        self.fn = fn
        self.kwargs = kwargs
        self.action = action
        self.deadline = deadline
        self.state = _QUEUED
        self.ran = False  # a thread took it and called fn


class WorkerPool:
    """Daemon threads running sync actions (what ``run_in_executor`` does, at
    about half its cost per call alone and a tenth under load). Threads start
    on demand up to ``size``; daemon, so a call stuck past its timeout never
    keeps the process from exiting (the attempt is re-run after a restart).

    A call that outlives its timeout is handed to :meth:`abandon`: its thread
    leaves the pool (a new one is started in its place) and ends when the
    call returns. Up to ``max_abandoned`` at once; past that the call stays
    ``_OVERDUE`` on a counted thread until an abandoned one returns, and
    :meth:`submit` refuses the calls that would only add to the pile."""

    def __init__(self, size: int, max_abandoned: int) -> None:
        self._size = size
        self._max_abandoned = max_abandoned
        self._jobs: queue.SimpleQueue[_Job | None] = queue.SimpleQueue()
        self._idle = threading.Semaphore(0)
        self._live = 0  # threads that take jobs (the overdue calls' among them)
        self._started = 0
        self._abandoned: list[_Job] = []
        self._overdue: list[_Job] = []
        self._warned: set[str] = set()
        self._warned_full = False
        self._closed = False
        self._outboxes: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, _Outbox] = (
            weakref.WeakKeyDictionary()
        )
        self._lock = threading.Lock()

    def submit(
        self,
        fn: Callable[..., Any],
        kwargs: dict[str, Any],
        action: str,
        timeout: float | None = None,
    ) -> _Job:
        """Run ``fn(**kwargs)`` in a thread; the job's future resolves on the
        running loop. A call still queued ``timeout`` seconds from now is
        skipped (its caller reports the timeout). Raises :class:`ThreadsExhausted` instead when the cap of
        abandoned threads is reached and ``action`` has a call past its
        timeout, or every thread is held by such calls."""
        if len(self._abandoned) >= self._max_abandoned:  # read unlocked: rechecked below
            with self._lock:
                refusal = self._refusal(action)
            if refusal is not None:
                raise refusal
        loop = asyncio.get_running_loop()
        outbox = self._outboxes.get(loop)
        if outbox is None:
            outbox = self._outboxes[loop] = _Outbox(loop)
        deadline = None if timeout is None else time.monotonic() + timeout
        job = _Job(outbox, loop.create_future(), fn, kwargs, action, deadline)
        self._jobs.put(job)
        if not self._idle.acquire(timeout=0):
            with self._lock:
                if self._live < self._size:
                    self._start_thread()
        return job

    @property
    def size(self) -> int:
        """How many threads take calls at once."""
        return self._size

    def abandon(self, job: _Job) -> bool:
        """``job`` outlived its timeout (its future is already cancelled): stop
        counting its thread if the cap allows, else mark it overdue. False when
        the call never started: it was still queued (no thread will take it
        now), so the timeout says nothing about the action's speed."""
        with self._lock:
            if job.state == _QUEUED:
                job.state = _DONE
                return False
            if job.state != _RUNNING or self._closed:
                return job.ran  # returned meanwhile, or skipped past its deadline
            if len(self._abandoned) < self._max_abandoned:
                self._let_go(job)
                return True
            job.state = _OVERDUE
            self._overdue.append(job)
            if len(self._overdue) >= self._size:
                self._refuse_queued()
            if not self._warned_full:
                self._warned_full = True
                _log.warning(
                    "the cap of %d abandoned sync action threads is reached: action '%s' "
                    "keeps its thread past its timeout, and new calls of hung actions "
                    "fail with ThreadsExhausted until they return (%s)",
                    len(self._abandoned),
                    job.action,
                    self._hung_summary(),
                )
            return True

    def _let_go(self, job: _Job) -> None:
        # Called with the lock held, for a running or overdue job.
        if job.state == _OVERDUE:
            self._overdue.remove(job)
        job.state = _ABANDONED
        self._abandoned.append(job)
        self._live -= 1
        self._start_thread()
        if job.action not in self._warned:
            self._warned.add(job.action)
            _log.warning(
                "action '%s' did not return after its timeout; its thread is abandoned "
                "(%d abandoned)",
                job.action,
                len(self._abandoned),
            )

    def _refusal(self, action: str) -> ThreadsExhausted | None:
        # Called with the lock held: why a new call of ``action`` must not
        # queue, if it must not.
        if len(self._abandoned) < self._max_abandoned:
            return None
        hung = self._abandoned + self._overdue
        if any(job.action == action for job in hung):
            why = "it has a call still running past its timeout"
        elif len(self._overdue) >= self._size:
            why = "every worker thread is held by a call past its timeout"
        else:
            return None
        return ThreadsExhausted(
            f"sync action '{action}' was not started: {why}, and "
            f"{len(self._abandoned)} threads are already abandoned to such calls, the most "
            f"allowed ({self._hung_summary()}); it can run again once they return. "
            "Give the blocking calls inside these actions their own timeouts, or make "
            "them async (an async action is cancelled at its timeout)"
        )

    def _refuse_queued(self) -> None:
        # Called with the lock held, once every counted thread is overdue:
        # nothing would take the queued calls until a hung one returns.
        while True:
            try:
                job = self._jobs.get_nowait()
            except queue.Empty:
                return
            if job is None or job.state != _QUEUED:
                continue
            job.state = _DONE
            job.outbox.put(job.future, False, self._refusal(job.action))

    def _hung_summary(self) -> str:
        counts = collections.Counter(job.action for job in self._abandoned + self._overdue)
        return "hung: " + ", ".join(f"'{name}' x{n}" for name, n in sorted(counts.items()))

    def _start_thread(self) -> None:
        # Called with the lock held.
        if self._closed:
            return
        thread = threading.Thread(
            target=self._work, name=f"wfdsl-action-{self._started}", daemon=True
        )
        thread.start()
        self._started += 1
        self._live += 1

    def _work(self) -> None:
        jobs = self._jobs
        lock = self._lock
        while True:
            job = jobs.get()
            if job is None:
                return
            # Not a call that timed out or was cancelled while it queued
            # (its timeout may be due without the loop having noticed yet).
            run = job.deadline is None or time.monotonic() < job.deadline
            with lock:
                run = run and job.state == _QUEUED and not job.future.done()
                job.state = _RUNNING if run else _DONE
                job.ran = run
            if run:
                try:
                    value = job.fn(**job.kwargs)
                    ok = True
                except BaseException as exc:
                    value, ok = exc, False
                with lock:
                    ended, job.state = job.state, _DONE
                    if ended == _OVERDUE:
                        self._overdue.remove(job)
                    elif ended == _ABANDONED:
                        self._abandoned.remove(job)
                        if self._overdue and not self._closed:  # the cap has room again
                            self._let_go(self._overdue[0])
                if ended == _RUNNING:  # a timed-out call's result is dropped
                    job.outbox.put(job.future, ok, value)
                del value
                if ended == _ABANDONED:
                    return  # a thread took this one's place when it was abandoned
            del job
            self._idle.release()

    def shutdown(self) -> None:
        """Let every thread exit once its current call returns."""
        with self._lock:
            self._closed = True
            for _ in range(self._live):
                self._jobs.put(None)
            self._live = 0
