"""An app over a temporary workspace with the examples, and clients that are,
or are not, allowed in."""

from __future__ import annotations

import shutil
import warnings
from collections.abc import Iterator
from pathlib import Path

import pytest

# starlette 1.x warns that its TestClient will move from httpx to httpx2; the
# client still works on httpx, which is what the project depends on.
with warnings.catch_warnings():
    warnings.simplefilter("ignore")
    from starlette.testclient import TestClient

from wfdsl.designer.app import create_app
from wfdsl.designer.security import csrf_for
from wfdsl.interpreter.engine import Engine

ROOT = Path(__file__).resolve().parents[2]
EXAMPLES = ROOT / "examples"
TOKEN = "test-token-0123456789"
HOST = "testserver"


@pytest.fixture
def workspace(tmp_path: Path) -> Path:
    ws = tmp_path / "ws"
    ws.mkdir()
    for example in EXAMPLES.glob("*.yaml"):
        shutil.copy(example, ws / example.name)
    return ws


@pytest.fixture
def engine(tmp_path: Path) -> Iterator[Engine]:
    eng = Engine(tmp_path / "store.db", synchronous="NORMAL")
    yield eng
    eng.close()


@pytest.fixture
def app(workspace: Path, engine: Engine):  # type: ignore[no-untyped-def]
    return create_app(workspace, engine=engine, token=TOKEN, allowed_hosts=[HOST], sse_poll=0.02)


@pytest.fixture
def anonymous(app) -> Iterator[TestClient]:  # type: ignore[no-untyped-def]
    """No token, no CSRF header."""
    with TestClient(app, base_url=f"http://{HOST}") as client:
        yield client


@pytest.fixture
def client(app) -> Iterator[TestClient]:  # type: ignore[no-untyped-def]
    """What the pages do: the token cookie, same Origin and the CSRF header."""
    with TestClient(app, base_url=f"http://{HOST}") as c:
        c.cookies.set("wfdsl_token", TOKEN)
        c.headers.update({"Origin": f"http://{HOST}", "X-CSRF-Token": csrf_for(TOKEN)})
        yield c
