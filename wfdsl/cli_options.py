"""Options shared by the commands that open a store or drive runs, so
``run``, ``worker``, ``serve`` and the ``runs`` family spell, default and
document them the same way."""

from __future__ import annotations

import os

import click

__all__ = [
    "actions_option",
    "allow_shell_option",
    "db_option",
    "default_db",
    "lease_option",
    "owner_option",
    "synchronous_option",
]


def default_db() -> str:
    """``$WFDSL_DB``, else ``wfdsl.db`` in the working directory."""
    return os.environ.get("WFDSL_DB") or "wfdsl.db"


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
lease_option = click.option(
    "--lease",
    "lease_seconds",
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
