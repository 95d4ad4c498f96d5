"""``wfdsl run`` and ``wfdsl worker`` (DSL.md §13): commands that drive runs.

``run`` submits a document and drives its run in this process, printing each
transition as it commits (rich on a terminal, plain lines otherwise, one JSON
document with ``--json``). A waiting run keeps the process waiting, since
another process may ``wfdsl signal`` it; Ctrl-C (or SIGTERM) stops driving
and leaves the run durable in the store for ``wfdsl worker``.

Exit codes of ``run``: 0 completed, 1 failed or cancelled, 2 an invalid
document or input; a run left unfinished by Ctrl-C exits 130.

``worker [FLOW|DIR]...`` drives every unfinished run in the store and fires
the schedules of every definition stored in it. Naming flow files (or
directories of them) registers their definitions first, which is how a
scheduled workflow gets onto a store: ``wfdsl worker examples/nightly_report.yaml``
(``wfdsl run`` and ``Engine.submit``/``register`` store definitions too).
SIGTERM or Ctrl-C stops it cleanly (exit 0): actions in flight are
abandoned and their runs' leases released, so the next worker re-runs them.
"""

from __future__ import annotations

import asyncio
import json
import os
import signal
import sys
import time
from collections.abc import Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import click

from wfdsl.errors import RunAlreadyExists, ValidationError, WfdslError
from wfdsl.interpreter.actions import ActionImportError, load_modules
from wfdsl.interpreter.clock import VirtualClock
from wfdsl.interpreter.engine import Engine
from wfdsl.interpreter.records import FINAL_STATUSES, Event, RunRow
from wfdsl.interpreter.run_view import Run, event_to_json

__all__ = ["db_option", "default_db", "parse_json_option", "run", "worker"]

EXIT_FAILED = 1
EXIT_INVALID = 2
EXIT_INTERRUPTED = 130


def default_db() -> str:
    """``$WFDSL_DB``, else ``wfdsl.db`` in the working directory."""
    return os.environ.get("WFDSL_DB") or "wfdsl.db"


db_option = click.option(
    "--db",
    "db",
    default=None,
    metavar="PATH",
    help="SQLite file of the store (default: $WFDSL_DB or ./wfdsl.db).",
)
allow_shell_option = click.option(
    "--allow-shell",
    is_flag=True,
    help="Enable the built-in shell action (off unless the operator asks).",
)
synchronous_option = click.option(
    "--synchronous",
    type=click.Choice(["FULL", "NORMAL"], case_sensitive=False),
    default="FULL",
    show_default=True,
    help="SQLite synchronous: FULL survives power loss, NORMAL only process crashes.",
)
actions_option = click.option(
    "--actions",
    "actions",
    multiple=True,
    metavar="MOD",
    help="Python module (or .py file) registering actions; repeatable.",
)


def parse_json_option(text: str | None, what: str) -> Any:
    """A ``--input``/``--data`` value: JSON text, or ``@file`` holding JSON."""
    if text is None:
        return None
    source = text
    if text.startswith("@"):
        path = Path(text[1:])
        try:
            source = path.read_text(encoding="utf-8")
        except OSError as exc:
            raise click.BadParameter(
                f"cannot read {path}: {exc.strerror}", param_hint=what
            ) from None
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


def _time(seconds: float) -> str:
    return datetime.fromtimestamp(seconds, UTC).strftime("%H:%M:%S")


class _Printer:
    """Live transitions: rich on a terminal, plain lines otherwise."""

    def __init__(self, run_id: str, *, quiet: bool) -> None:
        self.run_id = run_id
        self.quiet = quiet
        self.events: list[Event] = []
        self.tty = sys.stdout.isatty()
        self._console: Any = None
        if self.tty and not quiet:
            from rich.console import Console

            self._console = Console(highlight=False)

    def __call__(self, row: RunRow, events: Sequence[Event]) -> None:
        if row.id != self.run_id:
            return
        self.events.extend(events)
        if self.quiet:
            return
        for event in events:
            data = json.dumps(dict(event.data), default=str) if event.data else ""
            if len(data) > 200:
                data = data[:197] + "..."
            state = event.state or ""
            if self._console is not None:
                from rich.text import Text

                line = Text()
                line.append(_time(event.time), style="dim")
                line.append(f" {event.type:<17}", style=_style(event.type))
                line.append(f" {state}", style="bold")
                if data:
                    line.append(f" {data}", style="dim")
                self._console.print(line)
            else:
                click.echo(f"{_time(event.time)} {event.type} {state} {data}".rstrip())


def _style(event_type: str) -> str:
    if event_type.endswith("failed") or event_type == "run_cancelled":
        return "red"
    if event_type.endswith("completed"):
        return "green"
    if event_type.startswith(("signal", "timer")):
        return "cyan"
    return "yellow"


def _engine(
    db: str | None, *, virtual: bool = False, allow_shell: bool = False, synchronous: str = "FULL"
) -> Engine:
    return Engine(
        db or default_db(),
        clock=VirtualClock() if virtual else None,
        allow_shell=allow_shell,
        synchronous=synchronous.upper(),
    )


@click.command()
@click.argument("flow", type=click.Path(dir_okay=False))
@click.option("--input", "input_text", metavar="JSON|@FILE", help="Run input as JSON, or @file.")
@db_option
@click.option("--run-id", metavar="ID", help="Run id (default: a generated sortable id).")
@actions_option
@click.option("--virtual-time", is_flag=True, help="Timers fire at once (a VirtualClock).")
@click.option("--break-at", metavar="STATE", help="Pause the run when it is about to enter STATE.")
@click.option("--json", "as_json", is_flag=True, help="Print one JSON document at the end.")
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
    allow_shell: bool,
    synchronous: str,
) -> None:
    """Submit FLOW and drive its run here, showing each transition live."""
    value = parse_json_option(input_text, "--input")
    load_actions(actions)
    if not Path(flow).is_file():
        click.echo(f"wfdsl run: no such workflow file: {flow}", err=True)
        sys.exit(EXIT_INVALID)
    engine = _engine(db, virtual=virtual_time, allow_shell=allow_shell, synchronous=synchronous)
    try:
        try:
            submitted = engine.submit(flow, input=value, run_id=run_id, break_at=break_at)
        except ValidationError as exc:
            _report_invalid(exc, as_json)
            sys.exit(EXIT_INVALID)
        except RunAlreadyExists as exc:
            click.echo(f"wfdsl run: {exc}", err=True)
            sys.exit(EXIT_INVALID)
        printer = _Printer(submitted.id, quiet=as_json)
        engine.driver.on_transition = printer
        if not as_json:
            click.echo(f"run {submitted.id} ({submitted.workflow}) started", err=True)
        printer(_row_of(engine, submitted.id), engine.history(submitted.id))
        finished = _drive(engine, submitted.id, virtual_time)
        code = _finish(finished, printer, as_json)
    finally:
        engine.close()
    sys.exit(code)


def _row_of(engine: Engine, run_id: str) -> RunRow:
    row = engine.store.get_run(run_id)
    assert row is not None
    return row


def _drive(engine: Engine, run_id: str, virtual: bool) -> Run | None:
    """Drive until the run ends; ``None`` when interrupted (Ctrl-C, SIGTERM)."""

    def on_term(signum: int, frame: Any) -> None:
        raise KeyboardInterrupt

    previous = signal.signal(signal.SIGTERM, on_term)
    try:
        while True:
            current = engine.run_until_complete(run_id)
            if current.done:
                return current
            # Only virtual time returns a run that still waits: nothing moves
            # by itself, so poll for other processes' signals at a human pace.
            time.sleep(0.2)
    except KeyboardInterrupt:
        return None
    finally:
        signal.signal(signal.SIGTERM, previous)


def _finish(finished: Run | None, printer: _Printer, as_json: bool) -> int:
    if finished is None:
        click.echo(
            f"\nstopped; run {printer.run_id} stays in the store (wfdsl worker carries it on)",
            err=True,
        )
        return EXIT_INTERRUPTED
    code = 0 if finished.status == "completed" else EXIT_FAILED
    if as_json:
        doc = finished.to_json()
        doc["history"] = [event_to_json(e) for e in finished.history()]
        click.echo(json.dumps(doc, default=str))
        return code
    if finished.status == "completed":
        click.echo(
            f"run {finished.id} completed; output: {json.dumps(finished.output, default=str)}"
        )
    else:
        error = dict(finished.error or {})
        reason = f"{error.get('error', '')}: {error.get('message', '')}".strip(": ")
        click.echo(f"run {finished.id} {finished.status}" + (f": {reason}" if reason else ""))
    return code


def _report_invalid(exc: ValidationError, as_json: bool) -> None:
    if as_json:
        click.echo(
            json.dumps(
                {
                    "error": "ValidationError",
                    "message": str(exc).splitlines()[0] if str(exc) else "",
                    "findings": [f.to_json() for f in exc.findings],
                }
            )
        )
        return
    findings = [f for f in exc.findings if f.severity == "error"] or list(exc.findings)
    if not findings:
        click.echo(f"wfdsl run: {exc}", err=True)
        return
    for finding in findings:
        click.echo(finding.format(), err=True)


@click.command()
@click.argument("flows", nargs=-1, metavar="[FLOW|DIR]...", type=click.Path(exists=True))
@db_option
@actions_option
@click.option(
    "--lease",
    "lease_seconds",
    default=30.0,
    show_default=True,
    help="Seconds a run stays leased to this worker between renewals.",
)
@click.option(
    "--owner",
    default=None,
    metavar="NAME",
    help="A stable name for this worker in run leases: restarted with the same name, it "
    "takes back at once the runs it left in flight. Never give one name to two live "
    "workers. Default: host:pid:start:space:random, unique per process.",
)
@allow_shell_option
@synchronous_option
def worker(
    flows: tuple[str, ...],
    db: str | None,
    actions: tuple[str, ...],
    lease_seconds: float,
    owner: str | None,
    allow_shell: bool,
    synchronous: str,
) -> None:
    """Drive every unfinished run in the store and fire schedules, until stopped.

    FLOW files (or directories of .yaml/.yml files) are validated and stored
    first, so their schedules fire here and on every worker of the store."""
    load_actions(actions)
    engine = Engine(
        db or default_db(),
        lease_seconds=lease_seconds,
        owner=owner,
        allow_shell=allow_shell,
        synchronous=synchronous.upper(),
    )
    try:
        _register(engine, flows)
    except SystemExit:
        engine.close()
        raise
    click.echo(f"worker {engine.owner} on {db or default_db()}; Ctrl-C to stop", err=True)

    async def main() -> None:
        loop = asyncio.get_running_loop()
        for signum in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(signum, engine.stop)
        await engine.serve()

    try:
        asyncio.run(main())
    except KeyboardInterrupt:
        pass
    finally:
        engine.close()
    click.echo("worker stopped", err=True)


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


def _register(engine: Engine, flows: Sequence[str]) -> None:
    """Store each flow's definition; an invalid named file exits 2, an
    invalid file found in a directory is skipped with a warning."""
    for path, named in _flow_files(flows):
        try:
            workflow = engine.register(str(path))
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
