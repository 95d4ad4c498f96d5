"""A schedule fires once however many workers run (issue 13 §1
"Schedules"): every worker of a store looks at every schedule, so the
schedule's state is moved forward with a compare-and-set, and only the
worker whose swap won starts the tick's run."""

from __future__ import annotations

import subprocess
import sys
import textwrap
import threading
from pathlib import Path
from typing import Any

from wfdsl.interpreter.clock import VirtualClock
from wfdsl.interpreter.engine import Engine
from wfdsl.interpreter.schedules import Schedules
from wfdsl.interpreter.store.sqlite.store import SqliteStore

JOB = """
wfdsl: "1"
name: job
schedule: {cron: "* * * * *", timezone: UTC, overlap: skip}
signals: {finish: {}}
start: w
states:
  w: {type: wait, signal: finish, next: done}
  done: {type: succeed}
"""


class MeetingStore(SqliteStore):
    """Holds each reader of the job's schedule at a barrier once, so two
    workers decide on the same stored state: the worst interleaving."""

    meet: threading.Barrier | None = None

    def schedule_state(self, definition_name: str) -> dict[str, Any] | None:
        state = super().schedule_state(definition_name)
        meet, self.meet = self.meet, None
        if meet is not None and definition_name == "job":
            meet.wait(timeout=30)
        return state


def test_two_workers_deciding_at_once_start_one_run_where_overlap_skips(
    tmp_path: Path,
) -> None:
    db = str(tmp_path / "runs.db")
    # Worker a sees the minute-1 tick due, worker b (a minute on) sees the
    # minute-2 tick; both read the state before either wrote it.
    a_clock = VirtualClock("2025-01-01T00:00:30Z")
    b_clock = VirtualClock("2025-01-01T00:00:30Z")
    a_store, b_store = MeetingStore(db), MeetingStore(db)
    a = Engine(store=a_store, clock=a_clock, owner="a")
    b = Engine(store=b_store, clock=b_clock, owner="b")
    try:
        a.register(JOB)
        a_fires, b_fires = Schedules(a), Schedules(b)
        a_fires.fire_due()  # first sight: counting starts now, nothing fires
        a_clock.advance_to("2025-01-01T00:01:10Z")
        b_clock.advance_to("2025-01-01T00:02:10Z")
        meet = threading.Barrier(2)
        a_store.meet = b_store.meet = meet
        started: dict[str, list[str]] = {}

        def fire(name: str, schedules: Schedules) -> None:
            started[name] = schedules.fire_due()

        threads = [
            threading.Thread(target=fire, args=("a", a_fires)),
            threading.Thread(target=fire, args=("b", b_fires)),
        ]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(60)
        runs = [run.id for run in a.list_runs(workflow="job")]
        # overlap: skip: the run of one tick waits for `finish`, so the
        # other tick must be skipped, not started beside it.
        assert len(runs) == 1, runs
        assert sorted(started["a"] + started["b"]) == runs
    finally:
        a.close()
        b.close()


WORKER = textwrap.dedent(
    """
    import sys
    from wfdsl.interpreter.clock import VirtualClock
    from wfdsl.interpreter.engine import Engine
    from wfdsl.interpreter.schedules import Schedules

    db, start = sys.argv[1], float(sys.argv[2])
    clock = VirtualClock(start)
    with Engine(db, clock=clock, owner=f"w{sys.argv[3]}") as engine:
        fires = Schedules(engine)
        started = []
        # Every worker walks the same ten minutes, ten seconds at a time.
        for step in range(60):
            started += fires.fire_due()
            clock.advance(10)
        print(len(started))
    """
)

QUICK = """
wfdsl: "1"
name: quick
schedule: {cron: "* * * * *", timezone: UTC, overlap: allow}
start: done
states:
  done: {type: succeed}
"""


def test_four_worker_processes_on_one_store_fire_each_tick_once(tmp_path: Path) -> None:
    db = str(tmp_path / "runs.db")
    clock = VirtualClock("2025-01-01T00:00:05Z")
    with Engine(db, clock=clock) as engine:
        engine.register(QUICK)
        Schedules(engine).fire_due()  # first sight at 00:00:05
    start = clock.now()
    workers = [
        subprocess.Popen(
            [sys.executable, "-c", WORKER, db, str(start), str(n)],
            stdout=subprocess.PIPE,
            text=True,
        )
        for n in range(4)
    ]
    counts = [int(worker.communicate(timeout=120)[0]) for worker in workers]
    with Engine(db, clock=clock) as engine:
        runs = sorted(run.id for run in engine.list_runs(workflow="quick", limit=1000))
    # From 00:00:05 to 00:09:55: the ticks 00:01 ... 00:09, each once.
    assert runs == [f"quick@2025-01-01T00:{m:02d}:00Z" for m in range(1, 10)]
    assert sum(counts) == 9


def test_a_tick_claimed_by_a_worker_that_died_before_starting_it_is_started_by_the_next(
    tmp_path: Path,
) -> None:
    clock = VirtualClock("2025-01-01T00:01:10Z")
    with Engine(str(tmp_path / "runs.db"), clock=clock) as engine:
        engine.register(JOB)
        tick = clock.now() - 10
        # What a worker leaves when it dies between its winning swap and the run.
        engine.store.set_schedule_state(
            "job",
            {"last_tick": tick, "last_run": "job@2025-01-01T00:01:00Z", "starting": tick},
        )
        assert Schedules(engine).fire_due() == ["job@2025-01-01T00:01:00Z"]
        assert engine.get("job@2025-01-01T00:01:00Z").status == "running"  # created, not driven yet
        assert "starting" not in (engine.store.schedule_state("job") or {})
