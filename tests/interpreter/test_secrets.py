"""secret(): the action sees the value, history never does, and nothing else
that merely happens to be in the environment is starred out."""

from __future__ import annotations

from typing import Any

from wfdsl.interpreter.actions.registry import ActionRegistry
from wfdsl.interpreter.clock import VirtualClock
from wfdsl.interpreter.engine import Engine

FLOW = """
wfdsl: "1"
name: secret-demo
start: call
states:
  call:
    type: task
    action: api.call
    args: {token: "${ secret('API_KEY') }", order: "o-1", note: "Bearer ${ secret('API_KEY') }"}
    result: answer
    end: true
"""


def test_secret_reaches_the_action_but_not_the_history() -> None:
    seen: list[dict[str, Any]] = []
    registry = ActionRegistry(name="test")
    registry.register("api.call", lambda **kw: seen.append(kw) or {"ok": True})
    secrets = {"API_KEY": "sk-live-123", "CI": "1", "SHORT": "o"}
    with Engine(":memory:", clock=VirtualClock(), actions=registry, secrets=secrets) as engine:
        run = engine.submit(FLOW)
        finished = engine.run_until_complete(run.id)
        assert finished.status == "completed"
        assert seen == [{"token": "sk-live-123", "order": "o-1", "note": "Bearer sk-live-123"}]
        history = repr([event.data for event in finished.history()])
        assert "sk-live-123" not in history
        assert "Bearer ***" in history
        # Values of environment entries the workflow never reads stay as they are.
        assert "o-1" in history
