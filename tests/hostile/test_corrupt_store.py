"""A store file that is damaged or not a store (research/reliability.md, test
plan row 7; SQLite's "How to corrupt", and fuzzing of the file itself).

Every command must fail fast with one line and exit 74 (a condition of the
file, not a bug: never "internal error" or a traceback), a worker must stop
rather than retry for ever, and nothing may "repair" or overwrite the file:
its bytes are the same afterwards, so the operator can still restore it or
hand it to ``sqlite3 .recover``.
"""

from __future__ import annotations

import hashlib
import os
import re
import sqlite3
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest
from wfdsl.interpreter.store.errors import StoreError

import wfdsl

pytestmark = pytest.mark.slow

WFDSL = [sys.executable, "-c", "from wfdsl.cli import main; main()"]

WAITER = """\
wfdsl: "1"
name: waiter
start: hold
states:
  hold: {type: wait, signal: go, next: done}
  done: {type: succeed}
"""


def healthy_store(db: Path, runs: int = 40) -> None:
    (db.parent / "waiter.yaml").write_text(WAITER)
    with wfdsl.Engine(str(db)) as engine:
        for i in range(runs):
            engine.submit(db.parent / "waiter.yaml", input={"pad": "p" * 500}, run_id=f"r{i}")
    conn = sqlite3.connect(db)
    conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    conn.close()


def flip_pages(db: Path) -> None:
    """Flip bytes all over the file past the first pages (header intact)."""
    healthy_store(db)
    data = bytearray(db.read_bytes())
    for offset in range(3 * 4096, len(data), 997):
        data[offset] ^= 0xFF
    db.write_bytes(bytes(data))


def truncate(db: Path) -> None:
    healthy_store(db)
    data = db.read_bytes()
    db.write_bytes(data[: len(data) // 2])


def garbage(db: Path) -> None:
    db.write_bytes(bytes((i * 131 + 7) % 256 for i in range(20_000)))


def text_file(db: Path) -> None:
    db.write_text("runs:\n  - not a database\n")


def other_application(db: Path) -> None:
    conn = sqlite3.connect(db)
    conn.execute("CREATE TABLE invoices (id INTEGER PRIMARY KEY, total REAL)")
    conn.execute("INSERT INTO invoices VALUES (1, 9.5)")
    conn.commit()
    conn.close()


def newer_schema(db: Path) -> None:
    healthy_store(db, runs=1)
    conn = sqlite3.connect(db)
    conn.execute("PRAGMA user_version = 999")
    conn.close()


# (label, damage, what the one line says, refused at open). SQLite finds a
# damaged b-tree ("malformed"); a damaged row value is noticed only when it is
# read (SQLite keeps no checksums of row contents), here as text that is no
# longer UTF-8. Damage found only when a page is read cannot stop a write
# that touches sound pages first; damage found at open stops everything.
DAMAGE: list[tuple[str, Callable[[Path], None], str, bool]] = [
    ("flipped pages", flip_pages, "malformed|decode", False),
    ("truncated to half", truncate, "malformed", False),
    ("random bytes", garbage, "not a database", True),
    ("a text file", text_file, "not a database", True),
    ("another application's database", other_application, "not a wfdsl store", True),
    ("a newer wfdsl schema", newer_schema, "newer than", True),
]


def digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def cli(tmp_path: Path, *args: str, timeout: float = 60) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [*WFDSL, *args, "--db", str(tmp_path / "wf.db")],
        capture_output=True,
        text=True,
        timeout=timeout,
        cwd=tmp_path,
    )


@pytest.mark.parametrize(("label", "damage", "says", "at_open"), DAMAGE, ids=[d[0] for d in DAMAGE])
def test_every_command_on_a_damaged_file_is_one_line_exit_74_and_leaves_it_alone(
    tmp_path: Path, label: str, damage: Callable[[Path], None], says: str, at_open: bool
) -> None:
    db = tmp_path / "wf.db"
    (tmp_path / "waiter.yaml").write_text(WAITER)
    damage(db)
    before = digest(db)
    commands = [
        ["runs", "list"],
        ["runs", "show", "r1"],
        ["signal", "r1", "go"],
        ["run", "waiter.yaml", "--virtual-time"],
        # A worker must stop, not retry a file that waiting cannot mend.
        ["worker"],
    ]
    for args in commands:
        got = cli(tmp_path, *args, timeout=60)
        lines = [line for line in got.stderr.splitlines() if line.startswith("wfdsl:")]
        assert got.returncode == 74, (label, args, got.returncode, got.stderr[-2000:])
        assert len(lines) == 1 and lines[0].startswith("wfdsl: store error:"), got.stderr
        assert re.search(says, lines[0]), (label, args, lines[0])
        assert "Traceback" not in got.stderr and "internal error" not in got.stderr
        if at_open or args[0] == "runs":
            assert digest(db) == before, (label, args)


@pytest.mark.parametrize(("label", "damage", "says", "at_open"), DAMAGE, ids=[d[0] for d in DAMAGE])
def test_the_python_api_raises_store_error_and_leaves_the_file_alone(
    tmp_path: Path, label: str, damage: Callable[[Path], None], says: str, at_open: bool
) -> None:
    db = tmp_path / "wf.db"
    damage(db)
    before = digest(db)
    with pytest.raises(StoreError, match=says):
        engine = wfdsl.Engine(str(db))
        try:
            engine.list_runs()
            engine.run_until_idle()
        finally:
            engine.close()
    assert digest(db) == before
    # Nothing was left that would make the next open worse.
    assert not os.path.exists(str(db) + "-journal")
