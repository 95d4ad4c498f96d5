"""The working memory of one ``advance`` call.

A :class:`Context` holds the run's state being changed, the trigger's time,
the inbox the engine passed, and everything the transition will hand back
(events, commands, consumed inbox seqs, outbox). The state modules (tasks,
waits, forks, compensation, handlers) all work through it.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from typing import Any

from wfdsl.dsl.expressions import CompiledValue
from wfdsl.dsl.expressions.limits import current_allowance
from wfdsl.dsl.model import Assignment, Scope, State, VarPath, Workflow
from wfdsl.dsl.sites import iter_sites

from wfdsl.errors import ExpressionError

from ..store.records import Event, InboxMessage, RunRow
from .limits import MAX_PAYLOAD_BYTES, json_size, payload_size_error
from .run_state import RunState, Thread
from .scope import Failure, LimitExceeded, RunHooks, redact, scope_index, write_path
from .steps import Command

__all__ = ["Context"]


class Context:
    """One transition in the making."""

    __slots__ = (
        "_consumed",
        "closing",
        "commands",
        "consumed",
        "ended_at",
        "entered",
        "entropy",
        "error",
        "events",
        "final_vars",
        "hooks",
        "inbox",
        "local",
        "max_steps",
        "now",
        "outbox",
        "output",
        "run",
        "run_info",
        "scopes",
        "secret_values",
        "state",
        "status",
        "stepping",
        "steps",
        "workflow",
    )

    def __init__(
        self,
        workflow: Workflow,
        run: RunRow,
        now: float,
        *,
        inbox: Sequence[InboxMessage] = (),
        secrets: Mapping[str, str] | None = None,
        max_steps: int | None = None,
        entropy: bytes = b"",
    ) -> None:
        self.workflow = workflow
        #: Random bytes from the engine for this transition: what makes a
        #: callback token unguessable (callbacks.py).
        self.entropy = entropy
        self.run = run
        self.now = now
        self.inbox = inbox
        self.state = RunState.from_json(run.state, run.vars)
        self.scopes = scope_index(workflow)
        self.events: list[Event] = []
        self.commands: list[Command] = []
        self.consumed: list[int] = []
        self._consumed: set[int] = set()
        self.outbox: list[InboxMessage] = []
        #: Messages this run sent itself during this transition: [channel, data].
        self.local: list[list[Any]] = []
        secrets = secrets or {}
        # Only the values of secrets this workflow reads are redacted: the
        # mapping is usually the whole environment, whose short values ("1",
        # "C") would otherwise be starred out of every event.
        names = secret_names(workflow)
        self.secret_values: tuple[str, ...] = (
            tuple(value for name in names if (value := secrets.get(name)))
            if names and secrets
            else ()
        )
        self.hooks = RunHooks(run.id, now, secrets)
        self.steps = 0
        #: How the run is ending while its threads are given up ("failed",
        #: "cancelled"; None: only a branch is): what a cancelled child is told.
        self.closing: str | None = None
        #: States each thread entered in this transition (thread id -> count):
        #: past ``workflow.max_transitions`` the thread is spinning.
        self.entered: dict[str, int] = {}
        self.max_steps = max_steps
        self.stepping = False
        self.status: str | None = (
            None if run.status in ("running", "waiting", "paused") else run.status
        )
        self.output: Any = run.output
        self.error: Mapping[str, Any] | None = run.error
        self.ended_at = run.ended_at
        self.final_vars: Mapping[str, Any] = run.vars
        self.run_info = {
            "id": run.id,
            "workflow": workflow.name,
            "version": workflow.version,
            "started_at": run.started_at,
            "attempt": 1,
        }

    # ---------------------------------------------------------- lookups

    @property
    def root_vars(self) -> Mapping[str, Any]:
        root = self.state.root
        return root.vars if root is not None else self.final_vars

    @property
    def threads(self) -> dict[str, Thread]:
        return self.state.threads

    def scope_of(self, thread: Thread) -> Scope:
        return self.scopes[thread.sk]

    def state_of(self, thread: Thread) -> State:
        assert thread.at is not None
        return self.scopes[thread.sk].states[thread.at]

    def can_step(self) -> bool:
        """Whether another state may be entered in this transition."""
        if self.status is not None:
            return False
        if self.state.paused and not self.stepping:
            return False
        if self.stepping and self.steps >= 1:
            return False
        return self.max_steps is None or self.steps < self.max_steps

    def active(self) -> bool:
        """Timers fire and messages are consumed only on a running, unpaused run."""
        return self.status is None and (not self.state.paused or self.stepping)

    # ---------------------------------------------------------- history

    def event(
        self, type: str, state: str | None = None, data: Mapping[str, Any] | None = None
    ) -> None:
        # Three or four of these per step: kept to plain attribute reads.
        run_state = self.state
        seq = run_state.seq = run_state.seq + 1
        hooks = self.hooks
        payload: Mapping[str, Any] = data or {}
        if hooks.used_now or hooks.used_uuids:
            payload = {**payload, "hooks": hooks.take_record()}
        secret_values = self.secret_values
        if hooks.used_secrets:  # only then can a name unknown statically have been read
            secret_values += hooks.dynamic_secret_values(secret_values)
        if secret_values and payload:
            payload = redact(payload, secret_values)
        self.events.append(
            Event(run_id=self.run.id, seq=seq, type=type, time=self.now, state=state, data=payload)
        )

    def command(self, command: Command) -> None:
        self.commands.append(command)

    # ------------------------------------------------------- evaluation

    def scope(
        self, thread: Thread, extra: Mapping[str, Any] | None = None, attempt: int = 1
    ) -> dict[str, Any]:
        info = self.run_info if attempt == 1 else {**self.run_info, "attempt": attempt}
        scope: dict[str, Any] = {"input": self.run.input, "vars": thread.vars, "run": info}
        if thread.bind:
            scope.update(thread.bind)
        if extra:
            scope.update(extra)
        return scope

    def evaluate(
        self,
        value: CompiledValue,
        thread: Thread,
        path: str,
        extra: Mapping[str, Any] | None = None,
        attempt: int = 1,
    ) -> Any:
        """``value`` in the thread's scope; an ExpressionError becomes a
        :class:`Failure` whose message starts with the run and state."""
        if value.is_constant:
            return value.evaluate({})
        self.hooks.at_seq(self.state.seq)
        try:
            return value.evaluate(self.scope(thread, extra, attempt), self.hooks)
        except ExpressionError as exc:
            spent = current_allowance()
            if spent is not None and spent.exceeded and spent.where is None:
                spent.where = path
            raise self.expression_failure(path, str(exc)) from None

    def expression_failure(self, path: str, message: str) -> Failure:
        return Failure("ExpressionError", f"run '{self.run.id}' state '{path}': {message}")

    def assign(
        self,
        thread: Thread,
        assignments: tuple[Assignment, ...],
        path: str,
        extra: Mapping[str, Any] | None = None,
        first: tuple[VarPath, Any] | None = None,
    ) -> None:
        """Apply a ``set`` (after ``first``, e.g. a task's ``result``) and record
        ``vars_changed``. Every value is evaluated before any is written, so a
        ``set`` reads the vars as they were when the state completed (plus
        ``first``); a failing expression changes nothing."""
        changed: dict[str, Any] = {}
        new_vars: Mapping[str, Any] = thread.vars
        if first is not None:
            new_vars = write_path(new_vars, first[0].parts, first[1])
            changed[first[0].text] = first[1]
        if assignments:
            saved = thread.vars
            thread.vars = dict(new_vars)
            try:
                values = [self.evaluate(item.value, thread, path, extra) for item in assignments]
            finally:
                thread.vars = saved
            for item, value in zip(assignments, values, strict=True):
                new_vars = write_path(new_vars, item.target.parts, value)
                changed[item.target.text] = value
        if changed:
            thread.vars = dict(new_vars)
            self.event("vars_changed", path, {"changed": changed})

    def write(self, thread: Thread, target: VarPath, value: Any, path: str) -> None:
        """One write (a wait's or a catch's ``as``), recorded as ``vars_changed``."""
        self.assign(thread, (), path, first=(target, value))

    # ------------------------------------------------------------ inbox

    def ready_since(self, channel: str, count: int) -> float | None:
        """When ``count`` unconsumed messages of ``channel`` were all there (the
        time the last of them was sent; a message this run sent itself now
        counts as sent now), without consuming anything; None when fewer."""
        seen = 0
        for message in self.inbox:
            if (
                message.channel == channel
                and message.seq not in self._consumed
                and not message.consumed
            ):
                seen += 1
                if seen == count:
                    return message.sent_at
        for local_channel, _ in self.local:
            if local_channel == channel:
                seen += 1
                if seen == count:
                    return self.now
        return None

    def take(self, channel: str, count: int) -> list[tuple[int | None, Any]] | None:
        """The first ``count`` unconsumed messages on ``channel`` (inbox first,
        then messages this run sent itself now), consumed; None when fewer."""
        found: list[tuple[int | None, Any]] = []
        inbox_hits: list[int] = []
        for message in self.inbox:
            if (
                message.channel == channel
                and message.seq not in self._consumed
                and not message.consumed
            ):
                found.append((message.seq, message.data))
                inbox_hits.append(message.seq)
                if len(found) == count:
                    break
        local_hits: list[int] = []
        if len(found) < count:
            for i, (local_channel, data) in enumerate(self.local):
                if local_channel == channel:
                    found.append((None, data))
                    local_hits.append(i)
                    if len(found) == count:
                        break
        if len(found) < count:
            return None
        for seq in inbox_hits:
            self._consumed.add(seq)
            self.consumed.append(seq)
        for i in reversed(local_hits):
            del self.local[i]
        return found

    def unconsumed(self, channel: str) -> list[InboxMessage]:
        """The messages of ``channel`` not consumed yet, in order."""
        return [
            m
            for m in self.inbox
            if m.channel == channel and m.seq not in self._consumed and not m.consumed
        ]

    def consume(self, seq: int) -> None:
        """Mark the inbox message ``seq`` consumed by this transition."""
        self._consumed.add(seq)
        self.consumed.append(seq)

    def take_child(self, child_id: str) -> tuple[int | None, Any] | None:
        """The ``__child__`` message reporting the end of run ``child_id``."""
        for message in self.inbox:
            if (
                message.channel == "__child__"
                and message.seq not in self._consumed
                and isinstance(message.data, Mapping)
                and message.data.get("run_id") == child_id
            ):
                self._consumed.add(message.seq)
                self.consumed.append(message.seq)
                return message.seq, message.data
        return None

    def send(self, target: str | None, channel: str, data: Any) -> None:
        """An ``emit``: to this run (kept for waits in this same transition,
        else written to its inbox) or to another run's inbox."""
        size = json_size(data, MAX_PAYLOAD_BYTES)
        if size > MAX_PAYLOAD_BYTES:
            raise LimitExceeded(
                f"run '{self.run.id}': "
                + payload_size_error(f"the data of the {channel!r} message it emits", size)
            )
        if target is None or target == self.run.id:
            self.local.append([channel, data])
        else:
            self.outbox.append(
                InboxMessage(run_id=target, channel=channel, data=data, sent_at=self.now)
            )

    def next_call_id(self) -> str:
        self.state.calls += 1
        return str(self.state.calls)


_SECRET_NAMES: dict[str, frozenset[str]] = {}


def secret_names(workflow: Workflow) -> frozenset[str]:
    """Names passed as constant text to ``secret()`` anywhere in the workflow
    (cached per definition: the walk runs once per content hash)."""
    key = workflow.source_hash or str(id(workflow))
    names = _SECRET_NAMES.get(key)
    if names is None:
        found: set[str] = set()
        for site in iter_sites(workflow):
            for _path, _offset, expression in site.value.expressions():
                if "secret" in expression.source:
                    found.update(
                        re.findall(r"secret\(\s*['\"]([^'\"]+)['\"]\s*\)", expression.source)
                    )
        names = _SECRET_NAMES[key] = frozenset(found)
    return names
