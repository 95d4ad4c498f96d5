"""Commands that inspect or act on stored runs (DSL.md §13), from any process
sharing the store: ``runs list|show|history``, ``signal``, ``call``,
``cancel``, ``pause``, ``resume``, ``step``.

Exit codes: 0 done, 4 no such run, 5 rejected (a handler's guard, a message
to a finished run, a run another process would not let go of, signal data or
handler args that fail their schema: WF602/WF603, every violation printed,
nothing stored); 74 the store failed (disk full, an I/O error, locked past
the busy timeout: nothing was stored). Mistakes in
the command itself (bad JSON, a bad ``--where``) are usage errors (2). No
user mistake prints a traceback.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from typing import Any

import click

from wfdsl.errors import (
    ExpressionError,
    HandlerRejected,
    RunNotFound,
    ValidationError,
    WfdslError,
)
from wfdsl.interpreter.engine import Engine
from wfdsl.interpreter.run_view import Run, event_to_json
from wfdsl.interpreter.store import RunNotActive

from .cli_run import db_option, default_db, parse_json_option

__all__ = ["call", "cancel", "pause", "resume", "runs", "signal", "step"]

EXIT_NOT_FOUND = 4
EXIT_REJECTED = 5

json_option = click.option("--json", "as_json", is_flag=True, help="Print one JSON document.")


@contextmanager
def _engine(db: str | None, *, as_json: bool = False) -> Iterator[Engine]:
    """An engine for one command; user-facing errors become exit codes."""
    # A store that cannot be opened or written (disk full, I/O error, locked
    # past the busy timeout) is not a refusal: StoreError reaches main(),
    # which prints it as one line and exits 74 like every other command.
    engine = Engine(db or default_db())
    try:
        yield engine
    except RunNotFound as exc:
        click.echo(f"wfdsl: {exc}", err=True)
        sys.exit(EXIT_NOT_FOUND)
    except HandlerRejected as exc:
        click.echo(f"wfdsl: rejected: {exc}", err=True)
        sys.exit(EXIT_REJECTED)
    except ValidationError as exc:
        # Signal data or handler args that fail their schema (WF602/WF603).
        if as_json:
            _print_json(
                {
                    "error": "ValidationError",
                    "message": str(exc).splitlines()[0] if str(exc) else "",
                    "findings": [f.to_json() for f in exc.findings],
                }
            )
        click.echo(f"wfdsl: rejected: {exc}", err=True)
        sys.exit(EXIT_REJECTED)
    except ExpressionError as exc:
        raise click.UsageError(f"invalid --where expression: {exc}") from None
    except (WfdslError, RunNotActive) as exc:
        click.echo(f"wfdsl: {exc}", err=True)
        sys.exit(EXIT_REJECTED)
    finally:
        engine.close()


def _when(seconds: float | None) -> str:
    if seconds is None:
        return "-"
    return datetime.fromtimestamp(seconds, UTC).strftime("%Y-%m-%d %H:%M:%S")


def _print_json(doc: Any) -> None:
    click.echo(json.dumps(doc, default=str))


# ------------------------------------------------------------------ runs


@click.group()
def runs() -> None:
    """Inspect runs in the store."""


@runs.command("list")
@click.option("--status", metavar="S", help="Only runs with this status.")
@click.option("--workflow", metavar="W", help="Only runs of this workflow (name).")
@click.option("--where", metavar="EXPR", help="Expression over search attributes.")
@click.option("--limit", default=100, show_default=True)
@db_option
@json_option
def list_(
    status: str | None,
    workflow: str | None,
    where: str | None,
    limit: int,
    db: str | None,
    as_json: bool,
) -> None:
    """List runs, newest first."""
    with _engine(db) as engine:
        found = engine.list_runs(where=where, status=status, workflow=workflow, limit=limit)
    if as_json:
        _print_json([r.to_json() for r in found])
        return
    if not found:
        click.echo("no runs")
        return
    from rich.console import Console
    from rich.table import Table

    table = Table(box=None, highlight=False)
    for column in ("id", "workflow", "status", "started", "ended"):
        table.add_column(column)
    for r in found:
        table.add_row(r.id, r.workflow, r.status, _when(r.started_at), _when(r.ended_at))
    Console(soft_wrap=True).print(table)


@runs.command()
@click.argument("run_id", metavar="RUN")
@db_option
@json_option
def show(run_id: str, db: str | None, as_json: bool) -> None:
    """Show one run: status, input, vars, output, error."""
    with _engine(db) as engine:
        run = engine.get(run_id)
    if as_json:
        _print_json(run.to_json())
        return
    _describe(run)


def _describe(run: Run) -> None:
    click.echo(f"run       {run.id}")
    click.echo(f"workflow  {run.workflow}" + (f" (version {run.version})" if run.version else ""))
    click.echo(f"status    {run.status}")
    click.echo(f"started   {_when(run.started_at)}")
    click.echo(f"ended     {_when(run.ended_at)}")
    click.echo(f"input     {json.dumps(run.input, default=str)}")
    click.echo(f"vars      {json.dumps(dict(run.vars), default=str)}")
    if run.output is not None:
        click.echo(f"output    {json.dumps(run.output, default=str)}")
    if run.error:
        click.echo(f"error     {run.error.get('error')}: {run.error.get('message')}")


@runs.command()
@click.argument("run_id", metavar="RUN")
@db_option
@json_option
def history(run_id: str, db: str | None, as_json: bool) -> None:
    """Show a run's history, oldest first."""
    with _engine(db) as engine:
        events = engine.history(run_id)
    if as_json:
        _print_json([event_to_json(e) for e in events])
        return
    for e in events:
        data = json.dumps(dict(e.data), default=str) if e.data else ""
        click.echo(f"{e.seq:>4} {_when(e.time)} {e.type:<17} {e.state or ''} {data}".rstrip())


# ------------------------------------------------------------------ acting on a run


def _act(db: str | None, as_json: bool, action: Callable[[Engine], Any], done: str) -> None:
    with _engine(db, as_json=as_json) as engine:
        result = action(engine)
    if as_json:
        _print_json(result.to_json() if isinstance(result, Run) else {"result": result})
    elif isinstance(result, Run):
        click.echo(f"{done}; run {result.id} is {result.status}")
    else:
        click.echo(done)


@click.command()
@click.argument("run_id", metavar="RUN")
@click.argument("channel")
@click.option("--data", metavar="JSON|@FILE", help="Message payload as JSON.")
@db_option
@json_option
def signal(run_id: str, channel: str, data: str | None, db: str | None, as_json: bool) -> None:
    """Append a message to RUN's inbox on CHANNEL (durable when this returns)."""
    payload = parse_json_option(data, "--data")
    _act(db, as_json, lambda e: e.signal(run_id, channel, payload), f"sent {channel} to {run_id}")


@click.command()
@click.argument("run_id", metavar="RUN")
@click.argument("handler")
@click.option("--data", metavar="JSON|@FILE", help="The call's args as JSON.")
@db_option
def call(run_id: str, handler: str, data: str | None, db: str | None) -> None:
    """Call HANDLER of RUN and print its answer as JSON."""
    args = parse_json_option(data, "--data")
    with _engine(db) as engine:
        value = engine.call(run_id, handler, args)
    _print_json(value)


@click.command()
@click.argument("run_id", metavar="RUN")
@click.option("--compensate", is_flag=True, help="Run the undo actions before cancelling.")
@db_option
@json_option
def cancel(run_id: str, compensate: bool, db: str | None, as_json: bool) -> None:
    """Cancel RUN."""
    _act(db, as_json, lambda e: e.cancel(run_id, compensate=compensate), "cancel requested")


@click.command()
@click.argument("run_id", metavar="RUN")
@db_option
@json_option
def pause(run_id: str, db: str | None, as_json: bool) -> None:
    """Pause RUN: no new transition starts until resume."""
    _act(db, as_json, lambda e: e.pause(run_id), "paused")


@click.command()
@click.argument("run_id", metavar="RUN")
@db_option
@json_option
def resume(run_id: str, db: str | None, as_json: bool) -> None:
    """Resume a paused RUN."""
    _act(db, as_json, lambda e: e.resume(run_id), "resumed")


@click.command()
@click.argument("run_id", metavar="RUN")
@db_option
@json_option
def step(run_id: str, db: str | None, as_json: bool) -> None:
    """Perform one transition of a paused RUN."""
    _act(db, as_json, lambda e: e.step(run_id), "stepped")


COMMANDS = (runs, signal, call, cancel, pause, resume, step)
