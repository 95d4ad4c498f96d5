"""`POST /api/runs/{id}/redrive` (designer/API.md): a failed run restarts at
the state that failed; any other run is refused with 409 and the reason."""

from __future__ import annotations

from pathlib import Path

from tests.designer.conftest import TestClient
from tests.designer.test_designer_api import wait_for

DIVIDE = """\
wfdsl: "1"
name: divide
vars: {d: 0}
start: split
states:
  split:
    type: set
    set: {share: "${ 10 // vars.d }"}
    next: done
  done: {type: succeed}
"""


def test_a_failed_run_is_redriven_and_a_completed_one_refused(
    client: TestClient, workspace: Path
) -> None:
    (workspace / "divide.yaml").write_text(DIVIDE)
    client.post("/api/runs", json={"file": "divide.yaml", "run_id": "d1"})
    wait_for(client, "d1", "failed")

    redriven = client.post("/api/runs/d1/redrive", json={})
    assert redriven.status_code == 200, redriven.json()
    # The same vars fail the same way again, but the history shows the redrive.
    wait_for(client, "d1", "failed")
    events = client.get("/api/runs/d1/history").json()["events"]
    types = [e["type"] for e in events]
    assert types.count("run_failed") == 2 and "run_redriven" in types
    redrive = next(e for e in events if e["type"] == "run_redriven")
    assert redrive["data"]["by"].startswith("designer") and redrive["state"] == "split"

    (workspace / "ok.yaml").write_text(DIVIDE.replace("d: 0", "d: 2").replace("divide", "ok"))
    client.post("/api/runs", json={"file": "ok.yaml", "run_id": "d2"})
    wait_for(client, "d2", "completed")
    refused = client.post("/api/runs/d2/redrive", json={})
    assert refused.status_code == 409
    assert "only a failed run can be redriven" in refused.json()["error"]["message"]
