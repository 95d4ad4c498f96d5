"""`Engine.watch` hands over each committed transition; `Run.positions()`
says where a run is and what each live thread waits for (public API for the
command line and the designer)."""

from __future__ import annotations

from wfdsl.interpreter.run_view import Transition

from wfdsl import Engine, VirtualClock

FORKED = """
wfdsl: "1"
name: forked
signals:
  a: {}
  b: {}
start: both
states:
  both:
    type: parallel
    join: all
    branches:
      left:
        start: wait_a
        states:
          wait_a: {type: wait, signal: a, end: true}
      right:
        start: wait_b
        states:
          wait_b:
            type: wait
            any:
              - {signal: b}
              - {timer: 2h}
            end: true
    next: done
  done: {type: succeed}
"""


def test_watch_sees_every_transition_until_unwatched() -> None:
    seen: list[Transition] = []
    with Engine(clock=VirtualClock()) as engine:
        unwatch = engine.watch(seen.append)
        run = engine.submit(FORKED, run_id="f1")
        engine.run_until_idle()
        types = [e.type for t in seen for e in t.events]
        assert types[0] == "run_started" and "branch_started" in types
        assert all(t.run.id == "f1" for t in seen)
        assert seen[-1].run.status == "waiting"

        unwatch()
        count = len(seen)
        engine.signal(run.id, "a")
        engine.run_until_idle()
        assert len(seen) == count  # nothing after unwatch()


def test_positions_of_a_forked_waiting_run() -> None:
    clock = VirtualClock()
    with Engine(clock=clock) as engine:
        engine.submit(FORKED, run_id="f1")
        engine.run_until_idle()
        positions = {p.path: p for p in engine.get("f1").positions()}
        assert positions["both"].phase == "forked"
        left = positions["both/left/wait_a"]
        assert left.phase == "waiting" and left.state == "wait_a"
        assert left.waiting_for is not None and left.waiting_for.channel == "a"
        right = positions["both/right/wait_b"].waiting_for
        assert right is not None and right.kind == "any"
        signal, timer = right.alternatives
        assert (signal.kind, signal.channel) == ("signal", "b")
        assert timer.kind == "timer" and timer.seconds == 7200
        assert timer.due == clock.now() + 7200

        engine.signal("f1", "a")
        engine.signal("f1", "b")
        done = engine.run_until_complete("f1")
        assert done.status == "completed" and done.positions() == ()
