"""Options shared by the commands that open a store or drive runs, so
``run``, ``worker``, ``serve`` and the ``runs`` family spell, default and
document them the same way."""

from __future__ import annotations

import os
from pathlib import Path

import click

from wfdsl.cli_errors import EXIT_NOT_FOUND, CliError
from wfdsl.interpreter.store.open import sqlite_file

__all__ = [
    "actions_option",
    "allow_shell_option",
    "db_option",
    "default_db",
    "existing_store",
    "lease_option",
    "owner_option",
    "synchronous_option",
]


def default_db() -> str:
    """``$WFDSL_DB``, else ``wfdsl.db`` in the working directory."""
    return os.environ.get("WFDSL_DB") or "wfdsl.db"


def existing_store(db: str | None, *, hint: bool = True) -> str:
    """The store a command on stored runs opens (``--db``, else the
    default), refused when it is a SQLite file that does not exist: such a
    command reads or acts on runs that must already be there, and opening
    the file would leave an empty store behind a typo (exit 4). ``hint``:
    say how to name another store (``--db``, ``$WFDSL_DB``)."""
    target = db or default_db()
    path = sqlite_file(target)
    if path is None or path == ":memory:" or Path(path).exists():
        return target
    message = f"no store at {path}"
    if hint:
        message += " (nothing has run with this store yet; give --db PATH or set $WFDSL_DB)"
    raise CliError("no_store", message, EXIT_NOT_FOUND)


db_option = click.option(
    "--db",
    "db",
    default=None,
    metavar="PATH|URL",
    help="The store: a SQLite file or a postgresql:// URL (default: $WFDSL_DB or ./wfdsl.db).",
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


def _positive_seconds(ctx: click.Context, param: click.Parameter, value: float) -> float:
    """A lease of zero, a negative or a NaN length would expire at once (or
    never compare): refused with a usage error (exit 2) naming the option."""
    if not value > 0 or value == float("inf"):
        raise click.BadParameter(f"{value:g} is not a positive number of seconds")
    return value


lease_option = click.option(
    "--lease",
    "lease_seconds",
    type=float,
    callback=_positive_seconds,
    default=30.0,
    show_default=True,
    metavar="SECONDS",
    help="Seconds a run stays leased to this worker between renewals.",
)
owner_option = click.option(
    "--owner",
    default=None,
    metavar="NAME",
    help="A stable name for this worker in run leases: restarted with the same name, it "
    "takes back at once the runs it left in flight. Never give one name to two live "
    "workers. Default: host:pid:start:space:random, unique per process.",
)
