"""``wfdsl worker`` start-up (issue 11 items 4a and 10): SIGTERM stops it
with exit 0 at every point of its start, not only once it serves (docs/cli.md),
and a store it cannot open yet for lack of space is waited for, not exit 74.

Each start-up point is reached for sure, not by a sleep: an ``--actions``
module (or a flow's ``imports:`` module) that writes a marker and then takes
its time holds the worker in that step; a 4 KiB file size limit (SIGXFSZ
ignored, as on a full disk SQLite's ``-shm`` index cannot be created) holds
it at opening the store, where it must say so and keep trying.
"""

from __future__ import annotations

import os
import shlex
import signal
import subprocess
import time
from pathlib import Path

import pytest
from cli_process import WFDSL, with_file_size_limit

import wfdsl

# Imported at start-up: says it is there, then keeps the worker in this step.
SLOW_MODULE = """
import os, pathlib, time
pathlib.Path(os.environ["MARKER"]).write_text("here")
time.sleep(60)
"""

FLOW_IMPORTING = """
wfdsl: "1"
name: importing
imports: [slow_import]
start: fin
states:
  fin: {type: succeed}
"""

WAITER = """
wfdsl: "1"
name: waiter
start: hold
states:
  hold: {type: wait, signal: go, as: got, next: done}
  done: {type: succeed, output: "${ vars.got }"}
"""


def wait_for(predicate: object, proc: subprocess.Popen[str], what: str) -> None:
    deadline = time.monotonic() + 60
    while not predicate():  # type: ignore[operator]
        assert proc.poll() is None, f"the worker ended before {what}: {proc.communicate()}"
        assert time.monotonic() < deadline, f"the worker never reached {what}"
        time.sleep(0.02)


def terminate(proc: subprocess.Popen[str]) -> tuple[int, str]:
    proc.send_signal(signal.SIGTERM)
    proc.communicate(timeout=60)
    return proc.returncode, Path(proc.args[-1]).read_text()  # type: ignore[index]


def start(tmp_path: Path, *args: str, limit: int | None = None) -> subprocess.Popen[str]:
    env = {**os.environ, "MARKER": str(tmp_path / "marker"), "PYTHONPATH": str(tmp_path)}
    prefix = with_file_size_limit(limit) if limit else WFDSL
    # stderr goes to a file the test reads while the worker runs; its path
    # rides along as the last argument of a shell that redirects to it.
    err = tmp_path / "worker.err"
    err.write_text("")
    command = " ".join(
        shlex.quote(a) for a in [*prefix, "worker", "--db", str(tmp_path / "wf.db"), *args]
    )
    return subprocess.Popen(
        ["bash", "-c", f'exec {command} 2>"$0"', str(err)],
        cwd=tmp_path,
        env=env,
        stdout=subprocess.DEVNULL,
        text=True,
    )


@pytest.mark.parametrize("point", ["importing --actions", "registering a flow's imports"])
def test_sigterm_while_the_worker_loads_code_is_exit_0(tmp_path: Path, point: str) -> None:
    (tmp_path / "slow_actions.py").write_text(SLOW_MODULE)
    (tmp_path / "slow_import.py").write_text(SLOW_MODULE)
    (tmp_path / "importing.yaml").write_text(FLOW_IMPORTING)
    if point == "importing --actions":
        proc = start(tmp_path, "--actions", "slow_actions")
    else:
        proc = start(tmp_path, str(tmp_path / "importing.yaml"))
    wait_for((tmp_path / "marker").exists, proc, point)
    code, err = terminate(proc)
    assert code == 0, (point, code, err)
    assert "worker stopped" in err and "Traceback" not in err, err


def test_sigterm_while_the_worker_waits_for_the_disk_is_exit_0(tmp_path: Path) -> None:
    with wfdsl.Engine(str(tmp_path / "wf.db")) as engine:
        (tmp_path / "waiter.yaml").write_text(WAITER)
        engine.submit(tmp_path / "waiter.yaml", run_id="w1")
    # Closed by its last process: the -shm index is gone, and recreating it
    # needs 32 KiB the limit refuses, as a full disk would.
    assert not (tmp_path / "wf.db-shm").exists()
    proc = start(tmp_path, limit=4096)
    err = tmp_path / "worker.err"
    wait_for(lambda: "trying again" in err.read_text(), proc, "a retry of the store")
    text = err.read_text()
    assert "wfdsl: store error:" in text and "I/O error" in text, text
    code, said = terminate(proc)
    assert code == 0, (code, said)
    assert "worker stopped" in said and "Traceback" not in said


def test_sigterm_once_the_worker_serves_is_exit_0(tmp_path: Path) -> None:
    proc = start(tmp_path)
    err = tmp_path / "worker.err"
    # The banner: asyncio's handler comes right after it.
    wait_for(lambda: "Ctrl-C to stop" in err.read_text(), proc, "the banner")
    code, err_text = terminate(proc)
    assert code == 0, (code, err_text)
    assert "worker stopped" in err_text


def test_runs_list_reads_a_store_whose_index_cannot_be_created(tmp_path: Path) -> None:
    db = tmp_path / "wf.db"
    with wfdsl.Engine(str(db)) as engine:
        (tmp_path / "waiter.yaml").write_text(WAITER)
        engine.submit(tmp_path / "waiter.yaml", run_id="w1")
    limited = with_file_size_limit(4096)
    listed = subprocess.run(
        [*limited, "runs", "list", "--db", str(db)], capture_output=True, text=True, timeout=60
    )
    assert listed.returncode == 0, listed.stderr
    assert "w1" in listed.stdout and "running" in listed.stdout
    shown = subprocess.run(
        [*limited, "runs", "show", "w1", "--db", str(db)],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert shown.returncode == 0 and "waiter" in shown.stdout, shown.stderr
    # A write still cannot happen there, and says why in one line.
    sent = subprocess.run(
        [*limited, "signal", "w1", "go", "--db", str(db), "--data", '"x"'],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert sent.returncode == 74, sent.stderr
    assert sent.stderr.startswith("wfdsl: store error:") and "Traceback" not in sent.stderr
    # Nothing was stored, and the file is a normal store again for everyone.
    with wfdsl.Engine(str(db)) as engine:
        assert engine.store.inbox("w1") == []
        engine.signal("w1", "go", "later")
