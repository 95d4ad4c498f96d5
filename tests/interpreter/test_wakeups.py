"""Wake-ups name the runs that changed (issue 13 §1 "Wake-ups").

A driver holds the runs whose calls are in flight. When another process
commits, the store says WHICH runs got a message (or a new execution) since
the driver last asked, and the driver re-reads only those: a "somebody
committed" counter made it re-read every run it held on every commit of
every other process, so with N workers every commit woke every worker."""

from __future__ import annotations

import asyncio
from pathlib import Path

from wfdsl.interpreter.clock import VirtualClock
from wfdsl.interpreter.engine import Engine
from wfdsl.interpreter.store.sqlite.store import SqliteStore

FLOW = """
wfdsl: "1"
name: held
signals:
  go: {}
start: work
states:
  work: {type: task, action: hold, next: wait_go}
  wait_go: {type: wait, signal: go, next: done}
  done: {type: succeed}
"""


class CountingStore(SqliteStore):
    """Counts the single-run reads a driver makes."""

    reads: list[str]

    def get_run(self, run_id: str, execution: int | None = None):  # type: ignore[no-untyped-def]
        self.reads.append(run_id)
        return super().get_run(run_id, execution)


def test_a_commit_elsewhere_re_reads_only_the_runs_it_touched(tmp_path: Path) -> None:
    db = str(tmp_path / "runs.db")
    clock = VirtualClock()
    store = CountingStore(db)
    store.reads = []
    driving = Engine(store=store, clock=clock, owner="driving", drain_seconds=0)
    other = Engine(db, clock=clock, owner="other")
    release = asyncio.Event()

    @driving.action("hold")
    async def hold() -> None:
        await release.wait()

    async def scenario() -> tuple[list[str], list[str]]:
        driver = driving.driver
        driver.bind(asyncio.get_running_loop())
        ids = [driving.submit(FLOW, run_id=f"held{i}").id for i in range(50)]
        driver.tick()  # claims all 50 and starts their calls
        await asyncio.sleep(0)
        assert len(driver.held) == 50
        driver.tick()  # settle: nothing changed yet
        # Another process signals one held run: only that one is re-read.
        other.signal("held7", "go")
        store.reads.clear()
        driver.tick()
        after_signal = list(store.reads)
        # Another process's commit that touches none of them: none is re-read.
        other.submit(FLOW.replace("name: held", "name: elsewhere"), run_id="elsewhere")
        store.reads.clear()
        driver.tick()
        after_create = [r for r in store.reads if r in ids]
        release.set()
        for _ in range(20):
            driver.tick()
            await asyncio.sleep(0)
        return after_signal, after_create

    try:
        after_signal, after_create = asyncio.run(scenario())
    finally:
        other.close()
        driving.close()
    assert after_signal == ["held7"]
    assert after_create == []
