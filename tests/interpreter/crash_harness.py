"""The child program of test_crash_recovery.py: run one workflow on a store
file and, when told to, die by SIGKILL at a chosen point.

    python tests/interpreter/crash_harness.py --db F --ledger L --flow X.yaml \
        [--run-id ID] [--kill-after SPEC]

``SPEC`` is one of:

- ``KIND:N``: right after the N-th committed store transaction that holds an
  event of type KIND (``action_completed:2``, ``undo_started:1``, ...);
- ``commit:N``: right after the N-th committed ``Store.commit`` of any kind;
- ``inflight:N``: inside the N-th action call, after its side effect is in
  the ledger and before it returns (the "action in flight" point).

The kill is injected by wrapping the store object handed to
``Engine(store=...)``; production code has no test hook. Without
``--kill-after`` the program drives the run to its end (the recovery process,
or an uninterrupted reference run) and prints one JSON document: the run's
status, vars, output, error and history.

Side effects go to the ledger, a JSON-lines file outside the engine's
database: each action call appends ``{action, tag, key, attempt, token}``
with flush + fsync BEFORE returning, ``token`` naming the process.

The flow's ``x-crash`` key drives the outside world deterministically:
``input`` (the run input), ``early`` (messages sent right after submit,
before the run waits) and ``ops`` (signals ``{signal, data}`` and handler
calls ``{call, args}`` done one at a time, in order, whenever the run waits
with nothing else to do on virtual time). Whether an op was already done by a
killed process is read from the store (inbox and history), so the recovery
process neither repeats nor skips one.
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import sqlite3
import sys
import uuid
from collections import Counter
from pathlib import Path
from typing import Any

import yaml
from wfdsl.interpreter.clock import DEFAULT_VIRTUAL_START, VirtualClock
from wfdsl.interpreter.store.sqlite.store import SqliteStore

import wfdsl

TOKEN = f"{os.getpid()}-{uuid.uuid4().hex[:6]}"


def die() -> None:
    sys.stdout.flush()
    sys.stderr.flush()
    os.kill(os.getpid(), signal.SIGKILL)


class KillSpec:
    def __init__(self, text: str | None) -> None:
        self.kind: str | None = None
        self.n = 0
        if text:
            kind, _, n = text.rpartition(":")
            self.kind, self.n = kind, int(n)
        self.seen: Counter[str] = Counter()

    def after_commit(self, event_types: set[str]) -> None:
        if self.kind is None or self.kind == "inflight":
            return
        if self.kind == "commit":
            self.seen["commit"] += 1
        elif self.kind in event_types:
            self.seen[self.kind] += 1
        if self.seen[self.kind] >= self.n:
            die()

    def after_group(self, updates: Any, results: Any) -> None:
        """``after_commit`` for a group commit's ``results``: the event types
        of the updates that committed, if any did."""
        types = {
            event.type
            for update, result in zip(updates, results, strict=True)
            if result.outcome == "ok"
            for event in (*update.events, *update.new_run_events)
        }
        if any(r.outcome == "ok" for r in results):
            self.after_commit(types)

    def in_action(self) -> None:
        if self.kind == "inflight":
            self.seen["inflight"] += 1
            if self.seen["inflight"] >= self.n:
                die()


class KillingStore(SqliteStore):
    """The SQLite store, plus a SIGKILL right after the chosen commit."""

    def __init__(self, path: str, spec: KillSpec) -> None:
        super().__init__(path)
        self.spec = spec

    def commit(self, updates: Any, *, now: float) -> Any:
        results = super().commit(updates, now=now)
        self.spec.after_group(updates, results)
        return results


class CardDeclined(Exception):
    pass


class Flaky(Exception):
    pass


def register(engine: wfdsl.Engine, ledger: Path, spec: KillSpec) -> None:
    def record(action: str, tag: str, ctx: wfdsl.ActionContext) -> None:
        line = {
            "action": action,
            "tag": tag,
            "key": ctx.idempotency_key,
            "attempt": ctx.attempt,
            "token": TOKEN,
        }
        fd = os.open(ledger, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
        try:
            os.write(fd, (json.dumps(line) + "\n").encode())
            os.fsync(fd)
        finally:
            os.close(fd)
        spec.in_action()

    @engine.action("fx")
    async def fx(tag: str, ctx: wfdsl.ActionContext, value: Any = None) -> Any:
        record("fx", tag, ctx)
        return tag if value is None else value

    @engine.action("flaky")
    async def flaky(tag: str, ctx: wfdsl.ActionContext) -> Any:
        record("flaky", tag, ctx)
        if ctx.attempt == 1:
            raise Flaky(f"{tag}: first attempt fails")
        return f"{tag}-ok"

    @engine.action("declined")
    async def declined(tag: str, ctx: wfdsl.ActionContext) -> Any:
        record("declined", tag, ctx)
        raise CardDeclined(f"{tag}: card declined")

    @engine.action("undo")
    async def undo(tag: str, ctx: wfdsl.ActionContext, what: Any = None) -> Any:
        record("undo", tag, ctx)
        return None


def resume_time(db: str) -> float:
    """Where virtual time stood when the last process stopped: a restarted
    engine's clock never starts before its history."""
    if not os.path.exists(db):
        return DEFAULT_VIRTUAL_START
    conn = sqlite3.connect(db)
    try:
        (last,) = conn.execute("SELECT max(time) FROM events").fetchone()
    except sqlite3.Error:
        last = None
    finally:
        conn.close()
    return DEFAULT_VIRTUAL_START if last is None else max(DEFAULT_VIRTUAL_START, last)


def sent(engine: wfdsl.Engine, run_id: str, channel: str) -> int:
    """Messages on ``channel`` the run got so far (consumed or not)."""
    waiting = engine.store.inbox(run_id)
    seen = {m.seq for m in waiting}
    for event in engine.history(run_id):
        if event.type == "signal_received" and event.data.get("channel") == channel:
            seen.add(event.data["seq"])
    return len(seen)


def called(engine: wfdsl.Engine, run_id: str, handler: str) -> int:
    return sum(
        1
        for e in engine.history(run_id)
        if e.type == "handler_called" and e.data.get("handler") == handler
    )


def foreign_lease_end(db: str, run_id: str, owner: str) -> float | None:
    """When another owner's lease on the run ends (a killed process's lease
    outlives it), or None. Read on a connection of its own."""
    conn = sqlite3.connect(db)
    try:
        row = conn.execute(
            "SELECT lease_owner, lease_expires_at FROM runs WHERE id = ?", (run_id,)
        ).fetchone()
    finally:
        conn.close()
    if row is None or row[0] is None or row[0] == owner:
        return None
    return float(row[1])


def do_next(engine: wfdsl.Engine, run_id: str, ops: list[dict[str, Any]]) -> bool:
    """Do the first op not done yet; False when every op is done."""
    wanted: Counter[tuple[str, str]] = Counter()
    for op in ops:
        key = ("signal", op["signal"]) if "signal" in op else ("call", op["call"])
        wanted[key] += 1
        done = (
            sent(engine, run_id, key[1]) if key[0] == "signal" else called(engine, run_id, key[1])
        )
        if done >= wanted[key]:
            continue
        clock = engine.clock
        end = foreign_lease_end(str(engine.store.path), run_id, engine.owner)
        if end is not None and isinstance(clock, VirtualClock):
            # A control request waits for the run's lease (a few seconds of
            # real time, then "try again"); on virtual time the dead owner's
            # lease only lapses when the clock gets there.
            clock.advance_to(max(end, clock.now()))
        if key[0] == "signal":
            engine.signal(run_id, op["signal"], op.get("data"))
        else:
            engine.call(run_id, op["call"], op.get("args"))
        return True
    return False


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--db", required=True)
    parser.add_argument("--ledger", required=True)
    parser.add_argument("--flow", required=True)
    parser.add_argument("--run-id", default="r1")
    parser.add_argument("--kill-after", default=None)
    args = parser.parse_args()

    flow = Path(args.flow)
    meta = yaml.safe_load(flow.read_text()).get("x-crash") or {}
    spec = KillSpec(args.kill_after)
    clock = VirtualClock(resume_time(args.db))
    store = KillingStore(args.db, spec)
    engine = wfdsl.Engine(store=store, clock=clock, owner=f"harness-{TOKEN}")
    register(engine, Path(args.ledger), spec)
    run_id = args.run_id
    if engine.store.get_run(run_id) is None:
        engine.submit(flow, input=meta.get("input"), run_id=run_id)
    do_early = list(meta.get("early") or ())
    while do_next(engine, run_id, do_early):
        pass
    ops = list(meta.get("ops") or ())
    idle_rounds = 0
    while True:
        engine.run_until_idle()
        run = engine.get(run_id)
        if run.done:
            break
        # Messages and calls go in only while the run waits on them, before
        # virtual time moves on (a wait's timer alternative would win).
        if run.status == "waiting" and do_next(engine, run_id, ops):
            continue
        if clock.skip_to_next(engine.store.next_ready_at(engine.owner)):
            idle_rounds = 0
            continue
        idle_rounds += 1
        if idle_rounds > 50:
            row = engine.store.get_run(run_id)
            print(json.dumps({"stuck": run.status, "row": repr(row)}))
            sys.exit(3)
    if spec.kind is not None:
        print(f"kill point {args.kill_after} never reached", file=sys.stderr)
        sys.exit(4)
    result = {
        "status": run.status,
        "vars": run.vars,
        "output": run.output,
        "error": run.error,
        "history": [
            {"seq": e.seq, "type": e.type, "state": e.state, "data": e.data} for e in run.history()
        ],
    }
    engine.close()
    print(json.dumps(result))


if __name__ == "__main__":
    main()
