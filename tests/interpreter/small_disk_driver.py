"""Sixty runs, two workers and a 2 MiB disk that fills and frees (issue 11
items 4a-4c), recorded as JSON.

Run by tests/interpreter/test_full_disk.py in a private mount namespace, like
``full_disk_driver.py``: it mounts a 2 MiB tmpfs over ``FOLDER/disk``,
creates 60 runs of 20 ledger-writing task steps (about 1 MiB of store in
all), closes the store, fills the disk but 200 KiB, then starts two
``wfdsl worker``s on the full disk, asks ``wfdsl runs list``, waits until
both workers have said the disk is full, frees the space and waits for the
runs to end. The ledger (outside the disk) records each call's idempotency
key and the pid that ran it.

Usage: ``python small_disk_driver.py FOLDER``; prints one JSON document.
"""

from __future__ import annotations

import json
import os
import sqlite3
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

RUNS = 60
FLOW = """\
wfdsl: "1"
name: steps
vars: {n: 0}
start: step
states:
  step:
    type: task
    action: ledger
    args: {blob: "${ input.blob }"}
    set: {n: "${ vars.n + 1 }"}
    next: more
  more:
    type: choice
    choices: [{when: "${ vars.n < 20 }", next: step}]
    default: done
  done: {type: succeed, output: "${ vars.n }"}
"""
ACTIONS = """\
import json, os
import wfdsl

@wfdsl.action("ledger")
def ledger(blob: str, ctx: wfdsl.ActionContext) -> int:
    line = {"key": ctx.idempotency_key, "pid": os.getpid()}
    fd = os.open(os.environ["LEDGER"], os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
    try:
        os.write(fd, (json.dumps(line) + "\\n").encode())
    finally:
        os.close(fd)
    return len(blob)
"""
WFDSL = [sys.executable, "-c", "from wfdsl.cli import main; main()"]


def statuses(db: Path) -> dict[str, int]:
    conn = sqlite3.connect(db, timeout=30)
    try:
        return dict(conn.execute("SELECT status, count(*) FROM runs GROUP BY status").fetchall())
    finally:
        conn.close()


def main(folder: Path) -> dict[str, Any]:
    import wfdsl

    disk = folder / "disk"
    disk.mkdir()
    subprocess.run(["mount", "-t", "tmpfs", "-o", "size=2m", "tmpfs", str(disk)], check=True)
    db, ledger = disk / "wf.db", folder / "ledger"
    (folder / "flow.yaml").write_text(FLOW)
    (folder / "ledger_actions.py").write_text(ACTIONS)
    with wfdsl.Engine(str(db)) as engine:
        for i in range(RUNS):
            engine.submit(folder / "flow.yaml", input={"blob": "x" * 200}, run_id=f"r{i:02d}")
    report: dict[str, Any] = {"shm_before": (disk / "wf.db-shm").exists()}
    stat = os.statvfs(disk)
    with open(disk / "filler", "wb") as handle:
        left = stat.f_bavail * stat.f_frsize - 200 * 1024
        while left > 0:
            left -= handle.write(b"\0" * min(65536, left))
    env = {**os.environ, "LEDGER": str(ledger), "PYTHONPATH": str(folder)}
    logs = [folder / f"worker{i}.err" for i in range(2)]
    workers = [
        subprocess.Popen(
            [*WFDSL, "worker", "--db", str(db), "--actions", "ledger_actions", "--lease", "10"],
            env=env,
            cwd=folder,
            stdout=subprocess.DEVNULL,
            stderr=log.open("w"),
        )
        for log in logs
    ]
    try:
        listed = subprocess.run(
            [*WFDSL, "runs", "list", "--db", str(db)], capture_output=True, text=True, timeout=120
        )
        report["list_full"] = {"rc": listed.returncode, "out": listed.stdout, "err": listed.stderr}
        deadline = time.monotonic() + 120
        while not all("disk is full" in log.read_text() for log in logs):
            if time.monotonic() > deadline or any(w.poll() is not None for w in workers):
                break
            time.sleep(0.1)
        report["alive_while_full"] = [w.poll() is None for w in workers]
        report["said_full"] = ["disk is full" in log.read_text() for log in logs]
        report["while_full"] = statuses(db)
        (disk / "filler").unlink()  # space returns
        deadline = time.monotonic() + 180
        while statuses(db).get("completed") != RUNS and time.monotonic() < deadline:
            time.sleep(0.2)
        report["end"] = statuses(db)
        report["files"] = {p.name: p.stat().st_size for p in disk.iterdir()}
    finally:
        for w in workers:
            w.terminate()
        report["rc"] = [w.wait(60) for w in workers]
    report["logs"] = [log.read_text()[-2000:] for log in logs]
    report["ledger"] = [json.loads(t) for t in ledger.read_text().splitlines()]
    conn = sqlite3.connect(db)
    try:
        report["integrity"] = conn.execute("PRAGMA integrity_check").fetchall()
        report["keys"] = [
            json.loads(data)["key"]
            for (data,) in conn.execute("SELECT data FROM events WHERE type = 'action_started'")
        ]
    finally:
        conn.close()
    return report


if __name__ == "__main__":
    print(json.dumps(main(Path(sys.argv[1]))))
