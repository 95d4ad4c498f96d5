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


# ----------------------------------------------------------------- added for issue 6
# What the rules above left open: bodies json.loads accepts but nothing can
# store (NaN, lone surrogates), nesting that exhausts the decoder's stack,
# paths the file system refuses, auth by path shape, every mutating route,
# and markup arriving as run data instead of as a document.

HOSTILE_WAITER = """\
wfdsl: "1"
name: hostile
handlers:
  peek: {return: "${ vars }"}
start: hold
states:
  hold:
    type: wait
    any:
      - {signal: go, as: got, next: hold}
      - {signal: stop, next: boom}
  boom: {type: fail, error: Boom, message: "bad ${ vars.got }"}
"""


@pytest.fixture
def waiting_run(client: TestClient, workspace: Path) -> str:
    (workspace / "hostile.yaml").write_text(HOSTILE_WAITER)
    response = client.post("/api/runs", json={"file": "hostile.yaml", "run_id": "h1"})
    assert response.status_code == 201, response.text
    return "h1"


@pytest.mark.parametrize(
    ("route", "body"),
    [
        pytest.param("/api/runs/h1/signal", b'{"channel": "go", "data": NaN}', id="nan"),
        pytest.param("/api/runs/h1/signal", b'{"channel": "go", "data": [-Infinity]}', id="inf"),
        pytest.param("/api/runs/h1/signal", b'{"channel": "go", "data": 1e400}', id="1e400"),
        pytest.param(
            "/api/runs/h1/signal", b'{"channel": "go", "data": "\\ud800"}', id="surrogate"
        ),
        pytest.param("/api/runs/h1/signal", b'{"channel": "\\udfff"}', id="surrogate-channel"),
        pytest.param(
            "/api/runs/h1/signal",
            b'{"channel": "go", "data": 1' + b"0" * 5000 + b"}",
            id="10**5000",
        ),
        pytest.param("/api/runs/h1/signal", b"[" * 100_000 + b"]" * 100_000, id="deep-array"),
        pytest.param(
            "/api/runs/h1/call",
            b'{"handler": "peek", "args": ' + b'{"a":' * 50_000 + b"1" + b"}" * 50_000 + b"}",
            id="deep-object",
        ),
        pytest.param("/api/runs", b'{"file": "hostile.yaml", "input": NaN}', id="input-nan"),
        pytest.param(
            "/api/runs", b'{"file": "hostile.yaml", "run_id": "\\ud800"}', id="run-id-surrogate"
        ),
        pytest.param("/api/files/x.yaml", b'{"text": "a: \\ud800"}', id="put-surrogate"),
        pytest.param("/api/files", b'{"path": "\\ud800.yaml"}', id="create-surrogate"),
        pytest.param("/api/graph", b'{"text": "\\udc00"}', id="graph-surrogate"),
    ],
)
def test_json_nothing_can_store_is_400_not_500(
    client: TestClient, waiting_run: str, workspace: Path, route: str, body: bytes
) -> None:
    method = client.put if route.startswith("/api/files/") else client.post
    response = method(route, content=body, headers={"Content-Type": "application/json"})
    assert response.status_code == 400, response.text
    assert response.json()["error"]["code"] == "bad_json"
    assert not (workspace / "x.yaml").exists()
    history = client.get(f"/api/runs/{waiting_run}/history").json()["events"]
    assert not [e for e in history if e["type"] == "signal_received"]


@pytest.mark.parametrize(
    "path",
    [
        pytest.param("a" * 300 + ".yaml", id="long-segment"),
        pytest.param("/".join(["d" * 200] * 8) + "/x.yaml", id="long-path"),
        pytest.param("a" * 10_000 + ".yaml", id="10kb"),
    ],
)
def test_names_the_file_system_refuses_are_bad_path_not_500(client: TestClient, path: str) -> None:
    assert client.get(f"/api/files/{path}").status_code == 400
    assert client.put(f"/api/files/{path}", json={"text": "x: 1\n"}).status_code == 400
    created = client.post("/api/files", json={"path": path})
    assert created.status_code == 400 and created.json()["error"]["code"] == "bad_path"


@pytest.mark.parametrize(
    "after",
    ["²", "-1", "1.5", "9" * 5000, "0x10", "١"],
    ids=["sup2", "neg", "float", "huge", "hex", "arabic"],
)
def test_sequence_numbers_are_checked_not_500(
    client: TestClient, waiting_run: str, after: str
) -> None:
    for route in ("history", "events"):
        response = client.get(f"/api/runs/{waiting_run}/{route}", params={"after": after})
        assert response.status_code == 400, (route, response.text)
    stream = client.get(f"/api/runs/{waiting_run}/events", headers={"Last-Event-ID": "²".encode()})
    assert stream.status_code == 400


@pytest.mark.parametrize(
    "path",
    [
        "/api/runs/",
        "/API/runs",
        "//api/runs",
        "/api//runs",
        "/api/runs;x",
        "/api/runs%2F",
        "/api/%2e%2e/api/runs",
        "/static/../api/runs",
        "/static/%2e%2e/api/runs",
        "/api/configs",
        "/x/configs",
        "/openapi.json/",
    ],
)
def test_no_path_shape_reaches_data_without_the_token(anonymous: TestClient, path: str) -> None:
    response = anonymous.get(path, headers={"Authorization": "Bearer nothing"})
    assert response.status_code in (400, 401, 404), (path, response.status_code)
    assert '"runs"' not in response.text and '"files"' not in response.text


def _mutating_routes(app) -> list[tuple[str, str]]:  # type: ignore[no-untyped-def]
    out = []
    for route in app.routes:
        path = getattr(route, "path", "")
        for method in sorted(getattr(route, "methods", None) or ()):
            if method in ("GET", "HEAD", "OPTIONS"):
                continue
            concrete = path.replace("{path:path}", "signup.yaml").replace("{run_id:path}", "h1")
            out.append((method, concrete.replace("{action}", "pause")))
    return out


@pytest.mark.parametrize(
    "headers",
    [
        pytest.param({"Origin": "http://evil.example"}, id="foreign-origin"),
        pytest.param({"Origin": "null"}, id="null-origin"),
        pytest.param({"Origin": f"http://{HOST}.evil.example"}, id="suffix-origin"),
        pytest.param({"Origin": f"https://{HOST}"}, id="other-scheme"),
        pytest.param({"Sec-Fetch-Site": "cross-site"}, id="cross-site-no-origin"),
        pytest.param({"X-CSRF-Token": ""}, id="no-csrf"),
    ],
)
def test_every_mutating_route_refuses_cross_site_requests(
    app, client: TestClient, waiting_run: str, workspace: Path, headers: dict[str, str]
) -> None:  # type: ignore[no-untyped-def]
    before = (workspace / "signup.yaml").read_text()
    routes = _mutating_routes(app)
    assert len(routes) >= 7
    for method, path in routes:
        sent = dict(headers)
        if "Origin" not in sent and "Sec-Fetch-Site" in sent:
            sent["Origin"] = ""
        request = client.build_request(method, path, json={"text": "x: 1\n"}, headers=sent)
        if sent.get("Origin") == "":
            del request.headers["Origin"]
        response = client.send(request)
        assert response.status_code == 403, (method, path, response.status_code)
    assert (workspace / "signup.yaml").read_text() == before
    assert client.get(f"/api/runs/{waiting_run}").json()["run"]["status"] != "paused"


@pytest.mark.parametrize(
    ("content_type", "body"),
    [
        ("application/x-www-form-urlencoded", b"path=x.yaml"),
        ("text/plain", b'{"path": "x.yaml"}'),
        (
            "multipart/form-data; boundary=b",
            b'--b\r\nContent-Disposition: form-data; name="path"\r\n\r\nx.yaml\r\n--b--\r\n',
        ),
    ],
)
def test_simple_request_bodies_are_refused(
    client: TestClient, workspace: Path, content_type: str, body: bytes
) -> None:
    response = client.post("/api/files", content=body, headers={"Content-Type": content_type})
    assert response.status_code == 415
    assert not (workspace / "x.yaml").exists()


MARKUP = "</script><script>window.__xss=1</script><img src=x onerror=alert(1)>"


def test_markup_in_signal_payloads_run_ids_and_error_messages_stays_text(
    client: TestClient, waiting_run: str
) -> None:
    assert (
        client.post(
            f"/api/runs/{waiting_run}/signal", json={"channel": "go", "data": {"n": MARKUP}}
        ).status_code
        == 200
    )
    # Without a worker loop, a step drives the run: it consumes the signal.
    client.post(f"/api/runs/{waiting_run}/pause")
    for _ in range(3):
        client.post(f"/api/runs/{waiting_run}/step")
    client.post(f"/api/runs/{waiting_run}/resume")
    client.post(f"/api/runs/{waiting_run}/signal", json={"channel": "stop"})
    client.post(f"/api/runs/{waiting_run}/pause")
    for _ in range(3):
        client.post(f"/api/runs/{waiting_run}/step")
    run = client.get(f"/api/runs/{waiting_run}").json()["run"]
    assert MARKUP in str(run["vars"]) or MARKUP in str(run.get("error"))
    page = client.get(f"/runs/{waiting_run}")
    assert page.status_code == 200
    assert "<script>window.__xss" not in page.text and "<img src=x" not in page.text
    # A run id is data too: one holding markup is escaped in the list and its page.
    xss_id = "x<img src=x onerror=alert(1)>"
    assert (
        client.post("/api/runs", json={"file": "hostile.yaml", "run_id": xss_id}).status_code == 201
    )
    for url in ("/runs", "/runs/" + xss_id.replace("<", "%3C").replace(">", "%3E")):
        body = client.get(url).text
        assert "<img src=x" not in body, url
    # The API answers JSON, never HTML a browser would render.
    api = client.get(f"/api/runs/{waiting_run}")
    assert api.headers["content-type"].startswith("application/json")
    assert api.headers["x-content-type-options"] == "nosniff"


@pytest.mark.parametrize(
    "host",
    [
        "",
        "localhost.evil.example",
        "127.0.0.1.nip.io",
        "0.0.0.0",
        f"{HOST}.",
        f"{HOST}:80@evil",
        "[::1]",
    ],
)
def test_more_host_shapes_are_refused(anonymous: TestClient, host: str) -> None:
    response = anonymous.get(
        "/api/workspace", headers={"Host": host, "Authorization": f"Bearer {TOKEN}"}
    )
    assert response.status_code == 400, host


# Run routes take ids with "/" (a child run is parent/state), so a run id
# that looks like a path must still only ever name a run: looked up in the
# store, never a file, never another route.
@pytest.mark.parametrize(
    "path",
    [
        "/api/runs/..%2Fx",
        "/api/runs/%2e%2e/",
        "/api/runs/%2e%2e/files/signup.yaml",
        "/api/runs/%2E%2E%2F%2E%2E%2Fsignup.yaml/history",
        "/api/runs/h1/%2e%2e/%2e%2e/workspace",
        "/api/runs/%2e%2e%2f%2e%2e%2f%2e%2e%2fetc%2fpasswd/events",
        "/runs/%2e%2e/%2e%2e/edit/signup.yaml",
        "/runs/..%2F..%2Fapi%2Fworkspace",
    ],
)
def test_a_run_id_shaped_like_a_path_names_no_file(
    client: TestClient, waiting_run: str, path: str
) -> None:
    response = client.get(path)
    assert response.status_code == 404, (path, response.status_code)
    if path.startswith("/api/"):
        assert response.json()["error"]["code"] == "no_such_run"
    assert "wfdsl:" not in response.text and '"files"' not in response.text
    pause = client.post(f"{path.removesuffix('/history').removesuffix('/events')}/pause", json={})
    assert pause.status_code in (404, 405)
    assert client.get(f"/api/runs/{waiting_run}").json()["run"]["status"] != "paused"
