"""The compiled workflow: frozen records the interpreter and the designer share.

The compiler (``compiler.py``) builds these from a validated document; nothing
here parses YAML or evaluates anything. Every node keeps its JSON ``path`` in
the document, so a finding, a history event or a designer highlight can be
traced back to a line and column through ``Workflow.source_map``.

Values that may hold expressions (``args``, ``set`` values, ``output``, ...)
are :class:`~wfdsl.dsl.expressions.CompiledValue`: parsed once, here, never
again at run time. Durations and timestamps that are plain text in the
document are parsed to seconds / epoch seconds by the compiler; the ``*_expr``
twin holds the compiled expression when the document computes them.
"""

from __future__ import annotations

import math
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any, ClassVar, Literal

from .expressions import CompiledValue
from .source import JsonPath, SourceMap

__all__ = [
    "DEFAULT_MAX_TRANSITIONS",
    "STATE_TYPES",
    "AllWait",
    "AnyWait",
    "Assignment",
    "AtLeastWait",
    "Branch",
    "Callback",
    "Catch",
    "ChoiceRule",
    "ChoiceState",
    "CompensateState",
    "Defaults",
    "EmitState",
    "FailState",
    "Handler",
    "HandlerEmit",
    "IdReuse",
    "Join",
    "MapState",
    "ParallelState",
    "RetryPolicy",
    "Schedule",
    "Scope",
    "SetState",
    "SignalDecl",
    "SignalWait",
    "State",
    "SubflowState",
    "SucceedState",
    "TaskCache",
    "TaskState",
    "TimerWait",
    "Undo",
    "UntilWait",
    "VarPath",
    "WaitNode",
    "WaitState",
    "Workflow",
    "iter_states",
]

IdReuse = Literal["allow_if_no_running", "allow_if_failed", "disallow", "terminate_if_running"]
Overlap = Literal["skip", "allow", "buffer_one"]
#: What a subflow's running child does when its parent ends first.
ParentClose = Literal["cancel", "abandon"]


@dataclass(frozen=True, slots=True)
class VarPath:
    """A dotted path into ``vars`` (``payment.id``): where a value is written."""

    parts: tuple[str, ...]

    @classmethod
    def parse(cls, text: str) -> VarPath:
        return cls(tuple(text.split(".")))

    @property
    def text(self) -> str:
        return ".".join(self.parts)

    @property
    def root(self) -> str:
        return self.parts[0]

    def __str__(self) -> str:
        return self.text


@dataclass(frozen=True, slots=True, kw_only=True)
class Assignment:
    """One entry of a ``set`` map: ``target`` receives ``value``."""

    target: VarPath
    value: CompiledValue
    path: JsonPath = ()


@dataclass(frozen=True, slots=True, kw_only=True)
class RetryPolicy:
    """One retrier. A single ``retry:`` map is one policy for ``"*"``.

    ``max_attempts`` counts attempts, the first included; ``None`` is
    ``unlimited``. ``jitter_mode`` is ``fraction`` (scale by a factor in
    ``[1 - jitter, 1 + jitter)``), ``full`` (uniform in ``[0, delay]``) or
    ``equal`` (uniform in ``[delay / 2, delay]``).
    """

    errors: tuple[str, ...] = ("*",)
    max_attempts: int | None = 3
    initial_interval: float = 1.0
    backoff: float = 2.0
    max_interval: float = 100.0
    max_duration: float | None = None
    jitter: float = 0.0
    jitter_mode: str = "fraction"
    non_retryable: tuple[str, ...] = ()
    retry_on: tuple[str, ...] | None = None
    path: JsonPath = ()

    def names(self, error: str) -> bool:
        """Whether this policy is the one for ``error`` (its ``errors`` list)."""
        return "*" in self.errors or error in self.errors

    def retries(self, error: str) -> bool:
        """Whether ``error`` is retried under this policy at all."""
        if error in self.non_retryable:
            return False
        if self.retry_on is not None:
            return error in self.retry_on
        return True

    def allows(self, attempts_made: int) -> bool:
        """Whether another attempt may follow ``attempts_made`` attempts."""
        return self.max_attempts is None or attempts_made < self.max_attempts

    def delay(self, retry_number: int, random_fraction: float = 0.5) -> float:
        """Seconds to wait before retry ``retry_number`` (1 = after the first attempt).

        ``random_fraction`` in [0, 1) comes from the seed recorded in history.
        The result never exceeds ``max_interval``, jitter included: the cap
        is a promise.
        """
        cap = self.max_interval
        grown = self.initial_interval
        if self.backoff > 1 and retry_number > 1:
            # Compare logarithms: with unlimited attempts backoff ** n overflows.
            room = math.log(cap / grown) if grown > 0 and cap > grown else 0.0
            exponent = retry_number - 1
            grown = (
                cap if exponent * math.log(self.backoff) >= room else grown * self.backoff**exponent
            )
        base = min(grown, cap)
        if self.jitter_mode == "full":
            base *= random_fraction
        elif self.jitter_mode == "equal":
            base = base / 2 + base / 2 * random_fraction
        elif self.jitter:
            base *= 1 - self.jitter + 2 * self.jitter * random_fraction
        return max(0.0, min(base, cap))


@dataclass(frozen=True, slots=True, kw_only=True)
class Catch:
    """A ``catch`` entry: errors it matches, the var receiving the error, where to go."""

    errors: tuple[str, ...]
    next: str | None
    as_: VarPath | None = None
    #: An extra condition over ``error`` (``{error, message, details}``); None: always.
    when: CompiledValue | None = None
    path: JsonPath = ()

    def matches(self, error: str) -> bool:
        """Whether the entry names ``error`` (its ``when``, if any, is checked apart)."""
        return "*" in self.errors or error in self.errors


@dataclass(frozen=True, slots=True, kw_only=True)
class Undo:
    """How to undo a task (§6): an action and its args, run with the task's retry."""

    action: str
    args: CompiledValue | None = None
    path: JsonPath = ()


# --------------------------------------------------------------------- waits


@dataclass(frozen=True, slots=True, kw_only=True)
class TimerWait:
    """``timer: 10m``: completes ``seconds`` after the wait was entered."""

    seconds: float | None = None
    seconds_expr: CompiledValue | None = None
    next: str | None = None
    path: JsonPath = ()
    kind: ClassVar[str] = "timer"


@dataclass(frozen=True, slots=True, kw_only=True)
class UntilWait:
    """``until: <timestamp>``: completes at an absolute time (epoch seconds)."""

    at: float | None = None
    at_expr: CompiledValue | None = None
    next: str | None = None
    path: JsonPath = ()
    kind: ClassVar[str] = "until"


@dataclass(frozen=True, slots=True, kw_only=True)
class SignalWait:
    """``signal: ready``: consumes ``count`` messages from the run's inbox."""

    channel: str
    as_: VarPath | None = None
    count: int = 1
    next: str | None = None
    path: JsonPath = ()
    kind: ClassVar[str] = "signal"


@dataclass(frozen=True, slots=True, kw_only=True)
class AnyWait:
    """First alternative to complete wins; the others are dropped."""

    alternatives: tuple[WaitNode, ...]
    next: str | None = None
    path: JsonPath = ()
    kind: ClassVar[str] = "any"


@dataclass(frozen=True, slots=True, kw_only=True)
class AllWait:
    """Completes once every alternative has."""

    alternatives: tuple[WaitNode, ...]
    next: str | None = None
    path: JsonPath = ()
    kind: ClassVar[str] = "all"


@dataclass(frozen=True, slots=True, kw_only=True)
class AtLeastWait:
    """Completes once ``count`` of the alternatives have."""

    count: int
    alternatives: tuple[WaitNode, ...]
    next: str | None = None
    path: JsonPath = ()
    kind: ClassVar[str] = "at_least"


WaitNode = TimerWait | UntilWait | SignalWait | AnyWait | AllWait | AtLeastWait


# -------------------------------------------------------------------- states


@dataclass(frozen=True, slots=True, kw_only=True)
class _StateBase:
    name: str
    path: JsonPath = ()
    description: str | None = None
    next: str | None = None
    end: bool = False
    set: tuple[Assignment, ...] = ()
    extensions: Mapping[str, Any] = field(default_factory=dict)
    type: ClassVar[str] = ""

    def successors(self) -> tuple[str, ...]:
        """Every state name this state may go to next, in document order."""
        return (self.next,) if self.next else ()


def policy_for(retry: tuple[RetryPolicy, ...], error: str) -> RetryPolicy | None:
    """The first policy of ``retry`` naming ``error`` (Step Functions' ordered retriers)."""
    for policy in retry:
        if policy.names(error):
            return policy
    return None


@dataclass(frozen=True, slots=True, kw_only=True)
class Callback:
    """A task's ``callback``: after its action returns, it waits for its token
    to be completed. Seconds from the token's issue; None: no limit."""

    timeout: float | None = None
    heartbeat: float | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class TaskCache:
    """A task's ``cache``: ``key`` None means the action and its args."""

    key: CompiledValue | None = None
    version: str | None = None
    ttl: float | None = None
    path: JsonPath = ()


@dataclass(frozen=True, slots=True, kw_only=True)
class TaskState(_StateBase):
    action: str
    args: CompiledValue | None = None
    result: VarPath | None = None
    timeout: float | None = None
    retry: tuple[RetryPolicy, ...] = ()
    catch: tuple[Catch, ...] = ()
    undo: Undo | None = None
    #: Set: the task waits for its callback token once the action returns.
    callback: Callback | None = None
    #: Set: a successful result is reused for calls with the same key.
    cache: TaskCache | None = None
    type: ClassVar[str] = "task"

    def retry_policy_for(self, error: str) -> RetryPolicy | None:
        """The first policy naming ``error`` (Step Functions' ordered retriers)."""
        for policy in self.retry:
            if policy.names(error):
                return policy
        return None

    def successors(self) -> tuple[str, ...]:
        return _unique((self.next, *(c.next for c in self.catch)))


@dataclass(frozen=True, slots=True, kw_only=True)
class ChoiceRule:
    """One branch: when ``when`` holds, go to ``next``, or end the thread (``end``)."""

    when: CompiledValue
    next: str | None
    end: bool = False
    path: JsonPath = ()


@dataclass(frozen=True, slots=True, kw_only=True)
class ChoiceState(_StateBase):
    choices: tuple[ChoiceRule, ...] = ()
    default: str | None = None
    type: ClassVar[str] = "choice"

    def successors(self) -> tuple[str, ...]:
        return _unique((*(c.next for c in self.choices), self.default))

    def may_end(self) -> bool:
        """Whether a branch (or, with ``end``, no branch holding) ends the thread."""
        return self.end or any(rule.end for rule in self.choices)


@dataclass(frozen=True, slots=True, kw_only=True)
class WaitState(_StateBase):
    condition: WaitNode
    type: ClassVar[str] = "wait"

    def successors(self) -> tuple[str, ...]:
        return _unique((*_wait_targets(self.condition), self.next))


@dataclass(frozen=True, slots=True, kw_only=True)
class Join:
    """``all`` (default), ``any`` or ``{count: N}``."""

    kind: Literal["all", "any", "count"] = "all"
    count: int | None = None

    def needed(self, branches: int) -> int:
        """How many branches must complete before the state completes."""
        if self.kind == "any":
            return min(1, branches)
        if self.kind == "count" and self.count is not None:
            return self.count
        return branches


@dataclass(frozen=True, slots=True, kw_only=True)
class Scope:
    """A state machine: the top level, a parallel branch, or a map body."""

    start: str
    states: Mapping[str, State]
    path: JsonPath = ()

    def __getitem__(self, name: str) -> State:
        return self.states[name]

    def __contains__(self, name: object) -> bool:
        return name in self.states


@dataclass(frozen=True, slots=True, kw_only=True)
class Branch:
    name: str
    scope: Scope
    path: JsonPath = ()


@dataclass(frozen=True, slots=True, kw_only=True)
class ParallelState(_StateBase):
    branches: tuple[Branch, ...]
    join: Join = field(default_factory=Join)
    result: VarPath | None = None
    catch: tuple[Catch, ...] = ()
    retry: tuple[RetryPolicy, ...] = ()
    type: ClassVar[str] = "parallel"

    def retry_policy_for(self, error: str) -> RetryPolicy | None:
        """The first retry policy naming ``error``: the whole state runs again."""
        return policy_for(self.retry, error)

    def successors(self) -> tuple[str, ...]:
        return _unique((self.next, *(c.next for c in self.catch)))


@dataclass(frozen=True, slots=True, kw_only=True)
class MapState(_StateBase):
    items: CompiledValue
    do: Scope
    as_: str = "item"
    concurrency: int = 1
    result: VarPath | None = None
    catch: tuple[Catch, ...] = ()
    retry: tuple[RetryPolicy, ...] = ()
    #: Failed iterations the map tolerates: a count, or with ``tolerated_percent``
    #: a percentage of the items; None: the first failure fails the map.
    tolerated_failures: int | None = None
    tolerated_percent: float | None = None
    type: ClassVar[str] = "map"

    def retry_policy_for(self, error: str) -> RetryPolicy | None:
        """The first retry policy naming ``error``: the whole state runs again."""
        return policy_for(self.retry, error)

    def successors(self) -> tuple[str, ...]:
        return _unique((self.next, *(c.next for c in self.catch)))


@dataclass(frozen=True, slots=True, kw_only=True)
class SetState(_StateBase):
    type: ClassVar[str] = "set"


@dataclass(frozen=True, slots=True, kw_only=True)
class EmitState(_StateBase):
    signal: str
    data: CompiledValue | None = None
    run: CompiledValue | None = None
    type: ClassVar[str] = "emit"


@dataclass(frozen=True, slots=True, kw_only=True)
class SubflowState(_StateBase):
    workflow: str
    input: CompiledValue | None = None
    result: VarPath | None = None
    wait: bool = True
    catch: tuple[Catch, ...] = ()
    retry: tuple[RetryPolicy, ...] = ()
    #: ``cancel``: a running child is cancelled when the parent is cancelled or
    #: fails (or its waiting branch is cancelled); ``abandon``: it runs on.
    parent_close: ParentClose = "cancel"
    type: ClassVar[str] = "subflow"

    def retry_policy_for(self, error: str) -> RetryPolicy | None:
        """The first retry policy naming ``error``: the whole state runs again."""
        return policy_for(self.retry, error)

    def successors(self) -> tuple[str, ...]:
        return _unique((self.next, *(c.next for c in self.catch)))


@dataclass(frozen=True, slots=True, kw_only=True)
class CompensateState(_StateBase):
    type: ClassVar[str] = "compensate"


@dataclass(frozen=True, slots=True, kw_only=True)
class SucceedState(_StateBase):
    output: CompiledValue | None = None
    type: ClassVar[str] = "succeed"


@dataclass(frozen=True, slots=True, kw_only=True)
class FailState(_StateBase):
    error: CompiledValue
    message: CompiledValue | None = None
    compensate: bool = False
    type: ClassVar[str] = "fail"


State = (
    TaskState
    | ChoiceState
    | WaitState
    | ParallelState
    | MapState
    | SetState
    | EmitState
    | SubflowState
    | CompensateState
    | SucceedState
    | FailState
)

#: ``type:`` value -> record class.
#: ``max_transitions`` when a workflow sets none: the most states one thread
#: enters without a durable wait before the run fails as a spinning loop.
DEFAULT_MAX_TRANSITIONS = 10_000

STATE_TYPES: Mapping[str, type[_StateBase]] = {
    cls.type: cls
    for cls in (
        TaskState,
        ChoiceState,
        WaitState,
        ParallelState,
        MapState,
        SetState,
        EmitState,
        SubflowState,
        CompensateState,
        SucceedState,
        FailState,
    )
}


# ----------------------------------------------------------------- workflow


@dataclass(frozen=True, slots=True, kw_only=True)
class SignalDecl:
    name: str
    schema: Mapping[str, Any] | None = None
    path: JsonPath = ()


@dataclass(frozen=True, slots=True, kw_only=True)
class HandlerEmit:
    signal: str
    data: CompiledValue | None = None
    run: CompiledValue | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class Handler:
    """A synchronous call into a run (§7); without ``set``/``emit`` it is a query."""

    name: str
    when: CompiledValue | None = None
    set: tuple[Assignment, ...] = ()
    emit: HandlerEmit | None = None
    returns: CompiledValue | None = None
    input_schema: Mapping[str, Any] | None = None
    description: str | None = None
    path: JsonPath = ()

    @property
    def is_query(self) -> bool:
        return not self.set and self.emit is None


@dataclass(frozen=True, slots=True, kw_only=True)
class Schedule:
    cron: str
    timezone: str = "UTC"
    overlap: Overlap = "skip"


@dataclass(frozen=True, slots=True, kw_only=True)
class Defaults:
    """``defaults:``; the compiler has already applied them to every task."""

    retry: tuple[RetryPolicy, ...] = ()
    timeout: float | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class Workflow:
    """One compiled document. ``source_hash`` pins runs to this exact text."""

    name: str
    root: Scope
    version: int | str | None = None
    description: str | None = None
    input_schema: Mapping[str, Any] | None = None
    output: CompiledValue | None = None
    vars: CompiledValue | None = None
    search: Mapping[str, CompiledValue] = field(default_factory=dict)
    signals: Mapping[str, SignalDecl] = field(default_factory=dict)
    handlers: Mapping[str, Handler] = field(default_factory=dict)
    timeout: float | None = None
    defaults: Defaults = field(default_factory=Defaults)
    id_reuse: IdReuse = "allow_if_no_running"
    schedule: Schedule | None = None
    compensate_on_failure: bool = False
    imports: tuple[str, ...] = ()
    #: The most states one thread may enter without a durable wait (a spin guard).
    max_transitions: int = DEFAULT_MAX_TRANSITIONS
    extensions: Mapping[str, Any] = field(default_factory=dict)
    source_text: str = ""
    source_hash: str = ""
    file: str | None = None
    source_map: SourceMap = field(default_factory=SourceMap)

    @property
    def start(self) -> str:
        return self.root.start

    @property
    def states(self) -> Mapping[str, State]:
        return self.root.states

    @property
    def signals_declared(self) -> bool:
        """Once any signal is declared, undeclared channels are errors (§1)."""
        return bool(self.signals)

    def state_at(self, path: tuple[str, ...]) -> State:
        """The state at a thread path: ``("fan_out", "notify", "email")`` is
        state ``email`` of branch ``notify`` of parallel state ``fan_out``;
        a map body is addressed by the map state's name then the body state
        (``("charge_lines", "charge")``)."""
        scope = self.root
        state: State | None = None
        i = 0
        while i < len(path):
            state = scope.states[path[i]]
            i += 1
            if i == len(path):
                break
            if isinstance(state, ParallelState):
                branch = next(b for b in state.branches if b.name == path[i])
                scope = branch.scope
                i += 1
            elif isinstance(state, MapState):
                scope = state.do
            else:
                raise KeyError(path)
        if state is None:
            raise KeyError(path)
        return state


def iter_states(scope: Scope) -> Iterator[tuple[Scope, State]]:
    """Every state of ``scope`` and of the branches and map bodies inside it,
    depth first in document order, each with the scope that owns it."""
    for state in scope.states.values():
        yield scope, state
        if isinstance(state, ParallelState):
            for branch in state.branches:
                yield from iter_states(branch.scope)
        elif isinstance(state, MapState):
            yield from iter_states(state.do)


def _wait_targets(node: WaitNode) -> Iterator[str]:
    if node.next:
        yield node.next
    if isinstance(node, AnyWait | AllWait | AtLeastWait):
        for alternative in node.alternatives:
            yield from _wait_targets(alternative)


def _unique(names: tuple[str | None, ...]) -> tuple[str, ...]:
    seen: dict[str, None] = {}
    for name in names:
        if name:
            seen.setdefault(name, None)
    return tuple(seen)
