"""The transition bound measures with ``json_size`` (docs/guarantees.md §8).

It was rewritten for speed (one pass per container, common scalars counted
inline); these tests hold it to the count of the two-pass walk it replaced,
kept here as the reference, on random JSON values, so no value is measured
smaller than before and the bound is exactly as strict as it was.
"""

from __future__ import annotations

import json
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from wfdsl.interpreter.machine.limits import json_size


def reference_size(value: Any, cap: int) -> int:
    """The walk json_size replaced, verbatim in what it counts."""
    total = 0
    stack: list[tuple[Any, int]] = [(value, 0)]
    while stack:
        item, depth = stack.pop()
        if depth > 256:
            raise ValueError("too deep")
        if isinstance(item, str):
            total += len(item) + 2
            continue
        if isinstance(item, dict):
            total += 1 + 2 * len(item)
            children = []
            for key, child in item.items():
                total += len(key) + 2
                children.append(child)
        elif isinstance(item, (list, tuple)):
            total += 1 + len(item)
            children = list(item)
        else:
            total += _reference_scalar(item)
            continue
        for child in children:
            if isinstance(child, str):
                total += len(child) + 2
            elif isinstance(child, (dict, list, tuple)):
                stack.append((child, depth + 1))
            else:
                total += _reference_scalar(child)
        if total > cap:
            return total
    return total


def _reference_scalar(value: Any) -> int:
    if value is None or value is True:
        return 4
    if value is False:
        return 5
    if isinstance(value, int):
        bits = value.bit_length()
        return len(repr(value)) if bits < 64 else bits * 30103 // 100000 + 2
    if isinstance(value, float):
        return len(repr(value))
    return len(str(value))


_scalars = (
    st.none()
    | st.booleans()
    | st.integers(min_value=-(2**70), max_value=2**70)
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(max_size=40)
)
_values = st.recursive(
    _scalars,
    lambda inner: (
        st.lists(inner, max_size=6)
        | st.tuples(inner, inner)
        | st.dictionaries(st.text(max_size=8), inner, max_size=6)
    ),
    max_leaves=60,
)


@settings(max_examples=400, deadline=None)
@given(value=_values, cap=st.integers(min_value=0, max_value=400))
def test_json_size_counts_exactly_what_the_previous_walk_counted(value: Any, cap: int) -> None:
    assert json_size(value, cap) == reference_size(value, cap)
    unbounded = json_size(value, 1 << 40)
    assert unbounded == reference_size(value, 1 << 40)
    if not _has_huge_int(value):  # those are estimated from their bits, upwards
        # Never more than the text itself (escapes are not counted).
        assert unbounded <= len(json.dumps(value, separators=(",", ":"), ensure_ascii=False))


def _has_huge_int(value: Any) -> bool:
    if isinstance(value, dict):
        return any(_has_huge_int(v) for v in value.values())
    if isinstance(value, (list, tuple)):
        return any(_has_huge_int(v) for v in value)
    return isinstance(value, int) and not isinstance(value, bool) and value.bit_length() >= 64


def test_shared_references_count_every_time_and_the_walk_stops_past_the_cap() -> None:
    big = "y" * 1_000_000
    shared = [big] * 200  # 200 MB of JSON, 200 references in memory
    measured = json_size({"k": [shared, shared, shared]}, 5_000_000)
    # Past the cap after the first list: the other two are never walked.
    assert 5_000_000 < measured < 2 * 200 * 1_000_002


def test_a_cycle_is_a_value_error_not_a_hang() -> None:
    loop: list[Any] = []
    loop.append(loop)
    with pytest.raises(ValueError, match="nested deeper"):
        json_size({"a": loop}, 1 << 30)
