"""A PostgreSQL server for the benchmarks, started like the tests' one.

It reuses ``tests/postgres_server.py`` (initdb and pg_ctl from Debian's
binaries, into a fresh folder under the system's temporary directory, as the
``postgres`` user when run as root, a unix socket only), with one
difference: the benchmark's server is durable (``fsync``,
``synchronous_commit`` and ``full_page_writes`` on, PostgreSQL's defaults),
since the figures compare commit rates, and it loads ``pg_stat_statements``
so a scenario can count the statements idle workers send.

    with bench_server() as server:
        url = server.create_database("bench")
"""

from __future__ import annotations

import importlib.util
import os
import pwd
import shutil
import sys
import tempfile
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
    tests = _tests_module()
    bindir = tests.find_bindir()
    if bindir is None:
        raise LookupError("no PostgreSQL server binaries (initdb, pg_ctl) found")
    as_user = "postgres" if os.geteuid() == 0 else None
    root = Path(tempfile.mkdtemp(prefix="wfdsl-bench-pg-"))
    (root / "socket").mkdir()
    if as_user:
        account = pwd.getpwnam(as_user)
        for folder in (root, root / "socket"):
            os.chown(folder, account.pw_uid, account.pw_gid)
    server = tests.PostgresServer(bindir=bindir, root=root, as_user=as_user)
    chosen = {**SETTINGS, **(settings or {})}
    options = " ".join(f"-c {key}={value}" for key, value in chosen.items())
    options += f" -c unix_socket_directories={server.socket_dir}"
    try:
        server._run(
            ["initdb", "-D", str(server.data_dir), "-U", "postgres", "--auth=trust", "-E", "UTF8"]
        )
        log = str(root / "server.log")
        server._run(["pg_ctl", "-D", str(server.data_dir), "-l", log, "-o", options, "-w", "start"])
    except Exception:
        shutil.rmtree(root, ignore_errors=True)
        raise
    return server


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
