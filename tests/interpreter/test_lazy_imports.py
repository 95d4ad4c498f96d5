"""An engine that only serves parked runs loads no more than it needs.

The front end (YAML, JSON Schema, the expression parser, the checks), the
``http`` built-in's client and the CLI's libraries are imported when first
used, so a worker over a store of waiting runs starts fast and stays small
(issue 5: idle engine at most 30 MB). Each case runs in a fresh interpreter:
this test process has imported everything already.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from wfdsl.interpreter.engine import Engine

# Top-level packages an idle engine must not import.
LAZY = ("httpx", "jsonschema", "ruamel", "yaml", "lark", "croniter", "rich", "click")

PARKED = """
wfdsl: "1"
name: parked
signals:
  go: {}
start: park
states:
  park:
    type: wait
    any:
      - {signal: go, next: work}
      - {timer: 1d, next: late}
  work: {type: task, action: noop, args: {greeting: "${ 'hello ' + run.id }"}, end: true}
  late: {type: fail, error: Late}
"""

# Serves the file while nothing is due, then signals the one run, so it
# becomes due and must be compiled, and waits for it to end.
CHILD = """
import asyncio, json, sys

import wfdsl

LAZY = {lazy!r}


def loaded():
    return sorted(
        name for name in sys.modules
        if name.split(".")[0] in LAZY or name.startswith("wfdsl.dsl.api")
    )


async def main():
    engine = wfdsl.Engine(sys.argv[1])
    async with engine:
        await asyncio.sleep(0.2)
        idle = loaded()
        (run,) = engine.list_runs()
        engine.signal(run.id, "go")
        done = await asyncio.wait_for(engine.wait(run.id), 30)
    engine.close()
    print(json.dumps({{"idle": idle, "after": loaded(), "status": done.status}}))


asyncio.run(main())
"""


def parked_store(path: Path) -> None:
    # The real clock: the child serves in real time, and the timer is a day away.
    with Engine(str(path)) as engine:
        run = engine.submit(PARKED)
        engine.run_until_idle()
        assert engine.get(run.id).status == "waiting"


def serve_in_a_fresh_process(path: Path) -> dict[str, object]:
    script = CHILD.format(lazy=LAZY)
    done = subprocess.run(
        [sys.executable, "-c", script, str(path)],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    result: dict[str, object] = json.loads(done.stdout.strip().splitlines()[-1])
    return result


def test_an_engine_serving_parked_runs_imports_no_front_end_until_a_run_is_due(
    tmp_path: Path,
) -> None:
    path = tmp_path / "runs.db"
    parked_store(path)

    result = serve_in_a_fresh_process(path)

    assert result["idle"] == []
    # The signal made the run due: its definition was compiled then (the
    # parser came with it), and the run carried on to the end.
    assert result["status"] == "completed"
    after = result["after"]
    assert isinstance(after, list)
    assert "lark" in after and "wfdsl.dsl.api" in after


def test_importing_wfdsl_leaves_the_front_end_for_the_first_load() -> None:
    script = (
        "import sys, wfdsl\n"
        f"LAZY = {LAZY!r}\n"
        "before = sorted(n for n in sys.modules if n.split('.')[0] in LAZY)\n"
        "flow = wfdsl.load('wfdsl: \"1\"\\nname: f\\nstart: s\\nstates:\\n  s: {type: succeed}\\n')\n"
        "print(before, flow.name)\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, timeout=60, check=False
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.split() == ["[]", "f"]
