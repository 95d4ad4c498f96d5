"""``wfdsl worker --metrics-addr``: a real worker process serves the metrics
of the runs it drives; a bad address is a usage error."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx
from click.testing import CliRunner

from wfdsl.cli import cli

WFDSL = [sys.executable, "-c", "from wfdsl.cli import main; main()"]

FLOW = """
wfdsl: "1"
name: quick
version: 1
start: done
states:
  done: {type: succeed, output: 1}
"""


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def test_a_worker_serves_the_metrics_of_the_runs_it_drives(tmp_path: Path) -> None:
    (tmp_path / "quick.yaml").write_text(FLOW)
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    env.pop("WFDSL_DB", None)
    db = str(tmp_path / "w.db")
    port = free_port()
    worker = subprocess.Popen(
        [*WFDSL, "worker", "quick.yaml", "--db", db, "--metrics-addr", str(port)],
        cwd=tmp_path,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        from wfdsl.interpreter.engine import Engine

        engine = Engine(db)
        run = engine.submit(str(tmp_path / "quick.yaml"), None)
        engine.close()
        text = ""
        for _ in range(600):  # polls, not a time bound: the worker may be slow to start
            try:
                text = httpx.get(f"http://127.0.0.1:{port}/metrics").text
            except httpx.TransportError:
                text = ""
            if 'wfdsl_runs_ended_total{status="completed",workflow="quick"} 1.0' in text:
                break
            time.sleep(0.1)
        assert 'wfdsl_runs_ended_total{status="completed",workflow="quick"} 1.0' in text, run.id
        assert "wfdsl_worker_held_runs" in text
    finally:
        worker.send_signal(signal.SIGTERM)
        _, err = worker.communicate(timeout=60)
    assert f"metrics at http://127.0.0.1:{port}/metrics" in err
    assert worker.returncode == 0, err


def test_a_bad_metrics_address_is_a_usage_error() -> None:
    result = CliRunner().invoke(cli, ["worker", "--metrics-addr", "localhost:http"])
    assert result.exit_code == 2
    assert "is not PORT or HOST:PORT" in result.output
