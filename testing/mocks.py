"""Mocked actions: what every call of a case's run gets instead of a real action.

:class:`MockedActions` is the engine's interceptor
(``Engine.intercept_actions``). A call is answered by the case's mock of its
state (``state:``, its undo with ``undo: true``), else of its action name
(a mock with ``args`` only for calls whose args include them), by attempt (the last outcome repeats). The built-ins ``log`` and ``noop``
run for real when nothing mocks them; every other unmocked call, ``http``
and ``shell`` included, fails with ``UnmockedAction`` and is remembered, so
the case fails naming it even when the flow catches the error.

A mocked ``duration`` moves the virtual clock forward while the call runs
(the call ends that much later in the history). An attempt whose duration
reaches the task's ``timeout`` fails with ``Timeout`` at the timeout, as a
real one would. Calls that overlap in a parallel state or a map each move
the clock in turn, so their durations add up instead of overlapping.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from wfdsl.dsl.durations import format_duration
from wfdsl.interpreter.actions.registry import ActionContext
from wfdsl.interpreter.actions.runner import PROCEED, ActionTimeout
from wfdsl.interpreter.clock import VirtualClock

from .format import Mock
from .matching import includes

__all__ = [
    "REAL_BUILTINS",
    "MockedActions",
    "MockedError",
    "UnmockedAction",
    "UnmockedCall",
    "scope_free",
]

#: Built-ins without side effects outside the process: they run for real unless mocked.
REAL_BUILTINS = frozenset({"log", "noop"})

_INDEX = re.compile(r"\[\d+\]")


def scope_free(state: str) -> str:
    """A history state path without map iteration numbers: ``each[2]/charge`` -> ``each/charge``."""
    return _INDEX.sub("", state)


class MockedError(Exception):
    """The error a mock raises, under the name the test file gave it."""

    def __init__(self, error: str, message: str, details: Mapping[str, Any] | None = None) -> None:
        super().__init__(message)
        self.error = error
        self.details = dict(details) if details is not None else None


class UnmockedAction(Exception):
    error = "UnmockedAction"


@dataclass(frozen=True, slots=True)
class UnmockedCall:
    run_id: str
    state: str
    action: str
    attempt: int
    undo: bool

    def describe(self) -> str:
        what = "undo action" if self.undo else "action"
        return (
            f"{what} '{self.action}' of state '{self.state}' (attempt {self.attempt}) is not "
            f"mocked; add `- action: {self.action}` (or `state: {scope_free(self.state)}`) "
            "to the case's mocks"
        )


class MockedActions:
    """The interceptor of one case's engine."""

    def __init__(self, mocks: Sequence[Mock], clock: VirtualClock) -> None:
        self.clock = clock
        # In the order the case lists them (format.py: most specific first).
        self.mocks = list(mocks)
        self.unmocked: list[UnmockedCall] = []

    def find(self, ctx: ActionContext, args: dict[str, Any]) -> Mock | None:
        state = scope_free(ctx.state)
        for mock in self.mocks:
            if mock.state is not None:
                if mock.state != state or mock.undo != ctx.undo:
                    continue
            elif mock.action != ctx.action:
                continue
            if mock.args is None or includes(mock.args, args):
                return mock
        return None

    def __call__(self, ctx: ActionContext, args: dict[str, Any]) -> Any:
        mock = self.find(ctx, args)
        if mock is None:
            if ctx.action in REAL_BUILTINS:
                return PROCEED
            call = UnmockedCall(ctx.run_id, ctx.state, ctx.action, ctx.attempt, ctx.undo)
            self.unmocked.append(call)
            raise UnmockedAction(call.describe())
        outcome = mock.outcome(ctx.attempt)
        if outcome.duration:
            if ctx.timeout is not None and outcome.duration >= ctx.timeout:
                self.clock.advance(ctx.timeout)
                raise ActionTimeout(
                    f"action '{ctx.action}' did not finish within "
                    f"{format_duration(ctx.timeout)} (attempt {ctx.attempt}; mocked to take "
                    f"{format_duration(outcome.duration)})"
                )
            self.clock.advance(outcome.duration)
        if outcome.error is not None:
            raise MockedError(outcome.error, outcome.message, outcome.details)
        return outcome.value
