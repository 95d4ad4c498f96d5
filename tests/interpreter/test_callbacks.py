"""Callback tokens (issue 14 item 8): a task hands a one-time token to the
outside world and waits until someone completes it (Step Functions
``.waitForTaskToken``, Temporal's async activity completion).

The token reaches the action through ``${ token }`` in its args; the
completion's output is the task's result; a failure completion is the
task's error, retried and caught like an action's; a heartbeat deadline
fails the task when the outside world goes quiet. A token never issued is
``CallbackNotFound``; one completed already or stale is ``CallbackRefused``."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from wfdsl import CallbackNotFound, CallbackRefused, Engine, VirtualClock

APPROVAL = """
wfdsl: "1"
name: approval
start: ask
states:
  ask:
    type: task
    action: approval.ask
    args: {to: "${ input.to }", link: "https://example.test/answer/${ token }"}
    callback: {timeout: 3d, heartbeat: 1h}
    result: decision
    RETRY
    catch:
      - errors: [Rejected]
        as: rejection
        next: rejected
    next: approved
  approved: {type: succeed, output: "${ vars.decision }"}
  rejected: {type: succeed, output: "rejected: ${ vars.rejection.message }"}
"""


def approval(retry: str = "") -> str:
    return APPROVAL.replace("RETRY", retry)


@pytest.fixture
def clock() -> VirtualClock:
    return VirtualClock()


@pytest.fixture
def engine(tmp_path: Path, clock: VirtualClock) -> Iterator[Engine]:
    with Engine(str(tmp_path / "runs.db"), clock=clock) as opened:
        yield opened


@pytest.fixture
def asked(engine: Engine) -> list[str]:
    """The tokens the action handed out, in order (as a mailer would)."""
    tokens: list[str] = []

    @engine.action("approval.ask")
    def ask(to: str, link: str) -> dict[str, Any]:
        match = re.search(r"/answer/(\S+)$", link)
        assert match is not None
        tokens.append(match.group(1))
        return {"sent_to": to}

    return tokens


def test_a_completed_token_is_the_tasks_result(engine: Engine, asked: list[str]) -> None:
    run = engine.submit(approval(), {"to": "boss@example.test"}, run_id="a1")
    engine.run_until_idle()
    waiting = engine.get(run.id)
    assert waiting.status == "waiting" and len(asked) == 1
    assert asked[0].startswith("wfcb1.")
    assert [p.phase for p in waiting.positions()] == ["callback"]

    engine.complete(asked[0], output={"approved": True, "by": "boss"})
    done = engine.run_until_complete(run.id)
    assert done.status == "completed" and done.output == {"approved": True, "by": "boss"}
    types = [e.type for e in done.history()]
    assert types.index("callback_issued") < types.index("action_completed")
    assert types.index("action_completed") < types.index("callback_completed")


def test_a_failure_completion_is_caught_like_an_action_error(
    engine: Engine, asked: list[str]
) -> None:
    run = engine.submit(approval(), {"to": "boss@example.test"}, run_id="a1")
    engine.run_until_idle()
    engine.complete(asked[0], error="Rejected", message="over budget")
    done = engine.run_until_complete(run.id)
    assert done.output == "rejected: over budget"
    failed = [e for e in done.history() if e.type == "callback_failed"]
    assert failed[0].data["error"] == "Rejected"


def test_a_retried_failure_issues_a_new_token_and_the_old_one_is_stale(
    engine: Engine, asked: list[str], clock: VirtualClock
) -> None:
    retry = "retry: {max_attempts: 2, initial_interval: 1s, retry_on: [Busy]}"
    run = engine.submit(approval(retry), {"to": "boss@example.test"}, run_id="a1")
    engine.run_until_idle()
    engine.complete(asked[0], error="Busy", message="try later")
    engine.run_until_idle()
    clock.advance(1)  # the retry's delay
    engine.run_until_idle()
    assert len(asked) == 2 and asked[0] != asked[1]
    with pytest.raises(CallbackRefused, match="already completed"):
        engine.complete(asked[0], output="late")
    engine.complete(asked[1], output="yes")
    assert engine.run_until_complete(run.id).output == "yes"


def test_a_token_completes_once(engine: Engine, asked: list[str]) -> None:
    run = engine.submit(approval(), {"to": "boss@example.test"}, run_id="a1")
    engine.run_until_idle()
    engine.complete(asked[0], output="yes")
    # Not applied yet: the first completion is still in the inbox.
    with pytest.raises(CallbackRefused, match="already completed"):
        engine.complete(asked[0], output="no")
    assert engine.run_until_complete(run.id).output == "yes"
    with pytest.raises(CallbackRefused, match="already completed; a token completes once"):
        engine.complete(asked[0], output="no")
    with pytest.raises(CallbackRefused):
        engine.heartbeat(asked[0])


@pytest.mark.parametrize(
    "token",
    [
        pytest.param("not-a-token", id="not-a-token"),
        pytest.param("wfcb1.bm9ib2R5.0123456789abcdef0123456789abcdef", id="unknown-run"),
        pytest.param("", id="empty"),
    ],
)
def test_a_token_never_issued_is_not_found(engine: Engine, token: str) -> None:
    with pytest.raises(CallbackNotFound):
        engine.complete(token, output=1)


def test_a_forged_token_of_a_real_run_is_not_found(engine: Engine, asked: list[str]) -> None:
    run = engine.submit(approval(), {"to": "boss@example.test"}, run_id="a1")
    engine.run_until_idle()
    real = asked[0]
    forged = real[:-4] + ("0000" if not real.endswith("0000") else "1111")
    with pytest.raises(CallbackNotFound, match="never issued"):
        engine.complete(forged, output="yes")
    assert engine.get(run.id).status == "waiting"


def test_heartbeats_keep_a_quiet_callback_alive_until_they_stop(
    engine: Engine, asked: list[str], clock: VirtualClock
) -> None:
    run = engine.submit(approval(), {"to": "boss@example.test"}, run_id="a1")
    engine.run_until_idle()
    for _ in range(3):  # three hours of work, a heartbeat every 50 minutes
        clock.advance(50 * 60)
        engine.heartbeat(asked[0])
        engine.run_until_idle()
        assert engine.get(run.id).status == "waiting"
    done = engine.run_until_complete(run.id)  # then silence: the hour runs out
    assert done.status == "failed" and done.error is not None
    assert done.error["error"] == "HeartbeatTimeout"
    assert "state 'ask' attempt 1" in done.error["message"]
    assert clock.now() - done.started_at == pytest.approx(150 * 60 + 3600)
    with pytest.raises(CallbackRefused, match="stale"):
        engine.complete(asked[0], output="too late")


def test_a_completion_that_arrives_before_the_action_returns_is_kept(engine: Engine) -> None:
    @engine.action("approval.ask")
    def ask(to: str, link: str) -> None:
        # The outside world answers at once, before this call has returned.
        engine.complete(link.rsplit("/", 1)[1], output="quick")

    run = engine.submit(approval(), {"to": "boss@example.test"}, run_id="a1")
    assert engine.run_until_complete(run.id).output == "quick"


def test_a_token_belongs_to_its_execution(engine: Engine, asked: list[str]) -> None:
    first = engine.submit(approval(), {"to": "a@example.test"}, run_id="a1")
    engine.run_until_idle()
    engine.cancel(first.id)
    engine.submit(approval(), {"to": "b@example.test"}, run_id="a1")
    engine.run_until_idle()
    with pytest.raises(CallbackRefused, match="stale"):
        engine.complete(asked[0], output="for the first")
    engine.complete(asked[1], output="for the second")
    assert engine.run_until_complete("a1").output == "for the second"
