"""A tiny pure driver for the machine: fake actions, a list inbox, virtual time.

It plays the engine's part without a store: it feeds triggers to
``machine.advance``, keeps the run row, the unconsumed inbox and the calls in
flight, and checks on every transition that history seqs continue without a
gap. Tests read like examples::

    d = Driver(YAML, actions={"pay": lambda args: {"id": "p1"}})
    d.start()
    d.settle()
    assert d.run.status == "completed"
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Mapping
from typing import Any

from wfdsl.dsl.model import Workflow
from wfdsl.interpreter.machine.steps import (
    ActionOutcome,
    CallAction,
    CallHandler,
    CancelAction,
    CancelRun,
    PauseRun,
    Recover,
    ReplyHandler,
    ResumeRun,
    StartChild,
    StartRun,
    StepRun,
    Transition,
    Trigger,
    Wake,
)
from wfdsl.interpreter.machine.transition import advance, new_run
from wfdsl.interpreter.store.records import Event, InboxMessage, RunRow


def load(text: str) -> Workflow:
    """The compiled workflow of ``text``, validated like ``wfdsl.load``."""
    from wfdsl.dsl.api import load as api_load

    return api_load(text)


def load_unchecked(text: str) -> Workflow:
    """Compiled without the validator's checks: for documents the checker
    refuses but the machine must still handle (e.g. a choice without default)."""
    from wfdsl.dsl.compiler import compile_document
    from wfdsl.dsl.loader import parse_document

    doc = parse_document(text)
    workflow, findings = compile_document(doc)
    errors = [f for f in [*doc.findings, *findings] if f.severity == "error"]
    assert workflow is not None and not errors, errors
    return workflow


class ActionError(Exception):
    """Raised by a fake action: fails the call with ``error`` and ``message``."""

    def __init__(self, error: str, message: str = "") -> None:
        super().__init__(message)
        self.error = error
        self.message = message


Action = Callable[[Mapping[str, Any]], Any]


class Driver:
    def __init__(
        self,
        workflow: Workflow | str,
        *,
        input: Any = None,
        run_id: str = "r1",
        actions: Mapping[str, Action] | None = None,
        now: float = 0.0,
        break_at: tuple[str, ...] = (),
        secrets: Mapping[str, str] | None = None,
        max_steps: int | None = None,
    ) -> None:
        self.workflow = load(workflow) if isinstance(workflow, str) else workflow
        self.now = now
        self.run: RunRow = new_run(
            self.workflow, run_id=run_id, input=input, now=now, break_at=break_at
        )
        self.actions: dict[str, Action] = dict(actions or {})
        self.secrets = secrets
        self.max_steps = max_steps
        self.inbox: list[InboxMessage] = []
        self.inbox_seq = 0
        self.pending: dict[str, CallAction] = {}
        self.calls: list[CallAction] = []
        self.cancelled: list[str] = []
        self.replies: list[ReplyHandler] = []
        self.children: list[StartChild] = []
        self.sent: list[InboxMessage] = []
        self.events: list[Event] = []
        self.transitions: list[Transition] = []

    # ------------------------------------------------------------ feeding

    def apply(self, trigger: Trigger) -> Transition:
        t = advance(
            self.workflow,
            self.run,
            trigger,
            inbox=tuple(self.inbox),
            max_steps=self.max_steps,
            secrets=self.secrets,
        )
        self.transitions.append(t)
        expected = (self.events[-1].seq if self.events else 0) + 1
        for event in t.events:
            assert event.seq == expected, (event, expected)
            expected += 1
        if t.status == "idle":
            assert not t.events and t.run is self.run
        self.events.extend(t.events)
        self.run = t.run
        consumed = set(t.consumed)
        self.inbox = [m for m in self.inbox if m.seq not in consumed]
        for message in t.outbox:
            if message.run_id == self.run.id:
                self._deliver(message.channel, message.data)
            else:
                self.sent.append(message)
        for command in t.commands:
            if isinstance(command, CallAction):
                self.pending[command.call_id] = command
                self.calls.append(command)
            elif isinstance(command, CancelAction):
                self.pending.pop(command.call_id, None)
                self.cancelled.append(command.call_id)
            elif isinstance(command, ReplyHandler):
                self.replies.append(command)
            elif isinstance(command, StartChild):
                self.children.append(command)
        return t

    def _deliver(self, channel: str, data: Any) -> None:
        self.inbox_seq += 1
        self.inbox.append(
            InboxMessage(
                run_id=self.run.id, channel=channel, data=data, seq=self.inbox_seq, sent_at=self.now
            )
        )

    def start(self) -> Transition:
        return self.apply(StartRun(now=self.now))

    def wake(self) -> Transition:
        return self.apply(Wake(now=self.now))

    def signal(self, channel: str, data: Any = None, *, wake: bool = True) -> None:
        self._deliver(channel, data)
        if wake:
            self.wake()

    def call(self, handler: str, args: Any = None) -> ReplyHandler:
        self.apply(CallHandler(now=self.now, handler=handler, args=args, call_id="h"))
        return self.replies[-1]

    def cancel(self, compensate: bool = False) -> Transition:
        return self.apply(CancelRun(now=self.now, compensate=compensate))

    def pause(self) -> Transition:
        return self.apply(PauseRun(now=self.now))

    def resume(self) -> Transition:
        return self.apply(ResumeRun(now=self.now))

    def step(self) -> Transition:
        return self.apply(StepRun(now=self.now))

    def recover(self) -> Transition:
        return self.apply(Recover(now=self.now))

    # ------------------------------------------------------------ actions

    def complete(self, call_id: str | None = None, value: Any = None) -> Transition:
        call = self.pending.pop(call_id or next(iter(self.pending)))
        return self.apply(ActionOutcome(now=self.now, call_id=call.call_id, ok=True, value=value))

    def fail(
        self,
        call_id: str | None = None,
        error: str = "Boom",
        message: str = "it broke",
        details: Any = None,
    ) -> Transition:
        call = self.pending.pop(call_id or next(iter(self.pending)))
        return self.apply(
            ActionOutcome(
                now=self.now,
                call_id=call.call_id,
                ok=False,
                error=error,
                message=message,
                details=details,
            )
        )

    def perform(self, call: CallAction) -> Transition:
        """Run ``call`` with the fake actions and report its outcome."""
        self.pending.pop(call.call_id, None)
        action = self.actions.get(call.action)
        if action is None:
            return self.apply(
                ActionOutcome(
                    now=self.now,
                    call_id=call.call_id,
                    ok=False,
                    error="ActionNotFound",
                    message=f"no action {call.action!r}",
                )
            )
        try:
            value = action(call.args)
        except ActionError as exc:
            return self.apply(
                ActionOutcome(
                    now=self.now,
                    call_id=call.call_id,
                    ok=False,
                    error=exc.error,
                    message=exc.message,
                )
            )
        return self.apply(ActionOutcome(now=self.now, call_id=call.call_id, ok=True, value=value))

    def settle(self, *, max_time: float = float("inf"), rounds: int = 10_000) -> RunRow:
        """Perform calls, fire timers (jumping time) until the run ends or only
        messages could wake it."""
        for _ in range(rounds):
            if self.pending:
                self.perform(next(iter(self.pending.values())))
                continue
            ready = self.run.ready_at
            if ready is None or self.run.status in ("completed", "failed", "cancelled"):
                return self.run
            if ready > self.now:
                if ready > max_time:
                    return self.run
                self.now = ready
            self.wake()
        raise AssertionError("the run did not settle")

    # ------------------------------------------------------------ reading

    def types(self) -> list[str]:
        return [event.type for event in self.events]

    def of_type(self, type: str) -> list[Event]:
        return [event for event in self.events if event.type == type]

    def action_names(self) -> list[str]:
        return [call.action for call in self.calls]

    def replace_run(self, **changes: Any) -> None:
        self.run = dataclasses.replace(self.run, **changes)
