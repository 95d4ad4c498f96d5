"""Checking a finished case against its ``expect:``; each miss is a :class:`Failure`.

A failure says what was expected, what happened, and the ``seq`` of the
history event where the run went another way (``None`` when no single event
is to blame), so the report can show the history around it.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from wfdsl.interpreter.run_view import Run
from wfdsl.interpreter.store.records import Event

from .matching import includes, includes_exactly
from .mocks import scope_free

__all__ = ["Call", "Failure", "calls_made", "check", "states_entered"]


@dataclass(frozen=True, slots=True)
class Failure:
    """One expectation that did not hold."""

    what: str  # "status", "output", "calls[1]", "timeline[0]", ...
    message: str
    expected: Any = None
    actual: Any = None
    seq: int | None = None

    def to_json(self) -> dict[str, Any]:
        return {
            "what": self.what,
            "message": self.message,
            "expected": self.expected,
            "actual": self.actual,
            "seq": self.seq,
        }


@dataclass(frozen=True, slots=True)
class Call:
    """An action call as the history records it."""

    action: str
    state: str
    args: Any
    key: str
    attempt: int
    undo: bool
    seq: int
    run: str | None = None  # a child run's id; None for the case's own run

    def to_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {"action": self.action, "state": self.state, "args": self.args}
        out.update(key=self.key, attempt=self.attempt)
        if self.undo:
            out["undo"] = True
        if self.run is not None:
            out["run"] = self.run
        return out


def states_entered(history: Sequence[Event]) -> list[tuple[str, int]]:
    """(state path without iteration numbers, seq) of every ``state_entered``."""
    return [(scope_free(e.state or ""), e.seq) for e in history if e.type == "state_entered"]


def calls_made(
    history: Sequence[Event],
    children: Mapping[str, Sequence[Event]] | None = None,
    *,
    run: str | None = None,
) -> list[Call]:
    """Every action and undo call started, in order; a subflow's child run's
    calls (from ``children``, by run id) come where the parent took its result."""
    out = []
    children = children or {}
    for e in history:
        child = e.data.get("child") if e.type == "signal_consumed" else None
        if isinstance(child, str) and child in children:
            out += calls_made(children[child], children, run=child)
        if e.type in ("action_started", "undo_started"):
            d = e.data
            out.append(
                Call(
                    str(d.get("action")),
                    scope_free(e.state or ""),
                    d.get("args"),
                    str(d.get("key", "")),
                    int(d.get("attempt", 1)),
                    e.type == "undo_started",
                    e.seq,
                    run,
                )
            )
    return out


def check(
    expect: Mapping[str, Any],
    run: Run,
    history: Sequence[Event],
    children: Mapping[str, Sequence[Event]] | None = None,
) -> list[Failure]:
    """Every expectation of ``expect`` that ``run`` (with ``history``, and its
    child runs' histories by id) does not meet."""
    return list(_check(expect, run, history, children or {}))


def _last_seq(history: Sequence[Event]) -> int | None:
    return history[-1].seq if history else None


def _check(
    expect: Mapping[str, Any],
    run: Run,
    history: Sequence[Event],
    children: Mapping[str, Sequence[Event]],
) -> Iterator[Failure]:
    end = _last_seq(history)
    if "status" in expect and run.status != expect["status"]:
        detail = f" with {run.error['error']}: {run.error.get('message')}" if run.error else ""
        yield Failure(
            "status",
            f"expected the run to end {expect['status']}, it is {run.status}{detail}",
            expect["status"],
            run.status,
            end,
        )
    if "output" in expect and not includes_exactly(expect["output"], run.output):
        yield Failure("output", "the output differs", expect["output"], run.output, end)
    if "output_includes" in expect and not includes(expect["output_includes"], run.output):
        yield Failure(
            "output_includes",
            "the output does not include what was expected",
            expect["output_includes"],
            run.output,
            end,
        )
    if "vars_include" in expect and not includes(expect["vars_include"], dict(run.vars)):
        yield Failure(
            "vars_include",
            "the final vars do not include what was expected",
            expect["vars_include"],
            dict(run.vars),
            end,
        )
    if "error" in expect:
        yield from _error(expect["error"], run, end)
    entered = states_entered(history)
    if "states" in expect:
        yield from _states_exact(list(expect["states"]), entered, end)
    if "states_include" in expect:
        yield from _subsequence(
            "states_include",
            list(expect["states_include"]),
            entered,
            lambda want, got: want == got,
            "state",
            end,
        )
    for name in expect.get("not_entered") or []:
        hits = [seq for state, seq in entered if state == name]
        if hits:
            yield Failure(
                "not_entered",
                f"state '{name}' was entered ({len(hits)} time(s))",
                0,
                len(hits),
                hits[0],
            )
    for name, count in (expect.get("entered") or {}).items():
        hits = [seq for state, seq in entered if state == name]
        if len(hits) != count:
            seq = hits[count] if len(hits) > count else (hits[-1] if hits else end)
            yield Failure(
                f"entered.{name}",
                f"state '{name}' was entered {len(hits)} time(s), expected {count}",
                count,
                len(hits),
                seq,
            )
    calls = calls_made(history, children)
    if "calls" in expect:
        yield from _subsequence(
            "calls",
            list(expect["calls"]),
            [(c, c.seq) for c in calls],
            _call_matches,
            "call",
            end,
        )
    for action, count in (expect.get("call_counts") or {}).items():
        mine = [c for c in calls if c.action == action]
        if len(mine) != count:
            seq = mine[count].seq if len(mine) > count else end
            yield Failure(
                f"call_counts.{action}",
                f"action '{action}' was called {len(mine)} time(s), expected {count}",
                count,
                len(mine),
                seq,
            )
    if "compensated" in expect:
        undone: list[str] = []
        seqs: list[int] = []
        for c in calls:
            if c.undo and c.state not in undone:
                undone.append(c.state)
                seqs.append(c.seq)
        want = list(expect["compensated"])
        if undone != want:
            at = next(
                (i for i, (a, b) in enumerate(zip(want, undone, strict=False)) if a != b), None
            )
            if at is None:
                at = min(len(want), len(undone))
            seq = seqs[at] if at < len(seqs) else end
            yield Failure(
                "compensated",
                "the undo actions ran for other states or in another order",
                want,
                undone,
                seq,
            )
    if "search" in expect and not includes(expect["search"], dict(run.search)):
        yield Failure(
            "search",
            "the search attributes at the end differ",
            expect["search"],
            dict(run.search),
            end,
        )


def _error(want: Any, run: Run, end: int | None) -> Iterator[Failure]:
    got = dict(run.error) if run.error else None
    if isinstance(want, str):
        want = {"name": want}
    name_ok = got is not None and got.get("error") == want["name"]
    message = "" if got is None else str(got.get("message") or "")
    message_ok = ("message" not in want or message == want["message"]) and (
        "message_includes" not in want or want["message_includes"] in message
    )
    details_ok = "details" not in want or (
        got is not None and includes(want["details"], got.get("details") or {})
    )
    if not (name_ok and message_ok and details_ok):
        shown: dict[str, Any] | None = None
        if got is not None:
            shown = {"name": got.get("error"), "message": message}
            if got.get("details") is not None:
                shown["details"] = got["details"]
        yield Failure(
            "error",
            "the run has no error" if got is None else "the run's error differs",
            want,
            shown,
            end,
        )


def _states_exact(
    want: list[str], entered: list[tuple[str, int]], end: int | None
) -> Iterator[Failure]:
    got = [s for s, _ in entered]
    if got == want:
        return
    at = next(
        (i for i, (a, b) in enumerate(zip(want, got, strict=False)) if a != b),
        min(len(want), len(got)),
    )
    seq = entered[at][1] if at < len(entered) else end
    if at < len(want) and at < len(got):
        text = f"state {at + 1} is '{got[at]}', expected '{want[at]}'"
    elif at < len(want):
        text = f"the run entered {len(got)} state(s); expected '{want[at]}' next"
    else:
        text = f"the run entered '{got[at]}' after the {len(want)} expected state(s)"
    yield Failure("states", text, want, got, seq)


def _subsequence(
    what: str,
    want: list[Any],
    got: list[tuple[Any, int]],
    matches: Any,
    noun: str,
    end: int | None,
) -> Iterator[Failure]:
    position = 0
    for i, item in enumerate(want):
        found = next((j for j in range(position, len(got)) if matches(item, got[j][0])), None)
        if found is None:
            after = got[position - 1][1] if position else None
            where = f" after seq {after}" if after is not None else ""
            earlier = any(matches(item, g) for g, _ in got[:position])
            note = " (it happened, but earlier than the items before it)" if earlier else ""
            yield Failure(
                f"{what}[{i}]",
                f"no {noun} matching item {i + 1} was found{where}{note}",
                item,
                [_shown(g) for g, _ in got],
                got[position][1] if position < len(got) else end,
            )
            return
        position = found + 1


def _shown(item: Any) -> Any:
    return item.to_json() if isinstance(item, Call) else item


def _call_matches(want: Mapping[str, Any], call: Call) -> bool:
    return (
        want["action"] == call.action
        and ("state" not in want or want["state"] == call.state)
        and ("args" not in want or includes(want["args"], call.args))
        and ("key" not in want or want["key"] == call.key)
        and ("attempt" not in want or want["attempt"] == call.attempt)
        and ("undo" not in want or bool(want["undo"]) == call.undo)
    )
