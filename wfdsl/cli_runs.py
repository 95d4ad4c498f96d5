"""Commands that inspect or act on stored runs (docs/cli.md), from any process
sharing the store: ``runs list|show|history``, ``signal``, ``call``,
``cancel``, ``pause``, ``resume``, ``step``.

Exit codes: 0 done, 4 no such run (or a RUN prefix that begins several ids:
the candidates are listed), 5 rejected (a handler's guard, a message
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
from dataclasses import asdict

import click

from wfdsl.cli_errors import EXIT_NOT_FOUND, EXIT_REJECTED, EXIT_USAGE, CliError
from wfdsl.cli_options import db_option, existing_store
from wfdsl.cli_output import emit_json, stamp
from wfdsl.cli_words import describe_position
from wfdsl.dsl.suggest import did_you_mean
from wfdsl.errors import (
    ExpressionError,
    HandlerRejected,
    RunNotFound,
    ValidationError,
    WfdslError,
)
from wfdsl.interpreter.engine import Engine
from wfdsl.interpreter.run_view import Run, event_to_json
from wfdsl.interpreter.store.errors import RunNotActive
from wfdsl.interpreter.store.open import open_store
from wfdsl.interpreter.store.records import ACTIVE_STATUSES, FINAL_STATUSES

from .cli_run import parse_json_option

__all__ = ["call", "cancel", "pause", "resume", "runs", "signal", "step"]

json_option = click.option("--json", "as_json", is_flag=True, help="Print one JSON document.")

_CODES_INSPECT = (
    "Exit codes: 0 done, 4 no such run (or no store at PATH, or an ambiguous RUN prefix), "
    "74 the store failed."
)
_CODES_LIST = (
    "Exit codes: 0 done (even with no runs), 2 bad --status or --where, 4 no store at PATH."
)
_CODES_ACT = (
    "Exit codes: 0 done, 4 no such run (or no store at PATH, or an ambiguous RUN prefix), "
    "5 rejected ({why}), "
    "74 the store failed."
)
STATUSES = tuple(sorted(ACTIVE_STATUSES | FINAL_STATUSES))


@contextmanager
def _engine(db: str | None, *, hint: str = "") -> Iterator[Engine]:
    """An engine for one command; user-facing errors become exit codes."""
    # A store that cannot be opened or written (disk full, I/O error, locked
    # past the busy timeout) is not a refusal: StoreError reaches the group,
    # which prints it as one line and exits 74 like every other command.
    # brief: on a full disk with no -shm file to map, reads still work.
    engine = Engine(store=open_store(existing_store(db), brief=True))
    try:
        yield engine
    except RunNotFound as exc:
        raise CliError("not_found", str(exc), EXIT_NOT_FOUND) from None
    except HandlerRejected as exc:
        raise CliError("rejected", f"rejected: {exc}", EXIT_REJECTED) from None
    except ValidationError as exc:
        # Signal data or handler args that fail their schema (WF602/WF603).
        raise CliError(
            "rejected",
            f"rejected: {exc}{hint}",
            EXIT_REJECTED,
            {"findings": [f.to_json() for f in exc.findings]},
        ) from None
    except ExpressionError as exc:
        raise CliError("usage", f"invalid --where expression: {exc}", EXIT_USAGE) from None
    except (WfdslError, RunNotActive) as exc:
        raise CliError("rejected", str(exc), EXIT_REJECTED) from None
    finally:
        engine.close()


def _human() -> bool:
    return sys.stdout.isatty()


def _when(seconds: float | None) -> str:
    if seconds is None:
        return "-"
    return stamp(seconds, human=_human())


# ------------------------------------------------------------------ runs


@click.group()
def runs() -> None:
    """Inspect runs in the store."""


@runs.command("list", epilog=_CODES_LIST)
@click.option("--status", metavar="S", help=f"Only runs with this status ({', '.join(STATUSES)}).")
@click.option("--workflow", metavar="W", help="Only runs of this workflow (name).")
@click.option("--where", metavar="EXPR", help="Expression over search attributes.")
@click.option("--limit", default=100, show_default=True)
@click.option(
    "--all-executions",
    is_flag=True,
    help="Also the earlier runs of reused ids (by default only the newest of each id).",
)
@db_option
@json_option
def list_(
    status: str | None,
    workflow: str | None,
    where: str | None,
    limit: int,
    all_executions: bool,
    db: str | None,
    as_json: bool,
) -> None:
    """List runs, newest first."""
    if status is not None and status not in STATUSES:
        hint = did_you_mean(status, STATUSES)
        raise click.BadParameter(
            f"no status {status!r}"
            + (f"; {hint}" if hint else "")
            + f" (one of {', '.join(STATUSES)})",
            param_hint="--status",
        )
    with _engine(db) as engine:
        found = engine.list_runs(
            where=where,
            status=status,
            workflow=workflow,
            limit=limit,
            all_executions=all_executions,
        )
    if as_json:
        emit_json([r.to_json() for r in found])
        return
    if not found:
        click.echo("no runs")
        return
    from rich.console import Console
    from rich.table import Table

    table = Table(box=None, highlight=False)
    # An id is never cut: a shortened id names no run. The other columns
    # give way first; an id wider than the terminal folds onto the next
    # line whole rather than losing characters to an ellipsis.
    table.add_column("id", no_wrap=True, overflow="fold", min_width=max(len(r.id) for r in found))
    if all_executions:
        table.add_column("execution", justify="right")
    for column in ("workflow", "status", "started", "ended"):
        table.add_column(column)
    for r in found:
        cells = [r.workflow, r.status, _when(r.started_at), _when(r.ended_at)]
        if all_executions:
            cells.insert(0, str(r.execution))
        table.add_row(r.id, *cells)
    Console(soft_wrap=True).print(table)


execution_option = click.option(
    "--execution",
    type=click.IntRange(min=1),
    metavar="N",
    help="The Nth run that had this id (1 is the first); default: the newest.",
)


@runs.command(epilog=_CODES_INSPECT)
@click.argument("run_id", metavar="RUN")
@execution_option
@db_option
@json_option
def show(run_id: str, execution: int | None, db: str | None, as_json: bool) -> None:
    """Show one run: status, input, vars, output, error; for a run that has
    not ended, where it is and what it waits for. RUN is an id or any unique
    prefix of one."""
    with _engine(db) as engine:
        run = engine.get(run_id, execution=execution)
        count = len(engine.executions(run.id)) if run.execution > 1 or execution else 1
        positions = run.positions()
    if as_json:
        doc = run.to_json()
        doc["positions"] = [asdict(p) for p in positions]
        emit_json(doc)
        return
    _describe(run, count)


def _describe(run: Run, executions: int = 1) -> None:
    human = _human()
    click.echo(f"run       {run.id}")
    if executions > 1:
        others = ", ".join(str(n) for n in range(1, executions + 1) if n != run.execution)
        click.echo(
            f"execution {run.execution} of {executions} under this id "
            f"(the others: --execution {others})"
        )
    click.echo(f"workflow  {run.workflow}" + (f" (version {run.version})" if run.version else ""))
    click.echo(f"status    {run.status}")
    if run.waiting_for:
        click.echo(f"          {run.waiting_for}")
    click.echo(f"started   {_when(run.started_at)}")
    click.echo(f"ended     {_when(run.ended_at)}")
    click.echo(f"input     {json.dumps(run.input, default=str)}")
    click.echo(f"vars      {json.dumps(dict(run.vars), default=str)}")
    if run.output is not None:
        click.echo(f"output    {json.dumps(run.output, default=str)}")
    if run.error:
        click.echo(f"error     {run.error.get('error')}: {run.error.get('message')}")
    for i, position in enumerate(run.positions()):
        label = "at" if i == 0 else ""
        click.echo(f"{label:<9} {position.path}: {describe_position(position, human=human)}")


@runs.command(epilog=_CODES_INSPECT)
@click.argument("run_id", metavar="RUN")
@execution_option
@db_option
@json_option
def history(run_id: str, execution: int | None, db: str | None, as_json: bool) -> None:
    """Show a run's history, oldest first. A reused id shows its newest run;
    --execution N an earlier one (their histories are all kept)."""
    with _engine(db) as engine:
        run = engine.get(run_id, execution=execution)
        events = engine.history(run.id, execution=run.execution)
    if not as_json and execution is None and run.execution > 1:
        earlier = ", ".join(str(n) for n in range(1, run.execution))
        click.echo(
            f"run {run.id}: execution {run.execution}, the newest; "
            f"earlier ones: --execution {earlier}",
            err=True,
        )
    if as_json:
        emit_json([event_to_json(e) for e in events])
        return
    for e in events:
        data = json.dumps(dict(e.data), default=str) if e.data else ""
        click.echo(f"{e.seq:>4} {_when(e.time)} {e.type:<17} {e.state or ''} {data}".rstrip())


# ------------------------------------------------------------------ acting on a run


def _control(
    db: str | None,
    run_id: str,
    as_json: bool,
    *,
    verb: str,
    act: Callable[[Engine], Run],
    need_paused: bool = False,
    done: str,
) -> None:
    """A control request, refused (exit 5) when the run has ended, before or
    while it was asked (the engine itself may say so too), or, for
    ``need_paused``, when it is not paused."""
    with _engine(db) as engine:
        before = engine.get(run_id)
        if before.done:
            raise CliError(
                "rejected",
                f"run {before.id} has already ended ({before.status}); nothing to {verb}",
                EXIT_REJECTED,
                {"status": before.status},
            )
        if need_paused and before.status != "paused":
            raise CliError(
                "rejected",
                f"run {before.id} is {before.status}, not paused; nothing to {verb}",
                EXIT_REJECTED,
                {"status": before.status},
            )
        after = act(engine)
    if after.done and not (verb == "cancel" and after.status == "cancelled"):
        raise CliError(
            "rejected",
            f"run {after.id} ended ({after.status}) before it could {verb}",
            EXIT_REJECTED,
            {"status": after.status},
        )
    if as_json:
        emit_json(after.to_json())
    else:
        click.echo(f"{done}; run {after.id} is now {after.status}")


@click.command(epilog=_CODES_ACT.format(why="the run has ended, or the channel or data is refused"))
@click.argument("run_id", metavar="RUN")
@click.argument("channel")
@click.option("--data", metavar="JSON|@FILE", help="Message payload as JSON (default: null).")
@db_option
@json_option
def signal(run_id: str, channel: str, data: str | None, db: str | None, as_json: bool) -> None:
    """Append a message to RUN's inbox on CHANNEL (durable when this returns)."""
    payload = parse_json_option(data, "--data")
    hint = " (no --data given, so the payload is null; pass --data JSON)" if data is None else ""
    with _engine(db, hint=hint) as engine:
        engine.signal(run_id, channel, payload)
    if as_json:
        emit_json({"sent": True, "run": run_id, "channel": channel})
    else:
        click.echo(f"sent {channel} to {run_id}")


@click.command(epilog=_CODES_ACT.format(why="the handler's guard is false or args fail its input"))
@click.argument("run_id", metavar="RUN")
@click.argument("handler")
@click.option("--data", metavar="JSON|@FILE", help="The call's args as JSON.")
@db_option
@json_option
def call(run_id: str, handler: str, data: str | None, db: str | None, as_json: bool) -> None:
    """Call HANDLER of RUN and print its answer as JSON (``{"result": ...}``
    under --json, so an answer is never mistaken for an error document)."""
    args = parse_json_option(data, "--data")
    with _engine(db) as engine:
        value = engine.call(run_id, handler, args)
    emit_json({"result": value} if as_json else value)


@click.command(epilog=_CODES_ACT.format(why="the run has ended, or another process holds it"))
@click.argument("run_id", metavar="RUN")
@click.option("--compensate", is_flag=True, help="Run the undo actions before cancelling.")
@db_option
@json_option
def cancel(run_id: str, compensate: bool, db: str | None, as_json: bool) -> None:
    """Cancel RUN."""
    _control(
        db,
        run_id,
        as_json,
        verb="cancel",
        act=lambda e: e.cancel(run_id, compensate=compensate),
        done="cancel requested",
    )


@click.command(epilog=_CODES_ACT.format(why="the run has ended, or another process holds it"))
@click.argument("run_id", metavar="RUN")
@db_option
@json_option
def pause(run_id: str, db: str | None, as_json: bool) -> None:
    """Pause RUN: no new transition starts until resume."""
    _control(db, run_id, as_json, verb="pause", act=lambda e: e.pause(run_id), done="paused")


@click.command(epilog=_CODES_ACT.format(why="the run has ended or is not paused"))
@click.argument("run_id", metavar="RUN")
@db_option
@json_option
def resume(run_id: str, db: str | None, as_json: bool) -> None:
    """Resume a paused RUN."""
    _control(
        db,
        run_id,
        as_json,
        verb="resume",
        act=lambda e: e.resume(run_id),
        need_paused=True,
        done="resumed",
    )


@click.command(epilog=_CODES_ACT.format(why="the run has ended or is not paused"))
@click.argument("run_id", metavar="RUN")
@db_option
@json_option
def step(run_id: str, db: str | None, as_json: bool) -> None:
    """Perform one transition of a paused RUN."""
    _control(
        db,
        run_id,
        as_json,
        verb="step",
        act=lambda e: e.step(run_id),
        need_paused=True,
        done="stepped",
    )


COMMANDS = (runs, signal, call, cancel, pause, resume, step)

# `runs prune` and `runs retention` live beside (they need `runs` defined).
from .cli_prune import prune, retention  # noqa: E402

__all__ += ["prune", "retention"]
