"""The pure transition function: (workflow, run, trigger) -> Transition.

``advance`` never reads a clock, a file or a database: time comes in the
trigger (``now``), messages in ``inbox``, secrets in ``secrets``; everything
else (uuids, retry jitter, child run ids, call ids) is derived from the run's
state, so the same inputs always give the same transition.

One call runs every thread as far as it goes without the outside world:
a set -> choice -> task chain is one transition (``steps`` counts states
entered). The run's state JSON is described in ``run_state.py``; the rules
for each state type live in tasks, waits, forks, compensation and handlers.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from wfdsl.dsl.expressions.limits import Allowance, allowance
from wfdsl.dsl.model import (
    ChoiceState,
    CompensateState,
    EmitState,
    FailState,
    MapState,
    ParallelState,
    SetState,
    State,
    SubflowState,
    SucceedState,
    TaskState,
    WaitState,
    Workflow,
)

from wfdsl.errors import ExpressionError

from ..store.records import InboxMessage, RunRow, advanced_row
from . import callbacks, compensation, flow, forks, handlers, limits, tasks, waits
from .context import Context
from .limits import MAX_PAYLOAD_BYTES, MAX_TRANSITION_BYTES, json_size, payload_size_error
from .run_state import RunState, Thread
from .scope import Failure, LimitExceeded
from .steps import (
    ActionOutcome,
    CallHandler,
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

__all__ = ["advance", "new_run", "written_size"]


def new_run(
    workflow: Workflow,
    *,
    run_id: str,
    input: Any,
    now: float,
    parent_run: str | None = None,
    break_at: Sequence[str] = (),
    trace: Mapping[str, str] | None = None,
) -> RunRow:
    """A run row ready for its :class:`StartRun` trigger (status ``running``,
    ``ready_at`` now). Initial vars are evaluated by StartRun, which records
    ``run_started`` first, so an error in them fails the run visibly."""
    state = RunState()
    state.break_at = list(break_at)
    if trace:
        state.trace = {str(k): str(v) for k, v in trace.items()}
    version = None if workflow.version is None else str(workflow.version)
    return RunRow(
        id=run_id,
        workflow=workflow.name,
        version=version,
        definition_hash=workflow.source_hash,
        status="running",
        input=input,
        started_at=now,
        ready_at=now,
        state=state.to_json(),
        parent_run=parent_run,
    )


def advance(
    workflow: Workflow,
    run: RunRow,
    trigger: Trigger,
    *,
    inbox: Sequence[InboxMessage] = (),
    max_steps: int | None = None,
    secrets: Mapping[str, str] | None = None,
    entropy: bytes = b"",
) -> Transition:
    """The run's next transition for ``trigger``. ``inbox``: the run's
    unconsumed messages in seq order; ``max_steps``: stop entering states
    after this many (the run stays ready); ``secrets``: what ``secret()`` reads
    (their values are masked in event data); ``entropy``: random bytes that
    make the callback tokens issued in this transition unguessable (the
    engine passes fresh ones each time)."""
    with allowance() as spent:
        ctx = Context(
            workflow,
            run,
            trigger.now,
            inbox=inbox,
            secrets=secrets,
            max_steps=max_steps,
            entropy=entropy,
        )
        try:
            _check_outcome(ctx, trigger)
            transition = _advance(ctx, run, trigger)
            reason = _over_limit(ctx, spent, transition)
        except LimitExceeded as exc:
            reason = exc.message
    if reason is None:
        return transition
    return _refuse(workflow, run, trigger, reason, inbox=inbox, secrets=secrets)


def _advance(ctx: Context, run: RunRow, trigger: Trigger) -> Transition:
    if ctx.status is not None:
        # A finished run only answers queries; anything else is a late arrival.
        if isinstance(trigger, CallHandler):
            handlers.call(ctx, trigger)
        return _idle(run, ctx)
    if not _apply(ctx, trigger):
        return _idle(run, ctx)
    _see_inbox(ctx)
    _forget_ended_children(ctx)
    _check_deadline(ctx)
    _run(ctx)
    if ctx.status is None:
        callbacks.sweep(ctx)
    return _finish(ctx)


# ------------------------------------------------------------------ bounds


def _check_outcome(ctx: Context, trigger: Trigger) -> None:
    """An action result is a payload: at most MAX_PAYLOAD_BYTES of JSON."""
    if not isinstance(trigger, ActionOutcome) or not trigger.ok or ctx.status is not None:
        return
    size = json_size(trigger.value, MAX_PAYLOAD_BYTES)
    if size <= MAX_PAYLOAD_BYTES:
        return
    thread = _calling(ctx, trigger.call_id)
    if thread is None or thread.call is None:
        return  # a late outcome: ignored anyway
    call = thread.call
    raise LimitExceeded(
        f"run '{ctx.run.id}' state '{call['path']}': "
        + payload_size_error(f"the result of action '{call['action']}'", size)
    )


def _calling(ctx: Context, call_id: str) -> Thread | None:
    return next(
        (t for t in ctx.threads.values() if t.call is not None and t.call["id"] == call_id),
        None,
    )


def _over_limit(ctx: Context, spent: Allowance, transition: Transition) -> str | None:
    """Why ``transition`` may not be committed (None: it may)."""
    where = f"run '{ctx.run.id}'"
    state = spent.where or next((e.state for e in reversed(ctx.events) if e.state), None)
    if state is not None:
        where += f" state '{state}'"
    if spent.exceeded:
        return (
            f"{where}: {spent.what}: the expressions of one transition may build and "
            f"visit at most {spent.limit:,} characters and items in all"
        )
    if transition.status == "idle":
        return None
    bound = limits.MAX_HISTORY_EVENTS
    if ctx.state.seq > bound:
        return (
            f"{where}: its history would pass {bound:,} events; a run that repeats for "
            "ever must not keep one history: wait durably between rounds and start a new "
            "run per round (a schedule, or an emit to a fresh run), or move each round "
            "into a subflow"
        )
    size = written_size(transition, ctx.run)
    if size <= MAX_TRANSITION_BYTES:
        return None
    return (
        f"{where}: the transition would write more than {MAX_TRANSITION_BYTES:,} bytes "
        "(16 MiB) of JSON (vars, state, history events, search attributes, messages)"
    )


def written_size(transition: Transition, old: RunRow) -> int:
    """About how many bytes of JSON ``transition`` writes, counting vars,
    search attributes and output only when it changes them; stops counting
    past MAX_TRANSITION_BYTES."""
    cap = MAX_TRANSITION_BYTES
    run = transition.run
    total = json_size(run.state, cap)
    for value, before in ((run.vars, old.vars), (run.search, old.search), (run.output, old.output)):
        if value is not before and total <= cap:
            total += json_size(value, cap - total)
    for event in transition.events:
        if total > cap:
            break
        total += 48 + json_size(event.data, cap - total)
    for message in transition.outbox:
        if total > cap:
            break
        total += 48 + json_size(message.data, cap - total)
    return total


def _refuse(
    workflow: Workflow,
    run: RunRow,
    trigger: Trigger,
    reason: str,
    *,
    inbox: Sequence[InboxMessage],
    secrets: Mapping[str, str] | None,
) -> Transition:
    """The transition instead of one over a limit: nothing of it is kept.

    A handler call is answered ``LimitExceeded`` and changes nothing; any
    other trigger fails the run with ``LimitExceeded`` (not caught by
    ``catch``: the transition that would have handled it is the one
    refused), compensating first when the workflow asks for it.
    """
    with allowance():
        ctx = Context(workflow, run, trigger.now, inbox=inbox, secrets=secrets)
        if isinstance(trigger, CallHandler):
            ctx.command(
                ReplyHandler(
                    call_id=trigger.call_id, ok=False, error="LimitExceeded", message=reason
                )
            )
            return _idle(run, ctx)
        if ctx.status is not None:
            return _idle(run, ctx)
        error = {"error": "LimitExceeded", "message": reason}
        if isinstance(trigger, StartRun) and not ctx.state.seq:
            ctx.event(
                "run_started",
                None,
                {"input": run.input, "workflow": workflow.name, "version": workflow.version},
            )
        elif isinstance(trigger, ActionOutcome):
            thread = _calling(ctx, trigger.call_id)
            if thread is not None and thread.call is not None:
                call = thread.call
                ctx.event(
                    "action_failed",
                    call["path"],
                    {"call_id": call["id"], "attempt": call["attempt"], **error},
                )
                thread.call = None
        try:
            flow.fail_run(ctx, error)
        except (Failure, LimitExceeded):
            flow.finish_run(ctx, "failed", error=error)
        return _finish(ctx)


# ----------------------------------------------------------- triggers


def _apply(ctx: Context, trigger: Trigger) -> bool:
    """Apply the trigger itself; False when it changes nothing."""
    state = ctx.state
    if isinstance(trigger, StartRun):
        if state.seq:
            return False
        _start(ctx)
    elif isinstance(trigger, ActionOutcome):
        thread = next(
            (
                t
                for t in ctx.threads.values()
                if t.call is not None and t.call["id"] == trigger.call_id
            ),
            None,
        )
        if thread is None:
            return False
        if thread.ph == "comp":
            compensation.on_outcome(ctx, thread, trigger)
        else:
            tasks.on_outcome(ctx, thread, trigger)
    elif isinstance(trigger, CallHandler):
        return handlers.call(ctx, trigger)
    elif isinstance(trigger, CancelRun):
        _cancel(ctx, trigger)
    elif isinstance(trigger, PauseRun):
        if state.paused:
            return False
        state.paused = True
        ctx.event("paused", None, {"reason": "requested"})
    elif isinstance(trigger, ResumeRun):
        if not state.paused:
            return False
        state.paused = False
        ctx.event("resumed", None, {})
    elif isinstance(trigger, StepRun):
        if not state.paused:
            state.paused = True
            ctx.event("paused", None, {"reason": "step"})
        ctx.stepping = True
    elif isinstance(trigger, Recover):
        _recover(ctx)
    else:
        assert isinstance(trigger, Wake)
    return True


def _start(ctx: Context) -> None:
    workflow = ctx.workflow
    # The same type as Run.version and the runs table: `version: 1` is "1".
    version = None if workflow.version is None else str(workflow.version)
    started: dict[str, Any] = {
        "input": ctx.run.input,
        "workflow": workflow.name,
        "version": version,
    }
    if ctx.state.trace:
        started["trace"] = ctx.state.trace
    ctx.event("run_started", None, started)
    root = Thread("", at=workflow.start)
    ctx.threads[""] = root
    if workflow.vars is not None:
        try:
            initial = ctx.evaluate(workflow.vars, root, "vars")
            if not isinstance(initial, Mapping):
                raise ctx.expression_failure("vars", "vars must be a map")
        except Failure as failure:
            flow.finish_run(
                ctx, "failed", error={"error": failure.error, "message": failure.message}
            )
            return
        root.vars = dict(initial)


def _cancel(ctx: Context, trigger: CancelRun) -> None:
    ctx.closing = "cancelled"
    root = ctx.state.root
    if trigger.compensate and root is not None and root.comp is None:
        entries = flow.collect_all_undo(ctx, root)
        if entries:
            ctx.state.paused = False
            compensation.begin(ctx, root, entries, {"cancel": True})
            return
    flow.finish_run(ctx, "cancelled", reason=trigger.reason)


def _recover(ctx: Context) -> None:
    """Re-issue every call in flight exactly as first issued (same call id,
    args and idempotency key), and every child run start."""
    for thread in ctx.threads.values():
        if thread.call is not None:
            tasks.issue(ctx, thread.call)
        elif thread.ph == "child" and thread.child is not None:
            _start_child_command(ctx, thread)


def _see_inbox(ctx: Context) -> None:
    """``signal_received`` for each message the machine sees for the first time."""
    seen = ctx.state.seen
    for message in ctx.inbox:
        if message.seq > seen:
            ctx.event(
                "signal_received",
                None,
                {"channel": message.channel, "seq": message.seq, "data": message.data},
            )
            ctx.state.seen = max(ctx.state.seen, message.seq)


def _forget_ended_children(ctx: Context) -> None:
    """A ``wait: false`` child that reported its end needs no cancelling any
    more: its report is consumed and it leaves ``detached``."""
    detached = ctx.state.detached
    if not detached:
        return
    for child_id in list(detached):
        found = ctx.take_child(child_id)
        if found is not None:
            detached.remove(child_id)
            ctx.event(
                "signal_consumed",
                None,
                {"channel": "__child__", "seq": found[0], "child": child_id},
            )


def _check_deadline(ctx: Context) -> None:
    timeout = ctx.workflow.timeout
    if timeout is not None and ctx.active() and ctx.now >= ctx.run.started_at + timeout:
        flow.fail_run(
            ctx,
            {
                "error": "Timeout",
                "message": (f"run '{ctx.run.id}' ran longer than its timeout of {timeout:g}s"),
            },
        )


# ---------------------------------------------------------------- loop


def _run(ctx: Context) -> None:
    """Run every thread as far as it goes; stop when nothing moves."""
    progressed = True
    while progressed and ctx.status is None:
        progressed = False
        for thread in list(ctx.threads.values()):
            if ctx.status is not None:
                return
            if ctx.threads.get(thread.id) is not thread:
                continue
            if ctx.active():
                if thread.ph == "wait":
                    progressed |= waits.poll(ctx, thread)
                elif thread.ph == "retry":
                    progressed |= _fire_retry(ctx, thread)
                elif thread.ph == "comp":
                    progressed |= compensation.fire_retry(ctx, thread)
                elif thread.ph == "child":
                    progressed |= _poll_child(ctx, thread)
                elif thread.ph == "cb":
                    progressed |= callbacks.poll(ctx, thread)
            while thread.ph == "run" and ctx.threads.get(thread.id) is thread and ctx.can_step():
                if not _enter(ctx, thread):
                    break
                progressed = True
        # Another pass only when some thread could move in it: one waiting
        # on an action (call), on its branches (fork) or done cannot.
        if progressed and all(t.ph in _STILL for t in ctx.threads.values()):
            return


#: Thread phases a pass of :func:`_run` leaves as they are.
_STILL = frozenset({"call", "fork", "done"})


def _fire_retry(ctx: Context, thread: Thread) -> bool:
    """A retry whose delay is over: a task's next attempt, or a parallel, map
    or subflow entered again as a whole (``thread.att`` is its attempt)."""
    state = ctx.state_of(thread)
    if isinstance(state, TaskState):
        return tasks.fire_retry(ctx, thread)
    if thread.due is None or ctx.now < thread.due:
        return False
    thread.due = None
    thread.ph = "run"
    ctx.steps += 1
    _dispatch(ctx, thread, state, thread.path(state.name))
    return True


def _enter(ctx: Context, thread: Thread) -> bool:
    """Enter the thread's current state; False when a break point paused the run."""
    assert thread.at is not None
    path = thread.path(thread.at)
    state = ctx.scopes[thread.sk].states[thread.at]
    if (
        ctx.state.break_at
        and ctx.state.brk != path
        and (thread.at in ctx.state.break_at or path in ctx.state.break_at)
    ):
        ctx.state.paused = True
        ctx.state.brk = path
        ctx.stepping = False
        ctx.event("paused", path, {"reason": "break", "state": path})
        return False
    if ctx.state.brk == path:
        ctx.state.brk = None
    ctx.steps += 1
    entered = ctx.entered[thread.id] = ctx.entered.get(thread.id, 0) + 1
    if entered > ctx.workflow.max_transitions:
        raise LimitExceeded(_spin_message(ctx, thread, path))
    ctx.event("state_entered", path, {"type": state.type})
    _dispatch(ctx, thread, state, path)
    return True


def _spin_message(ctx: Context, thread: Thread, path: str) -> str:
    """Why a thread that entered ``max_transitions`` states in one transition
    (without a durable wait) fails the run, naming the loop it went round:
    the states it entered more than once lately, from the first in document
    order."""
    limit = ctx.workflow.max_transitions
    prefix = f"{thread.id}/" if thread.id else ""
    states = ctx.scope_of(thread).states
    tail: list[str] = []
    for event in reversed(ctx.events):
        if event.type != "state_entered" or not event.state:
            continue
        name = event.state[len(prefix) :] if event.state.startswith(prefix) else ""
        if name in states:
            tail.append(name)
            if len(tail) >= 256:
                break
    tail.reverse()
    seen: dict[str, int] = {}
    for name in tail:
        seen[name] = seen.get(name, 0) + 1
    loop = [name for name, count in seen.items() if count > 1] or [thread.at or ""]
    order = list(states)
    first = loop.index(min(loop, key=lambda n: order.index(n) if n in order else 0))
    loop = loop[first:] + loop[:first]
    shown = " -> ".join(f"'{name}'" for name in [*loop, loop[0]])
    where = f" (branch '{thread.id}')" if thread.id else ""
    return (
        f"run '{ctx.run.id}' state '{path}': entered {limit:,} states without a durable wait "
        f"(an action call, a timer or a message still to come){where}, going round {shown}; "
        f"a loop meant to go round more often needs a `wait` or a `task` in it, or a "
        f"higher `max_transitions` (now {limit:,})"
    )


def _dispatch(ctx: Context, thread: Thread, state: State, path: str) -> None:
    if isinstance(state, TaskState):
        tasks.enter(ctx, thread, state)
    elif isinstance(state, WaitState):
        waits.enter(ctx, thread, state)
    elif isinstance(state, ParallelState):
        forks.enter_parallel(ctx, thread, state)
    elif isinstance(state, MapState):
        forks.enter_map(ctx, thread, state)
    elif isinstance(state, CompensateState):
        entries = thread.undo
        thread.undo = []
        compensation.begin(ctx, thread, entries, {"next": True})
    else:
        try:
            _simple(ctx, thread, state, path)
        except Failure as failure:
            flow.fail_state(ctx, thread, state, failure.error, failure.message)


def _simple(ctx: Context, thread: Thread, state: State, path: str) -> None:
    """States that complete at once: choice, set, emit, succeed, fail, subflow."""
    if isinstance(state, ChoiceState):
        # ``target`` None with an ending branch (or ``end``) ends the thread.
        target = state.default
        for rule in state.choices:
            if ctx.evaluate(rule.when, thread, path):
                target = rule.next
                break
        else:
            if target is None and not state.end:
                raise Failure(
                    "NoChoiceMatched",
                    (f"run '{ctx.run.id}' state '{path}': no choice holds and there is no default"),
                )
        flow.complete_state(ctx, thread, state, next_state=target)
    elif isinstance(state, SetState):
        flow.complete_state(ctx, thread, state)
    elif isinstance(state, EmitState):
        data = ctx.evaluate(state.data, thread, path) if state.data is not None else None
        target = ctx.evaluate(state.run, thread, path) if state.run is not None else None
        if target is not None and not isinstance(target, str):
            raise ctx.expression_failure(path, f"run must be a run id (text), got {target!r}")
        ctx.send(target, state.signal, data)
        flow.complete_state(ctx, thread, state)
    elif isinstance(state, SucceedState):
        ctx.assign(thread, state.set, path)
        explicit = state.output is not None
        output = ctx.evaluate(state.output, thread, path) if state.output is not None else None
        flow.reset(thread)
        flow.end_thread(ctx, thread, output, explicit=explicit or not thread.is_root)
    elif isinstance(state, FailState):
        error = ctx.evaluate(state.error, thread, path)
        if not isinstance(error, str) or not error.strip():
            # A computed name (`${ vars.caught.error }`) that is null or not
            # text would become an error named "None" that no catch expects.
            shown = "null" if error is None else repr(error)
            raise ctx.expression_failure(
                path, f"the fail state's error must be a non-empty name, got {shown}"
            )
        message = ctx.evaluate(state.message, thread, path) if state.message is not None else ""
        failure = {"error": error, "message": "" if message is None else str(message)}
        if state.compensate and thread.undo:
            entries = thread.undo
            thread.undo = []
            compensation.begin(ctx, thread, entries, {"fail": failure})
        else:
            flow.reset(thread)
            flow.fail_thread(ctx, thread, failure)
    elif isinstance(state, SubflowState):
        _enter_subflow(ctx, thread, state, path)


# -------------------------------------------------------------- subflow


def _enter_subflow(ctx: Context, thread: Thread, state: SubflowState, path: str) -> None:
    if thread.att == 0:  # the first attempt; a retry re-enters with att >= 2
        thread.visits[state.name] = thread.visits.get(state.name, 0) + 1
        thread.att = 1
        thread.t0 = ctx.now
    child_input = ctx.evaluate(state.input, thread, path) if state.input is not None else None
    child_id = f"{ctx.run.id}/{tasks.visit_path(thread, state.name)}"
    if thread.att > 1:
        child_id += f"@{thread.att}"  # a new child per attempt
    thread.child = {"id": child_id, "path": path, "workflow": state.workflow, "input": child_input}
    _start_child_command(ctx, thread)
    if not state.wait:
        if state.parent_close == "cancel":
            ctx.state.detached.append(child_id)
        flow.complete_state(
            ctx,
            thread,
            state,
            extra={"result": child_id},
            first=(state.result, child_id) if state.result is not None else None,
        )
        return
    thread.ph = "child"
    _poll_child(ctx, thread)


def _start_child_command(ctx: Context, thread: Thread) -> None:
    child = thread.child
    assert child is not None
    ctx.command(
        StartChild(
            run_id=child["id"],
            parent_run=ctx.run.id,
            state=child["path"],
            workflow=child["workflow"],
            input=child["input"],
            base_file=ctx.workflow.file,
        )
    )


def _poll_child(ctx: Context, thread: Thread) -> bool:
    child = thread.child
    assert child is not None
    found = ctx.take_child(child["id"])
    if found is None:
        return False
    seq, data = found
    state = ctx.state_of(thread)
    assert isinstance(state, SubflowState)
    ctx.event(
        "signal_consumed", child["path"], {"channel": "__child__", "seq": seq, "child": child["id"]}
    )
    status = data.get("status")
    if status == "completed":
        output = data.get("output")
        flow.complete_state(
            ctx,
            thread,
            state,
            extra={"result": output},
            first=(state.result, output) if state.result is not None else None,
        )
        return True
    error = data.get("error") or {}
    name = error.get("error") if status == "failed" else "Cancelled"
    message = error.get("message") or f"child run '{child['id']}' was {status}"
    thread.child = None  # the attempt counter stays: a retry of the subflow counts on
    flow.fail_state(
        ctx, thread, state, str(name or "Error"), str(message), details=error.get("details")
    )
    return True


# --------------------------------------------------------------- result


def _status(ctx: Context) -> tuple[str, float | None]:
    if ctx.status is not None:
        return ctx.status, None
    if ctx.state.paused:
        return "paused", None
    timers: list[float] = []
    busy = False
    for thread in ctx.threads.values():
        if thread.ph == "run":
            return "running", ctx.now
        if thread.call is not None:
            busy = True
        elif thread.due is not None:
            timers.append(thread.due)
        elif thread.ph == "wait":
            due = waits.next_due(thread)
            if due is not None:
                timers.append(due)
    if ctx.workflow.timeout is not None:
        timers.append(ctx.run.started_at + ctx.workflow.timeout)
    ready_at = min(timers) if timers else None
    return ("running" if busy else "waiting"), ready_at


def _search(ctx: Context, vars_: Mapping[str, Any], status: str) -> dict[str, Any]:
    """Search attributes after the transition; an expression that fails
    (or reads what is not there yet) gives null instead of failing the run."""
    scope = {"input": ctx.run.input, "vars": vars_, "run": {**ctx.run_info, "status": status}}
    values: dict[str, Any] = {}
    for name, value in ctx.workflow.search.items():
        try:
            values[name] = value.evaluate(scope, ctx.hooks)
        except ExpressionError:
            values[name] = None
    return values


def _finish(ctx: Context) -> Transition:
    for channel, data in ctx.local if ctx.status is None else ():
        ctx.outbox.append(
            InboxMessage(run_id=ctx.run.id, channel=channel, data=data, sent_at=ctx.now)
        )
    status, ready_at = _status(ctx)
    vars_ = ctx.root_vars
    old = ctx.run
    run = advanced_row(
        old,
        status=status,  # type: ignore[arg-type]
        vars=vars_,
        output=ctx.output,
        error=ctx.error,
        ended_at=ctx.ended_at,
        ready_at=ready_at,
        state=ctx.state.to_json(),
        search=_search(ctx, vars_, status) if ctx.workflow.search else old.search,
    )
    inbox_seen = ctx.inbox[-1].seq if ctx.inbox else 0
    return Transition(
        run=run,
        events=tuple(ctx.events),
        commands=tuple(ctx.commands),
        consumed=tuple(ctx.consumed),
        outbox=tuple(ctx.outbox),
        inbox_seen=max(inbox_seen, ctx.state.seen),
        steps=ctx.steps,
    )


def _idle(run: RunRow, ctx: Context) -> Transition:
    """Nothing changed (a late outcome, a rejected handler call, a query):
    the run as it was, plus any reply the engine must still deliver."""
    return Transition(run=run, commands=tuple(ctx.commands), status="idle")
