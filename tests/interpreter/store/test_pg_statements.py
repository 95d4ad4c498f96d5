"""How many statements the PostgreSQL store sends, counted at psycopg's
cursor: a group commit's do not grow with the number of runs in it (one
statement writes every run row and queue row, one COPY every event), so the
per-run statement that used to be there cannot silently come back."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import replace
from typing import Any

import psycopg
import pytest
from store_rows import DEFINITION, create, event, make_run
from wfdsl.interpreter.store import open_store
from wfdsl.interpreter.store.protocol import Store
from wfdsl.interpreter.store.records import RunUpdate


@pytest.fixture
def store(postgres_store_url: str) -> Iterator[Store]:
    opened = open_store(postgres_store_url)
    try:
        opened.put_definition(DEFINITION)
        yield opened
    finally:
        opened.close()


class Sent:
    """Statements sent through any psycopg cursor while counting: an
    ``executemany`` counts one per parameter row, as the server runs them."""

    def __init__(self, monkeypatch: pytest.MonkeyPatch) -> None:
        self.statements: list[str] = []
        execute, executemany, copy = (
            psycopg.Cursor.execute,
            psycopg.Cursor.executemany,
            psycopg.Cursor.copy,
        )

        def counted_execute(cur: Any, query: Any, *args: Any, **kwargs: Any) -> Any:
            self.statements.append(str(query)[:40])
            return execute(cur, query, *args, **kwargs)

        def counted_executemany(cur: Any, query: Any, params: Any, **kwargs: Any) -> Any:
            rows = list(params)
            self.statements.extend([str(query)[:40]] * len(rows))
            return executemany(cur, query, rows, **kwargs)

        def counted_copy(cur: Any, statement: Any, *args: Any, **kwargs: Any) -> Any:
            self.statements.append(str(statement)[:40])
            return copy(cur, statement, *args, **kwargs)

        monkeypatch.setattr(psycopg.Cursor, "execute", counted_execute)
        monkeypatch.setattr(psycopg.Cursor, "executemany", counted_executemany)
        monkeypatch.setattr(psycopg.Cursor, "copy", counted_copy)


def _commit_of(store: Store, run_ids: list[str], monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """The statements of one group commit advancing ``run_ids`` (leased),
    each with two new events and new vars."""
    for run_id in run_ids:
        create(store, run_id)
    leases = {
        run.id: lease
        for run, lease in store.claim_ready("me", now=20.0, lease_seconds=30, limit=1000)
    }
    updates = [
        RunUpdate(
            run=make_run(run_id, vars={"step": 1}, ready_at=21.0),
            expected_version=0,
            events=(event(run_id, 2), event(run_id, 3)),
            lease=leases[run_id],
        )
        for run_id in run_ids
    ]
    with monkeypatch.context() as patch:
        sent = Sent(patch)
        results = store.commit(updates, now=21.0)
    assert [r.outcome for r in results] == ["ok"] * len(run_ids)
    return sent.statements


def test_a_group_commit_sends_as_many_statements_for_forty_runs_as_for_one(
    store: Store, monkeypatch: pytest.MonkeyPatch
) -> None:
    one = _commit_of(store, ["solo"], monkeypatch)
    forty = _commit_of(store, [f"r{i}" for i in range(40)], monkeypatch)
    assert len(forty) == len(one), forty
    # And what it wrote is all there: rows, queue entries, events.
    for run_id in ("solo", "r0", "r39"):
        got = store.get_run(run_id)
        assert got is not None
        assert (got.vars, got.ready_at, got.row_version) == ({"step": 1}, 21.0, 1)
        assert [e.seq for e in store.history(run_id)] == [1, 2, 3]


def test_a_group_commit_with_a_run_finishing_and_one_going_on(store: Store) -> None:
    # One statement writes both kinds of row: the finished run leaves the
    # queue (no ready time, no action needed), the other stays due.
    for run_id in ("done", "going"):
        create(store, run_id)
    leases = {
        run.id: lease
        for run, lease in store.claim_ready("me", now=20.0, lease_seconds=30, limit=10)
    }
    finished = replace(
        make_run("done"), status="completed", output={"ok": True}, ended_at=21, ready_at=None
    )
    going = make_run("going", ready_at=25, needs_action="mail.send")
    results = store.commit(
        [
            RunUpdate(run=finished, expected_version=0, lease=leases["done"]),
            RunUpdate(run=going, expected_version=0, lease=leases["going"]),
        ],
        now=21.0,
    )
    assert [r.outcome for r in results] == ["ok", "ok"]
    done, later = store.get_run("done"), store.get_run("going")
    assert done is not None and later is not None
    assert (done.status, done.output, done.ended_at, done.ready_at) == (
        "completed",
        {"ok": True},
        21.0,
        None,
    )
    assert (later.status, later.ready_at, later.needs_action) == ("running", 25.0, "mail.send")
    assert store.next_ready_at("someone-else", actions=["mail.send"]) is not None
