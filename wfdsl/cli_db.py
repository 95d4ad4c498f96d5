"""``wfdsl db``: commands on a whole store.

``wfdsl db copy SRC DST`` copies every run with its full history (every
execution, events, inbox, timers, definitions, schedules) from one store to
another: a SQLite file to PostgreSQL when a team outgrows the file, or back.
Stop the workers of SRC first (docs/operations.md, "Moving from SQLite").
"""

from __future__ import annotations

import click

from wfdsl.cli_errors import EXIT_REJECTED, CliError
from wfdsl.cli_options import existing_store
from wfdsl.cli_output import emit_json
from wfdsl.interpreter.store.copy import DestinationNotEmpty, copy_store
from wfdsl.interpreter.store.open import open_store, redact

__all__ = ["db"]


@click.group()
def db() -> None:
    """Copy a whole store to another backend."""


@db.command(
    epilog="Exit codes: 0 copied, 4 SRC does not exist, 5 DST is not empty (without "
    "--replace), 74 a store failed (nothing was written to DST)."
)
@click.argument("source", metavar="SRC")
@click.argument("destination", metavar="DST")
@click.option(
    "--replace", is_flag=True, help="Delete what DST holds first (else a non-empty DST is refused)."
)
@click.option("--json", "as_json", is_flag=True, help="Print the counts as JSON.")
def copy(source: str, destination: str, replace: bool, as_json: bool) -> None:
    """Copy every run with its full history from SRC to DST (file paths or URLs).

    Runs keep their ids, executions, histories, inboxes, timers and search
    attributes; definitions and schedules come along. DST gets all of it in
    one transaction, or nothing."""
    src = open_store(existing_store(source, hint=False), brief=True)
    try:
        dst = open_store(destination)
        try:
            try:
                count = copy_store(src, dst, replace=replace)
            except DestinationNotEmpty as refused:
                raise CliError("not_empty", str(refused), EXIT_REJECTED) from None
        finally:
            dst.close()
    finally:
        src.close()
    counts = {
        "runs": count.runs,
        "events": count.events,
        "messages": count.inbox,
        "definitions": count.workflows,
        "schedules": count.schedules,
    }
    if as_json:
        emit_json({"copied": counts, "from": redact(source), "to": redact(destination)})
        return
    click.echo(
        f"copied {count.runs} run(s) with {count.events} event(s) and {count.inbox} message(s), "
        f"{count.workflows} definition(s), {count.schedules} schedule(s) "
        f"from {redact(source)} to {redact(destination)}"
    )
