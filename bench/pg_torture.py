"""Crash torture on one shared store: three worker processes, kill -9 of one
at a time (issue 13, section 4).

    python bench/pg_torture.py --url URL --points N [--seed S] [--json]
                               [--workers 3] [--copies 2]

Unlike ``bench/torture.py`` (one engine per SQLite file, virtual time),
here ``--workers`` processes serve ONE database at once, on real time, as
``wfdsl worker`` s on many machines would; ``URL`` is a PostgreSQL URL (or a
SQLite file path: the harness only uses the public engine and store API).
It reuses the crash harness of ``bench/torture.py``: the crash flows of
``tests/interpreter/crash_flows`` (with their durations shortened to real
time: a 1 h timer is 400 ms), their ledger-writing actions and deterministic
outside world (``x-crash``), the kill points (after the N-th commit holding
an event of a kind, after the N-th commit, inside the N-th action call, at
a random instant), and the checks of ``torture_lib.check``.

The workers run from a fork server (they hold no state of the parent). One
worker at a time is *armed* (told its kill point by SIGUSR1 and a file):
once it dies the parent counts the point, notes which of its side effects
were in flight, starts a fresh worker in its place and arms the next one in
turn. An armed worker that has not died after ``--patience`` more ledger
lines (its point was never reached) is SIGKILLed by the parent (kind
``outright``). Batches of runs (``--copies`` of each flow) are submitted
while kills remain; the parent sends each run's signals and handler calls
while it waits. At the end no worker is armed, every run finishes, the
workers are stopped with SIGTERM (a drain) and the database is compared
with a reference database driven by one worker that is never killed:
``lost``, ``duplicated``, ``reexecuted_unkilled``, ``diverged``,
``integrity_errors`` must all be 0.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import multiprocessing
import os
import random
import re
import shutil
import signal
import sys
import tempfile
import threading
import time
from collections import Counter
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

# Shortened for real time; ``1d`` stays (the signal comes first).
DURATIONS = {
    r"timer: 10m\b": "timer: 300ms",
    r"timer: 1h\b": "timer: 400ms",
    r"initial_interval: 5s\b": "initial_interval: 100ms",
    r"initial_interval: 1s\b": "initial_interval: 50ms",
}
KINDS = (
    "state_entered",
    "action_started",
    "action_completed",
    "action_failed",
    "retry_scheduled",
    "timer_started",
    "timer_fired",
    "signal_received",
    "branch_started",
    "branch_completed",
    "handler_called",
    "vars_changed",
    "undo_started",
    "undo_completed",
    "run_completed",
    "commit",
    "commit",
    "inflight",
    "inflight",
    "inflight",
    "random",
    "random",
)


def real_time_flows(folder: Path) -> Path:
    """The crash flows, durations shortened, written to ``folder``."""
    from torture_lib import FLOWS_DIR

    folder.mkdir(parents=True, exist_ok=True)
    for source in FLOWS_DIR.glob("*.yaml"):
        text = source.read_text()
        for pattern, replacement in DURATIONS.items():
            text = re.sub(pattern, replacement, text)
        (folder / source.name).write_text(text)
    return folder


# ----------------------------------------------------------------------------- a worker


class KillingProxy:
    """Any store, plus a SIGKILL right after the chosen commit (the crash
    harness's ``KillingStore``, for every backend)."""

    def __init__(self, store: Any, spec: Any) -> None:
        self._store = store
        self._spec = spec

    def commit(self, updates: Any, *, now: float) -> Any:
        results = self._store.commit(updates, now=now)
        self._spec.after_group(updates, results)
        return results

    def __getattr__(self, name: str) -> Any:
        return getattr(self._store, name)


def worker(url: str, ledger: str, token: str, arm: str, lease: float) -> None:
    """One worker process: serve ``url`` until SIGTERM; on SIGUSR1 read the
    kill point from ``arm`` and die there."""
    import torture_lib
    from wfdsl.interpreter.store.open import open_store

    import wfdsl

    harness = torture_lib.H
    harness.TOKEN = token
    spec = harness.KillSpec(None)

    def armed(*_: object) -> None:
        text = Path(arm).read_text().strip()
        if text.startswith("random:"):
            timer = threading.Timer(float(text.split(":", 1)[1]), harness.die)
            timer.daemon = True
            timer.start()
        else:
            kind, _, n = text.rpartition(":")
            spec.kind, spec.n = kind, int(n)
            spec.seen.clear()

    signal.signal(signal.SIGUSR1, armed)
    store = KillingProxy(open_store(url), spec)
    engine = wfdsl.Engine(store=store, owner=f"torture-{token}", lease_seconds=lease)
    harness.register(engine, Path(ledger), spec)

    async def serve() -> None:
        loop = asyncio.get_running_loop()
        loop.add_signal_handler(signal.SIGTERM, engine.stop)
        Path(arm + ".ready").write_text("ready")
        async with engine:
            await engine.serve()

    asyncio.run(serve())
    engine.close()


# ----------------------------------------------------------------------------- the parent


class Fleet:
    """``count`` workers from a fork server; one slot per worker."""

    def __init__(self, url: str, folder: Path, count: int, lease: float) -> None:
        self.url, self.folder, self.lease = url, folder, lease
        self.context = multiprocessing.get_context("forkserver")
        self.context.set_forkserver_preload(["torture_lib", "wfdsl", "psycopg"])
        self.ledger = str(folder / "ledger")
        self.slots: list[tuple[Any, str]] = []
        self.started = 0
        self.killed: set[str] = set()
        for _ in range(count):
            self.slots.append(self.spawn())
        for index in range(count):
            self.wait_ready(index)

    def spawn(self) -> tuple[Any, str]:
        self.started += 1
        token = f"w{self.started:04d}"
        arm = str(self.folder / f"arm-{token}")
        process = self.context.Process(
            target=worker, args=(self.url, self.ledger, token, arm, self.lease), daemon=True
        )
        process.start()
        return process, token

    def wait_ready(self, index: int, timeout: float = 120) -> None:
        process, token = self.slots[index]
        ready = self.folder / f"arm-{token}.ready"
        deadline = time.monotonic() + timeout
        while not ready.exists():
            if not process.is_alive():
                raise RuntimeError(f"worker {token} exited {process.exitcode} before serving")
            if time.monotonic() > deadline:
                raise RuntimeError(f"worker {token} did not start in {timeout:g} s")
            time.sleep(0.01)

    def arm(self, index: int, point: str) -> None:
        process, token = self.slots[index]
        (self.folder / f"arm-{token}").write_text(point)
        os.kill(process.pid, signal.SIGUSR1)

    def replace(self, index: int) -> None:
        self.slots[index] = self.spawn()
        self.wait_ready(index)

    def stop(self) -> list[int | None]:
        for process, _ in self.slots:
            if process.is_alive():
                os.kill(process.pid, signal.SIGTERM)
        codes = []
        for process, _ in self.slots:
            process.join(120)
            if process.is_alive():
                process.kill()
                process.join()
            codes.append(process.exitcode)
        return codes


def choose(rng: random.Random) -> str:
    kind = rng.choice(KINDS)
    if kind == "commit":
        return f"commit:{rng.randint(1, 8)}"
    if kind == "inflight":
        return f"inflight:{rng.randint(1, 4)}"
    if kind == "random":
        return f"random:{rng.uniform(0.0, 0.4):.4f}"
    return f"{kind}:{rng.randint(1, 2)}"


def sent(engine: Any, run_id: str, channel: str) -> int:
    seen = {m.seq for m in engine.store.inbox(run_id) if m.channel == channel}
    for event in engine.history(run_id):
        if event.type == "signal_received" and event.data.get("channel") == channel:
            seen.add(event.data["seq"])
    return len(seen)


def do_next(engine: Any, run_id: str, ops: list[dict[str, Any]]) -> bool:
    """The crash harness's ``do_next`` on real time: do the first op of the
    run not done yet (read from the store); False when all are done."""
    import wfdsl

    wanted: Counter[tuple[str, str]] = Counter()
    for op in ops:
        key = ("signal", op["signal"]) if "signal" in op else ("call", op["call"])
        wanted[key] += 1
        if key[0] == "signal":
            done = sent(engine, run_id, key[1])
        else:
            done = sum(
                1
                for e in engine.history(run_id)
                if e.type == "handler_called" and e.data.get("handler") == key[1]
            )
        if done >= wanted[key]:
            continue
        try:
            if key[0] == "signal":
                engine.signal(run_id, op["signal"], op.get("data"))
            else:
                engine.call(run_id, op["call"], op.get("args"))
        except wfdsl.WfdslError as exc:
            if "try again" not in str(exc):
                raise
        return True
    return False


class Batches:
    """Runs submitted so far, by batch; their ops done from the parent."""

    def __init__(self, engine: Any, flows: Path, copies: int) -> None:
        import yaml
        from torture_lib import FLOW_NAMES

        self.engine, self.copies = engine, copies
        self.specs = []
        for name in FLOW_NAMES:
            path = flows / f"{name}.yaml"
            meta = yaml.safe_load(path.read_text()).get("x-crash") or {}
            self.specs.append((name, path, meta))
        self.count = 0
        self.open: dict[str, dict[str, Any]] = {}
        self.all: dict[str, tuple[int, str]] = {}
        self.done_keys: set[str] = set()
        self.next_step = 0.0

    def submit(self) -> None:
        batch = self.count
        self.count += 1
        for name, path, meta in self.specs:
            for copy in range(self.copies):
                run_id = f"b{batch}-{name}-{copy}"
                self.engine.submit(path, input=meta.get("input"), run_id=run_id)
                early = list(meta.get("early") or ())
                while do_next(self.engine, run_id, early):
                    pass
                self.open[run_id] = meta
                self.all[run_id] = (batch, f"b0-{name}-{copy}")

    def step(self, every: float = 0.1) -> None:
        """Do the next op of each waiting run; forget the finished ones (at
        most every ``every`` seconds: the workers need the cores)."""
        if time.monotonic() < self.next_step:
            return
        self.next_step = time.monotonic() + every
        waiting = {r.id for r in self.engine.list_runs(status="waiting", limit=100_000)}
        active = waiting | {r.id for r in self.engine.list_runs(status="running", limit=100_000)}
        for run_id in list(self.open):
            if run_id not in active:
                run = self.engine.get(run_id)
                if run.done:
                    del self.open[run_id]
                    self.done_keys |= completed_keys_of(self.engine, [run_id])
                    continue
            ops = list(self.open[run_id].get("ops") or ())
            if ops and run_id in waiting:
                do_next(self.engine, run_id, ops)

    def completed_keys(self) -> set[str]:
        """Keys whose completion is committed, over every run so far."""
        return self.done_keys | completed_keys_of(self.engine, self.open)


class Ledger:
    """The ledger's lines, read incrementally (it only grows)."""

    def __init__(self, path: str) -> None:
        self.path = path
        self.offset = 0
        self.lines: list[dict[str, Any]] = []

    def read(self) -> list[dict[str, Any]]:
        try:
            with open(self.path, "rb") as file:
                file.seek(self.offset)
                data = file.read()
        except FileNotFoundError:
            return self.lines
        end = data.rfind(b"\n") + 1
        for text in data[:end].decode().splitlines():
            if text.strip():
                self.lines.append(json.loads(text))
        self.offset += end
        return self.lines


def ledger_lines(path: str) -> list[dict[str, Any]]:
    return Ledger(path).read()


def completed_keys_of(engine: Any, run_ids: Any) -> set[str]:
    from torture_lib import completed_keys

    return completed_keys(history_rows(engine, run_ids))


def history_rows(engine: Any, run_ids: Any) -> list[tuple[str, str, int, str, float, Any]]:
    """(run, type, seq, state, time, data) of the runs and their children,
    as ``torture_lib`` reads them from a SQLite file."""
    rows = []
    seen: set[str] = set()
    todo = list(run_ids)
    while todo:
        run_id = todo.pop()
        if run_id in seen:
            continue
        seen.add(run_id)
        for e in engine.history(run_id):
            rows.append((run_id, e.type, e.seq, e.state, e.time, e.data or {}))
        todo.extend(r for r in engine.store.run_ids_starting(run_id + "/", 1000) if r not in seen)
    return rows


def ends_of(engine: Any, run_ids: Any) -> dict[str, Any]:
    """Each run's end (``torture_lib.end_of``), None while it has not ended."""
    from torture_lib import end_of

    runs = {run_id: engine.get(run_id) for run_id in run_ids}
    return {run_id: end_of(run) if run.done else None for run_id, run in runs.items()}


def settle(batches: Batches, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while batches.open:
        if time.monotonic() > deadline:
            raise TimeoutError(f"runs still open after {timeout:g} s: {sorted(batches.open)[:10]}")
        batches.step()
        time.sleep(0.1)


def reference(url: str, folder: Path, flows: Path, copies: int, lease: float) -> Any:
    """Batch 0's flows driven by one worker that is never killed."""
    from torture_lib import Reference
    from wfdsl.interpreter.store.open import open_store

    import wfdsl

    folder.mkdir()
    fleet = Fleet(url, folder, 1, lease)
    engine = wfdsl.Engine(store=open_store(url), owner="torture-reference-parent")
    try:
        batches = Batches(engine, flows, copies)
        batches.submit()
        settle(batches, 300)
        ends = ends_of(engine, batches.all)
    finally:
        fleet.stop()
    keys = {line["key"] for line in ledger_lines(fleet.ledger)}
    engine.close()
    return Reference(ends, keys)


def check(
    tally: Any, engine: Any, batches: Batches, fleet: Fleet, ref: Any, in_flight: Any
) -> None:
    """``torture_lib.check_batch``'s checks over every batch of one database
    (all but SQLite's integrity_check)."""
    from torture_lib import check_ends, check_history, check_ledger

    ends = ends_of(engine, batches.all)
    tally.runs += len(ends)
    tally.batches = batches.count
    rename: dict[str, str] = {run: as_ref for run, (_, as_ref) in batches.all.items()}

    def ref_key(key: str) -> str:
        head = key.split("/", 1)[0]
        return rename[head] + key[len(head) :] if head in rename else key

    check_ends(tally, ends, {run_id: ref.ends.get(rename[run_id]) for run_id in ends})
    wanted = {key.replace("b0-", f"b{b}-", 1) for b in range(batches.count) for key in ref.keys}
    lines = ledger_lines(fleet.ledger)
    counts = check_ledger(tally, lines, wanted, in_flight, fleet.killed, explain=ref_key)
    check_history(tally, history_rows(engine, batches.all), set(counts))


def torture(
    url: str,
    reference_url: str,
    points: int,
    *,
    seed: int = 0,
    workers: int = 3,
    copies: int = 2,
    patience: int = 150,
    lease: float = 10.0,
    open_runs: int = 30,
    progress: Any = None,
) -> dict[str, Any]:
    from torture_lib import Tally
    from wfdsl.interpreter.store.open import open_store

    import wfdsl

    started = time.monotonic()
    tmp = Path(tempfile.mkdtemp(prefix="wfdsl-pg-torture-"))
    tally = Tally()
    rng = random.Random(seed)
    flows = real_time_flows(tmp / "flows")
    ref = reference(reference_url, tmp / "reference", flows, copies, lease)
    folder = tmp / "shared"
    folder.mkdir()
    fleet = Fleet(url, folder, workers, lease)
    engine = wfdsl.Engine(store=open_store(url), owner="torture-parent")
    batches = Batches(engine, flows, copies)
    in_flight: Counter[str] = Counter()
    ledger = Ledger(fleet.ledger)
    turn = 0
    try:
        while tally.points < points:
            if len(batches.open) < open_runs:
                batches.submit()
            point = choose(rng)
            # The victim: the worker that wrote the ledger last (the others
            # may hold no run at all), else the next in turn.
            tokens = [token for _, token in fleet.slots]
            last = [line.get("token") for line in ledger.read()[-20:]]
            busy = [tokens.index(t) for t in reversed(last) if t in tokens]
            victim = busy[0] if busy and rng.random() < 0.8 else turn % workers
            turn += 1
            process, token = fleet.slots[victim]
            seen = len(ledger.read())
            fleet.arm(victim, point)
            kind = point.split(":")[0]
            while process.is_alive():
                batches.step()
                grown = len(ledger.read()) - seen
                if grown > patience:
                    if not process.is_alive():
                        break
                    kind = "outright"
                    process.kill()
                    break
                if len(batches.open) < open_runs:
                    batches.submit()
                process.join(0.02)
            process.join()
            if process.exitcode != -signal.SIGKILL:
                raise RuntimeError(f"worker {token} exited {process.exitcode}, not by SIGKILL")
            tally.points += 1
            tally.by_kind[kind] += 1
            fleet.killed.add(token)
            # The victim's side effects whose completion it did not commit:
            # it died with them in flight (a run again later is allowed).
            lines = ledger.read()
            done = batches.completed_keys()
            mine = {line["key"] for line in lines if line.get("token") == token}
            rerun = {line["key"] for line in lines if line.get("token") != token}
            in_flight.update({key for key in mine if key not in done or key in rerun})
            fleet.replace(victim)
            if os.environ.get("WFDSL_TORTURE_TRACE"):
                print(
                    f"{time.monotonic() - started:7.1f}s point {tally.points} {kind} "
                    f"open {len(batches.open)}",
                    file=sys.stderr,
                    flush=True,
                )
            if progress is not None:
                progress(tally)
        settle(batches, 600)
        codes = fleet.stop()
        if any(code != 0 for code in codes):
            tally.problem(f"workers exited {codes} at SIGTERM")
        check(tally, engine, batches, fleet, ref, in_flight)
    finally:
        fleet.stop()
        engine.close()
        if not tally.problems:
            shutil.rmtree(tmp, ignore_errors=True)
    return tally.report(started, tmp, workers=workers, workers_started=fleet.started, seed=seed)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--url", help="the database (default: a server of bench/pg_server.py)")
    parser.add_argument("--reference-url", help="an empty database for the reference")
    parser.add_argument("--points", type=int, required=True)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--workers", type=int, default=3)
    parser.add_argument("--copies", type=int, default=2)
    parser.add_argument("--patience", type=int, default=150)
    parser.add_argument("--lease", type=float, default=10.0)
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    from torture_lib import finish

    server = None
    url, ref_url = args.url, args.reference_url
    if url is None:
        import pg_server

        server = pg_server.start()
        url, ref_url = server.create_database("torture"), server.create_database("reference")
    elif ref_url is None:
        raise SystemExit("--reference-url is needed with --url")

    def progress(tally: Any) -> None:
        if not args.json and tally.points % 25 == 0:
            print(f"  {tally.points} points ...", file=sys.stderr, flush=True)

    try:
        report = torture(
            url,
            ref_url,
            args.points,
            seed=args.seed,
            workers=args.workers,
            copies=args.copies,
            patience=args.patience,
            lease=args.lease,
            progress=progress,
        )
    finally:
        if server is not None:
            server.stop()
    finish(report, as_json=args.json)


if __name__ == "__main__":
    main()
