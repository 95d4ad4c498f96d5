"""The ``wfdsl`` command line (DSL.md §13).

``main`` is the console script. The group lives here; each family of
commands lives in a ``cli_*.py`` module of its own and is added to the group
below, so the interpreter's commands (run, worker, runs, signal, ...) land as
new modules plus one line each, not as edits to the ones already here.

Exit codes: 0 success, 1 the document has errors (``validate``), 2 a usage
error or an invalid document (click's default for usage, §13 for ``graph``
and ``run``), 70 an internal error, which is always a bug in wfdsl: every
mistake a user can make is reported as a finding or a usage error instead;
74 the store failed (disk full, an I/O error, locked past the busy timeout):
a condition of the machine, not a bug, reported as one line.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Sequence

import click

from wfdsl import cli_graph, cli_run, cli_runs, cli_validate
from wfdsl.designer.serve import serve
from wfdsl.interpreter.store import StoreError

__all__ = ["EXIT_INTERNAL", "EXIT_STORE", "cli", "main"]

EXIT_INTERNAL = 70  # EX_SOFTWARE in sysexits.h
EXIT_STORE = 74  # EX_IOERR: the store could not read or write its file


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(package_name="wfdsl", prog_name="wfdsl")
def cli() -> None:
    """Durable YAML state-machine workflows on one SQLite file."""


cli.add_command(cli_validate.validate)
cli.add_command(cli_validate.schema)
cli.add_command(cli_graph.graph)
cli.add_command(cli_run.run)
cli.add_command(cli_run.worker)
cli.add_command(serve)
for command in cli_runs.COMMANDS:
    cli.add_command(command)


def main(argv: Sequence[str] | None = None) -> None:
    """Run the command line; never lets a traceback reach the user.

    Set ``WFDSL_DEBUG=1`` to see the traceback of an internal error.
    """
    try:
        cli.main(args=list(argv) if argv is not None else None, prog_name="wfdsl")
    except StoreError as exc:
        # Disk full, an I/O error, a lock held too long: nothing was
        # committed, the file is sound, and the run carries on once the cause
        # is gone. Not a bug, so no "internal error".
        if os.environ.get("WFDSL_DEBUG"):
            raise
        click.echo(f"wfdsl: store error: {exc}", err=True)
        sys.exit(EXIT_STORE)
    except Exception as exc:
        if os.environ.get("WFDSL_DEBUG"):
            raise
        detail = str(exc).splitlines()[0] if str(exc) else ""
        click.echo(
            f"wfdsl: internal error: {type(exc).__name__}"
            + (f": {detail}" if detail else "")
            + " (this is a bug in wfdsl, not in your workflow; rerun with WFDSL_DEBUG=1"
            " for the traceback and report it)",
            err=True,
        )
        sys.exit(EXIT_INTERNAL)
