"""How expected values compare with actual ones: exactly, or as a subset."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

__all__ = ["includes", "includes_exactly"]


def includes(expected: Any, actual: Any) -> bool:
    """Whether ``actual`` contains ``expected``: maps may have more keys, at any depth."""
    if isinstance(expected, Mapping):
        return isinstance(actual, Mapping) and all(
            key in actual and includes(value, actual[key]) for key, value in expected.items()
        )
    if isinstance(expected, list):
        return (
            isinstance(actual, list)
            and len(expected) == len(actual)
            and all(includes(e, a) for e, a in zip(expected, actual, strict=True))
        )
    if isinstance(expected, bool) or isinstance(actual, bool):
        return type(expected) is type(actual) and expected == actual
    return bool(expected == actual)


def includes_exactly(expected: Any, actual: Any) -> bool:
    """Equality as JSON sees it (``1 == 1.0``, but ``true`` is not ``1``)."""
    if isinstance(expected, Mapping):
        return (
            isinstance(actual, Mapping)
            and set(expected) == set(actual)
            and all(includes_exactly(v, actual[k]) for k, v in expected.items())
        )
    if isinstance(expected, list):
        return (
            isinstance(actual, list)
            and len(expected) == len(actual)
            and all(includes_exactly(e, a) for e, a in zip(expected, actual, strict=True))
        )
    return includes(expected, actual)
