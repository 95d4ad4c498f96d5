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
from typing import Any

import click

from wfdsl import cli_graph, cli_run, cli_runs, cli_test, cli_validate
from wfdsl.cli_errors import EXIT_INTERNAL, EXIT_STORE, CliError
from wfdsl.cli_output import emit_json, json_emitted, json_stdout
from wfdsl.designer.serve import serve
from wfdsl.interpreter.store import StoreError

__all__ = ["EXIT_INTERNAL", "EXIT_STORE", "cli", "main"]


class _Group(click.Group):
    """The ``wfdsl`` group: every refusal becomes one stderr line and an
    exit status, and under ``--json`` also the one JSON document on stdout
    (``{"error": {"code": ..., "message": ..., "exit": N}}``), whatever an
    action prints meanwhile (see ``cli_output.json_stdout``)."""

    def main(
        self,
        args: Sequence[str] | None = None,
        prog_name: str | None = None,
        complete_var: str | None = None,
        standalone_mode: bool = True,
        **extra: Any,
    ) -> Any:
        argv = list(args) if args is not None else sys.argv[1:]
        as_json = "--json" in argv[: argv.index("--")] if "--" in argv else "--json" in argv
        with json_stdout(as_json):
            code = _invoke(self, argv, prog_name, complete_var, as_json, extra)
        sys.exit(code)


def _invoke(
    group: click.Group,
    argv: list[str],
    prog_name: str | None,
    complete_var: str | None,
    as_json: bool,
    extra: dict[str, Any],
) -> int:
    def refuse(error: CliError) -> int:
        click.echo(("wfdsl: " if error.prefix else "") + error.message, err=True)
        if as_json and not json_emitted():
            emit_json(error.to_json())
        return error.exit_code

    try:
        result = click.Group.main(
            group, argv, prog_name, complete_var, standalone_mode=False, **extra
        )
    except SystemExit as exc:
        code = exc.code
        return code if isinstance(code, int) else (0 if code is None else 1)
    except CliError as exc:
        return refuse(exc)
    except click.ClickException as exc:
        if as_json and not json_emitted():
            emit_json(CliError("usage", exc.format_message(), exc.exit_code).to_json())
        exc.show()
        return exc.exit_code
    except click.Abort:
        click.echo("Aborted!", err=True)
        return 1
    except StoreError as exc:
        # Disk full, an I/O error, a lock held too long: nothing was
        # committed, the file is sound, and the run carries on once the cause
        # is gone. Not a bug, so no "internal error".
        if os.environ.get("WFDSL_DEBUG"):
            raise
        return refuse(CliError("store", f"store error: {exc}", EXIT_STORE))
    except Exception as exc:
        if os.environ.get("WFDSL_DEBUG"):
            raise
        detail = str(exc).splitlines()[0] if str(exc) else ""
        return refuse(
            CliError(
                "internal",
                f"internal error: {type(exc).__name__}"
                + (f": {detail}" if detail else "")
                + " (this is a bug in wfdsl, not in your workflow; rerun with WFDSL_DEBUG=1"
                " for the traceback and report it)",
                EXIT_INTERNAL,
            )
        )
    return result if isinstance(result, int) else 0


@click.group(cls=_Group, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(package_name="wfdsl", prog_name="wfdsl")
def cli() -> None:
    """Durable YAML state-machine workflows on one SQLite file."""


cli.add_command(cli_validate.validate)
cli.add_command(cli_validate.schema)
cli.add_command(cli_graph.graph)
cli.add_command(cli_run.run)
cli.add_command(cli_run.worker)
cli.add_command(serve)
cli.add_command(cli_test.test)
for command in cli_runs.COMMANDS:
    cli.add_command(command)


def main(argv: Sequence[str] | None = None) -> None:
    """Run the command line; never lets a traceback reach the user.

    Set ``WFDSL_DEBUG=1`` to see the traceback of an internal error.
    """
    cli.main(args=list(argv) if argv is not None else None, prog_name="wfdsl")
