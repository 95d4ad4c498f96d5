"""Rows for the store tests: a definition, a run of it, its first event and
later ones, as the engine would write them. The contract suite
(tests/interpreter/store/test_store_contract.py) and the SQLite backend's own
tests (tests/interpreter/test_sqlite_store.py) build their stores from these."""

from __future__ import annotations

from dataclasses import replace
from typing import Any

from wfdsl.interpreter.store.protocol import Store
from wfdsl.interpreter.store.records import Definition, Event, RunRow

__all__ = ["DEFINITION", "create", "event", "make_run", "started"]

DEFINITION = Definition("hash-1", "signup", "2", "wfdsl: '1'\n", file="signup.yaml", created_at=1.0)


def make_run(run_id: str = "r1", **changes: Any) -> RunRow:
    run = RunRow(
        id=run_id,
        workflow="signup",
        version="2",
        definition_hash="hash-1",
        status="running",
        input={"email": f"{run_id}@example.com"},
        vars={"status": "new", "reminders": 0},
        started_at=10.0,
        ready_at=10.0,
        state={"threads": [{"id": "0", "at": "send"}]},
        search={"email": f"{run_id}@example.com", "status": "new"},
    )
    return replace(run, **changes)


def started(run_id: str = "r1") -> tuple[Event, ...]:
    return (Event(run_id=run_id, seq=1, type="run_started", time=10.0, data={"input": {}}),)


def event(run_id: str, seq: int, type: str = "state_entered") -> Event:
    return Event(run_id=run_id, seq=seq, type=type, time=float(seq), state="wait", data={"n": seq})


def create(store: Store, run_id: str = "r1", **changes: Any) -> RunRow:
    """``make_run(run_id, **changes)`` created with its first event at t=10."""
    return store.create_run(make_run(run_id, **changes), started(run_id), now=10.0)
