"""The designer's answers to the attacks of issue 11 item 9: the CSRF token
computed the documented way, file names that do not show as themselves, a
token link that would redirect off-site, and controls on runs that ended."""

from __future__ import annotations

import hashlib
import hmac
import time
from pathlib import Path
from urllib.parse import quote, urlsplit

import pytest

from tests.designer.conftest import HOST, TOKEN, TestClient

DONE = """\
wfdsl: "1"
name: quick
signals:
  go: {}
start: done
states:
  done: {type: succeed}
"""

HOLD = """\
wfdsl: "1"
name: hold
signals:
  go: {}
start: hold
states:
  hold: {type: wait, signal: go, next: done}
  done: {type: succeed}
"""


def documented_csrf(token: str) -> str:
    """designer/API.md, Auth 3: HMAC-SHA256(token, "csrf"), hex."""
    return hmac.new(token.encode(), b"csrf", hashlib.sha256).hexdigest()


def test_the_csrf_token_computed_as_documented_is_accepted(
    anonymous: TestClient, workspace: Path
) -> None:
    headers = {"Authorization": f"Bearer {TOKEN}", "X-CSRF-Token": documented_csrf(TOKEN)}
    saved = anonymous.put("/api/files/new.yaml", json={"text": DONE}, headers=headers)
    assert saved.status_code == 200, saved.text
    assert (workspace / "new.yaml").read_text() == DONE
    session = anonymous.get("/api/session", headers={"Authorization": f"Bearer {TOKEN}"})
    assert session.json()["csrf"] == documented_csrf(TOKEN)


@pytest.mark.parametrize(
    "name",
    [
        pytest.param("invoice\u202egpj.yaml", id="right-to-left-override"),
        pytest.param("a\u2066b.yaml", id="left-to-right-isolate"),
        pytest.param("zero\u200bwidth.yaml", id="zero-width-space"),
        pytest.param("bell\x07.yaml", id="control"),
        pytest.param("line\u2028sep.yaml", id="line-separator"),
        pytest.param(" lead.yaml", id="leading-space"),
        pytest.param("dir\u202e/x.yaml", id="in-a-folder-name"),
    ],
)
def test_a_file_name_that_does_not_show_as_itself_is_refused(
    client: TestClient, workspace: Path, name: str
) -> None:
    before = sorted(p.name for p in workspace.rglob("*"))
    made = client.post("/api/files", json={"path": name})
    assert made.status_code == 400, made.text
    error = made.json()["error"]
    assert error["code"] == "bad_path", error
    assert "U+" in error["message"] or "white space" in error["message"], error
    saved = client.put(f"/api/files/{quote(name)}", json={"text": DONE})
    assert saved.status_code == 400 and saved.json()["error"]["code"] == "bad_path"
    assert sorted(p.name for p in workspace.rglob("*")) == before


def test_letters_of_every_script_are_fine_in_file_names(client: TestClient) -> None:
    made = client.post("/api/files", json={"path": "طلب/commande été.yaml"})
    assert made.status_code == 201, made.text


@pytest.mark.parametrize(
    "path",
    ["//evil.example/", "///evil.example/x", "/\\evil.example/", "/%5Cevil.example/", "/%09/evil"],
)
def test_the_token_link_never_redirects_off_site(anonymous: TestClient, path: str) -> None:
    response = anonymous.get(f"http://{HOST}{path}?token={TOKEN}&a=1", follow_redirects=False)
    assert response.status_code == 303
    location = response.headers["location"]
    parts = urlsplit(location)
    assert parts.scheme == "" and parts.netloc == "", location
    assert location.startswith("/") and not location.startswith(("//", "/\\")), location
    assert location.endswith("?a=1")


def wait_for(client: TestClient, run_id: str, status: str) -> None:
    deadline = time.monotonic() + 10  # only reached when something is wrong
    while time.monotonic() < deadline:
        if client.get(f"/api/runs/{run_id}").json()["run"]["status"] == status:
            return
        time.sleep(0.02)
    raise AssertionError(f"run {run_id} never became {status}")


@pytest.mark.parametrize("action", ["cancel", "pause", "resume", "step", "signal"])
def test_controls_on_an_ended_run_answer_409(
    client: TestClient, workspace: Path, action: str
) -> None:
    (workspace / "quick.yaml").write_text(DONE)
    (workspace / "hold.yaml").write_text(HOLD)
    assert client.post("/api/runs", json={"file": "quick.yaml", "run_id": "q"}).status_code == 201
    assert client.post("/api/runs", json={"file": "hold.yaml", "run_id": "h"}).status_code == 201
    wait_for(client, "q", "completed")
    wait_for(client, "h", "waiting")
    assert client.post("/api/runs/h/cancel", json={}).json()["run"]["status"] == "cancelled"
    body = {"channel": "go"} if action == "signal" else {}
    for run_id, status in (("q", "completed"), ("h", "cancelled")):
        history = client.get(f"/api/runs/{run_id}/history").json()["events"]
        answer = client.post(f"/api/runs/{run_id}/{action}", json=body)
        assert answer.status_code == 409, (run_id, answer.text)
        error = answer.json()["error"]
        assert error["code"] == "rejected" and status in error["message"], error
        assert client.get(f"/api/runs/{run_id}").json()["run"]["status"] == status
        assert client.get(f"/api/runs/{run_id}/history").json()["events"] == history
