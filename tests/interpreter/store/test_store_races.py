"""Writers racing on one store (issue 13 §1 "Inbox order", "Check-then-insert
races"): several connections at once, as several workers and ``wfdsl
signal`` processes are. Nothing here relies on one writer: every check a
backend makes before a write is atomic with the write, and a run's messages
come out in the order their sends committed.

Threads, each with its own store object (its own connection): SQLite
serializes them on the file lock, a server backend on its row locks."""

from __future__ import annotations

import threading
from dataclasses import replace
from typing import Any

import pytest
from wfdsl.interpreter.store import open_store
from wfdsl.interpreter.store.errors import RunNotActive
from wfdsl.interpreter.store.records import Definition, RunRow, RunUpdate

from wfdsl.errors import RunAlreadyExists

DEFINITION = Definition("h", "wf", None, "")
SENDERS = 3
FINISH_AFTER = 30  # messages the run takes before it completes


def a_run(run_id: str, **changes: Any) -> RunRow:
    base = RunRow(id=run_id, workflow="wf", version=None, definition_hash="h", status="waiting")
    return replace(base, **changes)


def test_a_run_finishing_under_concurrent_sends_sees_every_message_it_accepted(
    store_url: str,
) -> None:
    """Senders on their own connections keep sending while the run consumes
    and finally completes. Every send that returned was looked at (here:
    consumed) before the run ended; every later one was refused. And each
    sender's messages reach the run in the order that sender sent them."""
    setup = open_store(store_url)
    setup.put_definition(DEFINITION)
    setup.create_run(a_run("r"), (), now=0.0)
    accepted: dict[int, list[tuple[int, int]]] = {n: [] for n in range(SENDERS)}
    refused: list[int] = []
    start = threading.Barrier(SENDERS + 1)
    # Senders run a few messages ahead of the run, not thousands: each
    # consumed message lets one more be sent (and the end lets all go).
    budget = threading.Semaphore(SENDERS * 3)

    def send(sender: int) -> None:
        store = open_store(store_url)
        try:
            start.wait()
            for number in range(10_000):
                budget.acquire()
                try:
                    message = store.send("r", "item", [sender, number], now=1.0)
                except RunNotActive:
                    refused.append(sender)
                    return
                accepted[sender].append((message.seq, number))
        finally:
            store.close()

    threads = [threading.Thread(target=send, args=(n,)) for n in range(SENDERS)]
    for thread in threads:
        thread.start()
    finisher = open_store(store_url)
    consumed: list[Any] = []
    consumed_seqs: list[int] = []
    conflicts = 0
    start.wait()
    run = finisher.get_run("r")
    assert run is not None
    while True:
        inbox = finisher.inbox("r")
        done = len(consumed) + len(inbox) >= FINISH_AFTER
        ended = replace(run, status="completed", ended_at=2.0) if done else run
        update = RunUpdate(
            run=replace(ended, ready_at=None),
            expected_version=run.row_version,
            consumed=tuple(m.seq for m in inbox),
            inbox_seen=max((m.seq for m in inbox), default=0),
            previous_status=run.status,
        )
        (result,) = finisher.commit([update], now=2.0)
        if result.outcome == "ok":
            consumed.extend(m.data for m in inbox)
            consumed_seqs.extend(m.seq for m in inbox)
            for _ in inbox:
                budget.release()
            run = replace(update.run, row_version=result.row_version)
            if done:
                break
        else:
            conflicts += 1
            fresh = finisher.get_run("r")
            assert fresh is not None
            run = fresh
    for _ in range(SENDERS):
        budget.release()  # the run has ended: the next send of each is refused
    for thread in threads:
        thread.join(60)
    finisher.close()
    setup.close()

    assert sorted(refused) == list(range(SENDERS))  # every sender was told it ended
    sent = {seq for messages in accepted.values() for seq, _ in messages}
    assert sent == set(consumed_seqs)  # nothing accepted was left unread
    for sender, messages in accepted.items():
        seqs = [seq for seq, _ in messages]
        assert seqs == sorted(seqs)  # seq order is this sender's commit order
        mine = [number for who, number in consumed if who == sender]
        assert mine == [number for _, number in messages]


@pytest.mark.parametrize(
    "policy, earlier_status",
    [
        pytest.param("disallow", "waiting", id="disallow"),
        pytest.param("allow_if_no_running", "completed", id="allow_if_no_running"),
        pytest.param("allow_if_failed", "failed", id="allow_if_failed"),
    ],
)
def test_concurrent_creates_of_one_reused_id_start_exactly_one_run(
    store_url: str, policy: str, earlier_status: str
) -> None:
    """Eight connections create the same id at once: one new run (the next
    execution of the id), seven ``RunAlreadyExists``, never an integrity
    error or two runs of one id."""
    setup = open_store(store_url)
    setup.put_definition(DEFINITION)
    ended = 1.0 if earlier_status != "waiting" else None
    setup.create_run(a_run("same", status=earlier_status, ended_at=ended), (), now=0.0)
    outcomes: list[str] = []
    start = threading.Barrier(8)

    def create(number: int) -> None:
        store = open_store(store_url)
        try:
            start.wait()
            try:
                store.create_run(
                    a_run("same", status="running", input=number), (), id_reuse=policy, now=1.0
                )
                outcomes.append("created")
            except RunAlreadyExists:
                outcomes.append("refused")
        finally:
            store.close()

    threads = [threading.Thread(target=create, args=(n,)) for n in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    executions = setup.executions("same")
    setup.close()
    if policy == "disallow":
        assert sorted(outcomes) == ["refused"] * 8
        assert len(executions) == 1
    else:
        assert sorted(outcomes) == ["created"] + ["refused"] * 7
        assert [run.execution for run in executions] == [1, 2]
        assert executions[-1].status == "running"
