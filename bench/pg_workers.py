"""Worker processes on one PostgreSQL database, started and told to go together.

A child is ``python bench/pg_workers.py`` with one JSON request line on
stdin; it prepares (imports, connects, registers), prints ``{"ready": pid}``,
waits for a ``go`` line, works, and prints JSON lines back. Kinds:

- ``raw``: the raw-SQL loop of ``pg_raw.work``; prints ``{"steps", "seconds"}``.
- ``wfdsl``: an engine on the URL (``Engine(store=open_store(url))``) with an
  inline ``noop`` and a ``hold`` action, serving as ``wfdsl worker`` does.
  Every ``report`` seconds it prints ``{"completed": n, "in_flight": k}``
  when they changed (n: runs this process completed). A ``stop`` line ends
  it; it then prints ``{"cpu_s", "completed"}``. ``hold`` hangs for good if
  it was called before the process got SIGUSR1, else returns at once (the
  recovery scenario parks calls with it, kills one worker, and tells the
  survivors that calls from now on are the resumed ones).

The parent side is :class:`Fleet`: start N children, wait until all are
ready, ``go()``, read their lines, stop or kill them.
"""

from __future__ import annotations

import contextlib
import json
import os
import selectors
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent


def _say(message: dict[str, Any]) -> None:
    sys.stdout.write(json.dumps(message) + "\n")
    sys.stdout.flush()


def _cpu_self() -> float:
    times = os.times()
    return times.user + times.system


def wfdsl_store(url: str) -> Any:
    from wfdsl.interpreter.store.open import open_store

    return open_store(url)


def engine_on(url: str, owner: str | None = None, **kwargs: Any) -> Any:
    """An engine on ``url`` with the real clock and an inline ``noop``."""
    from wfdsl.interpreter.engine import Engine

    engine = Engine(store=wfdsl_store(url), owner=owner, **kwargs)
    engine.action("noop", inline=True)(lambda: None)
    return engine


def _wfdsl_child(request: dict[str, Any]) -> None:
    import asyncio

    engine = engine_on(request["url"], request.get("owner"), **request.get("engine", {}))
    released = [False]
    signal.signal(signal.SIGUSR1, lambda *_: released.__setitem__(0, True))

    @engine.action("hold")
    async def hold() -> None:
        if released[0]:
            return
        await asyncio.sleep(86400)

    for doc in request.get("flows", []):
        engine.register(doc)
    completed = [0]
    lags: list[float] = []
    due = request.get("due")  # timers: the lag of each timer_fired from its due

    def seen(row: Any, events: Any) -> None:
        for event in events:
            if event.type == "run_completed":
                completed[0] += 1
            elif due is not None and event.type == "timer_fired":
                lags.append(time.time() - float(event.data.get("due", 0)))

    engine.driver.on_transition = seen
    _say({"ready": os.getpid()})
    if sys.stdin.readline().strip() != "go":
        return
    cpu0 = _cpu_self()
    report = float(request.get("report", 0.005))

    async def main() -> None:
        loop = asyncio.get_running_loop()
        stop = asyncio.Event()
        loop.add_reader(sys.stdin.fileno(), stop.set)
        async with engine:
            last: tuple[int, int] = (-1, -1)
            while not stop.is_set():
                now = (completed[0], engine.driver.in_flight)
                if now != last:
                    _say({"completed": now[0], "in_flight": now[1]})
                    last = now
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(stop.wait(), report)

    asyncio.run(main())
    _say({"cpu_s": _cpu_self() - cpu0, "completed": completed[0], "lags": lags})
    engine.close()


def _raw_child(request: dict[str, Any]) -> None:
    import pg_raw
    import psycopg  # noqa: F401  (imported before ready)

    _say({"ready": os.getpid()})
    if sys.stdin.readline().strip() != "go":
        return
    cpu0 = _cpu_self()
    started = time.perf_counter()
    steps = pg_raw.work(request["url"], request["owner"], request["steps"], request["limit"])
    _say({"steps": steps, "seconds": time.perf_counter() - started, "cpu_s": _cpu_self() - cpu0})


def child() -> None:
    sys.path.insert(0, str(HERE))
    request = json.loads(sys.stdin.readline())
    {"raw": _raw_child, "wfdsl": _wfdsl_child}[request["kind"]](request)


# ----------------------------------------------------------------------------- the parent


class Fleet:
    """N children of one kind, started together."""

    def __init__(self, requests: list[dict[str, Any]], *, timeout: float = 120) -> None:
        self.processes: list[subprocess.Popen[str]] = []
        for request in requests:
            process = subprocess.Popen(
                [sys.executable, str(HERE / "pg_workers.py")],
                stdin=subprocess.PIPE,
                stdout=subprocess.PIPE,
                text=True,
                bufsize=1,
                env={**os.environ, "PYTHONDONTWRITEBYTECODE": "1"},
            )
            assert process.stdin is not None
            process.stdin.write(json.dumps(request) + "\n")
            process.stdin.flush()
            self.processes.append(process)
        self.selector = selectors.DefaultSelector()
        for index, process in enumerate(self.processes):
            assert process.stdout is not None
            self.selector.register(process.stdout, selectors.EVENT_READ, index)
        self.last: list[dict[str, Any]] = [{} for _ in self.processes]
        self.dead: set[int] = set()
        ready = 0
        deadline = time.monotonic() + timeout
        while ready < len(self.processes):
            for _, message in self.messages(deadline - time.monotonic()):
                ready += "ready" in message

    @property
    def pids(self) -> list[int]:
        return [p.pid for p in self.processes]

    def tell(self, line: str, only: list[int] | None = None) -> None:
        for index, process in enumerate(self.processes):
            if index in self.dead or (only is not None and index not in only):
                continue
            assert process.stdin is not None
            try:
                process.stdin.write(line + "\n")
                process.stdin.flush()
            except BrokenPipeError:
                pass

    def go(self) -> float:
        self.tell("go")
        return time.perf_counter()

    def messages(self, timeout: float) -> Iterator[tuple[int, dict[str, Any]]]:
        """The lines available within ``timeout`` (at least one, or raise)."""
        if timeout <= 0:
            raise TimeoutError("workers said nothing in time")
        events = self.selector.select(timeout)
        if not events:
            raise TimeoutError(f"workers said nothing for {timeout:.0f} s")
        for key, _ in events:
            index = key.data
            line = key.fileobj.readline()  # type: ignore[union-attr]
            if not line:
                self.selector.unregister(key.fileobj)
                self.dead.add(index)
                code = self.processes[index].wait()
                if code not in (0, -signal.SIGKILL):
                    raise RuntimeError(f"worker {index} exited {code}")
                continue
            message = json.loads(line)
            self.last[index] = {**self.last[index], **message}
            yield index, message

    def until(self, predicate: Any, timeout: float) -> float:
        """Read lines until ``predicate(self)`` holds; returns that moment."""
        deadline = time.monotonic() + timeout
        while not predicate(self):
            for _ in self.messages(deadline - time.monotonic()):
                pass
        return time.perf_counter()

    def total(self, key: str) -> int:
        return sum(int(last.get(key, 0)) for last in self.last)

    def finish(self, timeout: float = 120) -> list[dict[str, Any]]:
        """Tell every live child to stop; their last messages."""
        self.tell("stop")
        final: list[dict[str, Any]] = [{} for _ in self.processes]
        deadline = time.monotonic() + timeout
        live = [i for i in range(len(self.processes)) if i not in self.dead]
        for index in live:
            process = self.processes[index]
            assert process.stdout is not None
            for line in process.stdout:
                message = json.loads(line)
                if "cpu_s" in message:
                    final[index] = message
            process.wait(max(1.0, deadline - time.monotonic()))
        self.close()
        return final

    def kill(self, index: int) -> None:
        self.processes[index].send_signal(signal.SIGKILL)

    def close(self) -> None:
        for process in self.processes:
            if process.poll() is None:
                process.kill()
                process.wait()
        self.selector.close()


def server_cpu_seconds(data_dir: Path) -> float:
    """CPU seconds of the postmaster and its children so far (server side),
    from /proc: the postmaster's pid is the first line of postmaster.pid."""
    from measure import cpu_seconds

    try:
        master = int((data_dir / "postmaster.pid").read_text().split()[0])
    except (OSError, ValueError, IndexError):
        return float("nan")
    total = 0.0
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat") as stat:
                fields = stat.read().rsplit(")", 1)[1].split()
            if int(entry) == master:
                # With the children it reaped (backends of closed connections).
                ticks = sum(int(f) for f in fields[11:15])
                total += ticks / os.sysconf("SC_CLK_TCK")
            elif int(fields[1]) == master:
                total += cpu_seconds(entry)
        except (OSError, ValueError):
            continue
    return total


if __name__ == "__main__":
    child()
