"""From a stored run to a test case (``wfdsl test record RUN_ID``).

Reads the run and its history through the engine's public API and writes
a case that replays it: the run's id, start time and input; every call's
outcome as a mock of its state, by attempt (``undo: true`` for undo calls),
with the time it took; the signals (with their data), handler calls (with
their answers), pauses, resumes and a cancel at the virtual times they
happened; and its end as expectations (status, output or error, the states
in order, the compensation order, the search attributes).

The iterations of a map share their body's state path, so their mocks also
name the call's ``args`` (two iterations called with the same args get the
first one's outcomes). Limit: a subflow's child run's calls are not
recorded (give the child flow its own test file, or add its mocks by hand).
"""

from __future__ import annotations

import json
import os
from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any

from wfdsl.dsl.durations import format_duration
from wfdsl.interpreter.run_view import Run
from wfdsl.interpreter.store.records import Event

from .expectations import states_entered
from .mocks import scope_free

__all__ = ["record_case", "record_file"]


def _iso(seconds: float) -> str:
    return datetime.fromtimestamp(seconds, UTC).isoformat().replace("+00:00", "Z")


def record_case(run: Run, history: Sequence[Event], *, name: str | None = None) -> dict[str, Any]:
    """A case (as plain data for a test file) that replays ``run``."""
    started = run.started_at
    calls: dict[str, dict[str, Any]] = {}
    # (state, undo, args of a map iteration's call as JSON or "") -> attempt -> outcome
    mocks: dict[tuple[str, bool, str], dict[int, dict[str, Any]]] = {}
    selectors: dict[tuple[str, bool, str], Any] = {}
    timeline: list[dict[str, Any]] = []
    for e in history:
        d = e.data
        if e.type in ("action_started", "undo_started"):
            state = e.state or ""
            # A map's iterations share their body's path: tell them apart by args.
            iteration = scope_free(state) != state
            args = json.dumps(d.get("args"), sort_keys=True) if iteration else ""
            key = (scope_free(state), e.type == "undo_started", args)
            if iteration:
                selectors[key] = d.get("args")
            calls[str(d.get("call_id"))] = {
                "key": key,
                "attempt": int(d.get("attempt", 1)),
                "at": e.time,
            }
        elif e.type in ("action_completed", "undo_completed", "action_failed") and "call_id" in d:
            call = calls.get(str(d["call_id"]))
            if call is None:
                continue
            if e.type == "action_failed":
                outcome: dict[str, Any] = {
                    "raise": {"error": d.get("error"), "message": d.get("message", "")}
                }
            else:
                outcome = {"return": d.get("result")}
            took = e.time - call["at"]
            if took > 0:
                outcome["duration"] = format_duration(round(took, 3))
            mocks.setdefault(call["key"], {}).setdefault(call["attempt"], outcome)
        elif e.type == "signal_received" and not str(d.get("channel", "")).startswith("__"):
            item: dict[str, Any] = {"at": format_duration(max(0.0, e.time - started))}
            item["signal"] = d.get("channel")
            if d.get("data") is not None:
                item["data"] = d.get("data")
            timeline.append(item)
        elif e.type == "handler_called":
            item = {"at": format_duration(max(0.0, e.time - started)), "call": d.get("handler")}
            if d.get("args") is not None:
                item["args"] = d.get("args")
            item["returns"] = d.get("return")
            timeline.append(item)
        elif e.type == "paused" and d.get("reason") == "requested":
            timeline.append({"at": format_duration(max(0.0, e.time - started)), "pause": True})
        elif e.type == "resumed":
            timeline.append({"at": format_duration(max(0.0, e.time - started)), "resume": True})
        elif e.type == "run_cancelled":
            last_entered = max(
                (x.seq for x in history if x.type == "state_entered" and x.seq < e.seq), default=0
            )
            compensate = any(
                x.type == "undo_started" and last_entered < x.seq < e.seq for x in history
            )
            cancel: Any = {"compensate": True} if compensate else True
            timeline.append({"at": format_duration(max(0.0, e.time - started)), "cancel": cancel})

    case: dict[str, Any] = {"name": name or f"recorded run {run.id}"}
    case["run_id"] = run.id
    case["start"] = _iso(started)
    if run.input is not None:
        case["input"] = run.input
    mock_list = []
    for key, by_attempt in mocks.items():
        state, undo, _ = key
        mock: dict[str, Any] = {"state": state}
        if undo:
            mock["undo"] = True
        if key in selectors:
            mock["args"] = selectors[key]
        attempts = [by_attempt[n] for n in sorted(by_attempt)]
        if len(attempts) == 1:
            mock.update(attempts[0])
        else:
            mock["attempts"] = attempts
        mock_list.append(mock)
    if mock_list:
        case["mocks"] = mock_list
    if timeline:
        case["timeline"] = timeline
    expect: dict[str, Any] = {"status": run.status}
    if run.status == "completed":
        expect["output"] = run.output
    if run.error:
        expect["error"] = {"name": run.error.get("error"), "message": run.error.get("message", "")}
    expect["states"] = [state for state, _ in states_entered(history)]
    undone: list[str] = []
    for e in history:
        state = scope_free(e.state or "")
        if e.type == "undo_started" and state not in undone:
            undone.append(state)
    if undone:
        expect["compensated"] = undone
    if run.search:
        expect["search"] = dict(run.search)
    case["expect"] = expect
    return case


def record_file(
    run: Run,
    history: Sequence[Event],
    *,
    flow: str,
    out_dir: str | os.PathLike[str] | None = None,
    name: str | None = None,
) -> str:
    """A whole test file (YAML text) with the recorded case; ``flow`` is made
    relative to ``out_dir``, where the file will be written."""
    import yaml  # type: ignore[import-untyped]

    flow_ref = os.path.relpath(flow, out_dir) if out_dir is not None else flow
    document = {
        "wfdsl-test": "1",
        "flow": flow_ref.replace(os.sep, "/"),
        "cases": [record_case(run, history, name=name)],
    }
    text: str = yaml.safe_dump(document, sort_keys=False, allow_unicode=True, width=100)
    header = (
        f"# Recorded from run {run.id} ({run.workflow}, {run.status}) by `wfdsl test record`.\n"
    )
    return header + text
