"""The Python API end to end (docs/python-api.md) on :memory: and on files, with a
VirtualClock: submit, signal, call, cancel, pause/resume/step, get,
list_runs, history, serve, close and reopen."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import pytest
from wfdsl.interpreter.clock import VirtualClock
from wfdsl.interpreter.engine import Engine, new_run_id

import wfdsl

TASKS = """
wfdsl: "1"
name: three-tasks
input:
  type: object
  required: [n]
  properties: {n: {type: integer, minimum: 0}, tag: {type: string}}
vars: {total: 0}
search: {total: "${ vars.total }"}
start: one
states:
  one: {type: task, action: add, args: {x: "${ input.n }"}, result: r1, set: {total: "${ vars.total + result }"}, next: two}
  two: {type: task, action: add, args: {x: 1}, set: {total: "${ vars.total + result }"}, next: three}
  three: {type: task, action: add, args: {x: 2}, set: {total: "${ vars.total + result }"}, next: fin}
  fin: {type: succeed, output: "${ vars.total }"}
"""

WAITER = """
wfdsl: "1"
name: waiter
vars: {got: null, count: 0}
search: {count: "${ vars.count }"}
signals:
  go: {}
handlers:
  bump:
    when: ${ vars.count < 2 }
    set: {count: "${ vars.count + 1 }"}
    return: ${ vars.count }
  peek:
    return: ${ vars.count }
start: wait_go
states:
  wait_go:
    type: wait
    any:
      - {signal: go, as: got, next: done}
      - {timer: 1h, next: late}
  done: {type: succeed, output: "${ vars.got }"}
  late: {type: fail, error: Late, message: no go within the hour}
"""


@pytest.fixture
def engine(store_url: str) -> Any:
    """An engine on a new store, once per backend (SQLite, PostgreSQL)."""
    with Engine(store_url, clock=VirtualClock()) as e:

        @e.action("add")
        def add(x: int) -> int:
            return x

        yield e


def test_submit_runs_to_completion(engine: Engine) -> None:
    run = engine.submit(TASKS, input={"n": 5})
    assert run.status == "running"
    assert len(run.id) == 26
    done = engine.run_until_complete(run.id)
    assert done.status == "completed"
    assert done.output == 8
    assert done.vars["total"] == 8
    assert done.error is None
    assert done.ended_at is not None and done.ended_at >= done.started_at
    types = [e.type for e in done.history()]
    assert types[0] == "run_started" and types[-1] == "run_completed"
    assert types.count("action_completed") == 3
    seqs = [e.seq for e in done.history()]
    assert seqs == list(range(1, len(seqs) + 1))


def test_submit_accepts_a_mapping_and_a_path(engine: Engine, tmp_path: Path) -> None:
    flow = tmp_path / "flow.yaml"
    flow.write_text(TASKS)
    by_path = engine.run_until_complete(engine.submit(str(flow), input={"n": 1}).id)
    by_pathlib = engine.run_until_complete(engine.submit(flow, input={"n": 2}).id)
    mapping = {
        "wfdsl": "1",
        "name": "tiny",
        "start": "fin",
        "states": {"fin": {"type": "succeed", "output": "${ input.x * 2 }"}},
    }
    by_dict = engine.run_until_complete(engine.submit(mapping, input={"x": 21}).id)
    assert (by_path.output, by_pathlib.output, by_dict.output) == (4, 5, 42)


def test_invalid_input_lists_every_violation(engine: Engine) -> None:
    with pytest.raises(wfdsl.ValidationError) as info:
        engine.submit(TASKS, input={"n": -1, "tag": 3})
    messages = [f.message for f in info.value.findings]
    assert len(messages) == 2
    assert any("n" in m for m in messages) and any("tag" in m for m in messages)
    assert engine.list_runs() == []


def test_invalid_document_raises_validation_error(engine: Engine) -> None:
    with pytest.raises(wfdsl.ValidationError) as info:
        engine.submit(TASKS.replace("next: fin", "next: fni"))
    assert info.value.findings


def test_id_reuse_refuses_a_running_run(engine: Engine) -> None:
    engine.submit(WAITER, run_id="w")
    with pytest.raises(wfdsl.RunAlreadyExists):
        engine.submit(WAITER, run_id="w")


def test_signal_completes_a_waiting_run(engine: Engine) -> None:
    engine.submit(WAITER, run_id="w")
    engine.run_until_idle()
    assert engine.get("w").status == "waiting"
    engine.signal("w", "go", {"v": 1})
    done = engine.run_until_complete("w")
    assert done.status == "completed"
    assert done.output == {"v": 1}
    types = [e.type for e in done.history()]
    assert "signal_received" in types or "signal_consumed" in types


def test_timer_fires_on_virtual_time(engine: Engine) -> None:
    clock = engine.clock
    assert isinstance(clock, VirtualClock)
    start = clock.now()
    engine.submit(WAITER, run_id="w")
    done = engine.run_until_complete("w")
    assert done.status == "failed"
    assert done.error == {"error": "Late", "message": "no go within the hour"} or (
        done.error is not None and done.error["error"] == "Late"
    )
    assert clock.now() - start == pytest.approx(3600)


def test_unknown_run_raises_run_not_found(engine: Engine) -> None:
    with pytest.raises(wfdsl.RunNotFound):
        engine.get("nope")
    with pytest.raises(wfdsl.RunNotFound):
        engine.signal("nope", "go")
    with pytest.raises(wfdsl.RunNotFound):
        engine.call("nope", "peek")
    with pytest.raises(wfdsl.RunNotFound):
        engine.cancel("nope")


def test_handler_sets_returns_and_rejects(engine: Engine) -> None:
    engine.submit(WAITER, run_id="w")
    engine.run_until_idle()
    assert engine.call("w", "bump") == 1
    assert engine.call("w", "bump") == 2
    with pytest.raises(wfdsl.HandlerRejected):
        engine.call("w", "bump")
    assert engine.call("w", "peek") == 2
    assert engine.get("w").vars["count"] == 2
    assert [r.id for r in engine.list_runs(where="count == 2")] == ["w"]


def test_query_works_on_a_finished_run(engine: Engine) -> None:
    engine.submit(WAITER, run_id="w")
    engine.signal("w", "go")
    assert engine.run_until_complete("w").status == "completed"
    assert engine.call("w", "peek") == 0


def test_cancel(engine: Engine) -> None:
    engine.submit(WAITER, run_id="w")
    engine.run_until_idle()
    run = engine.cancel("w")
    assert run.status == "cancelled"
    assert run.history()[-1].type == "run_cancelled"
    assert engine.run_until_complete("w").status == "cancelled"


def test_pause_resume_step(engine: Engine) -> None:
    run = engine.submit(TASKS, input={"n": 1})
    paused = engine.pause(run.id)
    assert paused.status == "paused"
    engine.run_until_idle()
    assert engine.get(run.id).status == "paused"
    before = len(engine.get(run.id).history())
    engine.step(run.id)
    engine.run_until_idle()
    assert engine.get(run.id).status == "paused"
    assert len(engine.get(run.id).history()) > before
    engine.resume(run.id)
    done = engine.run_until_complete(run.id)
    assert done.status == "completed"
    types = [e.type for e in done.history()]
    assert "paused" in types and "resumed" in types


def test_list_runs_filters(engine: Engine) -> None:
    engine.submit(WAITER, run_id="w1")
    engine.submit(WAITER, run_id="w2")
    engine.submit(TASKS, input={"n": 0}, run_id="t1")
    engine.run_until_idle()
    assert {r.id for r in engine.list_runs(workflow="waiter")} == {"w1", "w2"}
    assert {r.id for r in engine.list_runs(status="completed")} == {"t1"}
    assert len(engine.list_runs(limit=1)) == 1
    assert {r.id for r in engine.list_runs(where="status == 'waiting'")} == {"w1", "w2"}


def test_break_at_pauses_before_the_state(engine: Engine) -> None:
    run = engine.submit(TASKS, input={"n": 1}, break_at="three")
    stopped = engine.run_until_complete(run.id)
    assert stopped.status == "paused"
    assert stopped.vars["total"] == 2
    engine.resume(run.id)
    assert engine.run_until_complete(run.id).output == 4


def test_file_store_survives_close_and_reopen(tmp_path: Path) -> None:
    db = str(tmp_path / "wf.db")
    clock = VirtualClock()
    with Engine(db, clock=clock) as first:
        first.submit(WAITER, run_id="w")
        first.run_until_idle()
        assert first.get("w").status == "waiting"
    with Engine(db, clock=clock) as second:
        second.signal("w", "go", 7)
        done = second.run_until_complete("w")
    assert done.status == "completed" and done.output == 7


def test_runs_are_pinned_to_their_definition(tmp_path: Path) -> None:
    flow = tmp_path / "flow.yaml"
    flow.write_text(WAITER)
    with Engine(str(tmp_path / "wf.db"), clock=VirtualClock()) as engine:
        engine.submit(str(flow), run_id="w")
        engine.run_until_idle()
        flow.write_text(WAITER.replace('output: "${ vars.got }"', "output: changed"))
        engine.signal("w", "go", "orig")
        assert engine.run_until_complete("w").output == "orig"


def test_serve_on_an_application_loop() -> None:
    async def main() -> Any:
        engine = Engine(":memory:", clock=VirtualClock())

        @engine.action("add")
        async def add(x: int) -> int:
            await asyncio.sleep(0)
            return x

        async with engine:
            run = engine.submit(TASKS, input={"n": 2})
            done = await asyncio.wait_for(engine.wait(run.id, poll=0.01), 10)
        engine.close()
        return done

    done = asyncio.run(main())
    assert done.status == "completed" and done.output == 5


def test_run_until_complete_times_out_on_real_time() -> None:
    with Engine(":memory:") as engine:
        engine.submit(WAITER, run_id="w")
        with pytest.raises(TimeoutError):
            engine.run_until_complete("w", timeout=0.2)
        assert engine.get("w").status == "waiting"


def test_action_failure_fails_the_run(engine: Engine) -> None:
    doc = TASKS.replace("action: add, args: {x: 1}", "action: boom, args: {}")

    @engine.action("boom")
    def boom() -> None:
        raise RuntimeError("kaput")

    done = engine.run_until_complete(engine.submit(doc, input={"n": 1}).id)
    assert done.status == "failed"
    assert done.error is not None
    assert done.error["error"] == "RuntimeError"
    assert "kaput" in done.error["message"]


def test_generated_ids_sort_by_creation() -> None:
    ids = [new_run_id() for _ in range(50)]
    assert len(set(ids)) == 50
    import time

    first = new_run_id()
    time.sleep(0.002)
    assert new_run_id() > first


def test_closing_the_engine_lets_its_action_threads_go(tmp_path: Path) -> None:
    import threading
    import time

    def action_threads() -> list[threading.Thread]:
        return [t for t in threading.enumerate() if t.name.startswith("wfdsl-action")]

    before = set(action_threads())
    with Engine(str(tmp_path / "threads.db"), clock=VirtualClock()) as engine:
        engine.action("add")(lambda x: x + 1)  # a sync action: runs in a worker thread
        run = engine.submit(TASKS, input={"n": 1})
        assert engine.run_until_complete(run.id).status == "completed"
        assert set(action_threads()) - before  # the pool was used
    deadline = time.monotonic() + 60  # a guard against a hang, not a speed bound
    while set(action_threads()) - before and time.monotonic() < deadline:
        time.sleep(0.01)
    assert not set(action_threads()) - before
