"""What every scenario shares: options, summaries of repeated measurements,
readings of a process from /proc, the machine's description, and the
workflows the scenarios run. Scenarios import this; it imports no scenario.
"""

from __future__ import annotations

import json
import os
import platform
import sqlite3
import subprocess
import sys
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

BENCH = Path(__file__).resolve().parent
RUN_PY = BENCH / "run.py"
CLOCK_TICKS = os.sysconf("SC_CLK_TCK")


@dataclass(slots=True)
class Options:
    """How a scenario runs: ``quick`` (small sizes), ``peers`` (measure the
    peers too), ``reps`` (None: the scenario's default), ``params`` (size
    overrides from ``--param name=value``), ``workdir`` (files go here: the
    project's disk, not a tmpfs)."""

    quick: bool = False
    peers: bool = True
    reps: int | None = None
    params: dict[str, str] = field(default_factory=dict)
    workdir: Path = BENCH

    def size(self, name: str, full: int, quick: int) -> int:
        if name in self.params:
            return int(self.params[name])
        return quick if self.quick else full

    def repetitions(self, full: int, quick: int = 2) -> int:
        if self.reps is not None:
            return self.reps
        return quick if self.quick else full


def _median(values: Sequence[float]) -> float:
    # statistics is imported here, not at the top: engine children of the
    # bench import this module, and their memory is what some scenarios read.
    import statistics

    return statistics.median(values)


def summary(values: Sequence[float]) -> dict[str, Any]:
    """Median, min and max of repeated measurements (and every value)."""
    clean = [v for v in values if v == v]  # drop NaN
    if not clean:
        return {"median": None, "min": None, "max": None, "values": []}
    return {
        "median": _median(clean),
        "min": min(clean),
        "max": max(clean),
        "values": [round(v, 6) for v in clean],
    }


def median(values: Sequence[float]) -> float | None:
    clean = [v for v in values if v == v]
    return _median(clean) if clean else None


def percentile(values: Sequence[float], q: float) -> float:
    """The q-th percentile (0..100) by nearest rank."""
    ordered = sorted(values)
    if not ordered:
        return float("nan")
    rank = max(0, min(len(ordered) - 1, round(q / 100 * len(ordered) + 0.5) - 1))
    return ordered[rank]


def ratio(a: float | None, b: float | None) -> float | None:
    if a is None or b is None or b == 0:
        return None
    return a / b


def target(
    value: float | None, *, below: float | None = None, above: float | None = None, text: str
) -> dict[str, Any]:
    """A target of the issue and whether ``value`` meets it."""
    met: bool | None
    if value is None:
        met = None
    elif below is not None:
        met = value < below
    else:
        assert above is not None
        met = value >= above
    return {"target": text, "value": value, "met": met}


def interleave(
    reps: int, measures: dict[str, Callable[[], dict[str, float]]]
) -> dict[str, list[float]]:
    """Run each measure once per repetition, in turn (A B C A B C ...), so a
    change in the machine's load moves every series alike. A measure returns
    named figures; the series are keyed ``measure.figure``."""
    results: dict[str, list[float]] = {}
    for _ in range(reps):
        for name, measure in measures.items():
            for key, value in measure().items():
                results.setdefault(f"{name}.{key}", []).append(value)
    return results


# ------------------------------------------------------------------ processes


def rss_mb(pid: int | str = "self") -> float:
    """Resident set size (VmRSS) of a process, in MB."""
    return _status_kb(pid, "VmRSS:") / 1024


def peak_rss_mb(pid: int | str = "self") -> float:
    return _status_kb(pid, "VmHWM:") / 1024


def _status_kb(pid: int | str, key: str) -> float:
    with open(f"/proc/{pid}/status") as status:
        for line in status:
            if line.startswith(key):
                return float(line.split()[1])
    return float("nan")


def cpu_seconds(pid: int | str = "self") -> float:
    """User + system CPU time of a process (utime + stime of /proc/PID/stat)."""
    with open(f"/proc/{pid}/stat") as stat:
        fields = stat.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / CLOCK_TICKS


def file_bytes(path: str | Path) -> int:
    """The database with its WAL (a checkpointed file has an empty WAL)."""
    return sum(os.path.getsize(p) for p in (f"{path}", f"{path}-wal") if os.path.exists(p))


def checkpoint(path: str | Path) -> None:
    conn = sqlite3.connect(str(path))
    try:
        conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    finally:
        conn.close()


def byte_compile_wfdsl() -> None:
    """Byte-compile the wfdsl package where it is installed, as ``pip
    install`` does: an engine child then loads .pyc files like an installed
    engine, instead of compiling every module from source into its memory
    (this machine sets PYTHONDONTWRITEBYTECODE, so nothing else writes them)."""
    import compileall
    import importlib.util

    for name in ("wfdsl", "wfdsl.dsl", "wfdsl.interpreter"):
        spec = importlib.util.find_spec(name)
        for folder in (spec.submodule_search_locations or []) if spec else []:
            compileall.compile_dir(folder, quiet=1)


def spawn_child(scenario: str, request: dict[str, Any]) -> subprocess.Popen[str]:
    """Start ``run.py --child SCENARIO`` with ``request`` on stdin; the child
    prints JSON lines on stdout."""
    process = subprocess.Popen(
        [sys.executable, str(RUN_PY), "--child", scenario],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
        env={**os.environ, "PYTHONDONTWRITEBYTECODE": "1"},
    )
    assert process.stdin is not None
    process.stdin.write(json.dumps(request))
    process.stdin.close()
    return process


def read_message(process: subprocess.Popen[str], *, timeout: float) -> dict[str, Any]:
    """The child's next JSON line; raises if it exits or stays silent."""
    assert process.stdout is not None
    import selectors

    with selectors.DefaultSelector() as selector:
        selector.register(process.stdout, selectors.EVENT_READ)
        if not selector.select(timeout):
            raise TimeoutError(f"child said nothing for {timeout:g}s")
    line = process.stdout.readline()
    if not line:
        raise RuntimeError(f"child exited with {process.wait()} before answering")
    message: dict[str, Any] = json.loads(line)
    return message


def say(message: dict[str, Any]) -> None:
    """From a child: one JSON line to the parent."""
    sys.stdout.write(json.dumps(message) + "\n")
    sys.stdout.flush()


@contextmanager
def timed() -> Iterator[Callable[[], float]]:
    started = time.perf_counter()
    end: list[float] = []
    yield lambda: (end[0] if end else time.perf_counter()) - started
    end.append(time.perf_counter())


# ------------------------------------------------------------------ the machine


def machine() -> dict[str, Any]:
    """What the figures were measured on, load included."""
    model = platform.processor() or platform.machine()
    try:
        with open("/proc/cpuinfo") as cpuinfo:
            for line in cpuinfo:
                if line.startswith("model name"):
                    model = line.split(":", 1)[1].strip()
                    break
    except OSError:
        pass
    return {
        "cpu": model,
        "cores": os.cpu_count(),
        "load_avg": [round(x, 2) for x in os.getloadavg()],
        "python": platform.python_version(),
        "sqlite": sqlite3.sqlite_version,
        "kernel": platform.release(),
    }


# ------------------------------------------------------------------ workflows


def task_flow(steps: int, name: str | None = None) -> dict[str, Any]:
    """``steps`` no-op task states in a row: the issue's "10-step workflow"."""
    states: dict[str, Any] = {}
    for i in range(steps):
        state: dict[str, Any] = {"type": "task", "action": "noop", "args": {}}
        state.update({"end": True} if i == steps - 1 else {"next": f"s{i + 1}"})
        states[f"s{i}"] = state
    return {"wfdsl": "1", "name": name or f"bench-{steps}", "start": "s0", "states": states}


def wait_flow(kind: str) -> dict[str, Any]:
    """A run that parks: on a timer due at ``input.due`` (ISO text), on a
    one-day timer, or on the signal ``go``; then one no-op task and the end."""
    wait: dict[str, Any] = {"type": "wait", "next": "after"}
    if kind == "until":
        wait["until"] = "${ input.due }"
    elif kind == "timer":
        wait["timer"] = "1d"
    else:
        wait["signal"] = "go"
    doc: dict[str, Any] = {
        "wfdsl": "1",
        "name": f"bench-wait-{kind}",
        "start": "park",
        "states": {
            "park": wait,
            "after": {"type": "task", "action": "noop", "args": {}, "end": True},
        },
    }
    if kind == "signal":
        doc["signals"] = {"go": {}}
    return doc


# ------------------------------------------------------------------ wfdsl


def wfdsl_engine(path: str | Path, synchronous: str = "FULL", **kwargs: Any) -> Any:
    """An engine on a file with the real clock and an inline ``noop`` action."""
    from wfdsl.interpreter.engine import Engine

    engine = Engine(str(path), synchronous=synchronous, **kwargs)
    engine.action("noop", inline=True)(lambda: None)
    return engine


class Scratch:
    """Numbered database files in one folder, removed with their WAL after use."""

    def __init__(self, workdir: Path, prefix: str) -> None:
        import tempfile

        self.folder = Path(tempfile.mkdtemp(prefix=f"wfdsl-bench-{prefix}-", dir=workdir))
        self.count = 0

    def path(self, tag: str) -> Path:
        self.count += 1
        return self.folder / f"{tag}-{self.count}.db"

    def cleanup(self) -> None:
        import shutil

        shutil.rmtree(self.folder, ignore_errors=True)

    def __enter__(self) -> Scratch:
        return self

    def __exit__(self, *exc: object) -> None:
        self.cleanup()
