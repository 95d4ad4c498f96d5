"""Child runs end with their parent (issue 14 item 12).

Cancelling or failing a run cancels its running subflow children, and their
children in turn (Temporal's default parent close policy); a subflow with
``parent_close: abandon`` lets its child run on. The child is cancelled
through a control request in its inbox, so its own history says why."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from wfdsl import Engine, VirtualClock

KID = """
wfdsl: "1"
name: kid
start: hold
states:
  hold: {type: wait, signal: go, next: done}
  done: {type: succeed, output: kid done}
"""

MID = """
wfdsl: "1"
name: mid
start: grandkid
states:
  grandkid: {type: subflow, workflow: kid, next: done}
  done: {type: succeed}
"""


def parent(policy: str = "", workflow: str = "mid", wait: str = "") -> str:
    return f"""
wfdsl: "1"
name: top
start: child
states:
  child: {{type: subflow, workflow: {workflow}, {policy} {wait} next: done}}
  done: {{type: succeed}}
"""


@pytest.fixture
def engine(tmp_path: Path) -> Iterator[Engine]:
    with Engine(str(tmp_path / "runs.db"), clock=VirtualClock()) as opened:
        opened.register(KID)
        opened.register(MID)
        yield opened


def reasons(engine: Engine, run_id: str) -> list[str]:
    return [e.data.get("reason", "") for e in engine.history(run_id) if e.type == "run_cancelled"]


def test_cancelling_a_parent_cancels_its_child_and_grandchild(engine: Engine) -> None:
    top = engine.submit(parent(), run_id="top").id
    assert engine.run_until_complete(top).status == "waiting"
    assert engine.get("top/child").status == "waiting"
    assert engine.get("top/child/grandkid").status == "waiting"

    engine.cancel(top)
    engine.run_until_idle()

    assert engine.get(top).status == "cancelled"
    assert engine.get("top/child").status == "cancelled"
    assert engine.get("top/child/grandkid").status == "cancelled"
    assert reasons(engine, "top/child") == ["its parent run 'top' cancelled"]
    assert reasons(engine, "top/child/grandkid") == ["its parent run 'top/child' cancelled"]


def test_a_failing_parent_cancels_the_child_its_branch_waited_for(engine: Engine) -> None:
    text = """
wfdsl: "1"
name: top
start: fan
states:
  fan:
    type: parallel
    branches:
      ask:
        start: child
        states:
          child: {type: subflow, workflow: mid, end: true}
      clock:
        start: nap
        states:
          nap: {type: wait, timer: 1h, next: boom}
          boom: {type: fail, error: TooSlow, message: no answer in an hour}
    end: true
"""
    top = engine.submit(text, run_id="top").id
    finished = engine.run_until_complete(top)
    assert finished.status == "failed" and finished.error is not None
    assert finished.error["error"] == "TooSlow"
    engine.run_until_idle()
    assert engine.get("top/fan/ask/child").status == "cancelled"
    assert engine.get("top/fan/ask/child/grandkid").status == "cancelled"
    # The branch was given up when its sibling failed, before the run failed.
    assert reasons(engine, "top/fan/ask/child") == ["its parent run 'top' stopped waiting for it"]


def test_a_parent_that_times_out_cancels_the_child_it_waits_for(engine: Engine) -> None:
    text = parent().replace("start: child", "timeout: 1h\nstart: child")
    top = engine.submit(text, run_id="top").id
    finished = engine.run_until_complete(top)
    assert finished.status == "failed" and finished.error is not None
    assert finished.error["error"] == "Timeout"
    engine.run_until_idle()
    assert reasons(engine, "top/child") == ["its parent run 'top' failed"]
    assert engine.get("top/child/grandkid").status == "cancelled"


def test_parent_close_abandon_lets_the_child_run_on(engine: Engine) -> None:
    top = engine.submit(parent("parent_close: abandon,"), run_id="top").id
    engine.run_until_complete(top)
    engine.cancel(top)
    engine.run_until_idle()
    assert engine.get(top).status == "cancelled"
    assert engine.get("top/child").status == "waiting"
    # Its own (default) policy still holds for its child.
    engine.signal("top/child/grandkid", "go")
    assert engine.run_until_complete("top/child").status == "completed"


def test_a_failing_parent_cancels_its_wait_false_children(engine: Engine) -> None:
    text = """
wfdsl: "1"
name: top
start: spawn
states:
  spawn: {type: subflow, workflow: kid, wait: false, result: kid_id, next: later}
  later: {type: wait, timer: 1d, next: boom}
  boom: {type: fail, error: Broken}
"""
    top = engine.submit(text, run_id="top").id
    assert engine.run_until_complete(top).status == "failed"
    engine.run_until_idle()
    assert engine.get("top/spawn").status == "cancelled"
    assert reasons(engine, "top/spawn") == ["its parent run 'top' failed"]


def test_a_completing_parent_leaves_its_wait_false_children_running(engine: Engine) -> None:
    top = engine.submit(parent(workflow="kid", wait="wait: false,"), run_id="top").id
    assert engine.run_until_complete(top).status == "completed"
    engine.run_until_idle()
    assert engine.get("top/child").status == "waiting"


def test_a_wait_false_child_that_ended_is_not_cancelled_later(engine: Engine) -> None:
    text = """
wfdsl: "1"
name: top
start: spawn
states:
  spawn: {type: subflow, workflow: kid, wait: false, next: later}
  later: {type: wait, signal: stop, next: boom}
  boom: {type: fail, error: Broken}
"""
    top = engine.submit(text, run_id="top").id
    engine.run_until_complete(top)
    engine.signal("top/spawn", "go")
    engine.run_until_idle()
    assert engine.get("top/spawn").status == "completed"
    # The parent consumed the child's report and forgot it: nothing to cancel.
    assert engine.get(top).history()[-1].type == "signal_consumed"
    engine.signal(top, "stop")
    assert engine.run_until_complete(top).status == "failed"
    assert engine.get("top/spawn").status == "completed"
