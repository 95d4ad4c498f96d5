"""Suite-wide collection order, Hypothesis' settings, and the PostgreSQL
server fixtures.

The suite runs on pytest-xdist workers by default (``-n auto --dist
loadfile`` in pyproject.toml; ``-n 0`` runs it in one process): all tests of
a file go to one worker, so a module's expensive fixture (a wheel, the kill
point sweep, a full disk) runs once, not once per worker.

Playwright's sync API keeps an event loop running in the main thread (driven
through greenlets) for as long as its session fixture lives, so any test that
runs after a browser test and calls ``asyncio.run`` (the engine, the action
runner) would find "a running event loop", and CPython's recursion bookkeeping
gets confused by the greenlet switches. The browser tests therefore run last.
"""

from __future__ import annotations

import os
from collections.abc import Iterator

import pytest
from hypothesis import settings
from postgres_server import PostgresServer, start_server

# Hypothesis' default 200 ms deadline per example is a wall-clock assertion:
# on a loaded machine it fails tests that are right. Tests bound work by counts.
settings.register_profile("wfdsl", deadline=None)
settings.load_profile("wfdsl")


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    def in_browser_folder(item: pytest.Item) -> bool:
        return "browser" in item.path.parts

    items.sort(key=in_browser_folder)  # stable: everything else keeps its order


# ----------------------------------------------------------------- PostgreSQL
# One real server per test session (per xdist worker), each test its own
# database. See tests/postgres_server.py for how it is started.


@pytest.fixture(scope="session")
def postgres_server() -> Iterator[PostgresServer]:
    try:
        server = start_server()
    except LookupError as missing:
        if os.environ.get("CI"):
            pytest.fail(f"CI needs a PostgreSQL server: {missing}")
        pytest.skip(f"no PostgreSQL here: {missing}")
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture
def postgres_url(postgres_server: PostgresServer) -> str:
    """The URL of a new, empty database on the session's server."""
    return postgres_server.create_database()
