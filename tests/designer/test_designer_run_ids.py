"""The designer's run routes take any unique prefix of a run id (issue 12
item 6); an ambiguous one is a 409 that lists the candidates."""

from __future__ import annotations

import time
from pathlib import Path

from wfdsl.interpreter.engine import Engine

from tests.designer.conftest import TestClient

GATE = """\
wfdsl: "1"
name: gate
signals:
  go: {}
start: hold
states:
  hold: {type: wait, signal: go, next: done}
  done: {type: succeed}
"""


def test_run_routes_take_a_unique_prefix(
    client: TestClient, engine: Engine, workspace: Path
) -> None:
    workflow = engine.register(GATE)
    for run_id in ("order-7f3a", "order-7f9c"):
        engine.start(workflow, run_id=run_id)
    # The app's engine starts them on its own thread: wait until both are
    # what a user would see, waiting on their signal (a hang guard only).
    deadline = time.monotonic() + 60
    while any(engine.get(r).status != "waiting" for r in ("order-7f3a", "order-7f9c")):
        assert time.monotonic() < deadline, "the app's engine never started the runs"
        time.sleep(0.02)

    assert client.get("/api/runs/order-7f3").json()["run"]["id"] == "order-7f3a"
    events = client.get("/api/runs/order-7f9/history").json()["events"]
    assert events[0]["type"] == "run_started"

    ambiguous = client.get("/api/runs/order-7f")
    assert ambiguous.status_code == 409
    error = ambiguous.json()["error"]
    assert error["code"] == "ambiguous_run_id" and "order-7f3a, order-7f9c" in error["message"]
    assert client.post("/api/runs/order/cancel", json={}).status_code == 409

    cancelled = client.post("/api/runs/order-7f9/cancel", json={})
    assert cancelled.status_code == 200, cancelled.text
    assert cancelled.json()["run"] == {**cancelled.json()["run"], "id": "order-7f9c"}
    assert cancelled.json()["run"]["status"] == "cancelled"
    assert engine.get("order-7f3a").status != "cancelled"
    assert client.get("/api/runs/nope").status_code == 404
