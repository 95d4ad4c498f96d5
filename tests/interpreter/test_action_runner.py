"""The action runner: where actions run, what they receive, how failures are named."""

from __future__ import annotations

import asyncio
import enum
import math
import threading
from collections.abc import Iterator
from datetime import datetime
from typing import Any

import pytest
from wfdsl.interpreter.actions.registry import ActionContext, ActionRegistry
from wfdsl.interpreter.actions.runner import (
    MAX_JSON_DEPTH,
    ActionRunner,
    SerializationError,
    error_name,
    json_value,
)
from wfdsl.interpreter.clock import VirtualClock
from wfdsl.interpreter.machine.steps import ActionOutcome, CallAction


@pytest.fixture
def registry() -> ActionRegistry:
    return ActionRegistry(name="test")


@pytest.fixture
def runner(registry: ActionRegistry) -> Iterator[ActionRunner]:
    with ActionRunner(registry, clock=VirtualClock()) as r:
        yield r


def call(action: str, args: dict[str, Any] | None = None, **fields: Any) -> CallAction:
    fields.setdefault("call_id", "c1")
    fields.setdefault("run_id", "r1")
    fields.setdefault("state", "s")
    return CallAction(action=action, args=args or {}, **fields)


def failed(outcome: ActionOutcome) -> tuple[str | None, str]:
    assert not outcome.ok, outcome
    assert outcome.value is None
    return outcome.error, outcome.message or ""


# ------------------------------------------------------------------ where actions run


def test_sync_actions_run_in_worker_threads_async_ones_on_the_loop(
    registry: ActionRegistry, runner: ActionRunner
) -> None:
    @registry.action("where.sync")
    def sync() -> str:
        return threading.current_thread().name

    @registry.action("where.async")
    async def async_() -> str:
        return threading.current_thread().name

    @registry.action("where.inline", inline=True)
    def inline() -> str:
        return threading.current_thread().name

    main = threading.current_thread().name
    assert runner.run_sync(call("where.sync")).value.startswith("wfdsl-action")
    assert runner.run_sync(call("where.async")).value == main
    assert runner.run_sync(call("where.inline")).value == main


def test_run_inline_carries_out_only_inline_functions_and_reports_like_run(
    registry: ActionRegistry, runner: ActionRunner
) -> None:
    @registry.action("inline.double", inline=True)
    def double(x: int) -> int:
        return 2 * x

    @registry.action("inline.broken", inline=True)
    def broken() -> None:
        raise ValueError("no such thing")

    @registry.action("inline.lazy", inline=True)
    def lazy() -> Any:
        async def later() -> str:
            return "awaited"

        return later()

    @registry.action("threaded")
    def threaded() -> str:
        return "in a thread"

    done = runner.run_inline(call("inline.double", {"x": 21}))
    assert isinstance(done, ActionOutcome) and done.ok and done.value == 42
    # A failure is the same outcome run() gives.
    assert failed(runner.run_inline(call("inline.broken"))) == failed(  # type: ignore[arg-type]
        runner.run_sync(call("inline.broken"))
    )
    # A coroutine handed back is awaited, not dropped.
    pending = runner.run_inline(call("inline.lazy"))
    assert asyncio.iscoroutine(pending)
    assert asyncio.run(pending).value == "awaited"
    # Anything not inline is left to run(): nothing was called.
    assert runner.run_inline(call("threaded")) is None
    assert runner.run_inline(call("no.such.action")) is None


def test_the_outcome_carries_the_call_id_and_the_clock_time(
    registry: ActionRegistry, runner: ActionRunner
) -> None:
    registry.register("double", lambda x: 2 * x)
    outcome = runner.run_sync(call("double", {"x": 21}, call_id="abc"))
    assert outcome == ActionOutcome(now=runner.clock.now(), call_id="abc", ok=True, value=42)


def test_sync_actions_run_concurrently_up_to_max_threads(registry: ActionRegistry) -> None:
    barrier = threading.Barrier(3, timeout=5)
    registry.register("meet", lambda: barrier.wait() >= 0)

    async def main(runner: ActionRunner) -> list[ActionOutcome]:
        return await asyncio.gather(*(runner.run(call("meet", call_id=str(i))) for i in range(3)))

    with ActionRunner(registry, max_threads=3) as runner:
        assert [o.value for o in asyncio.run(main(runner))] == [True, True, True]
    with pytest.raises(ValueError, match="max_threads must be at least 1"):
        ActionRunner(registry, max_threads=0)


def test_run_sync_inside_a_loop_says_to_await_run(runner: ActionRunner) -> None:
    async def main() -> None:
        runner.run_sync(call("noop"))

    with pytest.raises(RuntimeError, match=r"await runner\.run\(call\)"):
        asyncio.run(main())


def test_a_sync_function_returning_a_coroutine_is_awaited(
    registry: ActionRegistry, runner: ActionRunner
) -> None:
    async def later() -> int:
        return 7

    registry.register("wrapped", lambda: later())
    assert runner.run_sync(call("wrapped")).value == 7


# ------------------------------------------------------------------ arguments and context


def test_args_arrive_by_keyword_and_ctx_describes_the_call(
    registry: ActionRegistry, runner: ActionRunner
) -> None:
    seen: dict[str, Any] = {}

    @registry.action("email.send")
    async def send(to: str, template: str, ctx: ActionContext) -> str:
        seen.update(to=to, template=template, ctx=ctx)
        return "sent"

    outcome = runner.run_sync(
        call(
            "email.send",
            {"to": "a@b.c", "template": "welcome"},
            run_id="signup-1",
            state="send_verification",
            attempt=3,
            idempotency_key="signup-1/send/3",
            call_id="k9",
            timeout=30.0,
            undo=True,
        )
    )
    assert outcome.ok and outcome.value == "sent"
    ctx = seen["ctx"]
    assert (seen["to"], seen["template"]) == ("a@b.c", "welcome")
    assert (ctx.run_id, ctx.state, ctx.action, ctx.attempt) == (
        "signup-1",
        "send_verification",
        "email.send",
        3,
    )
    assert (ctx.idempotency_key, ctx.call_id, ctx.timeout, ctx.undo) == (
        "signup-1/send/3",
        "k9",
        30.0,
        True,
    )


def test_arguments_that_do_not_fit_fail_with_argument_error(
    registry: ActionRegistry, runner: ActionRunner
) -> None:
    called = []

    @registry.action("email.send")
    def send(to: str) -> None:
        called.append(to)

    error, message = failed(runner.run_sync(call("email.send", {"too": "x"})))
    assert error == "ArgumentError"
    assert "action 'email.send' got unexpected argument 'too' (did you mean 'to'?)" in message
    assert "missing required argument 'to'" in message and "send(to: str)" in message
    assert called == [], "the action is not called with bad arguments"


def test_an_unknown_action_fails_with_action_not_found(
    registry: ActionRegistry, runner: ActionRunner
) -> None:
    error, message = failed(runner.run_sync(call("nop")))
    assert error == "ActionNotFound"
    assert "no action named 'nop'" in message and "did you mean 'noop'?" in message


def test_user_actions_shadow_built_ins_and_names_lists_both(
    registry: ActionRegistry, runner: ActionRunner
) -> None:
    registry.register("noop", lambda: "mine")
    registry.register("email.send", lambda: None)
    assert runner.run_sync(call("noop")).value == "mine"
    assert runner.names() == ["email.send", "http", "log", "noop", "shell"]


def test_heartbeats_reach_the_hook_on_the_loop_thread(registry: ActionRegistry) -> None:
    beats: list[tuple[str, Any, str]] = []

    def hook(c: CallAction, details: Any) -> None:
        beats.append((c.call_id, details, threading.current_thread().name))

    @registry.action("long.sync")
    def long_sync(ctx: ActionContext) -> None:
        ctx.heartbeat({"step": 1})

    @registry.action("long.async")
    async def long_async(ctx: ActionContext) -> None:
        ctx.heartbeat()

    async def main(runner: ActionRunner) -> None:
        await runner.run(call("long.sync", call_id="s"))
        await runner.run(call("long.async", call_id="a"))
        await asyncio.sleep(0)  # the thread's heartbeat was handed over with call_soon

    with ActionRunner(registry, on_heartbeat=hook) as runner:
        asyncio.run(main(runner))
    main_thread = threading.current_thread().name
    assert sorted(beats) == [("a", None, main_thread), ("s", {"step": 1}, main_thread)]


# ------------------------------------------------------------------ failures


class CardDeclined(Exception):
    pass


class Tagged(Exception):
    error = "PaymentRefused"


class OddTag(Exception):
    error = 42


@pytest.mark.parametrize(
    ("exc", "name", "message"),
    [
        pytest.param(
            CardDeclined("card 4242 declined"), "CardDeclined", "card 4242 declined", id="class"
        ),
        pytest.param(Tagged("no funds"), "PaymentRefused", "no funds", id="error-attribute"),
        pytest.param(OddTag("x"), "OddTag", "x", id="non-string-error-attribute"),
        pytest.param(ValueError(), "ValueError", "", id="empty-message"),
        pytest.param(KeyError("k"), "KeyError", "'k'", id="str-of-exc"),
    ],
)
def test_errors_are_named_by_class_or_error_attribute(
    registry: ActionRegistry, runner: ActionRunner, exc: Exception, name: str, message: str
) -> None:
    def fail() -> None:
        raise exc

    registry.register("fail", fail)
    assert failed(runner.run_sync(call("fail"))) == (name, message)
    assert error_name(exc) == name


def test_async_failures_are_named_the_same(registry: ActionRegistry, runner: ActionRunner) -> None:
    async def fail() -> None:
        raise CardDeclined("nope")

    registry.register("fail", fail)
    assert failed(runner.run_sync(call("fail"))) == ("CardDeclined", "nope")


def test_huge_messages_are_cut(registry: ActionRegistry, runner: ActionRunner) -> None:
    def fail() -> None:
        raise ValueError("x" * 100_000)

    registry.register("fail", fail)
    _, message = failed(runner.run_sync(call("fail")))
    assert len(message) < 4_100 and message.endswith("[96000 more characters cut]")


def test_an_unreadable_message_still_reports_the_failure(
    registry: ActionRegistry, runner: ActionRunner
) -> None:
    class Broken(Exception):
        def __str__(self) -> str:
            raise RuntimeError("boom")

    def fail() -> None:
        raise Broken()

    registry.register("fail", fail)
    error, message = failed(runner.run_sync(call("fail")))
    assert error == "Broken" and "could not be read" in message


def test_an_action_raising_cancelled_is_reported_as_cancelled(
    registry: ActionRegistry, runner: ActionRunner
) -> None:
    async def give_up() -> None:
        raise asyncio.CancelledError

    registry.register("give_up", give_up)
    assert failed(runner.run_sync(call("give_up")))[0] == "Cancelled"


def test_cancelling_the_caller_propagates(registry: ActionRegistry, runner: ActionRunner) -> None:
    started = asyncio.Event()

    async def forever() -> None:
        started.set()
        await asyncio.Event().wait()

    registry.register("forever", forever)

    async def main() -> None:
        task = asyncio.create_task(runner.run(call("forever")))
        await started.wait()
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task

    asyncio.run(main())


# ------------------------------------------------------------------ timeouts (real time, short)


def test_an_async_action_past_its_timeout_is_cancelled(
    registry: ActionRegistry, runner: ActionRunner
) -> None:
    finished = []

    async def slow() -> None:
        try:
            await asyncio.Event().wait()
        finally:
            finished.append("cancelled")

    registry.register("slow", slow)
    error, message = failed(runner.run_sync(call("slow", timeout=0.02, attempt=2)))
    assert error == "Timeout"
    assert message == "action 'slow' did not finish within 20ms (attempt 2)"
    assert finished == ["cancelled"]


def test_a_sync_action_past_its_timeout_is_reported_and_left_to_finish(
    registry: ActionRegistry, runner: ActionRunner, monkeypatch: pytest.MonkeyPatch
) -> None:
    started = threading.Event()
    release = threading.Event()
    done = threading.Event()

    def stuck() -> str:
        started.set()
        release.wait()
        done.set()
        return "late"

    # The call must be running when its timeout passes: a call still queued
    # then is skipped, never run (test_a_sync_call_that_timed_out_while_queued_never_runs),
    # which is what a loaded machine made of this test when the worker
    # thread took longer than the timeout to start. So the call is handed
    # to the thread with no queue deadline, and the runner starts its
    # timeout only once the thread runs it.
    pool = runner._pool()
    submit = pool.submit

    def submit_once_running(fn: Any, kwargs: Any, action: str, timeout: Any = None) -> Any:
        job = submit(fn, kwargs, action, None)
        assert started.wait(60), "a worker thread took the call"
        return job

    monkeypatch.setattr(pool, "submit", submit_once_running)
    registry.register("stuck", stuck)
    try:
        error, message = failed(runner.run_sync(call("stuck", timeout=0.02)))
        assert not done.is_set(), "reported while the function still runs"
    finally:
        release.set()
    assert error == "Timeout"
    assert message == (
        "action 'stuck' did not finish within 20ms (attempt 1); "
        "its worker thread runs on until the function returns"
    )
    assert done.wait(60), "the thread finishes on its own"


def test_an_actions_own_timeout_error_keeps_its_name(
    registry: ActionRegistry, runner: ActionRunner
) -> None:
    async def own() -> None:
        raise TimeoutError("upstream took too long")

    registry.register("own", own)
    assert failed(runner.run_sync(call("own", timeout=10))) == (
        "TimeoutError",
        "upstream took too long",
    )


def test_fast_actions_with_a_timeout_succeed(
    registry: ActionRegistry, runner: ActionRunner
) -> None:
    async def quick() -> int:
        return 1

    registry.register("quick.async", quick)
    registry.register("quick.sync", lambda: 2)
    assert runner.run_sync(call("quick.async", timeout=5)).value == 1
    assert runner.run_sync(call("quick.sync", timeout=5)).value == 2


# ------------------------------------------------------------------ results are JSON


class Color(enum.StrEnum):
    RED = "red"


class Size(enum.IntEnum):
    BIG = 3


class Mixed(str, enum.Enum):  # noqa: UP042 - the pre-3.11 spelling, whose str() differs
    BLUE = "blue"


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        pytest.param(None, None, id="none"),
        pytest.param(
            {"a": [1, 2.5, "x", True, None]}, {"a": [1, 2.5, "x", True, None]}, id="plain"
        ),
        pytest.param((1, (2, 3)), [1, [2, 3]], id="tuples-become-lists"),
        pytest.param(
            {"c": Color.RED, "s": Size.BIG, "m": Mixed.BLUE},
            {"c": "red", "s": 3, "m": "blue"},
            id="enums-become-plain",
        ),
        pytest.param({Color.RED: 1}, {"red": 1}, id="str-subclass-key"),
        pytest.param(10**30, 10**30, id="big-int"),
    ],
)
def test_json_values_pass_as_plain_copies(value: Any, expected: Any) -> None:
    result = json_value(value)
    assert result == expected
    assert type(result) is type(expected)
    if isinstance(result, dict):
        assert all(type(k) is str for k in result)
        assert [type(v) for v in result.values()] == [type(v) for v in expected.values()]


@pytest.mark.parametrize(
    ("value", "fragment"),
    [
        pytest.param(
            {"when": datetime(2025, 1, 1)},
            "result['when'] is a datetime.datetime; convert it with .isoformat()",
            id="datetime",
        ),
        pytest.param(
            {"tags": {"a"}}, "result['tags'] is a set; convert it with sorted() or list()", id="set"
        ),
        pytest.param([b"x"], "result[0] is a bytes; decode it", id="bytes"),
        pytest.param(
            {1: "a"}, "result is a map with the int key 1; JSON keys are strings", id="int-key"
        ),
        pytest.param([math.nan], "result[0] is nan, which JSON cannot hold", id="nan"),
        pytest.param({"x": [math.inf]}, "result['x'][0] is inf", id="inf"),
        pytest.param(object(), "result is a object; return dicts with string keys", id="object"),
    ],
)
def test_non_json_values_name_the_path(value: Any, fragment: str) -> None:
    with pytest.raises(SerializationError) as info:
        json_value(value, action="pay")
    assert str(info.value).startswith("action 'pay' returned a value JSON cannot hold: ")
    assert fragment in str(info.value)


def test_deep_nesting_and_cycles_are_bounded() -> None:
    deep: list[Any] = []
    node = deep
    for _ in range(MAX_JSON_DEPTH + 1):
        node.append([])
        node = node[0]
    with pytest.raises(SerializationError, match="nested deeper than 64"):
        json_value(deep)
    cycle: dict[str, Any] = {}
    cycle["self"] = cycle
    with pytest.raises(SerializationError, match="or a cycle"):
        json_value(cycle)


def test_too_many_values_are_refused(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("wfdsl.interpreter.actions.runner.MAX_JSON_VALUES", 10)
    # Every value counts once, containers and scalars alike.
    assert json_value([[1]] * 4) == [[1]] * 4  # 1 + 4 + 4
    assert json_value([1] * 9) == [1] * 9  # 1 + 9
    with pytest.raises(SerializationError, match="more than 10 values"):
        json_value([1] * 10)
    with pytest.raises(SerializationError, match="more than 10 values"):
        json_value([[1]] * 5)


def test_a_non_json_result_fails_the_call(registry: ActionRegistry, runner: ActionRunner) -> None:
    registry.register("when", lambda: {"at": datetime(2025, 1, 1)})
    error, message = failed(runner.run_sync(call("when")))
    assert error == "SerializationError"
    assert "action 'when' returned a value JSON cannot hold: result['at']" in message


def test_the_recorded_result_is_a_copy(registry: ActionRegistry, runner: ActionRunner) -> None:
    shared = {"n": [1]}
    registry.register("shared", lambda: shared)
    value = runner.run_sync(call("shared")).value
    shared["n"].append(2)
    assert value == {"n": [1]}


# ------------------------------------------------------------------ repeat injection


def test_repeat_actions_runs_each_action_twice_and_reports_the_second(
    registry: ActionRegistry,
) -> None:
    keys: list[str] = []

    @registry.action("count")
    def count(ctx: ActionContext) -> int:
        keys.append(ctx.idempotency_key)
        return len(keys)

    with ActionRunner(registry, repeat_actions=True) as runner:
        assert runner.run_sync(call("count", idempotency_key="r/s/1")).value == 2
    assert keys == ["r/s/1", "r/s/1"]


def test_repeat_actions_does_not_repeat_a_failure(registry: ActionRegistry) -> None:
    calls: list[int] = []

    def fail() -> None:
        calls.append(1)
        raise CardDeclined("no")

    registry.register("fail", fail)
    with ActionRunner(registry, repeat_actions=True) as runner:
        assert failed(runner.run_sync(call("fail")))[0] == "CardDeclined"
    assert calls == [1]


def test_a_closed_runner_can_run_again(registry: ActionRegistry) -> None:
    registry.register("one", lambda: 1)
    runner = ActionRunner(registry)
    assert runner.run_sync(call("one")).value == 1
    runner.close()
    assert runner.run_sync(call("one")).value == 1
    runner.close()

    async def main() -> None:
        assert (await runner.run(call("one"))).value == 1
        await runner.aclose()

    asyncio.run(main())


def test_a_sync_call_that_timed_out_while_queued_never_runs(registry: ActionRegistry) -> None:
    started = threading.Event()
    release = threading.Event()
    ran: list[str] = []

    def first() -> None:
        started.set()
        release.wait(5)
        ran.append("first")

    def second() -> None:
        ran.append("second")

    registry.register("first", first)
    registry.register("second", second)

    async def main(runner: ActionRunner) -> tuple[ActionOutcome, ActionOutcome]:
        busy = asyncio.create_task(runner.run(call("first", call_id="1")))
        await asyncio.to_thread(started.wait, 5)  # the only worker thread is taken
        queued = await runner.run(call("second", call_id="2", timeout=0.02))
        release.set()
        return await busy, queued

    with ActionRunner(registry, max_threads=1) as runner:
        done, queued = asyncio.run(main(runner))
        assert done.ok and queued.error == "Timeout"
        assert runner.run_sync(call("second", call_id="3")).ok, "the thread is free again"
    assert ran == ["first", "second"], "the abandoned call was skipped, not run late"


def test_worker_threads_are_daemons(registry: ActionRegistry, runner: ActionRunner) -> None:
    registry.register("daemon", lambda: threading.current_thread().daemon)
    assert runner.run_sync(call("daemon")).value is True


# ------------------------------------------------------------ errors as data


def test_an_action_error_fails_under_its_name_with_its_details(
    registry: ActionRegistry, runner: ActionRunner
) -> None:
    import wfdsl

    def charge() -> None:
        raise wfdsl.ActionError("CardDeclined", "insufficient funds", details={"code": "51"})

    registry.register("charge", charge)
    outcome = runner.run_sync(call("charge"))
    assert failed(outcome) == ("CardDeclined", "insufficient funds")
    assert outcome.details == {"code": "51"}


@pytest.mark.parametrize(
    ("details", "shown"),
    [
        pytest.param({"when": datetime(2026, 1, 1)}, "unreadable", id="not-json"),
        pytest.param(["a", "list"], "unreadable", id="not-a-map"),
        pytest.param({"blob": "x" * 100_000}, "truncated", id="too-large"),
    ],
)
def test_details_that_cannot_be_kept_as_they_are_are_described_not_lost(
    registry: ActionRegistry, runner: ActionRunner, details: Any, shown: str
) -> None:
    class Broken(Exception):
        pass

    def act() -> None:
        error = Broken("no")
        error.details = details  # type: ignore[attr-defined]
        raise error

    registry.register("act", act)
    outcome = runner.run_sync(call("act"))
    assert failed(outcome) == ("Broken", "no")
    assert outcome.details is not None and shown in outcome.details
    assert len(str(outcome.details)) < 2000
