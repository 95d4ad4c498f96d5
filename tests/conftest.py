"""Suite-wide collection order, and the PostgreSQL server fixtures.

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
from postgres_server import PostgresServer, start_server


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
