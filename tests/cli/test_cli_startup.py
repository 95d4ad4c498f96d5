"""A command line typed all day starts fast: ``wfdsl --help`` loads click
and wfdsl's own group only, ``wfdsl validate`` the front end but not the
engine, the designer or the http client. Checked as sets of modules a fresh
interpreter imported (a count, not a time: bench/scenarios/startup.py
measures the milliseconds against ``python -c pass``).
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import click
import pytest

from wfdsl.cli import COMMANDS, cli

# Top-level packages (or wfdsl modules) a command must not load unless it needs them.
HEAVY = (
    "asyncio",
    "httpx",
    "jsonschema",
    "lark",
    "rich",
    "ruamel",
    "sqlite3",
    "starlette",
    "uvicorn",
    "yaml",
    "wfdsl.designer",
    "wfdsl.dsl.api",
    "wfdsl.interpreter",
)

PROBE = """
import json, sys
argv = json.loads(sys.argv[1])
if argv is None:
    import wfdsl.cli
else:
    from wfdsl.cli import main
    try:
        main(argv)
    except SystemExit:
        pass
print(json.dumps(sorted(sys.modules)), file=sys.stderr)
"""

SMALL = """\
wfdsl: "1"
name: small
start: greet
states:
  greet: {type: task, action: log, args: {message: "hello ${ run.id }"}, next: done}
  done: {type: succeed}
"""


def loaded(argv: list[str] | None, cwd: Path) -> set[str]:
    """The modules a fresh interpreter holds after ``wfdsl ARGV`` (None: the import alone)."""
    done = subprocess.run(
        [sys.executable, "-c", PROBE, json.dumps(argv)],
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    modules: list[str] = json.loads(done.stderr.strip().splitlines()[-1])
    return set(modules)


def heavy(modules: set[str]) -> set[str]:
    return {m for m in modules if any(m == h or m.startswith(h + ".") for h in HEAVY)}


@pytest.mark.parametrize("argv", [None, ["--help"]], ids=str)
def test_import_and_help_load_no_heavy_module(argv: list[str] | None, tmp_path: Path) -> None:
    modules = loaded(argv, tmp_path)
    assert heavy(modules) == set()
    assert "click" in modules  # the probe saw what it should


def test_validate_loads_the_front_end_but_not_the_engine_or_the_designer(
    tmp_path: Path,
) -> None:
    (tmp_path / "small.yaml").write_text(SMALL)
    found = heavy(loaded(["validate", "small.yaml"], tmp_path))
    assert "wfdsl.dsl.api" in found and "lark" in found
    assert {m.split(".")[0] for m in found} <= {"wfdsl", "lark", "rich", "ruamel", "yaml"}
    assert not {m for m in found if m.startswith(("wfdsl.interpreter", "wfdsl.designer"))}


def test_help_lists_every_command_with_its_own_one_line_help() -> None:
    ctx = click.Context(cli)
    for name, (_, short) in COMMANDS.items():
        command = cli.get_command(ctx, name)
        assert command is not None and command.name == name
        assert short == command.get_short_help_str(limit=1000), (
            f"wfdsl.cli.COMMANDS[{name!r}] says {short!r}; the command's own help is "
            f"{command.get_short_help_str(limit=1000)!r}: copy it into COMMANDS"
        )
    assert cli.list_commands(ctx) == sorted(COMMANDS)


def test_help_output_names_every_command(tmp_path: Path) -> None:
    done = subprocess.run(
        [sys.executable, "-c", "from wfdsl.cli import main; main()", "--help"],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=120,
        check=True,
    )
    listed = [
        line.split()[0] for line in done.stdout.split("Commands:")[1].splitlines() if line.strip()
    ]
    assert listed == sorted(COMMANDS)
