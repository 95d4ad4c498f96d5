"""The JSON API over HTTP: files, views, edits, runs and the event stream."""

from __future__ import annotations

import json
import time
from pathlib import Path
from urllib.parse import quote

from wfdsl.interpreter.engine import Engine

from tests.designer.conftest import TestClient


def test_workspace_lists_examples_with_validity(client: TestClient) -> None:
    files = client.get("/api/workspace").json()["files"]
    paths = [f["path"] for f in files]
    assert paths == sorted(paths) and "order_saga.yaml" in paths
    saga = next(f for f in files if f["path"] == "order_saga.yaml")
    assert saga["ok"] is True and saga["name"] == "order-saga" and saga["runs"]["total"] == 0


def test_create_from_starter_then_read_it_back(client: TestClient, workspace: Path) -> None:
    made = client.post("/api/files", json={"path": "flows/new.yaml", "template": "approval"})
    assert made.status_code == 201
    assert (workspace / "flows" / "new.yaml").read_text() == made.json()["text"]
    again = client.post("/api/files", json={"path": "flows/new.yaml"})
    assert again.status_code == 409 and again.json()["error"]["code"] == "exists"
    view = client.get("/api/files/flows/new.yaml").json()["view"]
    assert view["ok"] and {n["id"] for n in view["graph"]["nodes"]} >= {"ask", "done"}


def test_view_links_nodes_to_yaml_lines_and_edges_to_edit_addresses(client: TestClient) -> None:
    body = client.get("/api/files/order_saga.yaml").json()
    lines = body["text"].splitlines()
    nodes = {n["id"]: n for n in body["view"]["graph"]["nodes"]}
    span = nodes["charge_payment"]["span"]
    assert lines[span["line"] - 1].strip() == "charge_payment:"
    assert lines[span["end_line"] - 1].strip().startswith("next:")
    catch = [e for e in body["view"]["graph"]["edges"] if e["kind"] == "catch"]
    assert catch and catch[0]["edit"] == {"state": "charge_payment", "edge": "catch:0"}
    assert (
        body["view"]["svg"].startswith("<svg") and 'data-id="charge_payment"' in body["view"]["svg"]
    )


def test_validate_reports_syntax_error_line_and_no_graph(client: TestClient) -> None:
    text = 'wfdsl: "1"\nname: x\nstart: a\nstates:\n  a: {type: succeed\n'
    view = client.post("/api/files/x.yaml/validate", json={"text": text}).json()
    assert view["loaded"] is False and view["graph"] is None and view["svg"] is None
    assert view["findings"] and view["findings"][0]["severity"] == "error"
    assert view["findings"][0]["line"] in (5, 6)


def test_edit_rename_returns_text_and_view_without_writing(
    client: TestClient, workspace: Path
) -> None:
    before = (workspace / "signup.yaml").read_text()
    out = client.post(
        "/api/files/signup.yaml/edit",
        json={"text": before, "op": {"op": "rename_state", "state": "remind", "to": "nudge"}},
    ).json()
    assert "nudge:" in out["text"] and out["ok"] is True
    assert (workspace / "signup.yaml").read_text() == before
    bad = client.post(
        "/api/files/signup.yaml/edit",
        json={"text": before, "op": {"op": "rename_state", "state": "nope", "to": "x"}},
    )
    assert bad.status_code == 400 and "nope" in bad.json()["error"]["message"]


def test_save_is_atomic_and_leaves_no_temp_files(client: TestClient, workspace: Path) -> None:
    text = (workspace / "signup.yaml").read_text() + "# saved\n"
    assert client.put("/api/files/signup.yaml", json={"text": text}).json()["saved"]
    assert (workspace / "signup.yaml").read_text() == text
    assert not [p for p in workspace.iterdir() if p.name.startswith(".wfdsl-")]


def test_openapi_documents_every_api_route(client: TestClient, app) -> None:  # type: ignore[no-untyped-def]
    doc = client.get("/openapi.json").json()
    documented = {(m.upper(), p) for p, ops in doc["paths"].items() for m in ops}
    for route in app.routes:
        path = getattr(route, "path", "")
        if not path.startswith("/api/"):
            continue
        for method in route.methods - {"HEAD"}:
            shown = path.replace("{path:path}", "{path}").replace("{run_id:path}", "{run_id}")
            if shown.endswith("/{action}"):
                assert any(p.startswith(shown[: -len("{action}")]) for _, p in documented)
            else:
                assert (method, shown) in documented, (method, shown)


START = """\
wfdsl: "1"
name: gate
signals:
  go: {}
start: hold
states:
  hold:
    type: wait
    signal: go
    next: done
  done:
    type: succeed
"""


def wait_for(client: TestClient, run_id: str, status: str) -> dict:  # type: ignore[type-arg]
    deadline = time.monotonic() + 60  # a hang guard, not a speed bound
    while time.monotonic() < deadline:
        run = client.get(f"/api/runs/{quote(run_id, safe='')}").json()
        # A child run does not exist until its parent's engine starts it:
        # the 404 before then means "not yet".
        if "run" in run and run["run"]["status"] == status:
            return run  # type: ignore[no-any-return]
        time.sleep(0.02)
    raise AssertionError(f"run {run_id} never became {status}: {run}")


CALLBACK = """
wfdsl: "1"
name: callback
start: ask
states:
  ask:
    type: task
    action: log
    args: {message: "${ token }"}
    callback: true
    result: answer
    end: true
"""


def test_a_callback_token_is_completed_through_the_api(client: TestClient, workspace: Path) -> None:
    (workspace / "callback.yaml").write_text(CALLBACK)
    made = client.post("/api/runs", json={"file": "callback.yaml", "input": {}, "run_id": "cb1"})
    assert made.status_code == 201, made.text
    wait_for(client, "cb1", "waiting")
    events = client.get("/api/runs/cb1/history", params={"type": "action_started"}).json()
    token = events["events"][0]["data"]["args"]["message"]
    sent = client.post("/api/callbacks/complete", json={"token": token, "output": {"yes": 1}})
    assert sent.status_code == 200 and sent.json() == {"sent": "completed"}
    assert wait_for(client, "cb1", "completed")["run"]["output"] == {"answer": {"yes": 1}}
    again = client.post("/api/callbacks/complete", json={"token": token, "error": "No"})
    assert again.status_code == 409 and again.json()["error"]["code"] == "rejected"
    assert "already completed" in again.json()["error"]["message"]
    unknown = client.post("/api/callbacks/complete", json={"token": "wfcb1.eA." + "0" * 32})
    assert unknown.status_code == 404 and unknown.json()["error"]["code"] == "not_found"
    missing = client.post("/api/callbacks/complete", json={"output": 1})
    assert missing.status_code == 400


def test_start_signal_and_watch_a_run_over_sse(client: TestClient, workspace: Path) -> None:
    (workspace / "gate.yaml").write_text(START)
    made = client.post("/api/runs", json={"file": "gate.yaml", "input": {}, "run_id": "g1"})
    assert made.status_code == 201, made.text
    waiting = wait_for(client, "g1", "waiting")
    assert waiting["states"]["hold"] == "waiting" and waiting["view"]["graph"]["name"] == "gate"
    assert client.post("/api/runs/g1/signal", json={"channel": "go"}).status_code == 200
    with client.stream("GET", "/api/runs/g1/events") as stream:
        kinds, last = [], None
        for line in stream.iter_lines():
            if line.startswith("event: "):
                kinds.append(line[7:])
            if line.startswith("data: "):
                last = json.loads(line[6:])
                # the data line after "event: end" is the end's own: stop there
                # (not at the "event: end" line, which still holds the last delta)
                if kinds and kinds[-1] == "end":
                    break
    assert kinds[0] == "snapshot" and kinds[-1] == "end"
    assert last is not None and last["run"]["status"] == "completed"
    assert (
        last["states"]["done"] in ("active", "completed") and last["states"]["hold"] == "completed"
    )
    runs = client.get("/api/runs", params={"status": "completed"}).json()["runs"]
    assert [r["id"] for r in runs] == ["g1"]
    history = client.get("/api/runs/g1/history", params={"after": 1}).json()["events"]
    assert history and all(e["seq"] > 1 for e in history)


def test_run_errors_use_the_one_shape(client: TestClient, workspace: Path) -> None:
    assert client.get("/api/runs/nope").json()["error"]["code"] == "no_such_run"
    bad = client.get("/api/runs", params={"where": "(("}).json()
    assert bad["error"]["code"] == "bad_request"
    unknown = client.get("/api/runs", params={"where": "lenght(workflow) > 0"})
    assert unknown.status_code == 400
    assert "did you mean len()?" in unknown.json()["error"]["message"]
    (workspace / "broken.yaml").write_text('wfdsl: "1"\nname: b\nstart: a\nstates: {}\n')
    invalid = client.post("/api/runs", json={"file": "broken.yaml"})
    assert invalid.status_code == 422 and invalid.json()["error"]["findings"]
    (workspace / "gate.yaml").write_text(START)
    client.post("/api/runs", json={"file": "gate.yaml", "run_id": "g2"})
    wait_for(client, "g2", "waiting")
    rejected = client.post("/api/runs/g2/resume", json={})
    assert rejected.status_code in (200, 409)
    assert client.post("/api/runs/g2/cancel", json={}).json()["run"]["status"] == "cancelled"


# A subflow's child run has the id ``parent/state``: every run route and the
# run page take it, with its "/" sent as %2F (what the pages' JS does) or
# as it is.
KID = """\
wfdsl: "1"
name: kid
signals:
  go: {}
start: hold
states:
  hold: {type: wait, signal: go, next: done}
  done: {type: succeed, output: {doubled: "${ input.n * 2 }"}}
"""

PARENT = """\
wfdsl: "1"
name: parent
start: {state}
states:
  {state}: {{type: subflow, workflow: kid, input: {{n: 21}}, result: kid, next: done}}
  done: {{type: succeed, output: "${{ vars.kid }}"}}
"""


def start_parent(client: TestClient, engine: Engine, workspace: Path, state: str) -> str:
    """Start ``parent`` (run id p) and return the id of its child, once it waits."""
    engine.register(KID)  # the subflow names the stored definition `kid`
    (workspace / "parent.yaml").write_text(PARENT.format(state=state))
    made = client.post("/api/runs", json={"file": "parent.yaml", "run_id": "p"})
    assert made.status_code == 201, made.text
    wait_for(client, f"p/{state}", "waiting")
    return f"p/{state}"


def test_a_child_run_opens_and_takes_controls_through_the_api(
    client: TestClient, engine: Engine, workspace: Path
) -> None:
    kid = start_parent(client, engine, workspace, "approve")
    encoded = "/api/runs/p%2Fapprove"
    for url in (encoded, "/api/runs/p/approve"):
        got = client.get(url)
        assert got.status_code == 200, (url, got.text)
        body = got.json()
        assert body["run"]["id"] == kid and body["run"]["parent_run"] == "p"
        assert body["run"]["input"] == {"n": 21} and body["states"] == {"hold": "waiting"}
        assert body["view"]["graph"]["name"] == "kid"
    history = client.get(f"{encoded}/history").json()["events"]
    assert history[0]["type"] == "run_started" and history[0]["data"]["workflow"] == "kid"
    signalled = client.post(f"{encoded}/signal", json={"channel": "go"})
    assert signalled.status_code == 200, signalled.text
    assert wait_for(client, "p", "completed")["run"]["output"] == {"doubled": 42}
    with client.stream("GET", f"{encoded}/events") as stream:
        kinds, first = [], None
        for line in stream.iter_lines():
            if line.startswith("event: "):
                kinds.append(line[7:])
            if line.startswith("data: ") and first is None:
                first = json.loads(line[6:])
            if kinds and kinds[-1] == "end":
                break
    assert kinds[0] == "snapshot" and kinds[-1] == "end"
    assert first is not None and first["run"]["id"] == kid and first["states"]["done"]


def test_a_child_run_page_and_the_links_to_it(
    client: TestClient, engine: Engine, workspace: Path
) -> None:
    kid = start_parent(client, engine, workspace, "approve")
    listed = client.get("/runs")
    assert 'href="/runs/p/approve"' in listed.text
    for url in ("/runs/p/approve", "/runs/p%2Fapprove"):
        page = client.get(url)
        assert page.status_code == 200, (url, page.text)
        assert f'data-run="{kid}"' in page.text and 'href="/runs/p"' in page.text
    assert client.get("/runs/p").status_code == 200


def test_a_child_named_like_a_route_is_told_apart_by_how_its_slash_was_sent(
    client: TestClient, engine: Engine, workspace: Path
) -> None:
    # The subflow state is named `history`: its child is the run p/history.
    kid = start_parent(client, engine, workspace, "history")
    assert client.get("/api/runs/p%2Fhistory").json()["run"]["id"] == kid
    parents = client.get("/api/runs/p/history").json()["events"]
    assert parents[0]["data"]["workflow"] == "parent"
    kids = client.get("/api/runs/p%2Fhistory/history").json()["events"]
    assert kids[0]["data"]["workflow"] == "kid"
    no_action = client.post("/api/runs/p%2Fhistory", json={})
    assert no_action.status_code == 405
