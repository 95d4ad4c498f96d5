"""Times, durations and waits in words, as a terminal shows them (a pipe gets
ISO times; see test_cli_says_what_happens.py), and the live status line."""

from __future__ import annotations

import io

import pytest
from wfdsl.interpreter.run_view import WaitFor

from wfdsl.cli_live import Live
from wfdsl.cli_output import duration, stamp
from wfdsl.cli_words import describe_wait

TUE_8_DEC_10H = 1796724000.0  # 2026-12-08T10:00:00Z


def test_human_times_name_the_day_and_say_utc() -> None:
    assert stamp(TUE_8_DEC_10H, human=True, clock=False).startswith("Tue 8 Dec")
    assert stamp(TUE_8_DEC_10H, human=True, clock=False).endswith("10:00 UTC")
    assert stamp(TUE_8_DEC_10H + 5, human=True, clock=False).endswith("10:00:05 UTC")
    assert stamp(TUE_8_DEC_10H, human=False) == "2026-12-08T10:00:00Z"
    assert stamp(1735689600.0, human=True) == "Wed 1 Jan 2025 00:00:00"  # another year


@pytest.mark.parametrize(
    ("seconds", "words"), [(86400, "1d"), (9000, "2h30m"), (90, "1m30s"), (0.5, "0.5s")]
)
def test_durations_read_like_the_dsl(seconds: float, words: str) -> None:
    assert duration(seconds) == words


def test_a_wait_condition_in_words() -> None:
    due = TUE_8_DEC_10H
    condition = WaitFor(
        kind="any",
        alternatives=(
            WaitFor(kind="signal", channel="verified"),
            WaitFor(kind="timer", seconds=86400, due=due),
        ),
    )
    assert describe_wait(condition, human=True).startswith(
        "signal `verified` or timer 1d (due Tue 8 Dec"
    )
    both = WaitFor(
        kind="all",
        alternatives=(
            WaitFor(kind="signal", channel="a", done=True),
            WaitFor(kind="signal", channel="b", count=2),
            condition,
        ),
    )
    # What already arrived is not awaited any more.
    assert describe_wait(both, human=False) == (
        "2 × signal `b` and (signal `verified` or timer 1d (due 2026-12-08T10:00:00Z))"
    )


def test_the_status_line_is_for_terminals_only(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("FORCE_COLOR", raising=False)
    monkeypatch.setenv("TERM", "dumb")
    assert Live(io.StringIO())._live is None  # a pipe: no status line
    monkeypatch.setenv("FORCE_COLOR", "1")
    live = Live(io.StringIO())
    assert live._live is not None
    live.steps = 12
    live.in_flight = {"r1"}
    assert live._status().plain.startswith("12 steps · 1 run in flight · 0 ended · ")
