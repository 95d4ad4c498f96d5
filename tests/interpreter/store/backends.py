"""The store backends the contract tests run on: SQLite always, and every
other backend this tree has (PostgreSQL once ``store/postgres/`` exists,
on the session's real server)."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import pytest

#: Backend names; ``postgresql`` joins when its package is there.
BACKENDS = ["sqlite"] + (
    ["postgresql"] if importlib.util.find_spec("wfdsl.interpreter.store.postgres") else []
)


def store_target(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """A new, empty store of the backend ``request.param`` names: what
    ``open_store`` takes (several objects on it are several connections)."""
    if request.param == "sqlite":
        return str(tmp_path / "runs.db")
    url: str = request.getfixturevalue("postgres_url")
    return url
