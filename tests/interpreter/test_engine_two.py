"""Two engines on one file: a signal sent through one reaches a run driven
by the other, and no run is driven by both at once."""

from __future__ import annotations

import threading

from wfdsl.interpreter.clock import VirtualClock
from wfdsl.interpreter.engine import Engine

WAITER = """
wfdsl: "1"
name: waiter
signals:
  go: {}
start: wait_go
states:
  wait_go: {type: wait, signal: go, as: got, next: work}
  work: {type: task, action: note, args: {v: "${ vars.got }"}, next: done}
  done: {type: succeed, output: "${ vars.got }"}
"""


def test_signal_through_one_engine_reaches_a_run_driven_by_the_other(store_url: str) -> None:
    db = store_url
    calls: list[tuple[str, object]] = []
    lock = threading.Lock()

    def engine(name: str) -> Engine:
        e = Engine(db, clock=VirtualClock(), owner=name)

        @e.action("note")
        def note(v: object) -> None:
            with lock:
                calls.append((name, v))

        return e

    with engine("a") as a, engine("b") as b:
        ids = [a.submit(WAITER, run_id=f"r{i}").id for i in range(20)]
        a.run_until_idle()
        assert {a.get(i).status for i in ids} == {"waiting"}
        for i in ids:
            b.signal(i, "go", i)
        # Both engines drive the same file at once, each in its own thread.
        threads = [threading.Thread(target=e.run_until_idle) for e in (a, b)]
        for t in threads:
            t.start()
        for t in threads:
            t.join(30)
        a.run_until_idle()
        assert {a.get(i).status for i in ids} == {"completed"}
        assert sorted(v for _, v in calls) == sorted(ids)  # each action once
