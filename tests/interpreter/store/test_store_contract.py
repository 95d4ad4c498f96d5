"""The store contract, on every backend: each protocol method's promises
(round trips, id_reuse, group commit, wake-ups, leases, routing) and the
interleavings two processes can produce (claim races, a send against a
finishing commit, two creators of one id, deadlock-prone group commits).

Every test runs once on SQLite and once on PostgreSQL (``store_url`` in
tests/conftest.py); under CI=1 a missing PostgreSQL server fails them.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import replace
from typing import Any

import pytest
from store_rows import DEFINITION, create, event, make_run, started
from wfdsl.interpreter.store import open_store
from wfdsl.interpreter.store.errors import RunNotActive, StoreError
from wfdsl.interpreter.store.protocol import Store
from wfdsl.interpreter.store.records import (
    Definition,
    Event,
    InboxMessage,
    Lease,
    RunFilter,
    RunUpdate,
)

from wfdsl.errors import ExpressionError, RunAlreadyExists, RunNotFound


@pytest.fixture
def store(store_url: str) -> Iterator[Store]:
    opened = open_store(store_url)
    try:
        opened.put_definition(DEFINITION)
        yield opened
    finally:
        opened.close()


def test_satisfies_the_store_protocol(store: Store) -> None:
    as_protocol: Store = store
    assert as_protocol is store


# --- round trips -----------------------------------------------------------------------


def test_definitions_round_trip_and_newest_wins(store: Store) -> None:
    store.put_definition(DEFINITION)  # idempotent
    newer = Definition("hash-2", "signup", "3", "v3", created_at=2.0)
    store.put_definition(newer)
    assert store.get_definition("hash-1") == DEFINITION
    assert store.get_definition("nope") is None
    assert store.find_definition("signup") == newer
    assert store.find_definition("signup", "2") == DEFINITION
    assert store.find_definition("signup", "9") is None
    assert store.find_definition("other") is None


def test_run_round_trip_keeps_every_field(store: Store) -> None:
    run = make_run(
        output={"done": [1, 2.5, None]},
        error={"error": "Boom", "message": "ünïcode"},
        parent_run="parent",
        ended_at=None,
    )
    created = store.create_run(run, started(), now=10.0)
    assert created == run
    assert store.get_run("r1") == run
    assert store.get_run("missing") is None
    assert store.history("r1") == list(started())


def test_json_scalars_survive_text_affinity(store: Store) -> None:
    # A JSON column typed loosely would turn the text '5' into the number 5.
    run = make_run(input="5", output=5, vars={"v": "007"})
    store.create_run(run, (), now=0.0)
    got = store.get_run("r1")
    assert got is not None
    assert (got.input, got.output, got.vars) == ("5", 5, {"v": "007"})


def test_history_after_seq(store: Store) -> None:
    create(store)
    update = RunUpdate(run=make_run(), expected_version=0, events=(event("r1", 2), event("r1", 3)))
    assert store.commit([update], now=11.0)[0].outcome == "ok"
    assert [e.seq for e in store.history("r1")] == [1, 2, 3]
    assert store.history("r1", after_seq=2) == [event("r1", 3)]
    assert store.history("missing") == []


def forked_from(origin: str, seq: int, execution: int = 1) -> dict[str, Any]:
    return {"run": origin, "execution": execution, "seq": seq, "state": "wait", "set": {}}


def test_forks_lists_the_runs_started_from_a_run_oldest_first(store: Store) -> None:
    create(store, "origin")
    create(store, "bystander")
    # A run whose input mentions forked_from is no fork.
    store.create_run(
        make_run("lookalike"),
        (
            Event(
                run_id="lookalike",
                seq=1,
                type="run_started",
                time=10.0,
                data={"input": {"forked_from": {"run": "origin"}}},
            ),
        ),
        now=10.0,
    )
    for name, at, seq in (("f2", 12.0, 5), ("f1", 11.0, 3), ("other", 11.5, 2)):
        source = "bystander" if name == "other" else "origin"
        first = Event(
            run_id=name,
            seq=1,
            type="run_started",
            time=at,
            data={"input": {}, "forked_from": forked_from(source, seq)},
        )
        store.create_run(make_run(name, started_at=at), (first,), now=at)

    found = store.forks("origin", 1)
    assert [(run.id, e.data["forked_from"]["seq"]) for run, e in found] == [("f1", 3), ("f2", 5)]
    assert all(e.seq == 1 and e.type == "run_started" for _, e in found)
    assert [run.id for run, _ in store.forks("origin", 1, limit=1)] == ["f1"]
    assert store.forks("origin", 2) == []  # of its (absent) second execution
    assert [run.id for run, _ in store.forks("bystander", 1)] == ["other"]
    assert store.forks("f1", 1) == [] and store.forks("nobody", 1) == []


def test_schedules_round_trip(store: Store) -> None:
    assert store.schedule_state("nightly") is None
    store.set_schedule_state("nightly", {"last_tick": 5.0})
    store.set_schedule_state("nightly", {"last_tick": 6.0, "buffered": True})
    assert store.schedule_state("nightly") == {"last_tick": 6.0, "buffered": True}


def test_list_runs_filters_and_orders_newest_first(store: Store) -> None:
    for number in range(5):
        create(
            store,
            f"r{number}",
            started_at=float(number),
            status="waiting" if number % 2 else "running",
        )
    assert [r.id for r in store.list_runs(RunFilter())] == ["r4", "r3", "r2", "r1", "r0"]
    assert [r.id for r in store.list_runs(RunFilter(status="waiting"))] == ["r3", "r1"]
    assert [r.id for r in store.list_runs(RunFilter(workflow="nope"))] == []
    assert [r.id for r in store.list_runs(RunFilter(limit=2, offset=1))] == ["r3", "r2"]


# --- id_reuse ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("policy", "existing_status", "replaced"),
    [
        pytest.param("allow_if_no_running", "running", False, id="no_running-refuses-running"),
        pytest.param("allow_if_no_running", "waiting", False, id="no_running-refuses-waiting"),
        pytest.param("allow_if_no_running", "completed", True, id="no_running-replaces-completed"),
        pytest.param("allow_if_no_running", "failed", True, id="no_running-replaces-failed"),
        pytest.param("allow_if_failed", "failed", True, id="if_failed-replaces-failed"),
        pytest.param("allow_if_failed", "cancelled", True, id="if_failed-replaces-cancelled"),
        pytest.param("allow_if_failed", "completed", False, id="if_failed-refuses-completed"),
        pytest.param("allow_if_failed", "running", False, id="if_failed-refuses-running"),
        pytest.param("disallow", "completed", False, id="disallow-refuses-completed"),
        pytest.param("terminate_if_running", "running", True, id="terminate-replaces-running"),
        pytest.param("terminate_if_running", "completed", True, id="terminate-replaces-completed"),
    ],
)
def test_id_reuse(store: Store, policy: str, existing_status: str, replaced: bool) -> None:
    old = store.create_run(make_run(status=existing_status, vars={"old": True}), started(), now=1.0)
    store.commit(
        [RunUpdate(run=old, expected_version=0, events=(event("r1", 2), event("r1", 3)))], now=2.0
    )
    if existing_status not in ("completed", "failed", "cancelled"):
        store.send("r1", "ping", 1, now=2.0)
    fresh = make_run(vars={"new": True})
    if not replaced:
        with pytest.raises(RunAlreadyExists, match=f"'r1'.*{existing_status}"):
            store.create_run(fresh, started(), id_reuse=policy, now=3.0)
        kept = store.get_run("r1")
        assert kept is not None and kept.vars == {"old": True}
        return
    created = store.create_run(fresh, started(), id_reuse=policy, now=3.0)
    assert created.row_version > 1  # continues the old run's versions
    got = store.get_run("r1")
    assert got is not None and got.vars == {"new": True}
    assert got.execution == 2
    # The new run starts a history of its own; the old run, with its
    # history, stays readable as execution 1 of the id.
    assert [e.seq for e in store.history("r1")] == [1]
    assert store.inbox("r1") == []
    first = store.get_run("r1", execution=1)
    assert first is not None and first.vars == {"old": True} and first.execution == 1
    old_events = [e.type for e in store.history("r1", execution=1)]
    if existing_status in ("completed", "failed", "cancelled"):
        assert old_events == ["run_started", "state_entered", "state_entered"]
        assert first.status == existing_status
    else:  # terminated: ended as cancelled, saying why
        assert old_events == ["run_started", "state_entered", "state_entered", "run_cancelled"]
        assert first.status == "cancelled" and first.ended_at == 3.0
    assert [r.execution for r in store.executions("r1")] == [1, 2]
    # A commit computed against the old run can never apply to the new one.
    stale = store.commit([RunUpdate(run=old, expected_version=1)], now=4.0)
    assert stale[0].outcome == "conflict"


def test_unknown_id_reuse_policy_is_a_programming_error(store: Store) -> None:
    with pytest.raises(ValueError, match="allow_if_failed"):
        store.create_run(make_run(), (), id_reuse="sometimes", now=0.0)


def test_run_needs_its_definition(store: Store) -> None:
    with pytest.raises(StoreError, match="definition must be stored first"):
        store.create_run(make_run(definition_hash="unknown"), (), now=0.0)
    assert store.get_run("r1") is None


# --- group commit --------------------------------------------------------------------------


def test_group_commit_refuses_conflict_and_lost_lease_but_applies_the_rest(
    store: Store,
) -> None:
    for run_id in ("a", "b", "c", "d"):
        create(store, run_id)
    leases = {
        run.id: lease
        for run, lease in store.claim_ready("me", now=20.0, lease_seconds=30, limit=10)
    }
    assert sorted(leases) == ["a", "b", "c", "d"]
    stale_lease = replace(leases["c"], generation=leases["c"].generation - 1)
    updates = [
        RunUpdate(
            run=make_run("a", vars={"x": 1}),
            expected_version=0,
            events=(event("a", 2),),
            lease=leases["a"],
        ),
        RunUpdate(
            run=make_run("b", vars={"x": 2}),
            expected_version=7,
            events=(event("b", 2),),
            lease=leases["b"],
        ),
        RunUpdate(
            run=make_run("c", vars={"x": 3}),
            expected_version=0,
            events=(event("c", 2),),
            lease=stale_lease,
        ),
        RunUpdate(run=make_run("d", vars={"x": 4}), expected_version=0, events=(event("d", 2),)),
    ]
    results = store.commit(updates, now=21.0)
    assert [(r.run_id, r.outcome, r.row_version) for r in results] == [
        ("a", "ok", 1),
        ("b", "conflict", 0),
        ("c", "lease_lost", 0),
        ("d", "ok", 1),
    ]
    for run_id, applied in (("a", True), ("b", False), ("c", False), ("d", True)):
        got = store.get_run(run_id)
        assert got is not None
        assert (got.vars != make_run(run_id).vars) is applied
        assert len(store.history(run_id)) == (2 if applied else 1)


def test_commit_writes_consumed_outbox_and_children(store: Store) -> None:
    parent = create(store, "parent")
    create(store, "other")
    message = store.send("parent", "go", {"n": 1}, now=11.0)
    child = make_run("child", parent_run="parent", ready_at=12.0)
    update = RunUpdate(
        run=replace(parent, status="waiting", ready_at=None),
        expected_version=0,
        events=(event("parent", 2, "signal_consumed"),),
        consumed=(message.seq,),
        inbox_seen=message.seq,
        outbox=(
            InboxMessage(run_id="other", channel="hello", data=[1]),
            InboxMessage(run_id="child", channel="__start", data=None),
            InboxMessage(run_id="nobody", channel="lost", data=None),
        ),
        new_runs=(child,),
        new_run_events=started("child"),
    )
    assert store.commit([update], now=12.0)[0].outcome == "ok"
    assert store.inbox("parent") == []
    got = store.get_run("parent")
    assert got is not None and got.ready_at is None and got.status == "waiting"
    other = store.inbox("other")
    assert [(m.channel, m.data, m.sent_at) for m in other] == [("hello", [1], 12.0)]
    assert store.get_run("child") is not None
    assert [m.channel for m in store.inbox("child")] == ["__start"]
    assert store.history("child") == list(started("child"))
    # The other run was woken by the message.
    other_run = store.get_run("other")
    assert other_run is not None and other_run.ready_at == 10.0  # already earlier than now
    # A recovered parent re-creating the same child keeps the existing one.
    again = RunUpdate(
        run=got,
        expected_version=1,
        new_runs=(replace(child, vars={"dup": 1}),),
        inbox_seen=message.seq,
    )
    assert store.commit([again], now=13.0)[0].outcome == "ok"
    kept = store.get_run("child")
    assert kept is not None and kept.vars == child.vars


def test_a_new_run_id_taken_by_a_stranger_is_a_conflict(store: Store) -> None:
    parent = create(store, "parent")
    create(store, "taken")
    update = RunUpdate(
        run=parent, expected_version=0, new_runs=(make_run("taken", parent_run="parent"),)
    )
    assert store.commit([update], now=11.0)[0].outcome == "conflict"


def test_outbox_wakes_an_active_target_and_skips_finished_ones(store: Store) -> None:
    sender = create(store, "sender")
    create(store, "sleeper", status="waiting", ready_at=None)
    create(store, "done", status="completed", ended_at=5.0)
    outbox = (
        InboxMessage(run_id="sleeper", channel="wake"),
        InboxMessage(run_id="done", channel="late"),
    )
    assert (
        store.commit([RunUpdate(run=sender, expected_version=0, outbox=outbox)], now=15.0)[
            0
        ].outcome
        == "ok"
    )
    sleeper = store.get_run("sleeper")
    assert sleeper is not None and sleeper.ready_at == 15.0
    assert store.inbox("done") == []


def test_finished_runs_leave_the_ready_index(store: Store) -> None:
    run = create(store)
    done = replace(run, status="completed", ready_at=99.0, ended_at=12.0, output=1)
    assert store.commit([RunUpdate(run=done, expected_version=0)], now=12.0)[0].outcome == "ok"
    got = store.get_run("r1")
    assert got is not None and got.ready_at is None
    assert store.next_ready_at() is None


def test_commit_of_an_unknown_run_is_a_conflict(store: Store) -> None:
    assert (
        store.commit([RunUpdate(run=make_run("ghost"), expected_version=0)], now=1.0)[0].outcome
        == "conflict"
    )
    assert store.commit([], now=1.0) == []


def test_same_run_twice_in_one_group_applies_once(store: Store) -> None:
    run = create(store)
    results = store.commit(
        [RunUpdate(run=run, expected_version=0), RunUpdate(run=run, expected_version=0)], now=1.0
    )
    assert [r.outcome for r in results] == ["ok", "conflict"]


def test_search_rows_follow_every_commit(store: Store) -> None:
    run = create(store)
    version = 0
    for status in ("a", "b", "b", "c"):
        run = replace(run, search={"status": status, "email": "x@y"})
        result = store.commit([RunUpdate(run=run, expected_version=version)], now=1.0)[0]
        version = result.row_version
        assert [r.id for r in store.list_runs(RunFilter(where=f"status == '{status}'"))] == ["r1"]
    run = replace(run, search={})
    store.commit([RunUpdate(run=run, expected_version=version)], now=1.0)
    # Its rows are gone: no run has the attribute any more, so naming it is an error.
    with pytest.raises(ExpressionError, match="unknown search attribute 'email'"):
        store.list_runs(RunFilter(where="email == 'x@y'"))


# --- inbox and wake-ups ------------------------------------------------------------------------


def test_send_appends_in_order_and_marks_ready(store: Store) -> None:
    create(store, status="waiting", ready_at=None)
    first = store.send("r1", "a", {"k": 1}, now=20.0)
    second = store.send("r1", "b", None, now=21.0)
    assert first.seq < second.seq
    assert [(m.channel, m.data) for m in store.inbox("r1")] == [("a", {"k": 1}), ("b", None)]
    assert store.inbox("r1", after_seq=first.seq) == [second]
    got = store.get_run("r1")
    assert got is not None and got.ready_at == 20.0 and got.row_version == 0


def test_send_to_missing_or_finished_runs_is_refused(store: Store) -> None:
    create(store, "done", status="failed", ended_at=1.0)
    with pytest.raises(RunNotFound, match="'ghost'"):
        store.send("ghost", "a", None, now=1.0)
    with pytest.raises(RunNotActive, match="'done' is failed"):
        store.send("done", "a", None, now=1.0)
    assert isinstance(RunNotActive("x", "failed"), StoreError)


def test_no_lost_wake_up_when_a_message_lands_between_read_and_commit(store: Store) -> None:
    run = create(store)
    read = store.get_run("r1")  # the engine reads the run ...
    assert read is not None
    message = store.send("r1", "verified", {"ok": True}, now=30.0)  # ... a message arrives ...
    parked = replace(read, status="waiting", ready_at=None)  # ... the machine parks it
    result = store.commit([RunUpdate(run=parked, expected_version=0, inbox_seen=0)], now=31.0)
    assert result[0].outcome == "ok"
    got = store.get_run("r1")
    assert got is not None and got.ready_at is not None and got.ready_at <= 31.0
    assert [r.id for r, _ in store.claim_ready("me", now=31.0, lease_seconds=5, limit=5)] == ["r1"]
    # Once the machine has seen it, parking sticks.
    seen = RunUpdate(run=replace(parked, ready_at=None), expected_version=1, inbox_seen=message.seq)
    store.commit([seen], now=32.0)
    got = store.get_run("r1")
    assert got is not None and got.ready_at is None
    assert run.row_version == 0


def test_a_run_cannot_finish_over_a_message_it_has_not_seen(store: Store) -> None:
    run = create(store)
    message = store.send("r1", "late", 1, now=30.0)
    done = replace(run, status="completed", ended_at=31.0)
    assert (
        store.commit([RunUpdate(run=done, expected_version=0)], now=31.0)[0].outcome == "conflict"
    )
    assert (
        store.commit([RunUpdate(run=done, expected_version=0, inbox_seen=message.seq)], now=31.0)[
            0
        ].outcome
        == "ok"
    )
    # Consuming it in the same update counts as seeing it.
    other = create(store, "r2")
    message = store.send("r2", "late", 1, now=30.0)
    done = replace(other, status="completed", ended_at=31.0)
    update = RunUpdate(run=done, expected_version=0, consumed=(message.seq,))
    assert store.commit([update], now=31.0)[0].outcome == "ok"


# --- leases --------------------------------------------------------------------------------


def test_claim_ready_takes_due_runs_in_order(store: Store) -> None:
    create(store, "late", ready_at=50.0)
    create(store, "early", ready_at=5.0)
    create(store, "middle", ready_at=20.0)
    create(store, "parked", status="waiting", ready_at=None)
    create(store, "done", status="completed", ended_at=1.0, ready_at=1.0)
    claimed = store.claim_ready("me", now=30.0, lease_seconds=10, limit=10)
    assert [r.id for r, _ in claimed] == ["early", "middle"]
    assert all(lease == Lease(r.id, "me", 1, 40.0) for r, lease in claimed)
    assert store.claim_ready("you", now=35.0, lease_seconds=10, limit=10) == []
    # Ours again: same generation, longer lease.
    again = store.claim_ready("me", now=35.0, lease_seconds=10, limit=1)
    assert [(r.id, lease.generation, lease.expires_at) for r, lease in again] == [
        ("early", 1, 45.0)
    ]


def test_expired_lease_is_taken_over_and_the_old_owner_cannot_commit(store: Store) -> None:
    run = create(store)
    [(_, old)] = store.claim_ready("old", now=10.0, lease_seconds=5, limit=1)
    assert store.claim("r1", "new", now=14.0, lease_seconds=5) is None  # still held
    [(_, new)] = store.claim_ready("new", now=16.0, lease_seconds=5, limit=1)
    assert new.generation == old.generation + 1
    assert (
        store.commit([RunUpdate(run=run, expected_version=0, lease=old)], now=16.0)[0].outcome
        == "lease_lost"
    )
    assert store.renew([old], now=16.0, lease_seconds=5) == []
    assert (
        store.commit([RunUpdate(run=run, expected_version=0, lease=new)], now=16.0)[0].outcome
        == "ok"
    )


def test_an_expired_lease_nobody_took_still_commits(store: Store) -> None:
    run = create(store)
    [(_, lease)] = store.claim_ready("me", now=10.0, lease_seconds=1, limit=1)
    assert (
        store.commit([RunUpdate(run=run, expected_version=0, lease=lease)], now=100.0)[0].outcome
        == "ok"
    )


def test_claim_renew_release(store: Store) -> None:
    create(store)
    lease = store.claim("r1", "me", now=0.0, lease_seconds=10)
    assert lease == Lease("r1", "me", 1, 10.0)
    assert store.claim("r1", "me", now=1.0, lease_seconds=10) == Lease("r1", "me", 1, 11.0)
    [renewed] = store.renew([lease], now=5.0, lease_seconds=10)
    assert renewed.expires_at == 15.0
    store.release([renewed])
    assert store.renew([renewed], now=6.0, lease_seconds=10) == []
    # Released: the next claim, even by the same owner, is a new generation.
    assert store.claim("r1", "me", now=6.0, lease_seconds=10) == Lease("r1", "me", 2, 16.0)
    with pytest.raises(RunNotFound):
        store.claim("ghost", "me", now=0.0, lease_seconds=1)
    assert store.renew([], now=0.0, lease_seconds=1) == []
    store.release([])


def test_next_ready_at_skips_runs_leased_elsewhere(store: Store) -> None:
    assert store.next_ready_at() is None
    create(store, "soon", ready_at=5.0)
    create(store, "later", ready_at=50.0)
    create(store, "parked", status="waiting", ready_at=None)
    assert store.next_ready_at() == 5.0
    store.claim("soon", "other", now=0.0, lease_seconds=20)
    assert store.next_ready_at("me") == 20.0  # when other's lease expires
    assert store.next_ready_at("other") == 5.0
    store.claim("later", "other", now=0.0, lease_seconds=20)
    assert store.next_ready_at("me") == 20.0


# --- files, migrations, failures ------------------------------------------------------------
