"""A PostgreSQL server for the benchmarks, started by the tests' module.

``tests/postgres_server.py`` starts it (initdb and pg_ctl from Debian's
binaries, into a fresh folder under the system's temporary directory, as the
``postgres`` user when run as root, a unix socket only), with other
settings: the benchmark's server is durable (``fsync``,
``synchronous_commit`` and ``full_page_writes`` on, PostgreSQL's defaults),
since the figures compare commit rates, and it loads ``pg_stat_statements``
so a scenario can count the statements idle workers send.

    with bench_server() as server:
        url = server.create_database("bench")
"""

from __future__ import annotations

import importlib.util
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
_MODULE = ROOT / "tests" / "postgres_server.py"

#: Durable, as a production server is; sized for a 2-core, 24 GB machine.
SETTINGS = {
    "listen_addresses": "''",
    "max_connections": "200",
    "shared_buffers": "256MB",
    "shared_preload_libraries": "pg_stat_statements",
    "pg_stat_statements.track": "all",
    "max_wal_size": "2GB",
    "log_min_messages": "warning",
}


def _tests_module() -> Any:
    """tests/postgres_server.py, loaded by its path: a bench script run as
    ``python bench/x.py`` has bench/, not tests/, on its path. A process
    that imported it as the tests do (pytest) gets that same module."""
    loaded = sys.modules.get("postgres_server")
    if loaded is not None and Path(getattr(loaded, "__file__", "")).resolve() == _MODULE:
        return loaded
    name = "wfdsl_tests_postgres_server"
    if name in sys.modules:
        return sys.modules[name]
    spec = importlib.util.spec_from_file_location(name, _MODULE)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    spec.loader.exec_module(module)
    return module


def start(settings: dict[str, str] | None = None) -> Any:
    """initdb and start a durable server; returns the tests' ``PostgresServer``
    (``url(db)``, ``create_database(prefix)``, ``stop()``). Raises
    ``LookupError`` without PostgreSQL binaries."""
    chosen = {**SETTINGS, **(settings or {})}
    return _tests_module().start_server(chosen, prefix="wfdsl-bench-pg-")


@contextmanager
def bench_server(settings: dict[str, str] | None = None) -> Iterator[Any]:
    server = start(settings)
    try:
        yield server
    finally:
        server.stop()


_shared: Any = None


def shared_server() -> Any:
    """One server for every PostgreSQL scenario of this ``run.py``, stopped
    at exit (the server's start costs ~2 s; each scenario makes databases)."""
    global _shared
    if _shared is None:
        import atexit

        _shared = start()
        atexit.register(_shared.stop)
    return _shared


def connect(url: str, **kwargs: Any) -> Any:
    """A psycopg connection (autocommit) to ``url``."""
    import psycopg

    return psycopg.connect(url, autocommit=True, **kwargs)


def dbname(url: str) -> str:
    """The database a ``postgresql://...`` URL names."""
    from urllib.parse import urlsplit

    return urlsplit(url).path.lstrip("/")
