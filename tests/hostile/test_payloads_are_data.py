"""Data from outside is data, never an expression (research/reliability.md,
test plan row 21: "payload data is never evaluated").

A run's input, a signal's payload, a handler's args and an action's result
may hold text that looks like ``${ ... }``: an expression bomb, an escape
attempt. Only the workflow document's own strings are expressions; these
values pass through every ``set``, ``args`` and ``output`` unchanged, at
once, and nothing is called.
"""

from __future__ import annotations

from typing import Any

import pytest

from wfdsl import Engine, VirtualClock

FLOW = """\
wfdsl: "1"
name: echo
handlers:
  put: {set: {h: "${ args }"}, return: "${ args }"}
start: w
states:
  w: {type: wait, signal: go, as: got, next: t}
  t:
    type: task
    action: echo
    args: {whole: "${ vars.got }", one: "${ vars.got.escape }", text: "got ${ vars.got.bomb }"}
    result: r
    next: done
  done:
    type: succeed
    output: {input: "${ input }", got: "${ vars.got }", r: "${ vars.r }", h: "${ vars.h }"}
"""

BOMB = "${ 9 ** 9 ** 9 }"
ESCAPE = "${ ().__class__.__bases__[0].__subclasses__() }"
IMPORT = "${ __import__('os').system('echo pwned') }"


def test_input_signal_args_and_results_that_look_like_expressions_stay_text(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    called: list[Any] = []
    monkeypatch.setattr("os.system", lambda *a: called.append(a) or 0)
    seen: list[dict[str, Any]] = []
    with Engine(":memory:", clock=VirtualClock()) as engine:

        @engine.action("echo")
        def echo(whole: Any, one: str, text: str) -> str:
            seen.append({"whole": whole, "one": one, "text": text})
            return IMPORT

        engine.submit(FLOW, input={"x": BOMB}, run_id="p1")
        engine.run_until_idle()
        assert engine.call("p1", "put", IMPORT) == IMPORT
        engine.signal("p1", "go", {"escape": ESCAPE, "bomb": BOMB})
        run = engine.run_until_complete("p1")

    assert run.status == "completed", run.error
    assert run.output == {
        "input": {"x": BOMB},
        "got": {"escape": ESCAPE, "bomb": BOMB},
        "r": IMPORT,
        "h": IMPORT,
    }
    assert seen == [
        {"whole": {"escape": ESCAPE, "bomb": BOMB}, "one": ESCAPE, "text": f"got {BOMB}"}
    ]
    assert called == []
