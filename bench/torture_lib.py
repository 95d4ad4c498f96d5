"""The crash-torture machinery behind ``bench/torture.py`` (issue 6, item 2).

It reuses the SIGKILL harness of the crash tests
(``tests/interpreter/crash_harness.py``: the store subclass that kills the
process after the N-th commit of a kind, the ledger-writing actions, the
deterministic outside world of each flow's ``x-crash`` key) and its flows
(``tests/interpreter/crash_flows``), and scales it up:

- a *batch* is one SQLite file holding several runs of every flow (tasks
  with retries, timers, signals, parallel, map, subflow, saga with undo,
  handlers), driven together by one engine on virtual time;
- a *segment* is one process lifetime on a batch: it is forked from the
  parent (which imported wfdsl once, so a restart costs milliseconds, not an
  interpreter start), reopens the file, recovers and drives every run, and is
  SIGKILLed at a point the parent chose: right after the N-th commit holding
  an event of a kind, after the N-th commit of any kind, inside the N-th
  action call (after its side effect), or at a random instant (a timer
  thread). Every SIGKILL is one *point*; the next segment recovers from it, so
  kills compound (a recovering process is killed again);
- after the last segment (one without a kill) the batch is checked against an
  uninterrupted reference batch with the same run ids: final status, vars,
  output and error of every run; the ledger (outside the database) must hold
  exactly the reference's idempotency keys, each once, plus at most one more
  run per kill that caught it in flight; no undo completed twice; no timer
  fired early; gapless histories; ``PRAGMA integrity_check`` ok; and no key
  runs again after a run by a process that was never killed
  (``reexecuted_unkilled``: a duplicate no crash explains).
"""

from __future__ import annotations

import importlib.util
import json
import os
import random
import shutil
import signal
import sqlite3
import sys
import tempfile
import threading
import time
import traceback
import uuid
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml
from wfdsl.interpreter.clock import VirtualClock

import wfdsl

ROOT = Path(__file__).resolve().parent.parent
HARNESS_PATH = ROOT / "tests" / "interpreter" / "crash_harness.py"
FLOWS_DIR = ROOT / "tests" / "interpreter" / "crash_flows"
# child.yaml is started by subflow.yaml, not on its own.
FLOW_NAMES = (
    "handler",
    "map",
    "parallel",
    "retry",
    "saga",
    "saga_parallel",
    "signals",
    "subflow",
    "timer",
)

# Kill-point kinds, cycled so every kind of commit is hit: KIND:N after the
# N-th commit holding such an event, commit:N, inflight:N, random:SECONDS.
EVENT_KINDS = (
    "state_entered",
    "action_started",
    "action_completed",
    "action_failed",
    "retry_scheduled",
    "timer_started",
    "timer_fired",
    "signal_received",
    "signal_consumed",
    "branch_started",
    "branch_completed",
    "handler_called",
    "vars_changed",
    "undo_started",
    "undo_completed",
    "run_completed",
    "run_failed",
)
KINDS = (*EVENT_KINDS, "commit", "inflight", "random", "commit", "inflight", "random", "random")


def load_harness() -> Any:
    """``crash_harness.py`` as a module (it lives among the tests, which are
    not a package)."""
    name = "wfdsl_crash_harness"
    if name in sys.modules:
        return sys.modules[name]
    spec = importlib.util.spec_from_file_location(name, HARNESS_PATH)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    spec.loader.exec_module(module)
    return module


H = load_harness()


# ----------------------------------------------------------------------------- the child


@dataclass
class RunSpec:
    run_id: str
    flow: Path
    meta: dict[str, Any]


def run_specs(copies: int) -> list[RunSpec]:
    specs = []
    for name in FLOW_NAMES:
        flow = FLOWS_DIR / f"{name}.yaml"
        meta = yaml.safe_load(flow.read_text()).get("x-crash") or {}
        for i in range(copies):
            specs.append(RunSpec(f"{name}-{i}", flow, meta))
    return specs


def drive_all(engine: Any, clock: Any, specs: list[RunSpec]) -> dict[str, Any]:
    """Submit what is not submitted yet, send the early messages, then drive
    every run to its end, doing each run's ops while it waits (before virtual
    time moves on). Returns each run's end."""
    for spec in specs:
        if engine.store.get_run(spec.run_id) is None:
            engine.submit(spec.flow, input=spec.meta.get("input"), run_id=spec.run_id)
    for spec in specs:
        early = list(spec.meta.get("early") or ())
        while H.do_next(engine, spec.run_id, early):
            pass
    idle_rounds = 0
    while True:
        engine.run_until_idle()
        open_runs = [s for s in specs if not engine.get(s.run_id).done]
        if not open_runs:
            break
        acted = False
        for spec in open_runs:
            if engine.get(spec.run_id).status == "waiting":
                ops = list(spec.meta.get("ops") or ())
                acted = H.do_next(engine, spec.run_id, ops) or acted
        if acted:
            continue
        if clock.skip_to_next(engine.store.next_ready_at(engine.owner)):
            idle_rounds = 0
            continue
        idle_rounds += 1
        if idle_rounds > 50:
            stuck = {s.run_id: engine.get(s.run_id).status for s in open_runs}
            raise RuntimeError(f"stuck: {stuck}")
    return {spec.run_id: end_of(engine.get(spec.run_id)) for spec in specs}


def end_of(run: Any) -> dict[str, Any]:
    """What a run's end is compared by: its status, vars, output and error."""
    return {"status": run.status, "vars": run.vars, "output": run.output, "error": run.error}


def segment(
    db: Path,
    ledger: Path,
    result: Path,
    specs: list[RunSpec],
    kill: str | None,
    token: str | None = None,
) -> None:
    """One process lifetime (in a forked child): recover, drive, maybe die.
    ``token`` names it in the ledger (the parent's choice, so the checker
    knows which process each side effect came from and whether it was killed)."""
    H.TOKEN = token or f"{os.getpid()}-{uuid.uuid4().hex[:6]}"
    spec = H.KillSpec(None)
    if kill and kill.startswith("random:"):
        timer = threading.Timer(float(kill.split(":", 1)[1]), H.die)
        timer.daemon = True
    else:
        timer = None
        spec = H.KillSpec(kill)
    clock = VirtualClock(H.resume_time(str(db)))
    store = H.KillingStore(str(db), spec)
    engine = wfdsl.Engine(store=store, clock=clock, owner=f"torture-{H.TOKEN}")
    H.register(engine, ledger, spec)
    if timer is not None:
        timer.start()
    ends = drive_all(engine, clock, specs)
    engine.close()
    result.write_text(json.dumps(ends))


def fork_segment(
    db: Path,
    ledger: Path,
    result: Path,
    specs: list[RunSpec],
    kill: str | None,
    token: str | None = None,
) -> int:
    """Fork a child running one segment; returns its pid. The parent opens no
    SQLite connection across the fork."""
    sys.stdout.flush()
    sys.stderr.flush()
    pid = os.fork()
    if pid:
        return pid
    code = 0
    try:
        random.seed()
        segment(db, ledger, result, specs, kill, token)
    except BaseException:
        result.with_suffix(".err").write_text(traceback.format_exc())
        code = 3
    finally:
        os._exit(code)


# ----------------------------------------------------------------------------- checks


def read_ledger(path: Path) -> list[dict[str, Any]]:
    if not path.exists():
        return []
    lines = []
    for text in path.read_text().splitlines():
        if text.strip():
            lines.append(json.loads(text))
    return lines


def db_events(db: Path) -> list[tuple[str, str, int, str, float, dict[str, Any]]]:
    conn = sqlite3.connect(db)
    try:
        rows = conn.execute(
            "SELECT r.id, e.type, e.seq, e.state, e.time, e.data FROM events e "
            "JOIN runs r ON r.key = e.run_key ORDER BY r.id, e.seq"
        ).fetchall()
    finally:
        conn.close()
    return [(r, t, s, st, tm, json.loads(d) if d else {}) for r, t, s, st, tm, d in rows]


def completed_keys(events: list[tuple[str, str, int, str, float, dict[str, Any]]]) -> set[str]:
    """Idempotency keys whose completion (action, undo or failure) is committed."""
    keys: dict[tuple[str, str], str] = {}
    done: set[str] = set()
    for run, type_, _, _, _, data in events:
        if type_ in ("action_started", "undo_started"):
            keys[(run, data["call_id"])] = data["key"]
        elif type_ in ("action_completed", "undo_completed", "action_failed"):
            key = keys.get((run, data.get("call_id", "")))
            if key is not None:
                done.add(key)
    return done


def integrity(db: Path) -> list[str]:
    conn = sqlite3.connect(db)
    try:
        return [row[0] for row in conn.execute("PRAGMA integrity_check").fetchall()]
    finally:
        conn.close()


def early_timers(events: list[tuple[str, str, int, str, float, dict[str, Any]]]) -> list[str]:
    """Timers that fired, or retries that started, before they were due."""
    bad = []
    retry_due: dict[tuple[str, str, int], float] = {}
    for run, type_, seq, state, when, data in events:
        if type_ == "timer_fired" and when < data.get("due", when):
            bad.append(f"{run}#{seq} timer fired at {when} < due {data['due']}")
        elif type_ == "retry_scheduled":
            retry_due[(run, state, data["attempt"])] = data["due"]
        elif type_ == "action_started":
            due = retry_due.get((run, state, data.get("attempt", 1)))
            if due is not None and when < due:
                bad.append(f"{run}#{seq} retry started at {when} < due {due}")
    return bad


#: The counts a sound torture leaves at 0.
CHECKS = ("lost", "duplicated", "reexecuted_unkilled", "diverged", "integrity_errors")


@dataclass
class Tally:
    points: int = 0
    runs: int = 0
    lost: int = 0
    duplicated: int = 0
    #: Runs of a key after the first whose previous run was by a process
    #: that was never killed: no crash can explain them.
    reexecuted_unkilled: int = 0
    diverged: int = 0
    integrity_errors: int = 0
    batches: int = 0
    by_kind: Counter[str] = field(default_factory=Counter)
    problems: list[str] = field(default_factory=list)

    def problem(self, text: str) -> None:
        if len(self.problems) < 50:
            self.problems.append(text)

    def report(self, started: float, kept: Path, **about: Any) -> dict[str, Any]:
        """The figures of a torture begun at ``started`` (monotonic): the
        checks' counts, time, batches, ``about`` it (seed, workers...), the
        points by kind, and with any problem, them and the folder kept."""
        report: dict[str, Any] = {
            "points": self.points,
            "runs": self.runs,
            **{check: getattr(self, check) for check in CHECKS},
            "elapsed": round(time.monotonic() - started, 1),
            "batches": self.batches,
            **about,
            "by_kind": dict(sorted(self.by_kind.items())),
        }
        if self.problems:
            report["problems"] = self.problems
            report["kept"] = str(kept)
        return report


@dataclass
class Reference:
    ends: dict[str, Any]
    keys: set[str]


def check_ends(
    tally: Tally, ends: dict[str, Any], expected: dict[str, Any], where: str = ""
) -> None:
    """Every run ended (``ends``, None or missing: it did not) as its
    reference run did (``expected``, by the same run id)."""
    for run_id, want in expected.items():
        got = ends.get(run_id)
        if got is None:
            tally.lost += 1
            tally.problem(f"{where}run {run_id} did not finish")
        elif got != want:
            tally.diverged += 1
            tally.problem(f"{where}run {run_id} ended {got!r}, reference {want!r}")


def check_ledger(
    tally: Tally,
    lines: list[dict[str, Any]],
    wanted: set[str],
    in_flight: Counter[str],
    killed: set[str],
    where: str = "",
    explain: Any = None,
) -> Counter[str]:
    """The side effects in the ledger (``lines``, in the order they ran) are
    the reference's (``wanted``), each once, plus at most one more run per
    kill that caught it in flight, and a key runs again only after the
    process that ran it (its ``token``) was killed. Returns the count of
    runs per key. ``explain(key)`` adds to a key not in the reference."""
    counts = Counter(line["key"] for line in lines)
    for key in sorted(wanted - set(counts)):
        tally.lost += 1
        tally.problem(f"{where}side effect {key} never ran")
    for key in sorted(set(counts) - wanted):
        tally.diverged += 1
        extra = f" ({explain(key)})" if explain is not None else ""
        tally.problem(f"{where}side effect {key} is not in the reference{extra}")
    # A key runs again only after the process that ran it was killed with
    # the call in flight: a re-run after an unkilled process's run is a
    # duplicate no crash caused (issue 11).
    previous: dict[str, str] = {}
    for line in lines:
        before = previous.get(line["key"])
        if before is not None and before not in killed:
            tally.reexecuted_unkilled += 1
            tally.problem(f"{where}{line['key']} ran again after {before}, which was not killed")
        previous[line["key"]] = line.get("token", "")
    for key, n in counts.items():
        if n > 1 + in_flight[key]:
            tally.duplicated += 1
            tally.problem(f"{where}{key} ran {n} times (in flight at {in_flight[key]} kills)")
    return counts


def check_history(
    tally: Tally,
    events: list[tuple[str, str, int, str, float, dict[str, Any]]],
    ran: set[str],
    where: str = "",
) -> None:
    """The histories (``events``: run, type, seq, state, time, data) agree
    with the ledger: every completion committed ran (its key is in ``ran``),
    no undo completed twice, seqs are gapless, no timer fired early."""
    for key in sorted(completed_keys(events) - ran):
        tally.lost += 1
        tally.problem(f"{where}{key} completed in the history but never ran")
    undone = Counter((run, state) for run, t, _, state, _, _ in events if t == "undo_completed")
    for (run, state), n in undone.items():
        if n > 1:
            tally.duplicated += 1
            tally.problem(f"{where}{run}/{state} undone {n} times")
    seqs: dict[str, list[int]] = {}
    for run, _, seq, _, _, _ in events:
        seqs.setdefault(run, []).append(seq)
    for run, got_seqs in seqs.items():
        if sorted(got_seqs) != list(range(1, len(got_seqs) + 1)):
            tally.integrity_errors += 1
            tally.problem(f"{where}history of {run} has gaps or repeats")
    for text in early_timers(events):
        tally.diverged += 1
        tally.problem(f"{where}{text}")


def check_batch(
    tally: Tally,
    name: str,
    folder: Path,
    ends: dict[str, Any] | None,
    in_flight: Counter[str],
    reference: Reference,
    killed: set[str] | None = None,
) -> None:
    db, ledger = folder / "wf.db", folder / "ledger"
    where = f"{name}: "
    tally.batches += 1
    tally.runs += len(reference.ends)
    check_ends(tally, ends or {}, reference.ends, where)
    lines = read_ledger(ledger)
    counts = check_ledger(tally, lines, reference.keys, in_flight, killed or set(), where)
    if not db.exists():
        tally.integrity_errors += 1
        tally.problem(f"{name}: no database")
        return
    checked = integrity(db)
    if checked != ["ok"]:
        tally.integrity_errors += 1
        tally.problem(f"{name}: integrity_check {checked[:3]}")
    check_history(tally, db_events(db), set(counts), where)


# ----------------------------------------------------------------------------- the parent


@dataclass
class Batch:
    name: str
    folder: Path
    rng: random.Random
    max_kills: int
    kills: int = 0
    segments: int = 0
    seen: int = 0
    in_flight: Counter[str] = field(default_factory=Counter)
    killed: set[str] = field(default_factory=set)
    token: str = ""
    kind_no: int = 0
    kill: str | None = None


def choose_kill(batch: Batch, random_span: float) -> str:
    rng = batch.rng
    kind = KINDS[(batch.kind_no + rng.randrange(len(KINDS))) % len(KINDS)]
    batch.kind_no += 1
    if kind == "commit":
        return f"commit:{rng.randint(1, 30)}"
    if kind == "inflight":
        return f"inflight:{rng.randint(1, 12)}"
    if kind == "random":
        return f"random:{rng.uniform(0.0, random_span):.4f}"
    return f"{kind}:{rng.randint(1, 3)}"


def wait_child(pid: int, timeout: float) -> int:
    """Wait for one child; kill it (and count it stuck) after ``timeout``."""
    deadline = time.monotonic() + timeout
    while True:
        done, status = os.waitpid(pid, os.WNOHANG)
        if done:
            return status
        if time.monotonic() > deadline:
            os.kill(pid, signal.SIGKILL)
            os.waitpid(pid, 0)
            return -1
        time.sleep(0.002)


def reference_batch(tmp: Path, specs: list[RunSpec]) -> Reference:
    folder = tmp / "reference"
    folder.mkdir()
    result = folder / "end.json"
    pid = fork_segment(folder / "wf.db", folder / "ledger", result, specs, None)
    status = wait_child(pid, 300)
    if status != 0 or not result.exists():
        err = result.with_suffix(".err")
        raise SystemExit(
            "the reference batch failed: " + (err.read_text() if err.exists() else str(status))
        )
    tally = Tally()
    lines = read_ledger(folder / "ledger")
    ref = Reference(json.loads(result.read_text()), {line["key"] for line in lines})
    check_batch(tally, "reference", folder, ref.ends, Counter(), ref)
    if tally.problems:
        raise SystemExit("the reference batch is not sound: " + "; ".join(tally.problems))
    return ref


def torture(
    points: int,
    *,
    seed: int = 0,
    copies: int = 2,
    parallel: int = 2,
    max_kills: int = 12,
    random_span: float = 0.25,
    keep: bool = False,
    progress: Any = None,
) -> dict[str, Any]:
    """Run batches until ``points`` SIGKILLs have been recovered from."""
    started = time.monotonic()
    specs = run_specs(copies)
    tmp = Path(tempfile.mkdtemp(prefix="wfdsl-torture-"))
    tally = Tally()
    try:
        reference = reference_batch(tmp, specs)
        running: dict[int, Batch] = {}
        started_batches = 0

        def launch(batch: Batch) -> None:
            remaining = points - tally.points - sum(b.kill is not None for b in running.values())
            kill = (
                choose_kill(batch, random_span)
                if (batch.kills < batch.max_kills and remaining > 0)
                else None
            )
            batch.kill = kill
            batch.segments += 1
            batch.token = f"{batch.name}-s{batch.segments}"
            result = batch.folder / "end.json"
            pid = fork_segment(
                batch.folder / "wf.db", batch.folder / "ledger", result, specs, kill, batch.token
            )
            running[pid] = batch

        def new_batch() -> None:
            nonlocal started_batches
            name = f"b{started_batches:04d}"
            started_batches += 1
            folder = tmp / name
            folder.mkdir()
            rng = random.Random(f"{seed}-{name}")
            launch(
                Batch(
                    name,
                    folder,
                    rng,
                    rng.randint(max_kills // 2, max_kills),
                    kind_no=rng.randrange(len(KINDS)),
                )
            )

        for _ in range(parallel):
            if tally.points < points:
                new_batch()
        while running:
            pid, status = os.wait()
            batch = running.pop(pid)
            db, ledger = batch.folder / "wf.db", batch.folder / "ledger"
            result = batch.folder / "end.json"
            killed = os.WIFSIGNALED(status) and os.WTERMSIG(status) == signal.SIGKILL
            if killed:
                tally.points += 1
                batch.kills += 1
                batch.killed.add(batch.token)
                kind = (batch.kill or "?").split(":")[0]
                tally.by_kind[kind] += 1
                lines = read_ledger(ledger)
                done = completed_keys(db_events(db)) if db.exists() else set()
                batch.in_flight.update({line["key"] for line in lines[batch.seen :]} - done)
                batch.seen = len(lines)
                if progress is not None:
                    progress(tally)
                launch(batch)
                continue
            ends = json.loads(result.read_text()) if result.exists() and status == 0 else None
            if ends is None:
                err = result.with_suffix(".err")
                tally.problem(
                    f"{batch.name}: segment {batch.segments} ({batch.kill}) exited {status}: "
                    + (err.read_text()[-1500:] if err.exists() else "")
                )
            check_batch(
                tally, batch.name, batch.folder, ends, batch.in_flight, reference, batch.killed
            )
            if not keep and not tally.problems:
                shutil.rmtree(batch.folder, ignore_errors=True)
            if tally.points < points:
                new_batch()
    finally:
        if not keep and not tally.problems:
            shutil.rmtree(tmp, ignore_errors=True)
    return tally.report(started, tmp, seed=seed)


def finish(report: dict[str, Any], *, as_json: bool) -> None:
    """Print ``report`` (one JSON line, or a line a figure) and exit 1 if a
    check counted anything, else 0."""
    if as_json:
        print(json.dumps(report))
    else:
        width = max(len(key) for key in report)
        for key, value in report.items():
            print(f"{key:>{width}}: {value}")
    sys.exit(1 if any(report[check] for check in CHECKS) else 0)
