"""wfdsl: durable YAML state-machine workflows on one SQLite file.

The public API is exactly ``__all__`` (DSL.md §12); tests/test_public_api.py
keeps it so.
"""

from wfdsl.dsl.api import load, validate
from wfdsl.dsl.findings import Finding
from wfdsl.errors import (
    ExpressionError,
    HandlerRejected,
    RunAlreadyExists,
    RunNotFound,
    ValidationError,
    WfdslError,
)

__all__ = [
    "ExpressionError",
    "Finding",
    "HandlerRejected",
    "RunAlreadyExists",
    "RunNotFound",
    "ValidationError",
    "WfdslError",
    "load",
    "validate",
]
