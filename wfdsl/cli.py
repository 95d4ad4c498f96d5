"""The ``wfdsl`` command line (docs/cli.md).

``main`` is the console script. The group lives here; each family of
commands lives in a ``cli_*.py`` module of its own and is named in
``COMMANDS`` below, so a new command lands as a new module plus one line.

A command's module is imported only when that command runs: ``wfdsl
--help`` lists the commands from ``COMMANDS`` without loading the engine,
the front end, rich or the designer (a CLI typed all day must start fast;
tests/cli/test_cli_startup.py keeps it so, bench/scenarios/startup.py
measures it). Each entry carries the command's one-line help, which that
test checks against the command's own.

Exit codes: 0 success, 1 the document has errors (``validate``), 2 a usage
error or an invalid document (click's default for usage, §13 for ``graph``
and ``run``), 70 an internal error, which is always a bug in wfdsl: every
mistake a user can make is reported as a finding or a usage error instead;
74 the store failed (disk full, an I/O error, locked past the busy timeout):
a condition of the machine, not a bug, reported as one line.
"""

from __future__ import annotations

import contextlib
import importlib
import os
import sys
from collections.abc import Sequence
from typing import Any

import click

from wfdsl.cli_errors import EXIT_INTERNAL, EXIT_STORE, EXIT_USAGE, CliError

__all__ = ["COMMANDS", "EXIT_INTERNAL", "EXIT_STORE", "cli", "main"]

#: Every command (``--help`` lists them sorted, as click does): name, then where it
#: lives ("module:attribute") and its one-line help (the command's own
#: ``get_short_help_str``, which tests/cli/test_cli_startup.py compares).
COMMANDS: dict[str, tuple[str, str]] = {
    "validate": (
        "wfdsl.cli_validate:validate",
        "Check workflow documents; FLOW may be `-` for standard input.",
    ),
    "schema": ("wfdsl.cli_validate:schema", "Print the JSON Schema of the workflow language."),
    "graph": (
        "wfdsl.cli_graph:graph",
        "Export the state graph of FLOW (`-` reads standard input).",
    ),
    "run": (
        "wfdsl.cli_run:run",
        "Submit FLOW and drive its run here, showing each transition live.",
    ),
    "worker": (
        "wfdsl.cli_run:worker",
        "Drive every unfinished run in the store and fire schedules, until stopped.",
    ),
    "serve": (
        "wfdsl.designer.serve:serve",
        "Worker + HTTP API + designer over the workflows in DIRECTORY (default: here).",
    ),
    "test": (
        "wfdsl.cli_test:test",
        "Run the cases of *.test.yaml files on virtual time, with mocks.",
    ),
    "runs": ("wfdsl.cli_runs:runs", "Inspect runs in the store."),
    "db": ("wfdsl.cli_db:db", "Copy a whole store to another backend."),
    "signal": (
        "wfdsl.cli_runs:signal",
        "Append a message to RUN's inbox on CHANNEL (durable when this returns).",
    ),
    "call": (
        "wfdsl.cli_runs:call",
        'Call HANDLER of RUN and print its answer as JSON (``{"result": ...}`` under --json, so an answer is never mistaken for an error document).',
    ),
    "complete": (
        "wfdsl.cli_complete:complete",
        "Complete the task waiting on callback TOKEN, with --output or --error.",
    ),
    "cancel": ("wfdsl.cli_runs:cancel", "Cancel RUN."),
    "pause": ("wfdsl.cli_runs:pause", "Pause RUN: no new transition starts until resume."),
    "resume": ("wfdsl.cli_runs:resume", "Resume a paused RUN."),
    "step": ("wfdsl.cli_runs:step", "Perform one transition of a paused RUN."),
    "redrive": (
        "wfdsl.cli_ops:redrive",
        "Restart a failed RUN at the state that failed, with the vars it held then; `wfdsl worker` (or `wfdsl run`) drives it on.",
    ),
    "migrate": (
        "wfdsl.cli_ops:migrate",
        "Tell which active runs of workflow NAME can move to the version in FLOW, and with --apply move them.",
    ),
    "fork": (
        "wfdsl.cli_ops:fork",
        "Start a new run from a point of RUN's history, vars patched; RUN is not touched and nothing before the point runs again.",
    ),
}


class _Group(click.Group):
    """The ``wfdsl`` group: every refusal becomes one stderr line and an
    exit status, and under ``--json`` also the one JSON document on stdout
    (``{"error": {"code": ..., "message": ..., "exit": N}}``), whatever an
    action prints meanwhile (see ``cli_output.json_stdout``). Its commands
    come from ``COMMANDS`` and are imported when they run."""

    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted({*COMMANDS, *self.commands})

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        if cmd_name in self.commands or cmd_name not in COMMANDS:
            return self.commands.get(cmd_name)
        module, _, attribute = COMMANDS[cmd_name][0].partition(":")
        command = getattr(importlib.import_module(module), attribute)
        assert isinstance(command, click.Command), COMMANDS[cmd_name]
        self.add_command(command, cmd_name)
        return command

    def format_commands(self, ctx: click.Context, formatter: click.HelpFormatter) -> None:
        # The listing from the table, not from the commands: listing them
        # would import every command's module (the engine, the designer).
        limit = formatter.width - 6 - max(map(len, COMMANDS))
        rows = [
            # Shortened as click shortens a command's own help.
            (name, click.Command(name, help=text).get_short_help_str(limit))
            for name, (_, text) in sorted(COMMANDS.items())
        ]
        with formatter.section("Commands"):
            formatter.write_dl(rows)

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
        with _json_stdout(as_json):
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
        _emit_error(as_json, error)
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
        _emit_error(as_json, CliError("usage", exc.format_message(), exc.exit_code))
        exc.show()
        return exc.exit_code
    except click.Abort:
        click.echo("Aborted!", err=True)
        return 1
    except Exception as exc:
        if os.environ.get("WFDSL_DEBUG"):
            raise
        if _is_url_error(exc):
            return refuse(CliError("usage", str(exc), EXIT_USAGE))
        if _is_store_error(exc):
            # Disk full, an I/O error, a lock held too long: nothing was
            # committed, the file is sound, and the run carries on once the
            # cause is gone. Not a bug, so no "internal error".
            return refuse(CliError("store", f"store error: {exc}", EXIT_STORE))
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


def _json_stdout(as_json: bool) -> contextlib.AbstractContextManager[None]:
    if not as_json:
        return contextlib.nullcontext()
    from wfdsl.cli_output import json_stdout  # rich, only where output is made

    return json_stdout(True)


def _emit_error(as_json: bool, error: CliError) -> None:
    if as_json:
        from wfdsl.cli_output import emit_json, json_emitted

        if not json_emitted():
            emit_json(error.to_json())


def _is_url_error(exc: Exception) -> bool:
    # A --db URL no backend opens (a typo in the scheme, a bad option).
    opener = sys.modules.get("wfdsl.interpreter.store.open")
    return opener is not None and isinstance(exc, opener.StoreUrlError)


def _is_store_error(exc: Exception) -> bool:
    # Only a command that opened a store can raise one, and then the store
    # module is loaded already; importing it here up front would load the
    # engine for `wfdsl --help` too.
    store = sys.modules.get("wfdsl.interpreter.store.errors")
    return store is not None and isinstance(exc, store.StoreError)


@click.group(cls=_Group, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(package_name="wfdsl", prog_name="wfdsl")
def cli() -> None:
    """Durable YAML state-machine workflows on one SQLite file."""


def main(argv: Sequence[str] | None = None) -> None:
    """Run the command line; never lets a traceback reach the user.

    Set ``WFDSL_DEBUG=1`` to see the traceback of an internal error.
    """
    cli.main(args=list(argv) if argv is not None else None, prog_name="wfdsl")
