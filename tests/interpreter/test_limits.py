"""Totals are bounded (docs/guarantees.md §8): payloads that enter a run, the
work of a transition's expressions, and the data a transition writes.

Before, each expression was bounded on its own (1 MB per string) but not the
transition: 200 expressions of 1 MB each made a 630 MB database. Now such a
run fails with ``LimitExceeded`` naming the state and the bound, writes next
to nothing, and the other runs of the store carry on.
"""

from __future__ import annotations

import sqlite3
from pathlib import Path
from typing import Any

import pytest
from wfdsl.interpreter.machine.limits import MAX_PAYLOAD_BYTES, MAX_TRANSITION_BYTES

import wfdsl

MIB = 1_048_576


def hostile(count: int, expression: str = "'x' * 1048576") -> str:
    """A small document whose output holds ``count`` copies of ``expression``."""
    lines = ['wfdsl: "1"', "name: hostile", "start: go", "states:", "  go:"]
    lines += ["    type: succeed", "    output:"]
    lines += [f'      k{i}: "${{ {expression} }}"' for i in range(count)]
    return "\n".join(lines) + "\n"


HEALTHY = """
wfdsl: "1"
name: healthy
vars: {n: 0}
start: add
states:
  add: {type: set, set: {n: "${ vars.n + 1 }"}, next: done}
  done: {type: succeed, output: "${ vars.n }"}
"""

# Builds one 1 MB string (within every bound), then references it 20 times:
# no expression builds anything big, but the output would be 20 MB of JSON.
_REFERENCES = ", ".join(f'k{i}: "${{ vars.big }}"' for i in range(20))
SHARED = (
    """
wfdsl: "1"
name: shared
start: build
states:
  build: {type: set, set: {big: "${ 'y' * 1000000 }"}, next: spread}
  spread:
    type: succeed
    output: {"""
    + _REFERENCES
    + "}\n"
)


def store_bytes(path: Path) -> int:
    """The bytes of run data in the store: vars, output, every event, the inbox."""
    with sqlite3.connect(path) as conn:
        (total,) = conn.execute(
            "SELECT (SELECT COALESCE(SUM(LENGTH(vars) + LENGTH(state) + COALESCE(LENGTH(output), 0)), 0)"
            " FROM runs) + (SELECT COALESCE(SUM(LENGTH(data)), 0) FROM events)"
            " + (SELECT COALESCE(SUM(LENGTH(data)), 0) FROM inbox)"
        ).fetchone()
    return int(total)


def test_the_hostile_document_fails_its_own_run_and_the_others_complete(tmp_path: Path) -> None:
    db = tmp_path / "w.db"
    with wfdsl.Engine(str(db)) as engine:
        bad = engine.submit(hostile(200))
        good = [engine.submit(HEALTHY) for _ in range(3)]
        engine.run_until_idle()
        failed = engine.get(bad.id)
        assert failed.status == "failed" and failed.error is not None
        assert failed.error["error"] == "LimitExceeded"
        message = failed.error["message"]
        assert f"run '{bad.id}' state 'go'" in message and "4,194,304" in message
        assert [engine.get(run.id).status for run in good] == ["completed"] * 3
        assert [engine.get(run.id).output for run in good] == [1] * 3
    # It was 630 MB; what is stored now is the run's few events.
    assert store_bytes(db) < 20_000


def test_shared_references_are_counted_each_time_they_are_written(tmp_path: Path) -> None:
    with wfdsl.Engine(str(tmp_path / "w.db")) as engine:
        run = engine.run_until_complete(engine.submit(SHARED).id)
        assert run.status == "failed" and run.error is not None
        assert run.error["error"] == "LimitExceeded"
        assert f"more than {MAX_TRANSITION_BYTES:,} bytes" in run.error["message"]
        assert "state 'spread'" in run.error["message"]


def test_catch_does_not_see_limit_exceeded(tmp_path: Path) -> None:
    doc = """
wfdsl: "1"
name: caught
start: work
states:
  work:
    type: task
    action: noop
    args: {blob: "${ [range(1000000), range(1000000), range(1000000), range(1000000), range(1000000)] }"}
    catch: [{errors: ["*"], next: handled}]
    end: true
  handled: {type: succeed, output: handled}
"""
    with wfdsl.Engine(":memory:") as engine:
        run = engine.run_until_complete(engine.submit(doc).id)
        assert run.status == "failed" and run.error is not None
        assert run.error["error"] == "LimitExceeded" and "state 'work'" in run.error["message"]
        assert "handled" not in [e.state for e in run.history()]


def test_an_action_result_over_the_payload_limit_fails_the_run(tmp_path: Path) -> None:
    doc = """
wfdsl: "1"
name: fetch
start: get
states:
  get: {type: task, action: big, result: page, retry: {max_attempts: 5}, end: true}
"""
    calls: list[int] = []
    with wfdsl.Engine(str(tmp_path / "w.db")) as engine:

        @engine.action("big")
        def big() -> str:
            calls.append(1)
            return "z" * (MAX_PAYLOAD_BYTES + 1)

        run = engine.run_until_complete(engine.submit(doc).id)
        assert run.status == "failed" and run.error is not None
        assert run.error["error"] == "LimitExceeded"
        assert "the result of action 'big'" in run.error["message"]
        assert "state 'get'" in run.error["message"]
        assert calls == [1]  # not retried: it would only come back as large
        failed = [e for e in run.history() if e.type == "action_failed"]
        assert failed and failed[0].data["error"] == "LimitExceeded"
        assert "page" not in run.vars
    assert store_bytes(tmp_path / "w.db") < 20_000


def test_an_emit_over_the_payload_limit_fails_the_sender() -> None:
    doc = """
wfdsl: "1"
name: talker
start: say
states:
  say: {type: emit, signal: loud, data: "${ 'q' * 1048576 }", next: fin}
  fin: {type: succeed}
"""
    with wfdsl.Engine(":memory:") as engine:
        run = engine.run_until_complete(engine.submit(doc).id)
        assert run.status == "failed" and run.error is not None
        assert run.error["error"] == "LimitExceeded" and "'loud' message" in run.error["message"]


def test_a_handler_over_the_limit_is_refused_and_changes_nothing() -> None:
    doc = """
wfdsl: "1"
name: handled
handlers:
  grow: {set: {blob: "${ [range(1000000), range(1000000), range(1000000), range(1000000), range(1000000)] }"}, return: ok}
start: hold
states:
  hold: {type: wait, signal: go, next: fin}
  fin: {type: succeed}
"""
    with wfdsl.Engine(":memory:") as engine:
        run = engine.submit(doc)
        engine.run_until_idle()
        before = engine.get(run.id)
        with pytest.raises(wfdsl.HandlerRejected) as raised:
            engine.call(run.id, "grow")
        assert raised.value.details == {"error": "LimitExceeded"}
        after = engine.get(run.id)
        assert after.status == "waiting" and after.vars == before.vars
        assert len(after.history()) == len(before.history())


@pytest.mark.parametrize("what", ["input", "signal", "handler args"])
def test_payloads_over_one_mib_are_refused_before_anything_is_stored(what: str) -> None:
    doc = """
wfdsl: "1"
name: gate
handlers:
  peek: {return: "${ vars }"}
start: hold
states:
  hold: {type: wait, signal: go, as: got, next: fin}
  fin: {type: succeed}
"""
    big: Any = {"blob": "b" * MAX_PAYLOAD_BYTES}
    with wfdsl.Engine(":memory:") as engine:
        if what == "input":
            with pytest.raises(wfdsl.ValidationError) as raised:
                engine.submit(doc, input=big)
            assert engine.list_runs() == []
            code = "WF601"
        else:
            run = engine.submit(doc)
            engine.run_until_idle()
            events = len(engine.history(run.id))
            with pytest.raises(wfdsl.ValidationError) as raised:
                if what == "signal":
                    engine.signal(run.id, "go", big)
                else:
                    engine.call(run.id, "peek", big)
            assert engine.store.inbox(run.id) == []
            assert len(engine.history(run.id)) == events
            code = "WF602" if what == "signal" else "WF603"
        (finding,) = raised.value.findings
        assert finding.code == code
        assert "more than the limit of 1,048,576 bytes (1 MiB)" in finding.message
        # Just under the limit is accepted.
        fits = {"blob": "b" * (MAX_PAYLOAD_BYTES - 100)}
        if what == "input":
            engine.submit(doc, input=fits)
        elif what == "signal":
            engine.signal(run.id, "go", fits)
        else:
            engine.call(run.id, "peek", fits)


def test_a_consumed_signal_keeps_no_copy_in_the_inbox(tmp_path: Path) -> None:
    doc = """
wfdsl: "1"
name: gate
start: hold
states:
  hold: {type: wait, signal: go, as: got, next: fin}
  fin: {type: succeed, output: done}
"""
    marker = "M" * 900_000
    db = tmp_path / "w.db"
    with wfdsl.Engine(str(db)) as engine:
        run = engine.submit(doc)
        engine.run_until_idle()
        engine.signal(run.id, "go", {"payload": marker})
        assert engine.run_until_complete(run.id).status == "completed"
        assert engine.get(run.id).vars["got"] == {"payload": marker}
    with sqlite3.connect(db) as conn:
        places = conn.execute(
            "SELECT 'vars' FROM runs WHERE instr(vars, ?) UNION ALL "
            "SELECT type FROM events WHERE instr(data, ?) UNION ALL "
            "SELECT 'inbox' FROM inbox WHERE instr(data, ?)",
            (marker, marker, marker),
        ).fetchall()
    # What the run was sent (signal_received), its vars and the wait's
    # vars_changed; the consumed inbox row no longer keeps a fourth copy.
    assert sorted(p for (p,) in places) == ["signal_received", "vars", "vars_changed"]
    assert store_bytes(db) < 3 * len(marker) + 20_000
