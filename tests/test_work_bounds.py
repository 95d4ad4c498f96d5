"""The counted work bounds (tests/work_bounds.py) see what they bound, and no
test asserts a wall-clock duration (they must pass on a loaded machine)."""

from __future__ import annotations

import re
from pathlib import Path

from work_bounds import measure_work

TESTS = Path(__file__).resolve().parent


def test_calls_made_in_a_loop_are_counted() -> None:
    def step(i: int) -> int:
        return i + 1

    total, work = measure_work(lambda: sum(step(i) for i in range(10_000)), memory=False)
    assert total == 50_005_000
    assert 10_000 <= work.calls < 30_000
    assert work.peak_bytes == 0


def test_memory_built_in_one_c_call_is_seen() -> None:
    size, work = measure_work(lambda: len(bytearray(20 * 2**20)))
    assert size == 20 * 2**20
    assert work.peak_bytes >= 20 * 2**20
    assert work.calls < 100


# `elapsed < 1.0`, `took < 2`, `time.monotonic() - started < 3`: a speed
# assertion (bench/ measures speed; tests count work or wait with a hang guard).
WALL_CLOCK = re.compile(
    r"assert .*\b(elapsed|took|duration)\b\s*[<>]"
    r"|assert .*(monotonic|perf_counter|process_time|time\.time)\(\)\s*-\s*\w+\s*[<>]"
)


def test_no_test_asserts_a_wall_clock_duration() -> None:
    found = [
        f"{path.relative_to(TESTS)}:{number}: {line.strip()}"
        for path in sorted(TESTS.rglob("*.py"))
        if path.name != "test_work_bounds.py"
        for number, line in enumerate(path.read_text().splitlines(), 1)
        if WALL_CLOCK.search(line)
    ]
    assert found == [], (
        "these assert a duration, which fails on a loaded machine; bound the work "
        "with work_bounds.measure_work (calls, memory) or make it structural:\n" + "\n".join(found)
    )


def test_the_wall_clock_pattern_catches_the_usual_shapes() -> None:
    for line in (
        "assert elapsed < 1.0",
        "assert took < LONG_LEASE / 3",
        "assert time.monotonic() - started < 15",
        "assert time.perf_counter() - started < 0.5",
    ):
        assert WALL_CLOCK.search(line), line
    assert not WALL_CLOCK.search("assert time.monotonic() < deadline, probe.stderr")
