"""``startup``: how long the command line takes to start, as a user types it.

Three commands, each a fresh process, interleaved (A B C A B C ...) so the
machine's load moves them alike: ``python -c pass`` (the interpreter alone,
the floor), ``wfdsl --help`` and ``wfdsl validate small.yaml`` (a five-state
document, as one edits all day). Reported: the medians in ms and each
command's ratio to the floor and its time above it. Targets (issue 12):
``--help`` <= 150 ms, ``validate`` <= 300 ms on a quiet machine.

The commands run through this interpreter (``python -m wfdsl.cli`` would add
runpy; the console script is ``from wfdsl.cli import main; main()``, which
is what runs here), with the bytecode already compiled.
"""

from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path
from typing import Any

from measure import Options, byte_compile_wfdsl, interleave, median, ratio, summary, target

NAME = "startup"
KEYS = ("python_ms", "help_ms", "validate_ms", "help_ratio", "validate_ratio")

SMALL = """\
wfdsl: "1"
name: small
input: {type: object, required: [email], properties: {email: {type: string}}}
start: greet
states:
  greet:
    type: task
    action: log
    args: {message: "hello ${ input.email }"}
    retry: {max_attempts: 3, initial_interval: 1s}
    next: wait
  wait:
    type: wait
    any:
      - {signal: go, next: check}
      - {timer: 1h, next: check}
  check:
    type: choice
    choices:
      - when: ${ input.email != '' }
        next: done
    default: failed
  done: {type: succeed}
  failed: {type: fail, error: NoEmail}
"""

CLI = "from wfdsl.cli import main; main()"


def _timed(argv: list[str], cwd: Path) -> dict[str, float]:
    started = time.perf_counter()
    done = subprocess.run(argv, cwd=cwd, capture_output=True, text=True, check=False)
    seconds = time.perf_counter() - started
    if done.returncode != 0:
        raise RuntimeError(f"{argv[1:]} exited {done.returncode}: {done.stderr[-500:]}")
    return {"ms": seconds * 1000}


def run(options: Options) -> dict[str, Any]:
    reps = options.repetitions(20, 3)
    byte_compile_wfdsl()
    folder = options.workdir / "startup"
    folder.mkdir(parents=True, exist_ok=True)
    small = folder / "small.yaml"
    small.write_text(SMALL)
    python = sys.executable
    try:
        commands = {
            "python": lambda: _timed([python, "-c", "pass"], folder),
            "help": lambda: _timed([python, "-c", CLI, "--help"], folder),
            "validate": lambda: _timed([python, "-c", CLI, "validate", small.name], folder),
        }
        for measure in commands.values():  # warm the page cache
            measure()
        series = interleave(reps, commands)
    finally:
        small.unlink()
        folder.rmdir()
    floor = median(series["python.ms"])
    help_ms = median(series["help.ms"])
    validate_ms = median(series["validate.ms"])
    return {
        "python_ms": floor,
        "help_ms": help_ms,
        "validate_ms": validate_ms,
        "help_ratio": ratio(help_ms, floor),
        "validate_ratio": ratio(validate_ms, floor),
        "help_above_python_ms": _above(help_ms, floor),
        "validate_above_python_ms": _above(validate_ms, floor),
        "sizes": {"reps": reps},
        "series": {name: summary(values) for name, values in series.items()},
        "targets": {
            "help": target(help_ms, below=150, text="wfdsl --help in <= 150 ms"),
            "validate": target(validate_ms, below=300, text="wfdsl validate small.yaml <= 300 ms"),
        },
    }


def _above(value: float | None, floor: float | None) -> float | None:
    return None if value is None or floor is None else value - floor
