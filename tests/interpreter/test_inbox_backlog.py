"""A backlog bigger than the engine's per-channel window still drains
completely and in order, and a full window on one channel never hides a
message on another."""

from __future__ import annotations

from wfdsl.interpreter.clock import VirtualClock
from wfdsl.interpreter.engine import Engine
from wfdsl.interpreter.engine_loop import INBOX_WINDOW

COUNT = INBOX_WINDOW * 3 + 7

FLOW = f"""
wfdsl: "1"
name: backlog
vars: {{n: 0, last: -1, ordered: true}}
start: w
states:
  w:
    type: wait
    any:
      - {{signal: s, as: msg, next: add}}
      - {{signal: stop, next: stopped}}
  add:
    type: set
    set:
      n: ${{ vars.n + 1 }}
      last: ${{ vars.msg }}
      ordered: ${{ vars.ordered and vars.msg == vars.last + 1 }}
    next: check
  check:
    type: choice
    choices: [{{when: "${{ vars.n >= {COUNT} }}", next: done}}]
    default: w
  done: {{type: succeed}}
  stopped: {{type: fail, error: Stopped}}
"""


def test_a_burst_larger_than_the_window_is_consumed_in_order() -> None:
    with Engine(":memory:", clock=VirtualClock()) as engine:
        run = engine.submit(FLOW, run_id="burst")
        engine.run_until_idle()
        for i in range(COUNT):
            engine.signal(run.id, "s", i)
        finished = engine.run_until_complete(run.id)
        assert finished.status == "completed"
        assert finished.vars["n"] == COUNT and finished.vars["ordered"] is True


def test_a_full_window_on_one_channel_does_not_hide_another() -> None:
    flow = FLOW.replace("name: backlog", "name: backlog-stop")
    with Engine(":memory:", clock=VirtualClock()) as engine:
        run = engine.submit(flow, run_id="stop")
        for i in range(INBOX_WINDOW * 2):
            engine.signal(run.id, "other", i)  # nobody waits on it
        engine.signal(run.id, "stop")
        finished = engine.run_until_complete(run.id)
        assert finished.status == "failed"
        assert finished.error is not None and finished.error["error"] == "Stopped"
