"""``wfdsl run`` and ``wfdsl worker`` (docs/cli.md): commands that drive runs.

``run`` submits a document and drives its run in this process, printing each
transition as it commits (rich on a terminal, plain lines otherwise, one JSON
document with ``--json``). A waiting run keeps the process waiting, since
another process may ``wfdsl signal`` it; Ctrl-C (or SIGTERM) stops driving
and leaves the run durable in the store for ``wfdsl worker``.

``run`` drives only the run it submitted (and its subflow children), not
the other runs of the store, unless given ``--all``; it refuses up front,
storing nothing, a flow naming actions registered nowhere in the process.

Exit codes of ``run``: 0 completed, 1 failed or cancelled (or, on virtual
time with an in-memory store, left waiting for a signal nobody can send), 2
an invalid document or input, or actions the flow names that are not registered
(nothing is stored); a run left unfinished by Ctrl-C exits 130.

Under ``--virtual-time`` the run goes to an in-memory store unless ``--db``
or ``$WFDSL_DB`` names one: its dates are fake (days pass in a second), and
they must not land among real runs.

``worker [FLOW|DIR]...`` drives every unfinished run in the store and fires
the schedules of every definition stored in it. Naming flow files (or
directories of them) registers their definitions first, which is how a
scheduled workflow gets onto a store: ``wfdsl worker examples/nightly_report.yaml``
(``wfdsl run`` and ``Engine.submit``/``register`` store definitions too).
SIGTERM or Ctrl-C stops it cleanly (exit 0), during start-up too: actions in
flight are abandoned and their runs' leases released, so the next worker
re-runs them. A worker started on a full disk (or a locked file) says so and
tries again until it can open the store.
"""

from __future__ import annotations

import asyncio
import functools
import json
import os
import signal
import sys
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any, TypeVar

import click

from wfdsl.cli_errors import (
    EXIT_FAILED,
    EXIT_INTERRUPTED,
    EXIT_INVALID,
    CliError,
    invalid_document,
)
from wfdsl.cli_live import Live, LogLines, stream_for
from wfdsl.cli_options import (
    actions_option,
    allow_shell_option,
    db_option,
    default_db,
    lease_option,
    owner_option,
    synchronous_option,
)
from wfdsl.cli_output import emit_json
from wfdsl.cli_words import describe_position
from wfdsl.dsl.api import load as load_flow
from wfdsl.dsl.model import MapState, ParallelState, Scope, Workflow
from wfdsl.dsl.suggest import did_you_mean
from wfdsl.errors import RunAlreadyExists, ValidationError, WfdslError
from wfdsl.interpreter.actions.check import missing_in_process
from wfdsl.interpreter.actions.registry import ActionImportError, load_modules
from wfdsl.interpreter.clock import VirtualClock
from wfdsl.interpreter.engine import Engine
from wfdsl.interpreter.input_check import check_input
from wfdsl.interpreter.machine.limits import MAX_PAYLOAD_BYTES
from wfdsl.interpreter.run_ids import check_run_id
from wfdsl.interpreter.run_view import Run, event_to_json
from wfdsl.interpreter.store.errors import StoreError, passing
from wfdsl.interpreter.store.open import redact
from wfdsl.interpreter.store.records import FINAL_STATUSES
from wfdsl.observe.cli import MetricsAddr, metrics_option, start_metrics

__all__ = ["db_option", "default_db", "parse_json_option", "run", "worker"]


def parse_json_option(text: str | None, what: str) -> Any:
    """A ``--input``/``--data`` value: JSON text, or ``@file`` holding JSON."""
    if text is None:
        return None
    source = text
    if text.startswith("@"):
        path = Path(text[1:])
        try:
            # At most one byte past the limit: `@/dev/zero` or a huge file is
            # refused after reading 1 MiB, not after filling the memory.
            with path.open("rb") as handle:
                raw = handle.read(MAX_PAYLOAD_BYTES + 1)
        except OSError as exc:
            raise click.BadParameter(
                f"cannot read {path}: {exc.strerror}", param_hint=what
            ) from None
        if len(raw) > MAX_PAYLOAD_BYTES:
            raise click.BadParameter(
                f"{path} is larger than the limit of {MAX_PAYLOAD_BYTES:,} bytes (1 MiB) "
                "for a payload; store large data elsewhere and pass a reference",
                param_hint=what,
            )
        try:
            source = raw.decode("utf-8")
        except UnicodeDecodeError as exc:
            raise click.BadParameter(
                f"{path} is not UTF-8 text (byte 0x{raw[exc.start]:02x} at offset {exc.start})",
                param_hint=what,
            ) from None
    elif len(text) > MAX_PAYLOAD_BYTES:
        raise click.BadParameter(
            f"the JSON is larger than the limit of {MAX_PAYLOAD_BYTES:,} bytes (1 MiB)",
            param_hint=what,
        )
    try:
        return json.loads(source)
    except json.JSONDecodeError as exc:
        raise click.BadParameter(
            f"not valid JSON ({exc.msg} at line {exc.lineno} column {exc.colno}); "
            'quote it for the shell, e.g. \'{"email": "a@b.c"}\'',
            param_hint=what,
        ) from None


def load_actions(modules: Sequence[str]) -> None:
    """Import ``--actions`` modules; a broken one is a usage error, not a traceback."""
    if not modules:
        return
    # A module in the working directory is what a user means by `--actions mymod`.
    if os.getcwd() not in sys.path and "" not in sys.path:
        sys.path.insert(0, os.getcwd())
    try:
        load_modules(modules, origin="--actions")
    except ActionImportError as exc:
        raise click.UsageError(str(exc)) from None


def _engine(
    db: str | None, *, virtual: bool = False, allow_shell: bool = False, synchronous: str = "FULL"
) -> Engine:
    if virtual and db is None and not os.environ.get("WFDSL_DB"):
        # Fake dates must not land among real runs: an in-memory store.
        db = ":memory:"
    return Engine(
        db or default_db(),
        clock=VirtualClock() if virtual else None,
        allow_shell=allow_shell,
        synchronous=synchronous.upper(),
    )


@click.command(
    epilog="Exit codes: 0 completed, 1 failed or cancelled, 2 invalid document or input, "
    "130 stopped by Ctrl-C (the run stays in the store for a worker)."
)
@click.argument("flow", type=click.Path(dir_okay=False))
@click.option("--input", "input_text", metavar="JSON|@FILE", help="Run input as JSON, or @file.")
@db_option
@click.option("--run-id", metavar="ID", help="Run id (default: a generated sortable id).")
@actions_option
@click.option(
    "--virtual-time",
    is_flag=True,
    help="Timers fire at once (a VirtualClock); the run goes to an in-memory store "
    "unless --db or $WFDSL_DB names one.",
)
@click.option("--break-at", metavar="STATE", help="Pause the run when it is about to enter STATE.")
@click.option("--json", "as_json", is_flag=True, help="Print one JSON document at the end.")
@click.option(
    "--all",
    "all_runs",
    is_flag=True,
    help="Also drive the store's other unfinished runs while this one runs "
    "(default: only this run and its subflow children).",
)
@allow_shell_option
@synchronous_option
def run(
    flow: str,
    input_text: str | None,
    db: str | None,
    run_id: str | None,
    actions: tuple[str, ...],
    virtual_time: bool,
    break_at: str | None,
    as_json: bool,
    all_runs: bool,
    allow_shell: bool,
    synchronous: str,
) -> None:
    """Submit FLOW and drive its run here, showing each transition live.

    Only this run (and its subflow children) is driven, unless --all. A
    flow naming actions registered nowhere in this process is refused
    before anything is stored (exit 2)."""
    value = parse_json_option(input_text, "--input")
    load_actions(actions)
    if not Path(flow).is_file():
        raise CliError("invalid", f"no such workflow file: {flow}", EXIT_INVALID)
    # Everything the user gave is checked before the store is opened: a
    # mistyped flow, input or run id must not leave an empty store behind.
    _check_run(flow, value, run_id, break_at, allow_shell)
    memory = virtual_time and db is None and not os.environ.get("WFDSL_DB")
    engine = _engine(db, virtual=virtual_time, allow_shell=allow_shell, synchronous=synchronous)
    try:
        try:
            submitted = engine.submit(flow, input=value, run_id=run_id, break_at=break_at)
        except ValidationError as exc:
            raise invalid_document(exc) from None
        except RunAlreadyExists as exc:
            raise CliError("run_exists", str(exc), EXIT_INVALID) from None
        stream = stream_for(as_json)
        live = Live(stream, only=submitted.id, status=not as_json, quiet=as_json)
        if not as_json:
            click.echo(f"run {submitted.id} ({submitted.workflow}) started", err=True)
        with live, LogLines(live.line, human=live.human, now=engine.clock.now):
            unwatch = engine.watch(live)
            finished = _drive(engine, submitted.id, memory, others=all_runs)
            unwatch()
        code = _finish(finished, submitted.id, as_json)
    finally:
        engine.close()
    sys.exit(code)


def _state_names(scope: Scope, prefix: str = "") -> list[str]:
    """Every state name and path (``fan_out/notify/email``) of a scope."""
    names: list[str] = []
    for name, state in scope.states.items():
        path = f"{prefix}{name}"
        names.extend({name, path})
        if isinstance(state, ParallelState):
            for branch in state.branches:
                names.extend(_state_names(branch.scope, f"{path}/{branch.name}/"))
        elif isinstance(state, MapState):
            names.extend(_state_names(state.do, f"{path}/"))
    return names


def _check_run(
    flow: str, value: Any, run_id: str | None, break_at: str | None, allow_shell: bool
) -> None:
    """Exit 2 on a mistake in what ``run`` was given, without a store: the
    document's findings, a ``--break-at`` naming no state, actions this
    process cannot call, a run id that cannot be stored, input failing the
    flow's ``input`` schema. ``Engine.submit`` checks the same again."""
    try:
        workflow = load_flow(Path(flow))
    except ValidationError as exc:
        raise invalid_document(exc) from None
    if break_at is not None:
        _check_break_at(workflow, flow, break_at)
    _check_actions(workflow, flow, allow_shell)
    try:
        if run_id is not None:
            check_run_id(run_id)
        check_input(workflow, value)
    except ValidationError as exc:
        raise invalid_document(exc) from None


def _check_break_at(workflow: Workflow, flow: str, break_at: str) -> None:
    """``--break-at`` must name a state of FLOW (a name, or a path in a
    branch or map body); a typo would otherwise never pause anything."""
    names = _state_names(workflow.root)
    if break_at in names:
        return
    hint = did_you_mean(break_at, names)
    raise click.BadParameter(
        f"{flow} has no state {break_at!r}" + (f"; {hint}" if hint else ""),
        param_hint="--break-at",
    )


def _check_actions(workflow: Workflow, flow: str, allow_shell: bool) -> None:
    """Exit 2, before anything is stored, when FLOW names actions this
    process cannot call: ``run`` drives the run itself, so it would only
    wait for ever (a worker would leave such a call to one that has it)."""
    missing = missing_in_process(workflow, allow_shell=allow_shell)
    if not missing:
        return
    names = sorted({m.action for m in missing})
    lines = [
        f"{flow} names action{'s' if len(names) > 1 else ''} "
        f"{', '.join(repr(n) for n in names)}, registered nowhere in this process; "
        "nothing was stored:"
    ]
    lines += [f"  {use.where}: action '{use.action}' (state '{use.state}')" for use in missing]
    hint = (
        "register them with @wfdsl.action(...) in a module passed with --actions MOD, "
        "listed in the flow's imports:, or advertised in the 'wfdsl.actions' entry point group"
    )
    if "shell" in names:
        hint += "; the built-in shell action needs --allow-shell"
    lines.append(hint)
    uses = [{"action": u.action, "state": u.state, "where": u.where} for u in missing]
    raise CliError("missing_actions", "\n".join(lines), EXIT_INVALID, {"uses": uses})


def _drive(engine: Engine, run_id: str, memory: bool, *, others: bool = False) -> Run | None:
    """Drive until the run ends (with ``others``, the store's other runs
    too); ``None`` when interrupted (Ctrl-C, SIGTERM).
    On virtual time with an in-memory store a run left waiting for a signal
    is returned as it is: no other process can reach it."""

    def on_term(signum: int, frame: Any) -> None:
        raise KeyboardInterrupt

    previous = signal.signal(signal.SIGTERM, on_term)
    try:
        while True:
            current = engine.run_until_complete(run_id, others=others)
            if current.done or memory:
                return current
            # Only virtual time returns a run that still waits: nothing moves
            # by itself, so poll for other processes' signals at a human pace.
            time.sleep(0.2)
    except KeyboardInterrupt:
        return None
    finally:
        signal.signal(signal.SIGTERM, previous)


def _finish(finished: Run | None, run_id: str, as_json: bool) -> int:
    if finished is None:
        click.echo(
            f"\nstopped; run {run_id} stays in the store (wfdsl worker carries it on)",
            err=True,
        )
        return EXIT_INTERRUPTED
    code = 0 if finished.status == "completed" else EXIT_FAILED
    if not finished.done:
        # Virtual time, in-memory store: waiting for a signal nobody can send.
        waits = "; ".join(
            f"{p.path}: {describe_position(p, human=False)}" for p in finished.positions()
        )
        click.echo(
            f"run {finished.id} is {finished.status} ({waits}) and nothing else can reach "
            "it: under --virtual-time the run is kept in memory; give --db PATH to keep it "
            "and signal it from another process",
            err=True,
        )
    if as_json:
        doc = finished.to_json()
        doc["history"] = [event_to_json(e) for e in finished.history()]
        emit_json(doc)
        return code
    if finished.status == "completed":
        click.echo(
            f"run {finished.id} completed; output: {json.dumps(finished.output, default=str)}"
        )
    elif finished.done:
        error = dict(finished.error or {})
        reason = f"{error.get('error', '')}: {error.get('message', '')}".strip(": ")
        click.echo(f"run {finished.id} {finished.status}" + (f": {reason}" if reason else ""))
    return code


def _report_invalid(exc: ValidationError, as_json: bool) -> None:
    findings = [f for f in exc.findings if f.severity == "error"] or list(exc.findings)
    if not findings:
        click.echo(f"wfdsl run: {exc}", err=True)
        return
    for finding in findings:
        click.echo(finding.format(), err=True)


@click.command(epilog="Exit codes: 0 stopped by SIGTERM or Ctrl-C, 2 a named FLOW is invalid.")
@click.argument("flows", nargs=-1, metavar="[FLOW|DIR]...", type=click.Path(exists=True))
@db_option
@actions_option
@lease_option
@owner_option
@click.option(
    "--drain",
    "drain_seconds",
    default=30.0,
    show_default=True,
    metavar="SECONDS",
    help="On SIGTERM/Ctrl-C, how long the calls in flight may take to finish "
    "before their runs are handed back (to run again elsewhere).",
)
@allow_shell_option
@synchronous_option
@click.option("-v", "--verbose", is_flag=True, help="Print every transition, not only runs ending.")
@metrics_option
def worker(
    flows: tuple[str, ...],
    db: str | None,
    actions: tuple[str, ...],
    lease_seconds: float,
    owner: str | None,
    drain_seconds: float,
    allow_shell: bool,
    synchronous: str,
    verbose: bool,
    metrics_addr: MetricsAddr | None,
) -> None:
    """Drive every unfinished run in the store and fire schedules, until stopped.

    FLOW files (or directories of .yaml/.yml files) are validated and stored
    first, so their schedules fire here and on every worker of the store."""
    # SIGTERM (like Ctrl-C) stops a worker with exit 0 from its first line
    # on, not only once it serves: while it imports actions, opens the store
    # or waits for the disk, the default action would kill it (exit 143).
    signal.signal(signal.SIGTERM, _stop_starting)
    engine: Engine | None = None
    stop_metrics: Callable[[], None] | None = None
    try:
        load_actions(actions)
        _check_named(flows)  # before the store is opened: a typo leaves no store
        engine = _patiently(
            lambda: Engine(
                db or default_db(),
                lease_seconds=lease_seconds,
                owner=owner,
                allow_shell=allow_shell,
                synchronous=synchronous.upper(),
                drain_seconds=drain_seconds,
            )
        )
        _register(engine, flows)
        stop_metrics = start_metrics(engine, metrics_addr)
        shown = redact(db or default_db())
        click.echo(f"worker {engine.owner} on {shown}; Ctrl-C to stop", err=True)
        serving = engine

        async def main() -> None:
            loop = asyncio.get_running_loop()
            for signum in (signal.SIGINT, signal.SIGTERM):
                loop.add_signal_handler(signum, serving.stop)
            await serving.serve()

        live = Live(sys.stderr, every=verbose, with_run=True)
        with live, LogLines(live.line, human=live.human, now=serving.clock.now):
            serving.watch(live)
            asyncio.run(main())
    except (_Stopping, KeyboardInterrupt):
        pass
    finally:
        # Stopping already: a second SIGTERM must not cut the release of
        # the leases short (asyncio put the default action back).
        signal.signal(signal.SIGTERM, signal.SIG_IGN)
        if stop_metrics is not None:
            stop_metrics()
        if engine is not None:
            engine.close()
    click.echo("worker stopped", err=True)


class _Stopping(BaseException):
    """SIGTERM while the worker starts (a BaseException, so that no
    ``except Exception`` on the way, an actions module's import included,
    takes it for an error)."""


def _stop_starting(signum: int, frame: Any) -> None:
    raise _Stopping


_T = TypeVar("_T")


def _patiently(work: Callable[[], _T]) -> _T:
    """``work()``, waiting out a store failure that time can cure (the disk
    full, an I/O error, a lock held past the busy timeout), as a serving
    worker does: a worker started on a full disk logs it and tries again
    after 1 s, doubling up to 30 s, until space returns (or SIGTERM).
    Anything else (a corrupt file, not a store) still ends it (exit 74)."""
    backoff = 0.0
    while True:
        try:
            return work()
        except StoreError as exc:
            if not passing(exc):
                raise
            backoff = min(max(1.0, backoff * 2), 30.0)
            click.echo(f"wfdsl: store error: {exc}; trying again in {backoff:.0f} s", err=True)
            time.sleep(backoff)


def _flow_files(flows: Sequence[str]) -> list[tuple[Path, bool]]:
    """(file, named explicitly) for each FLOW; a directory gives its
    ``*.yaml``/``*.yml`` files, sorted."""
    found: list[tuple[Path, bool]] = []
    for flow in flows:
        path = Path(flow)
        if path.is_dir():
            found.extend(
                (p, False) for p in sorted(path.iterdir()) if p.suffix in (".yaml", ".yml")
            )
        else:
            found.append((path, True))
    return found


def _check_named(flows: Sequence[str]) -> None:
    """Exit 2 when a FLOW named on the command line is invalid (every error
    finding on stderr), before the worker opens, and so creates, its store."""
    for path, named in _flow_files(flows):
        if not named:
            continue
        try:
            load_flow(path)
        except ValidationError as exc:
            _report_invalid(exc, as_json=False)
            sys.exit(EXIT_INVALID)


def _register(engine: Engine, flows: Sequence[str]) -> None:
    """Store each flow's definition; an invalid named file exits 2, an
    invalid file found in a directory is skipped with a warning."""
    for path, named in _flow_files(flows):
        try:
            workflow = _patiently(functools.partial(engine.register, str(path)))
        except ValidationError as exc:
            if named:
                _report_invalid(exc, as_json=False)
                sys.exit(EXIT_INVALID)
            first = exc.findings[0].format() if exc.findings else str(exc)
            click.echo(f"skipping {path}: not a valid workflow ({first})", err=True)
            continue
        schedule = workflow.schedule
        what = (
            f"schedule {schedule.cron!r} {schedule.timezone}, overlap {schedule.overlap}"
            if schedule is not None
            else "no schedule"
        )
        click.echo(f"registered {workflow.name} from {path} ({what})", err=True)


def echo_error(exc: WfdslError) -> None:
    click.echo(f"wfdsl: {exc}", err=True)


def is_final(status: str) -> bool:
    return status in FINAL_STATUSES
