"""Runs' inboxes in the SQLite store: sending a message wakes its run, and a
run reads its unconsumed messages (a group commit consumes them). Each
function works inside the transaction (or read)
:class:`~.sqlite_store.SqliteStore` opened on ``conn``.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Sequence
from typing import Any

from wfdsl.errors import RunNotFound

from ..errors import RunNotActive
from ..records import FINAL_STATUSES, InboxMessage
from .rows import INSERT_MESSAGE, WAKE, json_or_null, loads

__all__ = ["deliver", "send", "unconsumed", "with_messages"]


def send(
    conn: sqlite3.Connection,
    run_id: str,
    channel: str,
    data: Any,
    encoded: str | None,
    *,
    now: float,
    path: str,
) -> InboxMessage:
    """Append ``data`` (``encoded`` as JSON) to the inbox of the active run
    ``run_id`` and wake it; RunNotFound or RunNotActive otherwise. ``path``
    names the store in the error."""
    target = conn.execute("SELECT key, status FROM runs WHERE id = ?", (run_id,)).fetchone()
    if target is None:
        raise RunNotFound(f"no run {run_id!r} in {path!r}")
    key, status = target
    if status in FINAL_STATUSES:
        raise RunNotActive(run_id, status)
    # The run's row first, then the message (the order every backend keeps):
    # on a server the wake-up takes the run's row lock, so the seq taken
    # after it is in commit order among this run's messages.
    conn.execute(WAKE, (now, key))
    cursor = conn.execute(INSERT_MESSAGE, (key, channel, encoded, now))
    seq = cursor.lastrowid
    assert seq is not None
    return InboxMessage(run_id=run_id, channel=channel, data=data, seq=seq, sent_at=now)


def deliver(conn: sqlite3.Connection, message: InboxMessage, now: float) -> int | None:
    """Append to an active run's inbox and wake it; None when there is none."""
    target = conn.execute("SELECT key, status FROM runs WHERE id = ?", (message.run_id,)).fetchone()
    if target is None or target[1] in FINAL_STATUSES:
        return None
    conn.execute(WAKE, (now, target[0]))  # the run's row first, as in send
    cursor = conn.execute(
        INSERT_MESSAGE, (target[0], message.channel, json_or_null(message.data), now)
    )
    return cursor.lastrowid


def unconsumed(
    conn: sqlite3.Connection, run_id: str, *, after_seq: int, per_channel: int | None
) -> list[InboxMessage]:
    """The unconsumed messages of ``run_id`` after ``after_seq``, in order;
    with ``per_channel``, only the first that many of each channel."""
    if per_channel is None:
        rows = conn.execute(
            "SELECT i.seq, i.channel, i.data, i.sent_at FROM inbox i JOIN runs r "
            "ON r.key = i.run_key WHERE r.id = ? AND i.consumed = 0 AND i.seq > ? "
            "ORDER BY i.seq",
            (run_id, after_seq),
        ).fetchall()
    else:
        # The first `per_channel` unconsumed messages of each channel.
        rows = conn.execute(
            "SELECT seq, channel, data, sent_at FROM ("
            " SELECT i.seq, i.channel, i.data, i.sent_at, ROW_NUMBER() OVER"
            " (PARTITION BY i.channel ORDER BY i.seq) AS n"
            " FROM inbox i JOIN runs r ON r.key = i.run_key"
            " WHERE r.id = ? AND i.consumed = 0 AND i.seq > ?"
            ") WHERE n <= ? ORDER BY seq",
            (run_id, after_seq, per_channel),
        ).fetchall()
    return [
        InboxMessage(
            run_id=run_id,
            channel=channel,
            data=None if data is None else loads(data),
            seq=seq,
            sent_at=sent_at,
        )
        for seq, channel, data, sent_at in rows
    ]


def with_messages(conn: sqlite3.Connection, run_ids: Sequence[str]) -> set[str]:
    """Which of ``run_ids`` have unconsumed messages."""
    found: set[str] = set()
    for start in range(0, len(run_ids), 500):
        chunk = run_ids[start : start + 500]
        marks = ",".join("?" * len(chunk))
        found.update(
            run_id
            for (run_id,) in conn.execute(
                f"SELECT r.id FROM runs r WHERE r.id IN ({marks}) AND EXISTS "
                "(SELECT 1 FROM inbox i WHERE i.run_key = r.key AND i.consumed = 0)",
                chunk,
            )
        )
    return found
