"""Durations and timestamps as documents write them (docs/reference.md §7)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from wfdsl.dsl.durations import format_duration, parse_duration, parse_timestamp


@pytest.mark.parametrize(
    ("text", "seconds"),
    [
        ("500ms", 0.5),
        ("10s", 10.0),
        ("5m", 300.0),
        ("2h", 7200.0),
        ("1d", 86400.0),
        ("1w", 604800.0),
        ("1h30m", 5400.0),
        ("1d 12h", 129600.0),
        ("2m30s500ms", 150.5),
        ("1.5h", 5400.0),
        ("0s", 0.0),
        ("PT1H30M", 5400.0),
        ("P1DT2H", 93600.0),
        ("P2W", 1209600.0),
        ("PT0.5S", 0.5),
        ("PT0,5S", 0.5),
        ("P1D", 86400.0),
        ("90", 90.0),
        ("1.5", 1.5),
        ("  45s  ", 45.0),
        (90, 90.0),
        (2.5, 2.5),
    ],
)
def test_durations_in_every_accepted_form(text: str | int | float, seconds: float) -> None:
    assert parse_duration(text) == seconds


@pytest.mark.parametrize(
    ("text", "reason"),
    [
        ("", "empty"),
        ("soon", "expected a number of seconds"),
        ("1x", "expected"),
        ("1h30", "expected"),
        ("30m1h", "from the largest to the smallest"),
        ("1h1h", "from the largest to the smallest"),
        ("-5m", "cannot be negative"),
        (-1, "cannot be negative"),
        ("P1Y", "years and months have no fixed length"),
        ("P1M", "years and months have no fixed length"),
        ("P", "expected"),
        ("PT", "expected"),
        ("P1DT", "expected"),
        ("1e999", "out of range"),
        (float("inf"), "not a finite number"),
        (True, "a bool is not a duration"),
    ],
)
def test_bad_durations_name_the_text_and_the_accepted_forms(text: object, reason: str) -> None:
    with pytest.raises(ValueError, match="invalid duration") as raised:
        parse_duration(text)  # type: ignore[arg-type]
    assert reason in str(raised.value)
    assert "1h30m" in str(raised.value)


@pytest.mark.parametrize(
    ("seconds", "text"),
    [
        (0, "0s"),
        (0.5, "500ms"),
        (45, "45s"),
        (5400, "1h30m"),
        (90061, "1d1h1m1s"),
        (604800, "1w"),
        (1.25, "1s250ms"),
        (0.0001, "0.0001s"),
    ],
)
def test_format_duration_writes_compact_text(seconds: float, text: str) -> None:
    assert format_duration(seconds) == text


def test_format_duration_refuses_negative_and_infinite_durations() -> None:
    with pytest.raises(ValueError, match="non-negative"):
        format_duration(-1)
    with pytest.raises(ValueError, match="finite"):
        format_duration(float("nan"))


@settings(max_examples=200, database=None, deadline=None)
@given(st.integers(0, 10**12))
def test_formatted_durations_parse_back_to_the_same_milliseconds(milliseconds: int) -> None:
    seconds = milliseconds / 1000
    assert parse_duration(format_duration(seconds)) == pytest.approx(seconds, abs=1e-6)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("2024-05-01T12:00:00Z", datetime(2024, 5, 1, 12, tzinfo=UTC)),
        ("2024-05-01T12:00:00", datetime(2024, 5, 1, 12, tzinfo=UTC)),
        ("2024-05-01 12:00", datetime(2024, 5, 1, 12, tzinfo=UTC)),
        ("2024-05-01", datetime(2024, 5, 1, tzinfo=UTC)),
        (
            "2024-05-01T14:00:00+02:00",
            datetime(2024, 5, 1, 14, tzinfo=timezone(timedelta(hours=2))),
        ),
        ("2024-05-01T12:00:00.250Z", datetime(2024, 5, 1, 12, 0, 0, 250000, tzinfo=UTC)),
    ],
)
def test_timestamps_are_aware_and_naive_ones_are_utc(text: str, expected: datetime) -> None:
    moment = parse_timestamp(text)
    assert moment == expected
    assert moment.tzinfo is not None
    assert moment.utcoffset() == expected.utcoffset()


@pytest.mark.parametrize("text", ["yesterday", "2024-13-01", "2024-05-01T25:00", "", "1714564800"])
def test_bad_timestamps_raise_value_error_naming_the_text(text: str) -> None:
    with pytest.raises(ValueError, match="invalid timestamp"):
        parse_timestamp(text)


def test_a_timestamp_must_be_text() -> None:
    with pytest.raises(ValueError, match="expected ISO 8601 text"):
        parse_timestamp(1714564800)  # type: ignore[arg-type]
