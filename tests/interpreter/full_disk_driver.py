"""What wfdsl does on a disk that is really full, recorded as JSON.

Run by tests/interpreter/test_full_disk.py inside a private mount namespace
(``unshare --user --map-root-user --mount``): it mounts a 16 MiB tmpfs over
``FOLDER/disk``, so writes there fail with a genuine ENOSPC that nobody else
on the machine sees, and the mount goes away with the process. It then:

1. creates a run of a workflow that grows its history (300 task steps
   carrying 3 KB each, then a wait for ``finish``), fills the disk up to
   256 KiB, and drives the run with ``wfdsl run`` until the disk is full;
2. asks, with the disk still full, ``wfdsl runs show``, ``wfdsl signal``,
   ``PRAGMA integrity_check``, the designer's file save and signal routes,
   and a ``wfdsl worker``;
3. frees the space (deletes the filler) while that worker keeps running, and
   finishes the run through it and ``wfdsl signal``.

Usage: ``python full_disk_driver.py FOLDER`` (as root in the namespace);
prints one JSON document of observations; the test does the asserting.
"""

from __future__ import annotations

import json
import os
import sqlite3
import subprocess
import sys
import time
import warnings
from pathlib import Path
from typing import Any

FLOW = """\
wfdsl: "1"
name: grow-then-wait
vars: {n: 0}
start: step
states:
  step:
    type: task
    action: noop
    args: {blob: "${ input.blob }", n: "${ vars.n }"}
    set: {n: "${ vars.n + 1 }"}
    next: more
  more:
    type: choice
    choices: [{when: "${ vars.n < 300 }", next: step}]
    default: hold
  hold: {type: wait, signal: finish, as: how, next: done}
  done: {type: succeed, output: {n: "${ vars.n }", how: "${ vars.how }"}}
"""

WFDSL = [sys.executable, "-c", "from wfdsl.cli import main; main()"]
TOKEN = "full-disk-token-0123456789"
HOST = "testserver"


def cli(*args: str, timeout: float = 120) -> dict[str, Any]:
    proc = subprocess.run([*WFDSL, *args], capture_output=True, text=True, timeout=timeout)
    return {"rc": proc.returncode, "out": proc.stdout, "err": proc.stderr}


def show(db: Path) -> dict[str, Any]:
    got = cli("runs", "show", "g1", "--db", str(db), "--json")
    run = json.loads(got["out"]) if got["rc"] == 0 else None
    return {"rc": got["rc"], "err": got["err"], "run": run}


def sql(db: Path, query: str) -> list[Any]:
    conn = sqlite3.connect(db)
    try:
        return [list(row) for row in conn.execute(query).fetchall()]
    finally:
        conn.close()


def fill(disk: Path, leave: int) -> Path:
    """A file taking all free space on ``disk`` but ``leave`` bytes."""
    stat = os.statvfs(disk)
    free = stat.f_bavail * stat.f_frsize
    filler = disk / "filler"
    with open(filler, "wb") as handle:
        chunk = b"\0" * 65536
        left = max(0, free - leave)
        while left > 0:
            left -= handle.write(chunk[: min(len(chunk), left)])
    return filler


def designer(disk: Path, db: Path) -> dict[str, Any]:
    """The designer's save and signal routes on the full disk."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        from starlette.testclient import TestClient
    from wfdsl.designer.app import create_app
    from wfdsl.designer.security import csrf_for

    import wfdsl

    before = (disk / "flow.yaml").read_bytes()
    engine = wfdsl.Engine(str(db))
    app = create_app(disk, engine=engine, token=TOKEN, allowed_hosts=[HOST], drive=False)
    try:
        with TestClient(app, base_url=f"http://{HOST}") as client:
            client.cookies.set("wfdsl_token", TOKEN)
            client.headers.update({"Origin": f"http://{HOST}", "X-CSRF-Token": csrf_for(TOKEN)})
            bigger = before.decode() + "# " + "edited " * 40_000 + "\n"
            save = client.put("/api/files/flow.yaml", json={"text": bigger})
            signal = client.post("/api/runs/g1/signal", json={"channel": "finish", "data": "web"})
            read = client.get("/api/runs/g1")
    finally:
        engine.close()
    return {
        "save": [save.status_code, save.json()],
        "signal": [signal.status_code, signal.json(), signal.headers.get("retry-after")],
        "read": [read.status_code, read.json().get("run", {}).get("status")],
        "file_unchanged": (disk / "flow.yaml").read_bytes() == before,
        "temp_files": sorted(p.name for p in disk.iterdir() if p.name.startswith(".wfdsl-")),
    }


def wait_for(db: Path, status: str, timeout: float) -> dict[str, Any]:
    deadline = time.monotonic() + timeout
    while True:
        got = show(db)
        if (got["run"] or {}).get("status") == status or time.monotonic() > deadline:
            return got
        time.sleep(0.3)


def main(folder: Path) -> dict[str, Any]:
    disk = folder / "disk"
    disk.mkdir()
    subprocess.run(["mount", "-t", "tmpfs", "-o", "size=16m", "tmpfs", str(disk)], check=True)
    db = disk / "wf.db"
    (disk / "flow.yaml").write_text(FLOW)
    blob = folder / "input.json"
    blob.write_text(json.dumps({"blob": "x" * 3000}))
    report: dict[str, Any] = {}

    # Room for a new store (its schema, WAL and index: ~230 KiB) and a few
    # rounds of the run; each schema migration takes some of it.
    filler = fill(disk, 320 * 1024)
    report["run"] = cli(
        "run", str(disk / "flow.yaml"), "--db", str(db), "--run-id", "g1", "--input", f"@{blob}"
    )
    report["df_after_run"] = os.statvfs(disk).f_bavail
    report["show_full"] = show(db)
    report["integrity_full"] = sql(db, "PRAGMA integrity_check")
    report["signal_full"] = cli("signal", "g1", "finish", "--db", str(db), "--data", '"cli"')
    report["inbox_full"] = sql(db, "SELECT count(*) FROM inbox")
    report["designer"] = designer(disk, db)
    report["inbox_after_designer"] = sql(db, "SELECT count(*) FROM inbox")

    # A worker started on the full disk: it must stay up and carry on once
    # space returns, not exit and not spin.
    worker = subprocess.Popen(
        [*WFDSL, "worker", "--db", str(db)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        time.sleep(4)
        report["worker_alive_while_full"] = worker.poll() is None
        report["n_while_full"] = (show(db)["run"] or {}).get("vars", {}).get("n")
        filler.unlink()  # space returns
        report["waiting"] = wait_for(db, "waiting", 90)
        report["signal_back"] = cli("signal", "g1", "finish", "--db", str(db), "--data", '"cli"')
        report["done"] = wait_for(db, "completed", 60)
    finally:
        worker.terminate()
        try:
            _, err = worker.communicate(timeout=30)
        except subprocess.TimeoutExpired:
            worker.kill()
            _, err = worker.communicate()
    report["worker"] = {"rc": worker.returncode, "err": err[-3000:]}
    report["integrity_end"] = sql(db, "PRAGMA integrity_check")
    report["consumed"] = sql(
        db,
        "SELECT e.data FROM events e JOIN runs r ON r.key = e.run_key "
        "WHERE r.id = 'g1' AND e.type = 'signal_consumed'",
    )
    report["inbox_end"] = sql(db, "SELECT channel, data FROM inbox")
    report["seqs"] = [
        row[0]
        for row in sql(
            db,
            "SELECT e.seq FROM events e JOIN runs r ON r.key = e.run_key "
            "WHERE r.id = 'g1' ORDER BY e.seq",
        )
    ]
    return report


if __name__ == "__main__":
    print(json.dumps(main(Path(sys.argv[1]))))
