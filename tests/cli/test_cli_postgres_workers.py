"""Many workers on one PostgreSQL database (docs/operations.md, "Running N
workers"): two ``wfdsl worker --db postgresql://...`` processes complete
orders that a third process, ``wfdsl signal``, lets go on.

The two workers have different actions (capability routing), so both must
take part: the packer prepares each order, the order waits for a
``shipped`` signal, then the shipper ships it. Each call appends its
idempotency key and process to a ledger outside the database: every call
ran once, in the process that has its action.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

from wfdsl.interpreter.engine import Engine

WFDSL = [sys.executable, "-c", "from wfdsl.cli import main; main()"]
ORDERS = 6

ACTIONS = """
import json, os
import wfdsl

def note(ctx, what):
    with open(os.environ["ORDERS_LEDGER"], "a") as f:
        f.write(json.dumps({"key": ctx.idempotency_key, "what": what, "pid": os.getpid()}) + "\\n")

if os.environ.get("ORDERS_ROLE") == "packer":
    @wfdsl.action("pack")
    def pack(ctx: wfdsl.ActionContext) -> int:
        note(ctx, "pack")
        return os.getpid()
else:
    @wfdsl.action("ship")
    def ship(ctx: wfdsl.ActionContext) -> int:
        note(ctx, "ship")
        return os.getpid()
"""

FLOW = """
wfdsl: "1"
name: order
signals: {shipped: {}}
start: pack
states:
  pack: {type: task, action: pack, result: packer, next: wait}
  wait: {type: wait, signal: shipped, as: tracking, next: ship}
  ship: {type: task, action: ship, result: shipper, next: done}
  done:
    type: succeed
    output: {packer: "${ vars.packer }", shipper: "${ vars.shipper }", tracking: "${ vars.tracking }"}
"""


def wait_for(what: str, check: Callable[[], bool], *processes: subprocess.Popen[str]) -> None:
    deadline = time.monotonic() + 180  # a hang guard, not a speed bound
    while not check():
        for process in processes:
            if process.poll() is not None:
                _, err = process.communicate()
                raise AssertionError(f"a worker exited ({process.returncode}) before {what}: {err}")
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.1)


def test_two_workers_on_one_database_complete_orders_a_third_process_signals(
    tmp_path: Path, postgres_url: str
) -> None:
    (tmp_path / "orderactions.py").write_text(ACTIONS)
    (tmp_path / "order.yaml").write_text(FLOW)
    ledger = tmp_path / "ledger"
    env = {k: v for k, v in os.environ.items() if k != "WFDSL_DB"}
    env |= {"PYTHONUNBUFFERED": "1", "ORDERS_LEDGER": str(ledger)}

    def worker(role: str) -> subprocess.Popen[str]:
        return subprocess.Popen(
            [*WFDSL, "worker", "--db", postgres_url, "--actions", "orderactions", "order.yaml"],
            cwd=tmp_path,
            env=env | {"ORDERS_ROLE": role},
            text=True,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
        )

    packer, shipper = worker("packer"), worker("shipper")
    try:
        with Engine(postgres_url) as engine:
            order = engine.register(FLOW)
            ids = [engine.start(order, run_id=f"order-{n}").id for n in range(ORDERS)]

            def statuses() -> set[str]:
                return {engine.get(run_id).status for run_id in ids}

            def waiting_all() -> bool:
                return statuses() == {"waiting"}

            wait_for("every order to be packed", waiting_all, packer, shipper)
            for run_id in ids:  # the third process
                sent = subprocess.run(
                    [
                        *WFDSL,
                        "signal",
                        run_id,
                        "shipped",
                        "--db",
                        postgres_url,
                        "--data",
                        json.dumps(f"T-{run_id}"),
                    ],
                    cwd=tmp_path,
                    env=env,
                    capture_output=True,
                    text=True,
                )
                assert sent.returncode == 0, sent.stderr
            wait_for(
                "every order to be shipped", lambda: statuses() == {"completed"}, packer, shipper
            )
            outputs = {run_id: engine.get(run_id).output for run_id in ids}
    finally:
        for process in (packer, shipper):
            if process.poll() is None:
                process.send_signal(signal.SIGTERM)
        errors = [process.communicate(timeout=60)[1] for process in (packer, shipper)]
    assert packer.returncode == 0 and shipper.returncode == 0, errors
    assert all("Traceback" not in err for err in errors)

    assert outputs == {
        run_id: {"packer": packer.pid, "shipper": shipper.pid, "tracking": f"T-{run_id}"}
        for run_id in ids
    }
    calls = [json.loads(line) for line in ledger.read_text().splitlines()]
    # Every call once, in the process that has its action.
    assert sorted((c["what"], c["pid"]) for c in calls) == sorted(
        [("pack", packer.pid)] * ORDERS + [("ship", shipper.pid)] * ORDERS
    )
    assert len({c["key"] for c in calls}) == 2 * ORDERS
