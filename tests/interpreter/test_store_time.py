"""Leases and timers come from the store's clock (issue 13 §1 "Lease
time"): workers on many machines share one database, so a lease's end must
not depend on which worker's clock wrote it. An engine on the wall clock
reads ``Store.now`` (the database's time on a server backend); a
``VirtualClock`` overrides it, so virtual-time tests keep working."""

from __future__ import annotations

import asyncio
import time
from pathlib import Path

from wfdsl.interpreter.clock import VirtualClock
from wfdsl.interpreter.engine import Engine
from wfdsl.interpreter.store.sqlite.store import SqliteStore

HOUR = 3600.0

SLOW = """
wfdsl: "1"
name: slow
start: work
states:
  work: {type: task, action: hold, next: done}
  done: {type: succeed}
"""


class AheadStore(SqliteStore):
    """A store whose server clock runs an hour ahead of this host's."""

    def now(self) -> float:
        return time.time() + HOUR


def _lease_end(store: SqliteStore, run_id: str) -> float | None:
    (end,) = (
        store._connection()
        .execute("SELECT lease_expires_at FROM runs WHERE id = ?", (run_id,))
        .fetchone()
    )
    return end


def test_a_lease_ends_by_the_stores_clock_not_the_workers(tmp_path: Path) -> None:
    store = AheadStore(str(tmp_path / "runs.db"))
    engine = Engine(store=store, lease_seconds=30.0)
    seen: list[float | None] = []

    @engine.action("hold")
    async def hold() -> None:
        # While the call is in flight the run is leased to this engine.
        seen.append(_lease_end(store, "r1"))

    with engine:
        engine.submit(SLOW, run_id="r1")
        assert engine.run_until_complete("r1", timeout=60).status == "completed"
        started = engine.history("r1")[0].time
    assert seen and seen[0] is not None
    # An hour ahead of this host: the store's time, plus the lease.
    assert seen[0] >= time.time() + HOUR
    assert started >= time.time() + HOUR - 60


def test_a_virtual_clock_overrides_the_stores_clock(tmp_path: Path) -> None:
    store = AheadStore(str(tmp_path / "runs.db"))
    clock = VirtualClock()
    engine = Engine(store=store, clock=clock, lease_seconds=30.0)
    seen: list[float | None] = []

    @engine.action("hold")
    async def hold() -> None:
        seen.append(_lease_end(store, "r1"))
        await asyncio.sleep(0)

    with engine:
        engine.submit(SLOW, run_id="r1")
        assert engine.run_until_complete("r1").status == "completed"
    assert seen == [clock.now() + 30.0]
