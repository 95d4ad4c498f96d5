"""Wake-ups between processes on one PostgreSQL database (issue 13 §2-3).

An idle worker sleeps until told: the store calls its ``watch_changes``
callback when a notification arrives. Whatever makes runs claimable for
someone else must therefore notify: a hand-back (a clean exit releasing runs
whose calls it leaves) and a takeover of dead workers' leases did not, and
others found those runs only by polling. And ``changed_runs`` names each run
that was sent a message once, however many messages arrived between two
looks (it used to read a window of 256 message numbers back at every look).
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator

import pytest
from wfdsl.interpreter.store.open import open_store
from wfdsl.interpreter.store.protocol import Store
from wfdsl.interpreter.store.records import Definition, RunRow

HANG_GUARD = 60.0


@pytest.fixture
def two(postgres_store_url: str) -> Iterator[tuple[Store, Store]]:
    """Two store objects on one database: two worker processes."""
    watcher, writer = open_store(postgres_store_url), open_store(postgres_store_url)
    writer.put_definition(Definition("h", "wf", None, ""))
    try:
        yield watcher, writer
    finally:
        watcher.close()
        writer.close()


def _run(store: Store, run_id: str) -> None:
    store.create_run(
        RunRow(id=run_id, workflow="wf", version=None, definition_hash="h", status="running"),
        (),
        now=100.0,
    )


class Waker:
    """What a driver gives ``watch_changes``: counts calls, thread-safe."""

    def __init__(self) -> None:
        self.calls = 0
        self._cond = threading.Condition()

    def __call__(self) -> None:
        with self._cond:
            self.calls += 1
            self._cond.notify_all()

    def wait_past(self, calls: int) -> None:
        with self._cond:
            assert self._cond.wait_for(lambda: self.calls > calls, HANG_GUARD), "never woken"


def test_a_hand_back_wakes_the_idle_workers(two: tuple[Store, Store]) -> None:
    watcher, writer = two
    _run(writer, "r1")
    lease = writer.claim("r1", "leaving", now=100.0, lease_seconds=30)
    assert lease is not None
    waker = Waker()
    assert watcher.watch_changes(waker) is True
    start = watcher.changed_runs(None)
    calls = waker.calls
    writer.release([lease], ready_at=100.0)  # a clean exit leaves its calls
    waker.wait_past(calls)
    assert watcher.changed_runs(start.cursor).other


def test_a_takeover_of_a_dead_workers_leases_wakes_the_idle_workers(
    two: tuple[Store, Store],
) -> None:
    watcher, writer = two
    _run(writer, "r1")
    assert writer.claim("r1", "dead", now=100.0, lease_seconds=3600) is not None
    waker = Waker()
    watcher.watch_changes(waker)
    calls = waker.calls
    assert writer.release_orphans(lambda owner: owner == "dead", now=101.0) == {"dead": 1}
    waker.wait_past(calls)


def test_many_messages_between_two_looks_are_each_named_once(
    two: tuple[Store, Store],
) -> None:
    watcher, writer = two
    ids = [f"r{i:03}" for i in range(300)]
    for run_id in ids:
        _run(writer, run_id)
    waker = Waker()
    watcher.watch_changes(waker)
    cursor = watcher.changed_runs(None).cursor
    # A busy worker does not look while 600 messages (more than the 256 it
    # used to look back over) arrive for 300 runs, one per transaction.
    calls = waker.calls
    for round_ in range(2):
        for run_id in ids:
            writer.send(run_id, "go", round_, now=101.0)
    with waker._cond:
        assert waker._cond.wait_for(lambda: waker.calls >= calls + 600, HANG_GUARD)
    seen = watcher.changed_runs(cursor)
    assert seen.run_ids == frozenset(ids)
    # Named once: the next look names nothing, and reads nothing.
    again = watcher.changed_runs(seen.cursor)
    assert again.run_ids == frozenset() and not again.any
    # A later message names its run alone.
    writer.send("r007", "go", 2, now=102.0)
    with waker._cond:
        assert waker._cond.wait_for(lambda: waker.calls >= calls + 601, HANG_GUARD)
    assert watcher.changed_runs(again.cursor).run_ids == frozenset({"r007"})


def test_a_commit_naming_more_runs_than_one_notification_holds_names_them_all(
    two: tuple[Store, Store],
) -> None:
    watcher, writer = two
    waker = Waker()
    watcher.watch_changes(waker)
    cursor = watcher.changed_runs(None).cursor
    ids = [f"a-rather-long-run-id-to-fill-the-payload-{i:04}" for i in range(600)]
    calls = waker.calls
    writer.create_runs(
        [
            RunRow(id=run_id, workflow="wf", version=None, definition_hash="h", status="running")
            for run_id in ids
        ],
        now=100.0,
    )
    waker.wait_past(calls)
    with waker._cond:  # 600 ids of 46 bytes: four notifications, one commit
        assert waker._cond.wait_for(lambda: waker.calls >= calls + 4, HANG_GUARD)
    assert watcher.changed_runs(cursor).run_ids == frozenset(ids)


def test_a_message_committed_late_behind_hundreds_of_others_is_still_named(
    two: tuple[Store, Store], postgres_store_url: str
) -> None:
    """A message's number is taken before its transaction commits: one
    that commits after 300 later-numbered ones fell below the old 256-number
    look-back and was named by nobody (only the claim path still found it).
    The transaction below is what ``send`` runs, held open meanwhile."""
    import psycopg

    watcher, writer = two
    ids = [f"r{i:03}" for i in range(300)]
    for run_id in ids:
        _run(writer, run_id)
    waker = Waker()
    watcher.watch_changes(waker)
    cursor = watcher.changed_runs(None).cursor
    late = psycopg.connect(postgres_store_url)
    try:
        late.execute(
            "INSERT INTO inbox (run_key, channel, data, sent_at) "
            "SELECT key, 'go', NULL, 101 FROM runs WHERE id = 'r000'"
        )
        late.execute("SELECT pg_notify('wfdsl', 'r000')")
        calls = waker.calls
        for run_id in ids[1:]:
            writer.send(run_id, "go", 1, now=101.0)
        with waker._cond:
            assert waker._cond.wait_for(lambda: waker.calls >= calls + 299, HANG_GUARD)
        cursor = watcher.changed_runs(cursor).cursor  # the 299 are named
        late.commit()
    finally:
        late.close()
    waker.wait_past(calls + 299)
    assert watcher.changed_runs(cursor).run_ids == frozenset({"r000"})


def _poll_only(url: str, seconds: float | None = None) -> str:
    joined = url + ("&" if "?" in url else "?") + "poll_only=1"
    return joined if seconds is None else f"{joined}&poll_seconds={seconds:g}"


def test_poll_only_pushes_nothing_and_polls_at_its_interval(postgres_store_url: str) -> None:
    """PgBouncer's mode: no LISTEN, so no push; other processes' messages
    are read from the database, at most every ``poll_seconds``."""
    writer = open_store(postgres_store_url)
    eager = open_store(_poll_only(postgres_store_url, 0.01))
    lazy = open_store(_poll_only(postgres_store_url, 3600))
    try:
        writer.put_definition(Definition("h", "wf", None, ""))
        _run(writer, "r1")
        assert eager.watch_changes(Waker()) is False
        assert lazy.watch_changes(Waker()) is False
        since = eager.changed_runs(None).cursor
        held = lazy.changed_runs(None).cursor
        writer.send("r1", "go", 1, now=101.0)
        deadline = time.monotonic() + HANG_GUARD
        seen = eager.changed_runs(since)
        while not seen.any:  # the first look 10 ms after the last one reads
            assert time.monotonic() < deadline
            seen = eager.changed_runs(since)
        assert seen.run_ids == frozenset({"r1"})
        # Within its interval the lazy one has not looked yet: nothing, for now.
        assert not lazy.changed_runs(held).any
    finally:
        for store in (writer, eager, lazy):
            store.close()


def test_a_poll_only_worker_still_gets_a_signal_from_another_process(
    postgres_store_url: str,
) -> None:
    import asyncio

    from wfdsl.interpreter.clock import VirtualClock
    from wfdsl.interpreter.engine import Engine

    flow = """
wfdsl: "1"
name: gate
signals:
  go: {}
start: wait_go
states:
  wait_go: {type: wait, signal: go, next: done}
  done: {type: succeed}
"""
    clock = VirtualClock()
    worker = Engine(_poll_only(postgres_store_url), clock=clock)
    other = Engine(postgres_store_url, clock=clock)
    run = worker.start(worker.register(flow))
    worker.run_until_idle()
    assert worker.get(run.id).status == "waiting"

    async def scenario() -> str:
        async with worker:
            other.signal(run.id, "go")  # another process: no poke reaches it
            loop = asyncio.get_running_loop()
            deadline = loop.time() + HANG_GUARD
            while worker.get(run.id).status != "completed":
                assert loop.time() < deadline, "the poll-only worker never saw the signal"
                await asyncio.sleep(0.02)
            return worker.get(run.id).status

    try:
        assert asyncio.run(scenario()) == "completed"
    finally:
        worker.close()
        other.close()
