"""The designer's requests and the runs do not stall each other (issue 13 §1
"Blocking I/O on the event loop"): the engine drives on a thread of its own
(``Engine.serve_in_thread``) and every handler reaches the engine from a
worker thread, so no store call runs on the server's event loop. Measured
in ``bench/designer_latency.py``; asserted here by where each store call
happens, not by time."""

from __future__ import annotations

import asyncio
import json
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

from starlette.testclient import TestClient
from wfdsl.designer.app import create_app
from wfdsl.designer.security import csrf_for
from wfdsl.interpreter.engine import Engine
from wfdsl.interpreter.store.sqlite.store import SqliteStore

T = TypeVar("T")
TOKEN = "test-token-0123456789"
HOST = "testserver"

GATE = """
wfdsl: "1"
name: gate
signals:
  go: {}
handlers:
  peek: {return: "${ 'open' }"}
start: hold
states:
  hold: {type: wait, signal: go, next: done}
  done: {type: succeed}
"""


class WatchedStore(SqliteStore):
    """Notes every store call made on a thread that runs an event loop
    other than the engine's own driving thread."""

    on_a_loop: list[str]

    def _note(self) -> None:
        try:
            asyncio.get_running_loop()
        except RuntimeError:
            return
        if threading.current_thread().name != "wfdsl-engine":
            self.on_a_loop.append(threading.current_thread().name)

    def _read(self, doing: str, work: Callable[..., T]) -> T:
        self._note()
        return super()._read(doing, work)

    def _write(self, doing: str, work: Callable[..., T], *, leases_only: bool = False) -> T:
        self._note()
        return super()._write(doing, work, leases_only=leases_only)


def test_no_request_touches_the_store_on_the_servers_event_loop(tmp_path: Path) -> None:
    workspace = tmp_path / "ws"
    workspace.mkdir()
    (workspace / "gate.yaml").write_text(GATE)
    store = WatchedStore(str(tmp_path / "runs.db"), synchronous="NORMAL")
    store.on_a_loop = []
    engine = Engine(store=store)
    app = create_app(workspace, engine=engine, token=TOKEN, allowed_hosts=[HOST], sse_poll=0.02)
    try:
        with TestClient(app, base_url=f"http://{HOST}") as client:
            client.cookies.set("wfdsl_token", TOKEN)
            client.headers.update({"Origin": f"http://{HOST}", "X-CSRF-Token": csrf_for(TOKEN)})
            made = client.post("/api/runs", json={"file": "gate.yaml", "run_id": "g1"})
            assert made.status_code == 201, made.text
            deadline = time.monotonic() + 60  # a hang guard, not a speed bound
            while client.get("/api/runs/g1").json()["run"]["status"] != "waiting":
                assert time.monotonic() < deadline
                time.sleep(0.02)
            called = client.post("/api/runs/g1/call", json={"handler": "peek"})
            assert called.status_code == 200, called.text
            assert called.json()["result"] == "open"
            assert client.post("/api/runs/g1/signal", json={"channel": "go"}).status_code == 200
            with client.stream("GET", "/api/runs/g1/events") as stream:
                for line in stream.iter_lines():
                    if line.startswith("event: end"):
                        break
            last: Any = client.get("/api/runs/g1").json()
            assert last["run"]["status"] == "completed"
            for path in ("/api/runs", "/api/runs/g1/history", "/api/workspace", "/runs"):
                assert client.get(path).status_code == 200, path
            assert json.loads(client.get("/api/runs/g1/history").text)["events"]
    finally:
        engine.close()
    assert store.on_a_loop == []
