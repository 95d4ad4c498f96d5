"""Compact JSON text for the store's hot path.

``json.JSONEncoder.encode`` builds a new C encoder object on every call; a
transition encodes about six values (vars, state, search, each event's
data), so that set-up was a tenth of a commit. :func:`dumps` keeps one C
encoder without circular-reference bookkeeping and falls back to the
checking encoder only when a value nests too deep, so a circular value still
fails with json's own ``ValueError``.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any, Final

__all__ = ["dumps"]

_checking: Final = json.JSONEncoder(separators=(",", ":"), ensure_ascii=False, allow_nan=False)


def _make_fast() -> Callable[[Any], str] | None:
    try:
        from json.encoder import (  # type: ignore[attr-defined]
            c_make_encoder,
            encode_basestring,
        )
    except ImportError:  # pragma: no cover - CPython always has _json
        return None
    if c_make_encoder is None:  # pragma: no cover
        return None
    # markers=None: no circular check (the RecursionError fallback below
    # catches a cycle); allow_nan=False as in the checking encoder.
    encode = c_make_encoder(
        None, _checking.default, encode_basestring, None, ":", ",", False, False, False
    )
    join = "".join

    def fast(value: Any) -> str:
        if isinstance(value, str):
            return encode_basestring(value)
        return join(encode(value, 0))

    return fast


_fast: Final = _make_fast()


def dumps(value: Any) -> str:
    """``value`` as compact JSON (``ensure_ascii=False``); ValueError for
    NaN, infinities and circular values, TypeError for what is not JSON."""
    if _fast is None:  # pragma: no cover
        return _checking.encode(value)
    try:
        return _fast(value)
    except RecursionError:
        return _checking.encode(value)
