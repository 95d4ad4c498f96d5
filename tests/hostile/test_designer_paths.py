"""Path shapes for the designer's file routes that tests/designer/test_security.py
leaves out (research/reliability.md, test plan row 23): double encoding,
backslashes, NUL, the store's own files, ``.git``, an NTFS stream suffix, a
``..`` that climbs out through a folder that does not exist. Each read and
each write is refused; the file outside the workspace is never echoed or
changed, and no file appears.
"""

from __future__ import annotations

import warnings
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from wfdsl.designer.app import create_app
from wfdsl.designer.security import csrf_for

import wfdsl

with warnings.catch_warnings():
    warnings.simplefilter("ignore")
    from starlette.testclient import TestClient

TOKEN, HOST = "designer-paths-token-0123", "testserver"
SECRET = "secret: outside the workspace\n"


@pytest.fixture
def setup(tmp_path: Path) -> Iterator[tuple[Any, Path, Path]]:
    ws = tmp_path / "ws"
    ws.mkdir()
    (ws / "a.yaml").write_text('wfdsl: "1"\nname: a\nstart: s\nstates:\n  s: {type: succeed}\n')
    (ws / ".git").mkdir()
    (ws / ".git" / "config").write_text("[core]\n")
    outside = tmp_path / "outside.yaml"
    outside.write_text(SECRET)
    with wfdsl.Engine(str(ws / "wf.db")) as engine:
        app = create_app(ws, engine=engine, token=TOKEN, allowed_hosts=[HOST], drive=False)
        with TestClient(app, base_url=f"http://{HOST}") as client:
            client.cookies.set("wfdsl_token", TOKEN)
            client.headers.update({"Origin": f"http://{HOST}", "X-CSRF-Token": csrf_for(TOKEN)})
            yield client, ws, outside


@pytest.mark.parametrize(
    "path",
    [
        pytest.param("%252e%252e/outside.yaml", id="double-encoded-dotdot"),
        pytest.param("%2e%2e%2foutside.yaml", id="encoded-slash"),
        pytest.param("..%5coutside.yaml", id="encoded-backslash"),
        pytest.param("..\\outside.yaml", id="backslash"),
        pytest.param("a.yaml%00.txt", id="nul"),
        pytest.param("sub/../../outside.yaml", id="dotdot-through-missing-folder"),
        pytest.param("wf.db", id="the-store"),
        pytest.param("wf.db-wal", id="the-store-wal"),
        pytest.param(".git/config", id="git-config"),
        pytest.param("a.yaml::$DATA", id="ntfs-stream"),
    ],
)
def test_a_path_shape_that_leaves_the_workspace_or_its_yaml_is_refused(
    setup: tuple[Any, Path, Path], path: str
) -> None:
    client, ws, outside = setup
    before = sorted(p.name for p in ws.iterdir())
    store = (ws / "wf.db").read_bytes()
    read = client.get(f"/api/files/{path}")
    write = client.put(f"/api/files/{path}", json={"text": "x: 1\n"})
    responses = [read, write]
    if "%" not in path:  # a JSON body is not URL-decoded: there it would be a plain name
        responses.append(client.post("/api/files", json={"path": path}))
    for response in responses:
        assert response.status_code in (400, 404), (path, response.status_code, response.text)
        assert "outside the workspace\\n" not in response.text and "[core]" not in response.text
    assert outside.read_text() == SECRET
    assert sorted(p.name for p in ws.iterdir()) == before
    assert (ws / ".git" / "config").read_text() == "[core]\n"
    assert (ws / "wf.db").read_bytes() == store
