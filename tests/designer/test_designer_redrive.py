"""`POST /api/runs/{id}/redrive` (designer/API.md): a failed run restarts at
the state that failed; any other run is refused with 409 and the reason."""

from __future__ import annotations

from pathlib import Path

from wfdsl.interpreter.engine import Engine

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


def test_a_fork_links_back_to_its_origin_and_the_origin_lists_its_forks(
    client: TestClient, workspace: Path, engine: Engine
) -> None:
    (workspace / "divide.yaml").write_text(DIVIDE)
    client.post("/api/runs", json={"file": "divide.yaml", "run_id": "d3"})
    wait_for(client, "d3", "failed")
    assert client.get("/api/runs/d3").json()["forks"] == []

    engine.fork("d3", at="split", set={"d": 5}, new_run_id="d3-fixed")
    wait_for(client, "d3-fixed", "completed")

    fork = client.get("/api/runs/d3-fixed").json()
    split = next(
        e["seq"]
        for e in client.get("/api/runs/d3/history").json()["events"]
        if e["type"] == "state_entered" and e["state"] == "split"
    )
    assert fork["forked_from"] == {
        "run": "d3",
        "execution": 1,
        "seq": split,
        "state": "split",
        "set": {"d": 5},
    }
    origin = client.get("/api/runs/d3").json()
    assert origin["forked_from"] is None
    assert [(f["id"], f["seq"], f["state"], f["status"]) for f in origin["forks"]] == [
        ("d3-fixed", split, "split", "completed")
    ]
    # The pages say it in words, with links both ways.
    fork_page = client.get("/runs/d3-fixed").text
    assert 'Forked from <a class="mono" href="/runs/d3">d3</a> at <span class="mono">#' in fork_page
    assert "with d set" in fork_page
    origin_page = client.get("/runs/d3").text
    assert (
        'Forks: <span class="fork" data-run="d3-fixed"><a class="mono" href="/runs/d3-fixed">'
        in origin_page
    )


def test_a_redriven_runs_page_says_who_redrove_it(client: TestClient, workspace: Path) -> None:
    (workspace / "divide.yaml").write_text(DIVIDE)
    client.post("/api/runs", json={"file": "divide.yaml", "run_id": "d4"})
    wait_for(client, "d4", "failed")
    assert client.get("/api/runs/d4").json()["redrives"] == []
    for _ in range(2):  # the same vars fail again each time
        assert client.post("/api/runs/d4/redrive", json={}).status_code == 200
        wait_for(client, "d4", "failed")
    redrives = client.get("/api/runs/d4").json()["redrives"]
    assert len(redrives) == 2
    assert all(r["by"] == "designer testclient" and r["state"] == "split" for r in redrives)
    assert redrives[0]["failed_seq"] < redrives[1]["failed_seq"]
    page = client.get("/runs/d4").text
    assert (
        'Redriven 2 times, last by <strong class="redrive-by">designer testclient</strong>' in page
    )
