"""wfdsl: durable YAML state-machine workflows on one SQLite file."""

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
    "HandlerRejected",
    "RunAlreadyExists",
    "RunNotFound",
    "ValidationError",
    "WfdslError",
]
