"""Suite-wide collection order, Hypothesis' settings, and the PostgreSQL
server fixtures.

The suite runs on pytest-xdist workers by default (``-n auto --dist
loadfile --no-loadscope-reorder`` in pyproject.toml; ``-n 0`` runs it in one
process): all tests of a file go to one worker, so a module's expensive
fixture (a wheel, the kill point sweep, a full disk) runs once, not once per
worker, and files are handed out in the order below.

Playwright's sync API keeps an event loop running in the main thread (driven
through greenlets) for as long as its session fixture lives, so any test that
runs after a browser test and calls ``asyncio.run`` (the engine, the action
runner) would find "a running event loop", and CPython's recursion bookkeeping
gets confused by the greenlet switches. The browser tests therefore run last
(on whichever worker they land).
"""

from __future__ import annotations

from collections.abc import Iterator
from urllib.parse import urlsplit

import pytest
from hypothesis import settings
from postgres_server import PostgresServer, running_server

# Hypothesis' default 200 ms deadline per example is a wall-clock assertion:
# on a loaded machine it fails tests that are right. Tests bound work by counts.
settings.register_profile("wfdsl", deadline=None)
settings.load_profile("wfdsl")


def _builds_a_module_fixture(item: pytest.Item) -> bool:
    """Whether the test uses a module-scoped fixture of its own module (a wheel,
    the kill-point sweep, a full disk: the slowest files of the suite)."""
    info = getattr(item, "_fixtureinfo", None)
    module = item.nodeid.split("::")[0]
    return info is not None and any(
        definition.scope == "module" and definition.baseid == module
        for definitions in info.name2fixturedefs.values()
        for definition in definitions
    )


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    def in_browser_folder(item: pytest.Item) -> bool:
        return "browser" in item.path.parts

    # Files, not tests, are what the workers share out (in this order:
    # `--no-loadscope-reorder`), so a file's tests stay together; the slow
    # files start first, so the run does not end waiting on one of them.
    slow_files = {
        item.path
        for item in items
        if item.get_closest_marker("slow") is not None or _builds_a_module_fixture(item)
    }
    items.sort(key=lambda item: (in_browser_folder(item), item.path not in slow_files))


# ----------------------------------------------------------------- PostgreSQL
# One real server per test session (per xdist worker), each test its own
# database. See tests/postgres_server.py for how it is started.


@pytest.fixture(scope="session")
def postgres_server() -> Iterator[PostgresServer]:
    with running_server() as server:
        yield server


@pytest.fixture
def postgres_url(postgres_server: PostgresServer) -> str:
    """The URL of a new, empty database on the session's server."""
    return postgres_server.create_database()


# ----------------------------------------------------------------- both backends
#: The backends a ``store_url`` test runs on (docs/operations.md: URL forms),
#: and its parametrization ids. The one list: every test that runs on each
#: backend (the store contract, engine, CLI) takes ``store_url``.
BACKENDS = ("sqlite", "postgresql")


@pytest.fixture(params=BACKENDS)
def store_url(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> str:
    """What ``--db`` and ``open_store`` take for a new, empty store, once per
    backend: a SQLite file path, then a PostgreSQL URL on the session's
    server (which under CI=1 fails the test when it cannot start). Several
    stores opened on it are several connections to one store."""
    if request.param == "sqlite":
        return str(tmp_path_factory.mktemp("store") / "wfdsl.db")
    url: str = request.getfixturevalue("postgres_store_url")
    return url


@pytest.fixture(scope="session")
def postgres_store_template(postgres_server: PostgresServer) -> str:
    """A database holding an empty, migrated wfdsl store, to clone."""
    from wfdsl.interpreter.store import open_store

    url = postgres_server.create_database("template")
    open_store(url).close()
    return urlsplit(url).path.lstrip("/")


@pytest.fixture
def postgres_store_url(postgres_server: PostgresServer, postgres_store_template: str) -> str:
    """A new database holding an empty wfdsl store (cloned: no migration)."""
    return postgres_server.create_database(template=postgres_store_template)
