"""Every security rule of the designer, each refused over HTTP (designer/API.md, "Auth")."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from wfdsl.designer.security import CSP, csrf_for

from tests.designer.conftest import HOST, TOKEN, TestClient

XSS = "<img src=x onerror=alert(1)>"


def test_wrong_host_is_refused_dns_rebinding(client: TestClient) -> None:
    response = client.get("/api/workspace", headers={"Host": "evil.example:8765"})
    assert response.status_code == 400 and response.json()["error"]["code"] == "bad_host"
    page = client.get("/", headers={"Host": "attacker.test"})
    assert page.status_code == 400 and "application/json" not in page.headers["content-type"]


def test_missing_token_is_refused(anonymous: TestClient) -> None:
    response = anonymous.get("/api/workspace")
    assert response.status_code == 401
    assert response.json() == {
        "error": {
            "code": "unauthorized",
            "message": response.json()["error"]["message"],
            "findings": [],
        }
    }
    assert anonymous.get("/").status_code == 401
    assert anonymous.get("/openapi.json").status_code == 401


def test_wrong_token_is_refused(anonymous: TestClient) -> None:
    anonymous.cookies.set("wfdsl_token", TOKEN + "x")
    assert anonymous.get("/api/workspace").status_code == 401
    assert (
        anonymous.get("/api/workspace", headers={"Authorization": "Bearer nope"}).status_code == 401
    )
    assert anonymous.get("/?token=nope", follow_redirects=False).status_code == 401


def test_token_in_url_sets_strict_httponly_cookie_and_drops_it_from_url(
    anonymous: TestClient,
) -> None:
    response = anonymous.get(f"/?token={TOKEN}", follow_redirects=False)
    assert response.status_code == 303 and response.headers["location"] == "/"
    cookie = response.headers["set-cookie"].lower()
    assert "httponly" in cookie and "samesite=strict" in cookie
    assert anonymous.get("/api/workspace").status_code == 200  # the cookie now works


def test_bearer_token_works_for_scripts(anonymous: TestClient) -> None:
    headers = {"Authorization": f"Bearer {TOKEN}"}
    assert anonymous.get("/api/session", headers=headers).json()["csrf"] == csrf_for(TOKEN)


@pytest.mark.parametrize(
    "headers",
    [
        pytest.param({"X-CSRF-Token": ""}, id="missing"),
        pytest.param({"X-CSRF-Token": "0" * 64}, id="wrong"),
    ],
)
def test_state_change_without_the_csrf_token_is_refused(
    client: TestClient, workspace: Path, headers: dict[str, str]
) -> None:
    before = (workspace / "signup.yaml").read_text()
    response = client.put("/api/files/signup.yaml", json={"text": "x: 1\n"}, headers=headers)
    assert response.status_code == 403 and response.json()["error"]["code"] == "csrf"
    assert (workspace / "signup.yaml").read_text() == before


def test_cross_origin_request_is_refused(client: TestClient, workspace: Path) -> None:
    response = client.post(
        "/api/files", json={"path": "x.yaml"}, headers={"Origin": "http://evil.example"}
    )
    assert response.status_code == 403 and response.json()["error"]["code"] == "bad_origin"
    no_origin = client.post(
        "/api/files",
        json={"path": "y.yaml"},
        headers={"Origin": "", "Sec-Fetch-Site": "cross-site"},
    )
    assert no_origin.status_code == 403
    assert not (workspace / "x.yaml").exists()


@pytest.mark.parametrize(
    "path",
    [
        pytest.param("../outside.yaml", id="dotdot"),
        pytest.param("%2e%2e/outside.yaml", id="encoded-dotdot"),
        pytest.param("sub/%2E%2E/%2e%2e/outside.yaml", id="encoded-nested"),
        pytest.param("%2Fetc%2Foutside.yaml", id="encoded-absolute"),
        pytest.param("link/outside.yaml", id="symlinked-folder"),
        pytest.param("escape.yaml", id="symlinked-file"),
        pytest.param("notes.txt", id="not-yaml"),
        pytest.param(".hidden.yaml", id="hidden"),
    ],
)
def test_paths_outside_the_workspace_are_refused(
    client: TestClient, workspace: Path, path: str
) -> None:
    outside = workspace.parent / "outside.yaml"
    outside.write_text("secret: 1\n")
    (workspace / "link").symlink_to(workspace.parent, target_is_directory=True)
    (workspace / "escape.yaml").symlink_to(outside)
    (workspace / "notes.txt").write_text("hello\n")
    read = client.get(f"/api/files/{path}")
    assert read.status_code in (400, 404), read.text
    assert "secret" not in read.text
    write = client.put(f"/api/files/{path}", json={"text": "pwned: 1\n"})
    assert write.status_code in (400, 404, 405)
    assert outside.read_text() == "secret: 1\n"
    assert (workspace / "notes.txt").read_text() == "hello\n"


@pytest.mark.parametrize("path", ["/etc/passwd.yaml", "../x.yaml", "a/../../x.yaml", "C:/x.yaml"])
def test_create_outside_or_absolute_is_refused(
    client: TestClient, workspace: Path, path: str
) -> None:
    response = client.post("/api/files", json={"path": path})
    assert response.status_code == 400 and response.json()["error"]["code"] == "bad_path"
    assert not (workspace.parent / "x.yaml").exists()


def test_symlinks_out_are_not_listed(client: TestClient, workspace: Path) -> None:
    outside = workspace.parent / "outside.yaml"
    outside.write_text('wfdsl: "1"\n')
    (workspace / "escape.yaml").symlink_to(outside)
    paths = [f["path"] for f in client.get("/api/workspace").json()["files"]]
    assert "escape.yaml" not in paths


XSS_DOC = f"""\
wfdsl: "1"
name: "{XSS}"
description: "</script><script>alert(2)</script>"
start: a
states:
  a:
    type: task
    action: "{XSS}"
    next: b
  b:
    type: succeed
"""


def test_markup_in_a_document_is_escaped_in_svg_and_pages(
    client: TestClient, workspace: Path
) -> None:
    svg = client.post("/api/graph", json={"text": XSS_DOC}).json()["svg"]
    assert "<img" not in svg and "&lt;img src=x onerror=alert(1)&gt;" in svg
    (workspace / "xss.yaml").write_text(XSS_DOC)
    page = client.get("/edit/xss.yaml")
    assert page.status_code == 200
    # The YAML text and the graph are in the page; no tag of theirs survives.
    assert "<img src=x" not in page.text and "<script>alert(2)" not in page.text


def test_invalid_state_name_with_markup_is_refused_by_rename(client: TestClient) -> None:
    text = (Path(__file__).parents[2] / "examples" / "signup.yaml").read_text()
    response = client.post(
        "/api/files/signup.yaml/edit",
        json={"text": text, "op": {"op": "rename_state", "state": "remind", "to": XSS}},
    )
    assert response.status_code == 400 and "not a state name" in response.json()["error"]["message"]


def test_oversized_body_is_refused_with_413(client: TestClient, workspace: Path) -> None:
    big = "#" * (1024 * 1024 + 10)
    response = client.put("/api/files/signup.yaml", json={"text": big})
    assert response.status_code == 413 and response.json()["error"]["code"] == "too_large"
    assert "#" * 100 not in (workspace / "signup.yaml").read_text()


def test_oversized_chunked_body_is_refused(client: TestClient) -> None:
    def chunks():  # type: ignore[no-untyped-def]
        for _ in range(20):
            yield b"x" * 65536

    response = client.post(
        "/api/graph", content=chunks(), headers={"Content-Type": "application/json"}
    )
    assert response.status_code == 413


def test_malformed_json_is_400_with_the_error_shape(client: TestClient) -> None:
    response = client.post(
        "/api/graph", content=b"{not json", headers={"Content-Type": "application/json"}
    )
    assert response.status_code == 400
    assert response.json()["error"]["code"] == "bad_json"
    wrong_type = client.post("/api/graph", content=b"text", headers={"Content-Type": "text/plain"})
    assert wrong_type.status_code == 415
    missing = client.post("/api/graph", json={"txt": "x"})
    assert missing.status_code == 400 and "'text'" in missing.json()["error"]["message"]


SHELL_DOC = """\
wfdsl: "1"
name: sh
start: run
states:
  run:
    type: task
    action: shell
    args: {command: [echo, hi]}
    end: true
"""


def test_shell_is_refused_unless_allowed(client: TestClient, workspace: Path) -> None:
    (workspace / "sh.yaml").write_text(SHELL_DOC)
    response = client.post("/api/runs", json={"file": "sh.yaml"})
    assert response.status_code == 403 and response.json()["error"]["code"] == "shell_refused"
    assert client.get("/api/runs").json()["runs"] == []


def test_shell_is_accepted_with_allow_shell(workspace: Path, tmp_path: Path) -> None:
    from wfdsl.designer.app import create_app
    from wfdsl.interpreter.engine import Engine

    (workspace / "sh.yaml").write_text(SHELL_DOC)
    with Engine(tmp_path / "s.db", allow_shell=True) as engine:
        app = create_app(
            workspace, engine=engine, token=TOKEN, allowed_hosts=[HOST], allow_shell=True
        )
        with TestClient(app, base_url=f"http://{HOST}") as c:
            c.cookies.set("wfdsl_token", TOKEN)
            headers = {"Origin": f"http://{HOST}", "X-CSRF-Token": csrf_for(TOKEN)}
            response = c.post("/api/runs", json={"file": "sh.yaml"}, headers=headers)
            assert response.status_code == 201, response.text


def test_every_response_carries_csp_without_inline_script(client: TestClient) -> None:
    for response in (client.get("/api/workspace"), client.get("/"), client.get("/nope")):
        assert response.headers["content-security-policy"] == CSP
        assert "unsafe-inline" not in CSP and "script-src 'self'" in CSP
        assert response.headers["x-content-type-options"] == "nosniff"
        assert response.headers["x-frame-options"] == "DENY"


def test_static_files_need_no_token_but_the_right_host(anonymous: TestClient) -> None:
    static = Path(__file__).parents[2] / "designer" / "static"
    files = [p for p in static.rglob("*") if p.is_file()] if static.is_dir() else []
    if not files:
        pytest.skip("no static files yet")
    rel = files[0].relative_to(static).as_posix()
    assert anonymous.get(f"/static/{rel}").status_code == 200
    assert anonymous.get(f"/static/{rel}", headers={"Host": "evil.test"}).status_code == 400


def test_workspace_write_is_atomic_replace(workspace: Path) -> None:
    from wfdsl.designer.workspace import Workspace

    ws = Workspace(workspace)
    inode = os.stat(workspace / "signup.yaml").st_ino
    ws.write("signup.yaml", "a: 1\n")
    assert os.stat(workspace / "signup.yaml").st_ino != inode  # replaced, not rewritten in place
