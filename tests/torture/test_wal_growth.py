"""Test plan row 11, WAL checkpoint starvation: a reader that keeps a
snapshot open (a long `wfdsl runs list`, a BI tool, a backup) stops SQLite
from recycling the write-ahead log, so the log grows while it reads. The
engine must keep committing meanwhile, the reader must keep its consistent
view, and once the reader lets go the log is checkpointed in full and stops
growing."""

from __future__ import annotations

import sqlite3
from pathlib import Path

from wfdsl.interpreter.clock import VirtualClock
from wfdsl.interpreter.engine import Engine

STEPS = """
wfdsl: "1"
name: steps
start: s0
states:
  s0: {type: task, action: noop, next: s1}
  s1: {type: task, action: noop, next: s2}
  s2: {type: task, action: noop, next: s3}
  s3: {type: task, action: noop, next: s4}
  s4: {type: task, action: noop, end: true}
"""


def wal_bytes(db: Path) -> int:
    wal = db.with_name(db.name + "-wal")
    return wal.stat().st_size if wal.exists() else 0


def test_a_reader_holding_a_snapshot_starves_no_commit_and_the_log_is_recycled_after(
    tmp_path: Path,
) -> None:
    db = tmp_path / "wal.db"
    with Engine(str(db), clock=VirtualClock()) as engine:
        engine.action("noop", inline=True)(lambda: None)
        workflow = engine.register(STEPS)
        engine.start_many(workflow, [None] * 50)
        engine.run_until_idle()
        before = wal_bytes(db)

        reader = sqlite3.connect(db, isolation_level=None)
        try:
            reader.execute("BEGIN")
            seen = reader.execute("SELECT count(*) FROM runs WHERE status = 'completed'").fetchone()
            # 600 runs x 6 transitions while the snapshot is held.
            runs = engine.start_many(workflow, [None] * 600)
            engine.run_until_idle()
            assert {engine.get(run.id).status for run in runs} == {"completed"}
            # The reader still sees the store as it was when it began.
            assert (
                reader.execute("SELECT count(*) FROM runs WHERE status = 'completed'").fetchone()
                == seen
            )
            starved = wal_bytes(db)
            assert starved > before  # the log could not be recycled under the reader
            reader.execute("COMMIT")
        finally:
            reader.close()

        # The reader is gone: the same amount of work again reuses the log.
        engine.start_many(workflow, [None] * 600)
        engine.run_until_idle()
        busy, frames, checkpointed = (
            engine.store._connection()
            .execute(  # type: ignore[attr-defined]
                "PRAGMA wal_checkpoint(PASSIVE)"
            )
            .fetchone()
        )
        assert busy == 0 and frames == checkpointed  # every frame made it into the database
        # Recycled: had the log kept growing, the same work would have added
        # about what it added under the reader again.
        assert wal_bytes(db) - starved < (starved - before) / 4
        assert sqlite3.connect(db).execute("PRAGMA integrity_check").fetchone() == ("ok",)
