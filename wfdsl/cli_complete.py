"""``wfdsl complete TOKEN``: complete a task waiting on a callback token.

The token is what the task's action handed to the outside world (``${ token
}`` in its args). ``--output JSON`` completes it with that result; ``--error
NAME --message TEXT`` fails it (the task retries and catches it as an
action's error); ``--heartbeat`` only tells the task the work goes on.
"""

from __future__ import annotations

import click

from wfdsl.cli_errors import EXIT_NOT_FOUND, EXIT_REJECTED, EXIT_USAGE, CliError
from wfdsl.cli_options import db_option
from wfdsl.cli_output import emit_json
from wfdsl.errors import CallbackNotFound, CallbackRefused

from .cli_run import parse_json_option
from .cli_runs import _engine

__all__ = ["complete"]

_CODES = (
    "Exit codes: 0 completed (durable when this returns), 2 a mistake in the options, "
    "4 no such token (or no store at PATH), 5 the token was already completed or is stale "
    "(its attempt timed out, was retried or cancelled, or the run ended), 74 the store failed."
)


@click.command(epilog=_CODES)
@click.argument("token")
@click.option("--output", metavar="JSON|@FILE", help="The task's result, as JSON (default: null).")
@click.option("--error", "error", metavar="NAME", help="Fail the task with this error name.")
@click.option("--message", metavar="TEXT", help="The failure's message (with --error).")
@click.option(
    "--heartbeat", is_flag=True, help="Only report that the work goes on (resets the heartbeat)."
)
@db_option
@click.option("--json", "as_json", is_flag=True, help="Print one JSON document.")
def complete(
    token: str,
    output: str | None,
    error: str | None,
    message: str | None,
    heartbeat: bool,
    db: str | None,
    as_json: bool,
) -> None:
    """Complete the task waiting on callback TOKEN, with --output or --error."""
    if heartbeat and (output is not None or error is not None or message is not None):
        raise CliError("usage", "--heartbeat takes no --output, --error or --message", EXIT_USAGE)
    if error is not None and output is not None:
        raise CliError("usage", "give --output or --error, not both", EXIT_USAGE)
    if message is not None and error is None:
        raise CliError("usage", "--message goes with --error NAME", EXIT_USAGE)
    if error is not None and not error.strip():
        raise CliError("usage", "--error needs an error name", EXIT_USAGE)
    value = parse_json_option(output, "--output")
    with _engine(db) as engine:
        try:
            if heartbeat:
                engine.heartbeat(token)
            else:
                engine.complete(token, output=value, error=error, message=message)
        except CallbackNotFound as exc:
            raise CliError("not_found", str(exc), EXIT_NOT_FOUND) from None
        except CallbackRefused as exc:
            raise CliError("rejected", f"refused: {exc}", EXIT_REJECTED) from None
    what = "heartbeat" if heartbeat else ("failed" if error is not None else "completed")
    if as_json:
        emit_json({"token": token, "sent": what})
    else:
        click.echo(f"callback {what}: the waiting task takes it at its next transition")
