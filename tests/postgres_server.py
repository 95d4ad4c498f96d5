"""A real PostgreSQL server for the tests, started from Debian's binaries.

The server lives in a fresh folder under the system's temporary directory
(not pytest's private tmp tree: the ``postgres`` user must be able to enter
it), listens on a unix socket only (no port to collide with another run),
trusts local connections, and runs with ``fsync`` off: these tests are about
the store's logic, and a durability test can restart it with fsync on.
``initdb`` refuses to run as root, so as root every server command runs as
the ``postgres`` system user.

Without the binaries the tests that need a server skip on a developer
machine and fail under ``CI``, where a silent skip would hide a broken
environment (the same rule as the browser tests): ``running_server()``.

The benchmarks start their servers here too (bench/pg_server.py loads this
file by its path: ``python bench/x.py`` has bench/, not tests/, on its
path), with settings of their own: durable, and with pg_stat_statements.
"""

from __future__ import annotations

import os
import pwd
import shutil
import subprocess
import tempfile
import uuid
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

__all__ = ["TEST_SETTINGS", "PostgresServer", "find_bindir", "running_server", "start_server"]

#: Settings for a test server: small, quick to start, not durable.
TEST_SETTINGS = {
    "fsync": "off",
    "synchronous_commit": "off",
    "full_page_writes": "off",
    "listen_addresses": "''",
    "max_connections": "100",
    "shared_buffers": "32MB",
}


def find_bindir() -> Path | None:
    """The folder holding ``initdb`` and ``pg_ctl``: ``$WFDSL_PG_BINDIR``,
    then ``pg_config --bindir``, then ``initdb`` on the PATH."""
    candidates: list[str] = []
    if os.environ.get("WFDSL_PG_BINDIR"):
        candidates.append(os.environ["WFDSL_PG_BINDIR"])
    pg_config = shutil.which("pg_config")
    if pg_config:
        found = subprocess.run([pg_config, "--bindir"], capture_output=True, text=True)
        if found.returncode == 0:
            candidates.append(found.stdout.strip())
    initdb = shutil.which("initdb")
    if initdb:
        candidates.append(str(Path(initdb).parent))
    for folder in candidates:
        if (Path(folder) / "initdb").exists() and (Path(folder) / "pg_ctl").exists():
            return Path(folder)
    return None


@dataclass(frozen=True, slots=True)
class PostgresServer:
    """A running server: its data folder, socket folder and binaries."""

    bindir: Path
    root: Path
    as_user: str | None

    @property
    def socket_dir(self) -> Path:
        return self.root / "socket"

    @property
    def data_dir(self) -> Path:
        return self.root / "data"

    def url(self, dbname: str = "postgres") -> str:
        """A libpq URL for ``dbname`` over the unix socket."""
        return f"postgresql://postgres@/{dbname}?host={self.socket_dir}"

    def create_database(self, prefix: str = "t", *, template: str | None = None) -> str:
        """A new empty database (or a copy of ``template``); returns its URL."""
        name = f"{prefix}_{uuid.uuid4().hex[:12]}"
        source = f' TEMPLATE "{template}"' if template else ""
        self._psql(f'CREATE DATABASE "{name}"{source}')
        return self.url(name)

    def stop(self) -> None:
        self._run(["pg_ctl", "-D", str(self.data_dir), "-m", "immediate", "-w", "stop"])
        shutil.rmtree(self.root, ignore_errors=True)

    def _psql(self, sql: str) -> None:
        self._run(
            ["psql", "-h", str(self.socket_dir), "-U", "postgres", "-d", "postgres", "-qc", sql]
        )

    def _run(self, argv: list[str]) -> None:
        command = [str(self.bindir / argv[0]), *argv[1:]]
        if self.as_user:
            command = ["runuser", "-u", self.as_user, "--", *command]
        done = subprocess.run(command, capture_output=True, text=True, cwd=self.root)
        if done.returncode != 0:
            raise RuntimeError(
                f"{' '.join(argv[:2])} failed ({done.returncode}): {done.stderr.strip()}"
            )


def start_server(
    settings: Mapping[str, str] = TEST_SETTINGS, *, prefix: str = "wfdsl-pg-"
) -> PostgresServer:
    """initdb into a new temporary folder named ``prefix…`` and start the
    server with ``settings`` (``-c`` options; it always listens on the
    folder's socket only); raises ``LookupError`` when no PostgreSQL
    binaries are installed."""
    bindir = find_bindir()
    if bindir is None:
        raise LookupError("no PostgreSQL server binaries (initdb, pg_ctl) found")
    as_user = "postgres" if os.geteuid() == 0 else None
    root = Path(tempfile.mkdtemp(prefix=prefix))
    (root / "socket").mkdir()
    if as_user:
        account = pwd.getpwnam(as_user)
        for folder in (root, root / "socket"):
            os.chown(folder, account.pw_uid, account.pw_gid)
    server = PostgresServer(bindir=bindir, root=root, as_user=as_user)
    options = " ".join(f"-c {key}={value}" for key, value in settings.items())
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
def running_server() -> Iterator[PostgresServer]:
    """A test server for the length of the block, stopped after it. Without
    PostgreSQL binaries the test skips, or fails under ``CI``."""
    import pytest

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
