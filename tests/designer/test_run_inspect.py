"""Inspecting runs over the designer's API (designer/API.md, "The run
overlay", "StateDetail", "Failure"): what each state did, why the run
failed, the overlay the graph draws, and the history filtered."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest
from saga_runs import Made, make_runs
from starlette.testclient import TestClient
from wfdsl.designer.run_inspect import state_detail
from wfdsl.designer.run_overlay import Overlay
from wfdsl.interpreter.clock import VirtualClock
from wfdsl.interpreter.engine import Engine
from wfdsl.interpreter.run_view import Event


@pytest.fixture
def made(tmp_path: Path) -> Made:
    # The store file of conftest's `engine`: made before the app's engine drives.
    return make_runs(tmp_path / "store.db")


def detail(client: TestClient, run_id: str, node: str) -> dict[str, Any]:
    response = client.get(f"/api/runs/{run_id}/state", params={"path": node})
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


def test_a_declined_saga_says_where_it_failed_and_why(made: Made, client: TestClient) -> None:
    body = client.get(f"/api/runs/{made.declined}").json()
    assert body["failure"] == {
        "error": "PaymentFailed",
        "message": "order o-declined: card tok_declined was declined",
        "details": None,
        "state": "payment_failed",
        "at": body["failure"]["at"],
        "cause": {
            "state": "charge_payment",
            "error": "CardDeclined",
            "message": "card tok_declined was declined",
            "details": {"decline_code": "insufficient_funds", "provider": "acme-pay"},
        },
    }
    overlay = body["overlay"]
    statuses = {node: s["status"] for node, s in overlay["states"].items()}
    assert statuses == {
        "save_order": "compensated",
        "reserve_inventory": "compensated",
        "charge_payment": "caught",
        "undo_order": "completed",
        "payment_failed": "failed",  # a reached fail state is red, not green
    }
    assert body["states"] == statuses
    assert overlay["failed"] == "payment_failed"
    assert overlay["states"]["reserve_inventory"]["badge"] == "1 retry, undone"
    assert [(t["source"], t["target"]) for t in overlay["taken"]] == [
        ("(start)", "save_order"),
        ("save_order", "reserve_inventory"),
        ("reserve_inventory", "charge_payment"),
        ("charge_payment", "undo_order"),
        ("undo_order", "payment_failed"),
    ]


def test_the_state_panel_data_has_input_error_details_and_attempts(
    made: Made, client: TestClient
) -> None:
    charge = detail(client, made.declined, "charge_payment")
    assert charge["type"] == "task" and charge["status"] == "caught"
    (visit,) = charge["visits"]
    assert visit["input"] == {"order_id": "o-declined", "amount": 42.5, "card": "tok_declined"}
    assert visit["error"] == {
        "name": "CardDeclined",
        "message": "card tok_declined was declined",
        "details": {"decline_code": "insufficient_funds", "provider": "acme-pay"},
    }
    assert visit["caught"] is True
    assert [a["key"] for a in visit["attempts"]] == ["o-declined/charge_payment/1"]

    reserve = detail(client, made.declined, "reserve_inventory")
    (visit,) = reserve["visits"]
    first, second = visit["attempts"]
    assert (first["outcome"], first["error"]["name"]) == ("failed", "ConnectionError")
    assert first["retry"]["delay"] == 1.0
    assert second["outcome"] == "completed" and second["key"] == "o-declined/reserve_inventory/2"
    # The retry waited its second of (virtual) time: the timings say so.
    assert second["started_at"] - first["ended_at"] == pytest.approx(1.0)
    assert visit["output"] == {"reservation": "res-o-declined"}
    (undo,) = visit["undo"]
    assert (undo["action"], undo["key"]) == (
        "inventory.release",
        "o-declined/reserve_inventory/undo/1",
    )

    failed = detail(client, made.declined, "payment_failed")
    assert failed["status"] == "failed"
    assert failed["visits"][0]["error"]["name"] == "PaymentFailed"


def test_a_map_counts_its_items(made: Made, client: TestClient) -> None:
    overlay = client.get(f"/api/runs/{made.cart}").json()["overlay"]
    mapped = overlay["states"]["quote_lines"]
    assert mapped["items"] == {"total": 3, "done": 3, "failed": 0, "running": 0, "retried": 1}
    assert mapped["badge"] == "3/3 done, 1 retried"
    body = overlay["states"]["quote_lines/quote"]  # every item's, on the one body node
    assert (body["status"], body["visits"], body["badge"]) == ("completed", 3, "1 retry")
    quote = detail(client, made.cart, "quote_lines/quote")
    assert [v["item"] for v in quote["visits"]] == [0, 1, 2]
    assert sorted(len(v["attempts"]) for v in quote["visits"]) == [1, 1, 2]  # one line retried


def test_a_waiting_timer_has_its_due_time(made: Made, client: TestClient) -> None:
    waiting = detail(client, made.waiting, "wait_approval")
    assert waiting["status"] == "waiting"
    wait = waiting["visits"][0]["waiting"]
    assert [a["kind"] for a in wait["for"]["alternatives"]] == ["signal", "timer"]
    assert wait["due"] == wait["for"]["alternatives"][1]["due"]
    assert 86_000 < wait["due"] - waiting["now"] <= 86_400


def test_history_filters_by_state_and_event_type(made: Made, client: TestClient) -> None:
    url = f"/api/runs/{made.declined}/history"
    charge = client.get(url, params={"state": "charge_payment"}).json()["events"]
    assert {e["node"] for e in charge} == {"charge_payment"}
    assert [e["type"] for e in charge][:3] == ["state_entered", "action_started", "action_failed"]
    failures = client.get(url, params={"type": "action_failed,run_failed"}).json()["events"]
    assert [(e["type"], e["state"]) for e in failures] == [
        ("action_failed", "reserve_inventory"),
        ("action_failed", "charge_payment"),
        ("run_failed", None),
    ]
    items = client.get(f"/api/runs/{made.cart}/history", params={"state": "quote_lines/quote"})
    assert {e["state"] for e in items.json()["events"]} == {
        f"quote_lines[{i}]/quote" for i in range(3)
    }


def test_a_state_the_definition_does_not_have_is_404(made: Made, client: TestClient) -> None:
    response = client.get(f"/api/runs/{made.declined}/state", params={"path": "nope"})
    assert response.status_code == 404
    assert "no state 'nope'" in response.json()["error"]["message"]
    assert client.get(f"/api/runs/{made.declined}/state").status_code == 400


BREAK = """\
wfdsl: "1"
name: stops
start: first
states:
  first: {type: task, action: noop, next: second}
  second: {type: task, action: noop, next: done}
  done: {type: succeed}
"""


def test_a_breakpoint_shows_where_the_run_stopped() -> None:
    engine = Engine(":memory:", clock=VirtualClock())
    try:
        run = engine.submit(BREAK, {}, break_at="second")
        engine.run_until_idle()
        assert engine.get(run.id).status == "paused"
        overlay = Overlay()
        overlay.feed(engine.history(run.id))
        shown = overlay.to_json()
        assert shown["stopped"] == {"state": "second", "reason": "break"}
        assert shown["states"]["second"]["status"] == "paused"
        assert shown["states"]["second"]["badge"] == "breakpoint"
        assert shown["states"]["first"]["status"] == "completed"
        seen = engine.history(run.id)[-1].seq
        engine.resume(run.id)
        engine.run_until_complete(run.id)
        changed = overlay.feed(engine.history(run.id, after=seen))  # what the stream does
        assert {"second", "done"} <= changed
        assert overlay.to_json()["stopped"] is None
        assert overlay.statuses() == {
            "first": "completed",
            "second": "completed",
            "done": "completed",
        }
    finally:
        engine.close()


def test_the_overlay_folds_incrementally_as_the_stream_does(made: Made, tmp_path: Path) -> None:
    engine = Engine(tmp_path / "store.db")
    try:
        events = engine.history(made.declined)
        whole = Overlay()
        whole.feed(events)
        parts = Overlay()
        for at in range(0, len(events), 3):
            parts.feed(engine.history(made.declined, after=events[at].seq - 1)[:3])
        assert parts.to_json() == whole.to_json()
    finally:
        engine.close()


def test_every_event_names_its_graph_node(made: Made, client: TestClient) -> None:
    events = client.get(f"/api/runs/{made.cart}/history").json()["events"]
    for event in events:
        expected = re.sub(r"\[\d+\]", "", event["state"]) if event["state"] else None
        assert event["node"] == expected


def _events(*rows: tuple[str, str | None, dict[str, Any]]) -> list[Event]:
    return [
        Event(run_id="r", seq=n, type=kind, time=float(n), state=state, data=data)
        for n, (kind, state, data) in enumerate(rows, 1)
    ]


def test_a_redriven_run_goes_on_from_the_state_that_failed() -> None:
    # The history `wfdsl redrive` writes (docs/operations.md): run_redriven
    # names the state, which is entered again as a new visit.
    events = _events(
        ("run_started", None, {}),
        ("state_entered", "charge", {"type": "task"}),
        ("action_started", "charge", {"call_id": "1", "attempt": 1, "key": "r/charge/1"}),
        ("action_failed", "charge", {"call_id": "1", "attempt": 1, "error": "Down"}),
        ("run_failed", None, {"error": "Down", "message": "gone"}),
        ("run_redriven", "charge", {"by": "ada", "state": "charge"}),
        ("state_entered", "charge", {"type": "task"}),
        ("action_started", "charge", {"call_id": "2", "attempt": 1, "key": "r/charge/1#2"}),
    )
    overlay = Overlay()
    overlay.feed(events[:5])
    assert overlay.to_json()["failed"] == "charge"
    overlay.feed(events[5:])
    shown = overlay.to_json()
    assert shown["failed"] is None and shown["states"]["charge"]["status"] == "active"
    assert shown["states"]["charge"]["visits"] == 2
    assert [(t["source"], t["target"]) for t in shown["taken"]] == [("(start)", "charge")]
    visits = state_detail(events, "charge", now=9.0)["visits"]
    assert [v["left_at"] for v in visits] == [5.0, None]
    assert visits[0]["error"]["name"] == "Down" and visits[1]["error"] is None


def test_a_forked_run_starts_at_its_fork_point_not_at_start() -> None:
    events = _events(
        ("run_started", None, {"forked_from": {"run": "o1", "seq": 7, "state": "charge"}}),
        ("state_entered", "charge", {"type": "task"}),
        ("state_entered", "done", {"type": "succeed"}),
        ("run_completed", None, {}),
    )
    overlay = Overlay()
    overlay.feed(events)
    assert [(t["source"], t["target"]) for t in overlay.to_json()["taken"]] == [
        ("charge", "done"),
        ("done", "(end)"),
    ]


def _stream(client: TestClient, url: str) -> list[tuple[str, Any]]:
    messages: list[tuple[str, Any]] = []
    kind = ""
    with client.stream("GET", url) as stream:
        for line in stream.iter_lines():
            if line.startswith("event: "):
                kind = line[7:]
            elif line.startswith("data: "):
                messages.append((kind, json.loads(line[6:])))
    return messages


def test_the_stream_sends_what_came_after_the_page_even_from_zero(
    made: Made, client: TestClient
) -> None:
    history = client.get(f"/api/runs/{made.declined}/history").json()["events"]
    # A page rendered before the run's first commit asks from 0.
    from_zero = _stream(client, f"/api/runs/{made.declined}/events?after=0")
    assert [kind for kind, _ in from_zero] == ["snapshot", "delta", "end"]
    assert [e["seq"] for e in from_zero[1][1]["events"]] == [e["seq"] for e in history]
    end = from_zero[-1][1]
    assert end["failure"]["state"] == "payment_failed"
    assert end["overlay"]["states"]["payment_failed"]["status"] == "failed"
    # Without `after` the stream starts from now.
    assert [k for k, _ in _stream(client, f"/api/runs/{made.declined}/events")] == [
        "snapshot",
        "end",
    ]
