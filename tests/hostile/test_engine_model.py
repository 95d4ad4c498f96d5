"""The engine against a tiny model of itself (issue 6, item 6).

A hypothesis state machine submits runs of one small workflow (a loop that
waits for a ``msg`` signal or a 1-hour timer, records each message, and ends
on ``'stop'``; a ``tag`` handler sets a var), then interleaves signals,
handler calls, cancel, pause, resume and clock advances at random, driving
the engine after each step (``run_until_idle``, which never moves time).
After every step each run must match the model: status, the messages
consumed (in the order they were sent), the handler's var, the timer ticks;
its history is numbered 1..N without a gap; and no exception escapes except
the documented ones (``HandlerRejected``, ``RunNotFound``, ``WfdslError``
for a finished run).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import pytest
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import (
    Bundle,
    RuleBasedStateMachine,
    initialize,
    invariant,
    precondition,
    rule,
)
from wfdsl.interpreter.clock import VirtualClock
from wfdsl.interpreter.engine import Engine

from wfdsl.errors import HandlerRejected, RunEnded, RunNotFound, WfdslError

pytestmark = pytest.mark.slow

WORKFLOW = """\
wfdsl: "1"
name: model
vars: {got: [], ticks: 0, tag: null, m: null}
handlers:
  tag:
    when: ${ args != 'bad' }
    set: {tag: "${ args }"}
    return: ${ len(vars.got) }
  peek:
    return: ${ vars }
start: wait
states:
  wait:
    type: wait
    any:
      - {signal: msg, as: m, next: record}
      - {timer: 1h, next: tick}
  record:
    type: set
    set: {got: "${ vars.got + [vars.m] }"}
    next: check
  check:
    type: choice
    choices:
      - {when: "${ vars.m == 'stop' }", next: done}
    default: wait
  tick:
    type: set
    set: {ticks: "${ vars.ticks + 1 }"}
    next: wait
  done: {type: succeed}
"""

HOUR = 3600.0
FINISHED = ("completed", "cancelled", "failed")


@dataclass
class Model:
    """What one run should look like after the engine has been driven."""

    status: str = "waiting"
    got: list[Any] = field(default_factory=list)
    inbox: list[Any] = field(default_factory=list)  # sent, not yet consumed (paused)
    ticks: int = 0
    tag: Any = None
    entered: float = 0.0  # when the wait state was last entered
    sent: int = 0

    @property
    def finished(self) -> bool:
        return self.status in FINISHED

    def consume(self, now: float) -> None:
        """The run, running again, takes its inbox in order (docs/reference.md §4 and handlers)."""
        while self.inbox and self.status == "waiting":
            message = self.inbox.pop(0)
            self.got.append(message)
            self.entered = now
            if message == "stop":
                self.status = "completed"
        if self.finished:
            self.inbox.clear()


messages = st.one_of(
    st.integers(-3, 3), st.sampled_from(["a", "stop", "</script>", "\u202e"]), st.none()
)


class EngineModel(RuleBasedStateMachine):
    runs = Bundle("runs")

    @initialize()
    def open_engine(self) -> None:
        self.clock = VirtualClock()
        self.engine = Engine(":memory:", clock=self.clock)
        self.models: dict[str, Model] = {}
        self.counter = 0

    def teardown(self) -> None:
        engine = getattr(self, "engine", None)
        if engine is not None:
            engine.close()

    def drive(self) -> None:
        self.engine.run_until_idle()

    @precondition(lambda self: len(self.models) < 4)
    @rule(target=runs)
    def submit(self) -> str:
        self.counter += 1
        run_id = f"run-{self.counter}"
        run = self.engine.submit(WORKFLOW, run_id=run_id)
        assert run.id == run_id
        self.models[run_id] = Model(entered=self.clock.now())
        self.drive()
        return run_id

    @rule(run_id=runs, message=messages)
    def signal(self, run_id: str, message: Any) -> None:
        model = self.models[run_id]
        if model.finished:
            with pytest.raises(WfdslError, match="no more messages"):
                self.engine.signal(run_id, "msg", message)
            return
        self.engine.signal(run_id, "msg", message)
        model.sent += 1
        model.inbox.append(message)
        model.consume(self.clock.now())
        self.drive()

    @rule(run_id=runs, value=st.one_of(st.integers(0, 9), st.just("bad"), st.text(max_size=3)))
    def call_handler(self, run_id: str, value: Any) -> None:
        model = self.models[run_id]
        if model.finished or value == "bad":
            with pytest.raises(HandlerRejected):
                self.engine.call(run_id, "tag", value)
        else:
            assert self.engine.call(run_id, "tag", value) == len(model.got)
            model.tag = value
        # A query works on any run, finished or not, and changes nothing.
        assert self.engine.call(run_id, "peek")["got"] == model.got
        self.drive()

    @rule(run_id=runs)
    def unknown_handler(self, run_id: str) -> None:
        with pytest.raises(HandlerRejected, match="no handler"):
            self.engine.call(run_id, "nope", 1)

    @rule(run_id=runs, compensate=st.booleans())
    def cancel(self, run_id: str, compensate: bool) -> None:
        model = self.models[run_id]
        if model.finished:
            with pytest.raises(RunEnded):
                self.engine.cancel(run_id, compensate=compensate)
            return
        self.engine.cancel(run_id, compensate=compensate)
        if not model.finished:
            model.status = "cancelled"
            model.inbox.clear()
        self.drive()

    @rule(run_id=runs)
    def pause(self, run_id: str) -> None:
        model = self.models[run_id]
        if model.finished:
            with pytest.raises(RunEnded):
                self.engine.pause(run_id)
            return
        self.engine.pause(run_id)
        if not model.finished:
            model.status = "paused"
        self.drive()

    @rule(run_id=runs)
    def resume(self, run_id: str) -> None:
        model = self.models[run_id]
        if model.finished:
            with pytest.raises(RunEnded):
                self.engine.resume(run_id)
            return
        self.engine.resume(run_id)
        if model.status == "paused":
            model.status = "waiting"
            now = self.clock.now()
            if model.inbox:
                # Messages kept while paused are taken first, in order.
                model.consume(now)
            elif now >= model.entered + HOUR:
                # A timer that came due while paused fires on resume.
                model.ticks += 1
                model.entered = now
        self.drive()

    @rule(seconds=st.sampled_from([1.0, 60.0, HOUR - 1, HOUR, HOUR + 1, 5 * HOUR, 86_400.0]))
    def advance(self, seconds: float) -> None:
        self.clock.advance(seconds)
        now = self.clock.now()
        self.drive()
        for model in self.models.values():
            if model.status == "waiting" and now >= model.entered + HOUR:
                model.ticks += 1  # once: the next wait starts now
                model.entered = now

    @rule()
    def unknown_run(self) -> None:
        with pytest.raises(RunNotFound):
            self.engine.get("no-such-run")
        with pytest.raises(RunNotFound):
            self.engine.signal("no-such-run", "msg", 1)
        with pytest.raises(RunNotFound):
            self.engine.cancel("no-such-run")

    @invariant()
    def runs_match_the_model(self) -> None:
        if not hasattr(self, "engine"):
            return
        for run_id, model in self.models.items():
            run = self.engine.get(run_id)
            where = f"{run_id}: model {model}, run {run.status} {run.vars}"
            assert run.status == model.status, where
            assert run.vars["got"] == model.got, where
            assert run.vars["tag"] == model.tag, where
            assert run.vars["ticks"] == model.ticks, where
            history = run.history()
            assert [e.seq for e in history] == list(range(1, len(history) + 1)), where
            kinds = [e.type for e in history]
            assert kinds.count("signal_received") == model.sent, where
            assert kinds.count("signal_consumed") == len(model.got), where
            assert kinds.count("timer_fired") == model.ticks, where
            assert kinds[0] == "run_started", where
            ends = [k for k in kinds if k in ("run_completed", "run_cancelled", "run_failed")]
            assert len(ends) == (1 if model.finished else 0), where
            if model.finished:
                assert kinds[-1] in ("run_completed", "run_cancelled"), where


EngineModel.TestCase.settings = settings(
    max_examples=60,
    stateful_step_count=30,
    deadline=None,
    derandomize=True,
    database=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much],
)
test_engine_against_the_model = EngineModel.TestCase
