"""Designer request latency while the engine drives 1,000 runs (issue 13 §1
"Blocking I/O on the event loop").

Not a test: it prints figures. ``python bench/designer_latency.py [--runs N]
[--steps S] [--requests R]`` starts ``wfdsl serve``'s app (uvicorn on a free
loopback port, the engine driving, as ``wfdsl serve`` does) on a new store
with N runs of an S-step flow whose actions each take a few milliseconds of
I/O, then times R requests of the kind the run pages make (a run's details,
its history, the runs list) while the runs are being driven, and once more
after every run has finished (the idle baseline). It prints p50/p90/p99/max
in milliseconds and, as JSON on the last line, every figure.

Before the store left the event loop, a request waited for whatever tick was
on the loop (a group commit of hundreds of runs) and for the blocking store
calls of other requests.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import socket
import statistics
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

import httpx
import uvicorn
from wfdsl.designer.app import create_app
from wfdsl.designer.security import csrf_for
from wfdsl.interpreter.engine import Engine

TOKEN = "bench-token-0123456789"


def flow(steps: int) -> str:
    lines = ['wfdsl: "1"', "name: latency", "start: s0", "states:"]
    for i in range(steps):
        lines.append(f"  s{i}: {{type: task, action: work, next: s{i + 1}}}")
    lines.append(f"  s{steps}: {{type: succeed}}")
    return "\n".join(lines) + "\n"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


def percentiles(samples: list[float]) -> dict[str, float]:
    ordered = sorted(samples)

    def at(q: float) -> float:
        return ordered[min(len(ordered) - 1, int(q * len(ordered)))] * 1000

    return {
        "n": len(ordered),
        "p50_ms": round(at(0.50), 2),
        "p90_ms": round(at(0.90), 2),
        "p99_ms": round(at(0.99), 2),
        "max_ms": round(ordered[-1] * 1000, 2),
        "mean_ms": round(statistics.fmean(ordered) * 1000, 2),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--runs", type=int, default=1000)
    parser.add_argument("--steps", type=int, default=10)
    parser.add_argument("--requests", type=int, default=400)
    parser.add_argument("--action-ms", type=float, default=5.0)
    args = parser.parse_args()

    folder = Path(tempfile.mkdtemp(prefix="wfdsl-latency-"))
    workspace = folder / "ws"
    workspace.mkdir()
    (workspace / "latency.yaml").write_text(flow(args.steps))
    engine = Engine(folder / "runs.db", drain_seconds=5)
    delay = args.action_ms / 1000

    @engine.action("work")
    async def work() -> None:
        await asyncio.sleep(delay)  # a call's I/O: the loop is free meanwhile

    workflow = engine.register(workspace / "latency.yaml")
    runs = engine.start_many(workflow, [None] * args.runs)
    probe = runs[len(runs) // 2].id

    port = free_port()
    host = f"127.0.0.1:{port}"
    app = create_app(workspace, engine=engine, token=TOKEN, allowed_hosts=[host])
    server = uvicorn.Server(
        uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning", lifespan="on")
    )
    thread = threading.Thread(target=server.run, daemon=True)
    started = time.monotonic()
    thread.start()
    while not server.started:
        time.sleep(0.01)

    headers = {"Origin": f"http://{host}", "X-CSRF-Token": csrf_for(TOKEN)}
    paths = [f"/api/runs/{probe}", f"/api/runs/{probe}/history", "/api/runs?limit=20"]
    client = httpx.Client(
        base_url=f"http://{host}", headers=headers, cookies={"wfdsl_token": TOKEN}, timeout=60
    )

    def sample(count: int) -> list[float]:
        times = []
        for i in range(count):
            t = time.perf_counter()
            response = client.get(paths[i % len(paths)])
            times.append(time.perf_counter() - t)
            response.raise_for_status()
        return times

    def active() -> int:
        return len(engine.list_runs(status="running", limit=args.runs))

    busy: list[float] = []
    while len(busy) < args.requests and active():
        busy += sample(10)
    during = active()
    while active():
        time.sleep(0.1)
    drive_seconds = time.monotonic() - started
    idle = sample(min(args.requests, 200))
    server.should_exit = True
    thread.join(30)
    engine.close()

    result: dict[str, Any] = {
        "runs": args.runs,
        "steps": args.steps,
        "still_running_after_sampling": during,
        "drive_seconds": round(drive_seconds, 2),
        "while_driving": percentiles(busy) if busy else None,
        "idle": percentiles(idle),
    }
    for name in ("while_driving", "idle"):
        figures = result[name]
        if figures:
            print(
                f"{name:>14}: n={figures['n']:4d} p50 {figures['p50_ms']:7.2f} ms  "
                f"p90 {figures['p90_ms']:7.2f}  p99 {figures['p99_ms']:7.2f}  "
                f"max {figures['max_ms']:7.2f}"
            )
    print(f"1,000 runs x {args.steps} steps driven in {drive_seconds:.1f} s", file=sys.stderr)
    print(json.dumps(result))


if __name__ == "__main__":
    main()
