"""Running test cases: each on its own in-memory engine, on virtual time, with mocks.

Only the engine's public API drives a case: ``Engine(":memory:",
clock=VirtualClock(...))``, ``intercept_actions`` for the mocks, ``submit``,
``run_until`` to reach each timeline event's virtual time (timers between
fire at their own times), ``signal``/``call``/``cancel``/``pause``/``resume``
for the event, and ``run_until`` the case's horizon at the end (``until``,
default 366 days), skipping from timer to timer until the run ends or
nothing can progress (a run left waiting ends the case as ``waiting``). A
month-long flow therefore runs in milliseconds.
"""

from __future__ import annotations

import fnmatch
import json
import os
import re
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from wfdsl.dsl.durations import format_duration
from wfdsl.interpreter.clock import VirtualClock
from wfdsl.interpreter.engine import Engine
from wfdsl.interpreter.run_view import Run
from wfdsl.interpreter.store.records import Event

from wfdsl.errors import HandlerRejected, WfdslError

from .expectations import Failure, check
from .format import Case, TestFile, TestFileError, TimelineEvent, load_test_file
from .matching import includes_exactly
from .mocks import MockedActions

__all__ = [
    "CaseResult",
    "FileResult",
    "discover",
    "matches_k",
    "run_case",
    "run_file",
    "run_paths",
]

TEST_SUFFIX = ".test.yaml"


@dataclass(frozen=True, slots=True)
class CaseResult:
    """One case's outcome: the run as it ended, its history, what did not hold."""

    file: str
    case: Case
    run: Run | None
    history: tuple[Event, ...]
    failures: tuple[Failure, ...]
    seconds_virtual: float = 0.0
    children: Mapping[str, tuple[Event, ...]] = field(default_factory=dict)

    @property
    def passed(self) -> bool:
        return not self.failures

    @property
    def id(self) -> str:
        return f"{self.file}::{self.case.name}"

    def to_json(self) -> dict[str, Any]:
        return {
            "file": self.file,
            "case": self.case.name,
            "passed": self.passed,
            "status": None if self.run is None else self.run.status,
            "virtual_seconds": self.seconds_virtual,
            "failures": [f.to_json() for f in self.failures],
        }


@dataclass(frozen=True, slots=True)
class FileResult:
    """A test file: its cases' results, or the findings that kept it from running."""

    path: str
    test_file: TestFile | None
    cases: tuple[CaseResult, ...] = ()
    findings: tuple[Any, ...] = field(default=())

    @property
    def invalid(self) -> bool:
        return self.test_file is None


def discover(paths: Iterable[str | os.PathLike[str]]) -> list[str]:
    """The test files named, and every ``*.test.yaml`` under the folders named, sorted."""
    found: list[str] = []
    for raw in paths:
        path = Path(raw)
        if path.is_dir():
            found += sorted(str(p) for p in path.rglob(f"*{TEST_SUFFIX}") if p.is_file())
        else:
            found.append(str(path))
    return list(dict.fromkeys(found))


def matches_k(expr: str | None, name: str, file: str) -> bool:
    """pytest-like ``-k``: words joined by ``and``/``or``/``not``, each a substring
    (or glob) of ``file::case``, case-insensitive."""
    if not expr:
        return True
    subject = f"{file}::{name}".lower()
    tokens = expr.replace("(", " ( ").replace(")", " ) ").split()
    out = []
    for token in tokens:
        low = token.lower()
        if low in ("and", "or", "not", "(", ")"):
            out.append(low)
        else:
            pattern = low if any(c in low for c in "*?[") else f"*{low}*"
            out.append(str(fnmatch.fnmatchcase(subject, pattern)))
    try:
        return bool(eval(" ".join(out), {"__builtins__": {}}, {}))  # only True/False/and/or/not
    except SyntaxError:
        raise ValueError(f"-k: cannot read the expression {expr!r}") from None


def run_paths(
    paths: Sequence[str | os.PathLike[str]], *, keyword: str | None = None
) -> list[FileResult]:
    """Load and run every test file under ``paths`` (cases selected by ``keyword``)."""
    results = []
    for path in discover(paths):
        try:
            test_file = load_test_file(path)
        except TestFileError as exc:
            results.append(FileResult(path, None, findings=tuple(exc.findings)))
            continue
        results.append(run_file(test_file, keyword=keyword))
    return results


def run_file(test_file: TestFile, *, keyword: str | None = None) -> FileResult:
    cases = tuple(
        run_case(test_file, case)
        for case in test_file.cases
        if matches_k(keyword, case.name, test_file.path)
    )
    return FileResult(test_file.path, test_file, cases)


def run_case(test_file: TestFile, case: Case) -> CaseResult:
    """Run one case from a fresh in-memory store and check its expectations."""
    clock = VirtualClock(case.start) if case.start is not None else VirtualClock()
    mocks = MockedActions(case.mocks, clock)
    failures: list[Failure] = []
    with Engine(":memory:", clock=clock) as engine:
        engine.intercept_actions(mocks)
        try:
            run = engine.submit(test_file.flow_path, input=case.input, run_id=case.run_id)
        except WfdslError as exc:
            failure = Failure("input", f"the run could not start: {exc}")
            return CaseResult(test_file.path, case, None, (), (failure,))
        started = run.started_at
        for number, event in enumerate(case.timeline):
            engine.run_until(started + event.at)
            failures += _apply(engine, run.id, event, number)
        # Not run_until_complete: a flow that loops on a timer for ever would
        # never give it back. Timers fire one by one up to the horizon; a run
        # that ends earlier leaves nothing due, so the rest costs nothing.
        engine.run_until(started + max(case.until, case.timeline[-1].at if case.timeline else 0))
        final = engine.get(run.id)
        history = tuple(final.history())
        children = _children(engine, history)
    failures += [
        Failure("mocks", call.describe(), seq=_seq_of_call(history, call.state, call.attempt))
        for call in mocks.unmocked
    ]
    failures += check(case.expect, final, history, children)
    return CaseResult(
        test_file.path,
        case,
        final,
        history,
        tuple(failures),
        (final.ended_at or clock.now()) - started,
        children,
    )


def _children(engine: Engine, history: Sequence[Event]) -> dict[str, tuple[Event, ...]]:
    """The histories of the subflow child runs ``history`` took results from, by id."""
    out: dict[str, tuple[Event, ...]] = {}
    pending = [history]
    while pending:
        for e in pending.pop():
            child = e.data.get("child") if e.type == "signal_consumed" else None
            if isinstance(child, str) and child not in out:
                out[child] = tuple(engine.history(child))
                pending.append(out[child])
    return out


def _seq_of_call(history: Sequence[Event], state: str, attempt: int) -> int | None:
    for e in history:
        started = e.type in ("action_started", "undo_started")
        if started and e.state == state and e.data.get("attempt") == attempt:
            return e.seq
    return None


_TOKEN = re.compile(r"wfcb1\.[A-Za-z0-9_-]+\.[0-9a-f]{32}")


def _token_of(history: Sequence[Event], state: str) -> str | None:
    """The callback token the newest call of ``state`` got in its args."""
    for e in reversed(history):
        if e.type != "action_started" or not e.state:
            continue
        if e.state != state and not e.state.endswith("/" + state):
            continue
        found = _TOKEN.search(json.dumps(e.data.get("args")))
        if found is not None:
            return found.group(0)
    return None


def _apply(engine: Engine, run_id: str, event: TimelineEvent, number: int) -> Iterator[Failure]:
    what = f"timeline[{number}]"
    when = f"at {format_duration(event.at)} (line {event.line})"
    try:
        if event.kind == "signal":
            assert event.name is not None
            engine.signal(run_id, event.name, event.data)
        elif event.kind == "complete":
            assert event.name is not None
            token = _token_of(engine.history(run_id), event.name)
            if token is None:
                yield Failure(
                    what,
                    f"complete {when}: state '{event.name}' has handed no callback token to "
                    "its action (pass `${ token }` in its args)",
                )
                return
            done = event.data or {}
            if done.get("heartbeat"):
                engine.heartbeat(token)
            else:
                engine.complete(token, done.get("output"), done.get("error"), done.get("message"))
        elif event.kind == "cancel":
            engine.cancel(run_id, compensate=event.compensate)
        elif event.kind == "pause":
            engine.pause(run_id)
        elif event.kind == "resume":
            engine.resume(run_id)
        else:
            yield from _call(engine, run_id, event, what, when)
    except WfdslError as exc:
        status = engine.get(run_id).status
        yield Failure(what, f"{event.kind} {when} failed: {exc} (the run is {status})")


def _call(
    engine: Engine, run_id: str, event: TimelineEvent, what: str, when: str
) -> Iterator[Failure]:
    assert event.name is not None
    label = f"handler '{event.name}' {when}"
    try:
        value = engine.call(run_id, event.name, event.data)
    except HandlerRejected as exc:
        if not event.rejected:
            yield Failure(what, f"{label} was rejected: {exc}", event.returns, f"rejected: {exc}")
        elif isinstance(event.rejected, str) and event.rejected not in str(exc):
            yield Failure(
                what, f"{label} was rejected for another reason", event.rejected, str(exc)
            )
        return
    if event.rejected:
        yield Failure(what, f"{label} answered instead of being rejected", "rejected", value)
    elif event.expects_return and not includes_exactly(event.returns, value):
        yield Failure(what, f"{label} answered something else", event.returns, value)
