"""Carrying out a :class:`~wfdsl.interpreter.machine.steps.CallAction`.

The engine hands each ``CallAction`` to :meth:`ActionRunner.run` (usually as
a task on its loop) and feeds the returned
:class:`~wfdsl.interpreter.machine.steps.ActionOutcome` (stamped with the runner's
clock when the call ended) back to the machine. The runner never raises for
anything the action did; every failure becomes an outcome with an error name
and a message (docs/reference.md §3):

- the error name is the exception's ``error`` attribute when it is a
  non-empty string, else its class name; the message is ``str(exc)``, cut
  at 4,000 characters;
- ``ActionNotFound``: no action has that name; ``ArgumentError``: ``args``
  do not fit the signature; ``Timeout``: the attempt outlived
  ``call.timeout``; ``SerializationError``: the value is not JSON;
  ``Cancelled``: the action itself raised ``CancelledError``;
  ``ThreadsExhausted``: a sync call refused without running (below).

Sync callables run in worker threads (at most ``max_threads`` at once),
async ones on the caller's loop, ``inline`` ones (``noop``) directly on the
loop. Async actions are cancelled at their timeout. A thread cannot be
killed: a sync action that times out is reported as ``Timeout`` at once and
its thread runs on until the function returns (its result is dropped). That
thread is *abandoned*: it no longer counts against ``max_threads`` (a new
thread takes its place, so a hung action cannot starve the others) and ends
when the function returns (a call whose timeout passes while it waits for a
thread never starts). At most ``max_abandoned_threads`` (default
``max_threads``) are abandoned at once; past that, a call that times out
keeps its thread, and a new call fails at once with ``ThreadsExhausted``,
naming the hung actions, when its own action has a call still running past
its timeout or when every thread is held by such calls (instead of queueing
for ever). A sync call without a timeout that never returns holds its thread
for ever: give blocking actions a ``timeout``.

Return values are checked and copied by :func:`json_value`: dicts with
string keys, lists, strings, finite floats, ints, bools and ``None`` pass;
tuples become lists and subclasses (``IntEnum``, ``StrEnum``) their plain
type; anything else (sets, bytes, datetimes, NaN, non-string keys, integers
of more than 4,000 digits, text with a lone surrogate), nesting deeper than
64 or more than a million values (counting every item) is a ``SerializationError``
naming the path to the offending value. The copy means an action that keeps
mutating what it returned cannot change the recorded result.

``intercept`` (``Engine.intercept_actions``) is a testing seam: when set,
every call, undo calls and built-ins included, goes to ``intercept(ctx,
args)`` first; what it returns (or raises) is the call's outcome, unless it
returns :data:`PROCEED`, which carries the call out as usual. ``wfdsl test``
mocks actions this way, so a test never calls anything real by accident.

``repeat_actions=True`` runs every action a second time after a success
(same args, same context and idempotency key) and reports the second
result: a test mode for finding actions that are not idempotent, as steno's
repeat injection does.
"""

from __future__ import annotations

import asyncio
import contextlib
import inspect
import json
import math
import re
import threading
import types
from collections.abc import Awaitable, Callable, Coroutine, Mapping
from typing import Any

from wfdsl.dsl.durations import format_duration

from ..clock import Clock, SystemClock
from ..machine.steps import ActionOutcome, CallAction
from .builtin import Builtins
from .registry import (
    ActionContext,
    ActionNotFound,
    ActionRegistry,
    ActionSpec,
    default_registry,
    registrations,
)
from .threads import ThreadsExhausted, WorkerPool

__all__ = [
    "MAX_JSON_DEPTH",
    "MAX_JSON_VALUES",
    "PROCEED",
    "ActionRunner",
    "ActionTimeout",
    "Interceptor",
    "SerializationError",
    "ThreadsExhausted",
    "error_name",
    "json_value",
]

MAX_JSON_DEPTH = 64
MAX_JSON_VALUES = 1_000_000
#: Integers of more bits (about 4,200 digits) are refused: they cannot be written as JSON text.
_MAX_INT_BITS = 14_000
_SURROGATE = re.compile(r"[\ud800-\udfff]")
_MAX_MESSAGE = 4_000

HeartbeatHook = Callable[[CallAction, Any], None]

#: What an interceptor returns to let a call run as it would without one.
PROCEED: Any = type("Proceed", (), {"__repr__": lambda self: "PROCEED"})()

#: ``intercept(ctx, args)``: a value (or an awaitable of one) or :data:`PROCEED`.
Interceptor = Callable[[ActionContext, dict[str, Any]], Any]


class SerializationError(Exception):
    """An action returned something JSON cannot hold."""

    error = "SerializationError"


class ActionTimeout(Exception):
    """An attempt outlived its ``timeout``; reported under the name ``Timeout``."""

    error = "Timeout"


def error_name(exc: BaseException) -> str:
    """The name a failure is reported and caught under (docs/reference.md §3)."""
    name = getattr(exc, "error", None)
    if isinstance(name, str) and name:
        return name
    return type(exc).__name__


#: Encoded details above this many characters are replaced by an excerpt.
MAX_DETAILS = 16_384


def error_details(exc: BaseException) -> dict[str, Any] | None:
    """The JSON map a failure carries in its ``details`` attribute, or None.

    Details that are not a JSON map are described instead of lost, and large
    ones are cut to an excerpt, so a failure never grows the history unbounded."""
    details = getattr(exc, "details", None)
    if details is None:
        return None
    if not isinstance(details, Mapping):
        return {"unreadable": f"details must be a map, got {type(details).__name__}"}
    try:
        text = json.dumps(dict(details), ensure_ascii=False, allow_nan=False)
    except (TypeError, ValueError) as problem:
        return {"unreadable": f"details are not JSON: {problem}"}
    if len(text) > MAX_DETAILS:
        return {"truncated": True, "size": len(text), "excerpt": text[:1024]}
    value: dict[str, Any] = json.loads(text)
    return value


def _message(exc: BaseException) -> str:
    try:
        text = str(exc)
    except Exception as inner:  # a broken __str__ must not lose the failure
        text = f"<{type(exc).__name__} whose message could not be read: {inner!r}>"
    if len(text) > _MAX_MESSAGE:
        text = text[:_MAX_MESSAGE] + f" ... [{len(text) - _MAX_MESSAGE} more characters cut]"
    return text


class ActionRunner:
    """Executes :class:`CallAction` commands against a registry.

    ``registry`` defaults to the process-wide default registry; the built-in
    actions are consulted after it (``builtins``, default: built from
    ``allow_shell`` and ``http_transport``). ``clock`` stamps each outcome's
    ``now`` (default: the system clock). Sync actions run in up to
    ``max_threads`` worker threads; ``max_abandoned_threads`` (default
    ``max_threads``) bounds the threads left to sync calls that outlived
    their timeout (module docstring). ``on_heartbeat(call, details)``
    receives ``ctx.heartbeat()`` calls, always on the loop that runs the call
    (calls from worker threads are handed over with ``call_soon_threadsafe``).
    """

    def __init__(
        self,
        registry: ActionRegistry | None = None,
        *,
        clock: Clock | None = None,
        max_threads: int = 32,
        max_abandoned_threads: int | None = None,
        allow_shell: bool = False,
        http_transport: Any = None,
        builtins: Builtins | None = None,
        repeat_actions: bool = False,
        on_heartbeat: HeartbeatHook | None = None,
    ) -> None:
        if max_threads < 1:
            raise ValueError(f"max_threads must be at least 1, got {max_threads}")
        if max_abandoned_threads is None:
            max_abandoned_threads = max_threads
        if max_abandoned_threads < 0:
            raise ValueError(
                f"max_abandoned_threads must be at least 0, got {max_abandoned_threads}"
            )
        self.registry = default_registry() if registry is None else registry
        self.builtins = (
            Builtins(allow_shell=allow_shell, http_transport=http_transport)
            if builtins is None
            else builtins
        )
        self.repeat_actions = repeat_actions
        self.intercept: Interceptor | None = None
        #: What an attempt is handed as ``ctx.trace`` (None: nothing).
        self.trace_carrier: Callable[[CallAction], Mapping[str, str] | None] | None = None
        self.clock: Clock = SystemClock() if clock is None else clock
        self._max_threads = max_threads
        self._max_abandoned = max_abandoned_threads
        self._on_heartbeat = on_heartbeat
        self._executor: WorkerPool | None = None
        self._resolved: dict[str, ActionSpec] = {}
        self._resolved_at = -1
        self._available: tuple[int, frozenset[str]] | None = None
        self._sync_loop: asyncio.AbstractEventLoop | None = None
        self._sync_lock = threading.Lock()
        self._lock = threading.Lock()

    # -------------------------------------------------------------- lookup

    def resolve(self, name: str) -> ActionSpec:
        """The action a task's ``action`` names: the registry chain first, then
        the built-ins. Raises :class:`ActionNotFound` listing what exists."""
        # Cached until anything anywhere registers again, which changes the answer.
        generation = registrations()
        if generation != self._resolved_at:
            self._resolved = {}
            self._resolved_at = generation
        spec = self._resolved.get(name)
        if spec is not None:
            return spec
        spec = self.registry.lookup(name) or self.builtins.registry.lookup(name)
        if spec is not None:
            self._resolved[name] = spec
        else:
            raise ActionNotFound(
                name,
                self.registry.names() + self.builtins.registry.names(),
                self.registry.problems(),
            )
        return spec

    def names(self) -> list[str]:
        """Every action name this runner can call, sorted."""
        return sorted(set(self.registry.names()) | set(self.builtins.registry.names()))

    def available(self) -> frozenset[str]:
        """The actions this runner can carry out now: every registered name
        (entry points loaded first) and the built-ins, without ``shell``
        unless it is enabled. A driver claims only work it can do with
        these (capability routing); cached until anything registers again."""
        generation = registrations()
        cached = self._available
        if cached is not None and cached[0] == generation:
            return cached[1]
        self.registry.load_entry_points()
        names = set(self.registry.names()) | set(self.builtins.registry.names())
        if not self.builtins.shell.enabled and self.registry.lookup("shell") is None:
            names.discard("shell")
        found = frozenset(names)
        self._available = (registrations(), found)
        return found

    # -------------------------------------------------------------- running

    async def run(self, call: CallAction) -> ActionOutcome:
        """Carry out ``call`` on the running loop; never raises for what the
        action does (cancelling the task that awaits this does propagate)."""
        return await self._settled(call, self._carry_out(call))

    async def _carry_out(self, call: CallAction) -> Any:
        intercept = self.intercept
        if intercept is not None:
            value = intercept(self._context(call), dict(call.args))
            if inspect.isawaitable(value):
                value = await value
            if value is not PROCEED:
                return value
        spec = self.resolve(call.action)
        ctx = self._context(call) if spec.ctx_param is not None else None
        value = await self._invoke(spec, spec.bind(call.args, ctx), call)
        if self.repeat_actions:
            value = await self._invoke(spec, spec.bind(call.args, ctx), call)
        return value

    async def _settled(self, call: CallAction, result: Awaitable[Any]) -> ActionOutcome:
        """The outcome of awaiting ``result``: its value as JSON, or the
        failure it raised (a cancelled call is the failure ``Cancelled``
        unless the awaiting task itself is being cancelled)."""
        try:
            value = json_value(await result, action=call.action)
        except asyncio.CancelledError as exc:
            task = asyncio.current_task()
            if task is not None and task.cancelling():
                raise
            return self._failure(call, exc)
        except Exception as exc:
            return self._failure(call, exc)
        return ActionOutcome(now=self.clock.now(), call_id=call.call_id, ok=True, value=value)

    def run_inline(
        self, call: CallAction
    ) -> ActionOutcome | Coroutine[Any, Any, ActionOutcome] | None:
        """:meth:`run` at once, on the caller's stack, for an action registered
        ``inline=True`` (a plain function): its outcome, or, when the function
        handed back a coroutine, a coroutine giving the outcome once awaited.
        None, with nothing done, for any other action: :meth:`run` carries
        those out. Call it on the loop that drives (``ctx`` may be asked for)."""
        if self.repeat_actions or self.intercept is not None:
            return None
        try:
            spec = self.resolve(call.action)
        except Exception:
            return None  # run() reports it as the call's failure
        if not spec.inline or spec.is_async:
            return None
        try:
            ctx = self._context(call) if spec.ctx_param is not None else None
            value = spec.fn(**spec.bind(call.args, ctx))
            if type(value) is types.CoroutineType:
                return self._settle_awaitable(call, value)
            value = json_value(value, action=call.action)
        except Exception as exc:
            return self._failure(call, exc)
        return ActionOutcome(now=self.clock.now(), call_id=call.call_id, ok=True, value=value)

    def _settle_awaitable(
        self, call: CallAction, awaitable: Any
    ) -> Coroutine[Any, Any, ActionOutcome]:
        if call.timeout is not None:
            awaitable = self._within(awaitable, call.timeout, call, thread=False)
        return self._settled(call, awaitable)

    def run_sync(self, call: CallAction) -> ActionOutcome:
        """:meth:`run` for callers without an event loop (tests, simple
        drivers): runs on a private loop kept for the runner's lifetime, one
        call at a time. Raises ``RuntimeError`` inside a running loop."""
        try:
            asyncio.get_running_loop()
        except RuntimeError:
            pass
        else:
            raise RuntimeError(
                "ActionRunner.run_sync was called inside a running event loop; "
                "use `await runner.run(call)` there"
            )
        with self._sync_lock:
            if self._sync_loop is None or self._sync_loop.is_closed():
                self._sync_loop = asyncio.new_event_loop()
            return self._sync_loop.run_until_complete(self.run(call))

    async def _invoke(self, spec: ActionSpec, kwargs: dict[str, Any], call: CallAction) -> Any:
        timeout = call.timeout
        if spec.inline:
            value = spec.fn(**kwargs)
        elif spec.is_async:
            if timeout is None:
                return await spec.fn(**kwargs)
            return await self._within(spec.fn(**kwargs), timeout, call, thread=False)
        else:
            pool = self._pool()
            job = pool.submit(spec.fn, kwargs, call.action, timeout)
            if timeout is None:
                value = await job.future
            else:
                try:
                    value = await self._within(job.future, timeout, call, thread=True)
                except ActionTimeout:
                    if pool.abandon(job):
                        raise
                    # It never left the queue: every thread was busy, the action is not slow.
                    raise ActionTimeout(
                        f"action '{call.action}' did not start within "
                        f"{format_duration(timeout)} (attempt {call.attempt}): it was still "
                        f"queued, waiting for one of this process's {pool.size} sync action "
                        "threads, all busy with other calls; give the blocking actions "
                        "their own timeouts, or make them async"
                    ) from None
        if type(value) is types.CoroutineType:  # a sync wrapper that returned a coroutine
            if timeout is None:
                return await value
            return await self._within(value, timeout, call, thread=False)
        return value

    async def _within(
        self, awaitable: Any, timeout: float, call: CallAction, *, thread: bool
    ) -> Any:
        try:
            async with asyncio.timeout(timeout) as scope:
                return await awaitable
        except TimeoutError:
            if not scope.expired():
                raise  # the action's own TimeoutError, reported under its own name
            note = "; its worker thread runs on until the function returns" if thread else ""
            raise ActionTimeout(
                f"action '{call.action}' did not finish within "
                f"{format_duration(timeout)} (attempt {call.attempt}){note}"
            ) from None

    def _failure(self, call: CallAction, exc: BaseException) -> ActionOutcome:
        name = "Cancelled" if isinstance(exc, asyncio.CancelledError) else error_name(exc)
        return ActionOutcome(
            now=self.clock.now(),
            call_id=call.call_id,
            ok=False,
            error=name,
            message=_message(exc),
            details=error_details(exc),
        )

    def _context(self, call: CallAction) -> ActionContext:
        hook = self._on_heartbeat
        beat: Callable[[Any], None] | None = None
        if hook is not None:
            loop = asyncio.get_running_loop()
            loop_thread = threading.get_ident()

            def beat(details: Any) -> None:
                if threading.get_ident() == loop_thread:
                    hook(call, details)
                    return
                with contextlib.suppress(RuntimeError):  # loop gone: the call was abandoned
                    loop.call_soon_threadsafe(hook, call, details)

        return ActionContext(
            run_id=call.run_id,
            state=call.state,
            action=call.action,
            attempt=call.attempt,
            idempotency_key=call.idempotency_key,
            call_id=call.call_id,
            undo=call.undo,
            timeout=call.timeout,
            on_heartbeat=beat,
            trace=self._trace(call),
        )

    def _trace(self, call: CallAction) -> Mapping[str, str]:
        carrier = self.trace_carrier
        if carrier is None:
            return {}
        return dict(carrier(call) or {})

    def _pool(self) -> WorkerPool:
        executor = self._executor
        if executor is None:
            with self._lock:
                if self._executor is None:
                    self._executor = WorkerPool(self._max_threads, self._max_abandoned)
                executor = self._executor
        return executor

    # -------------------------------------------------------------- closing

    async def aclose(self) -> None:
        """Release the built-ins' resources on this loop and the worker threads
        (threads still running an abandoned call finish on their own)."""
        await self.builtins.aclose()
        self._shutdown()

    def close(self) -> None:
        """Release everything from outside a loop (also closes the private
        loop of :meth:`run_sync`)."""
        with self._sync_lock:
            loop, self._sync_loop = self._sync_loop, None
        if loop is not None and not loop.is_closed():
            loop.run_until_complete(self.builtins.aclose())
            loop.run_until_complete(loop.shutdown_asyncgens())
            loop.close()
        self._shutdown()

    def _shutdown(self) -> None:
        with self._lock:
            executor, self._executor = self._executor, None
        if executor is not None:
            executor.shutdown()

    def __enter__(self) -> ActionRunner:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()


# ------------------------------------------------------------------ JSON


def json_value(value: Any, *, action: str | None = None) -> Any:
    """A plain-JSON copy of ``value`` (see the module docstring for the rules),
    or :class:`SerializationError` naming the path to what is not JSON."""
    kind = type(value)
    if value is None or kind is bool:
        return value
    budget = [MAX_JSON_VALUES - 1]
    return _walk(value, "result", 0, budget, action)


def _walk(value: Any, path: str, depth: int, budget: list[int], action: str | None) -> Any:
    kind = type(value)
    if value is None or kind is bool:
        return value
    if kind is str:
        # A lone surrogate cannot be written as UTF-8: not to the store, not
        # to a response. Only non-ASCII text can hold one.
        if not value.isascii() and _SURROGATE.search(value) is not None:
            raise _not_json(action, path, "text holding a lone surrogate (U+D800-U+DFFF)")
        return value
    if kind is int:
        # Python refuses to write an integer of more than 4,300 digits as
        # text (CVE-2020-10735), so the store could not save it: the run
        # would crash at the commit, again at every recovery.
        if value.bit_length() <= _MAX_INT_BITS:
            return value
        raise _not_json(action, path, "an integer of more than 4,000 digits")
    if kind is float:
        if math.isfinite(value):
            return value
        raise _not_json(action, path, f"{value!r}, which JSON cannot hold (use null or a string)")
    if kind is dict or kind is list or kind is tuple or isinstance(value, (dict, list, tuple)):
        if depth >= MAX_JSON_DEPTH:
            raise _not_json(
                action, path, f"nested deeper than {MAX_JSON_DEPTH} levels (or a cycle)"
            )
        # Every value counts once, as an item of its container (the root is
        # counted by json_value), scalars too: two million numbers are as
        # many values as two million lists.
        budget[0] -= len(value)
        if budget[0] < 0:
            raise SerializationError(
                f"{_who(action)} returned more than {MAX_JSON_VALUES} values; "
                "store large data elsewhere and return a reference"
            )
        if isinstance(value, dict):
            copy: dict[str, Any] = {}
            for key, item in value.items():
                if type(key) is not str:
                    if not isinstance(key, str):
                        raise _not_json(
                            action,
                            path,
                            f"a map with the {type(key).__name__} key {key!r}; JSON keys are strings",
                        )
                    key = str.__str__(key)
                if not key.isascii() and _SURROGATE.search(key) is not None:
                    raise _not_json(action, path, "a map with a key holding a lone surrogate")
                copy[key] = _walk(item, f"{path}[{key!r}]", depth + 1, budget, action)
            return copy
        return [
            _walk(item, f"{path}[{index}]", depth + 1, budget, action)
            for index, item in enumerate(value)
        ]
    if isinstance(value, bool):  # pragma: no cover - bool cannot be subclassed
        return bool(value)
    if isinstance(value, str):
        return _walk(str.__str__(value), path, depth, budget, action)
    if isinstance(value, int):
        return _walk(int(value), path, depth, budget, action)
    if isinstance(value, float):
        return _walk(float(value), path, depth, budget, action)
    if isinstance(value, Mapping):
        hint = "convert it with dict()"
    elif isinstance(value, (set, frozenset)):
        hint = "convert it with sorted() or list()"
    elif isinstance(value, (bytes, bytearray)):
        hint = "decode it to text or base64"
    elif hasattr(value, "isoformat"):
        hint = "convert it with .isoformat()"
    else:
        hint = "return dicts with string keys, lists, strings, numbers, booleans or None"
    raise _not_json(action, path, f"a {_type_name(value)}; {hint}")


def _type_name(value: Any) -> str:
    kind = type(value)
    return (
        kind.__qualname__
        if kind.__module__ == "builtins"
        else f"{kind.__module__}.{kind.__qualname__}"
    )


def _who(action: str | None) -> str:
    return f"action '{action}'" if action else "the action"


def _not_json(action: str | None, path: str, what: str) -> SerializationError:
    return SerializationError(f"{_who(action)} returned a value JSON cannot hold: {path} is {what}")
