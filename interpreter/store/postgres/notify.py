"""Wake-ups between processes: LISTEN/NOTIFY, with polling behind it.

NOTIFY takes a database-wide lock at COMMIT, so the store sends one only
where another process may be waiting for it: a message to a run (a signal,
a control request, a cross-run message), a new run, and runs made
claimable by someone who stops holding them (a hand-back, a release of a
dead worker's leases); never per transition, and at most one per transaction (its payload names the runs,
or ``*`` when they do not fit).

Each store object that listens has one connection of its own in a thread
(:class:`Listener`); it keeps the run ids the notifications named, so
``changed_runs`` answers from them without a query (a notification is
delivered after its transaction commits, in commit order, however many
arrive), and reads the database only for a ``*``, after a reconnection or
when a reader fell more than ``_KEPT`` notifications behind. When that connection is lost (a restart, PgBouncer in transaction
mode), or in poll-only mode, the store polls instead (see
``PostgresStore.changed_runs``).
"""

from __future__ import annotations

import contextlib
import logging
import threading
from collections import deque
from collections.abc import Callable, Iterable
from typing import Any, Final

import psycopg

__all__ = ["CHANNEL", "Listener", "notify"]

CHANNEL: Final = "wfdsl"
# NOTIFY payloads must stay under 8000 bytes.
_PAYLOAD_LIMIT: Final = 7000
# Notifications a listener remembers (by number) for changed_runs: a reader
# further behind than that reads the database instead.
_KEPT: Final = 4096

_log = logging.getLogger("wfdsl.interpreter.store.postgres")


def notify(cur: Any, run_ids: Iterable[str]) -> None:
    """NOTIFY naming ``run_ids``, delivered when the transaction commits:
    one notification, or a few when the ids do not fit one payload (they
    are all sent at the one commit, under its one lock); ``*`` (look at
    everything) only for an id with a space in it."""
    ids = sorted(set(run_ids))
    if any(" " in run_id for run_id in ids) or "*" in ids:
        cur.execute("SELECT pg_notify(%s, %s)", (CHANNEL, "*"))
        return
    payloads: list[str] = []
    chunk: list[str] = []
    size = 0
    for run_id in ids:
        length = len(run_id.encode()) + 1
        if chunk and size + length > _PAYLOAD_LIMIT:
            payloads.append(" ".join(chunk))
            chunk, size = [], 0
        chunk.append(run_id)
        size += length
    payloads.append(" ".join(chunk))
    if len(payloads) == 1:
        cur.execute("SELECT pg_notify(%s, %s)", (CHANNEL, payloads[0]))
    else:
        cur.execute("SELECT pg_notify(%s, p) FROM unnest(%s::text[]) AS p", (CHANNEL, payloads))


class Listener:
    """LISTEN on a connection of its own, in a daemon thread."""

    def __init__(self, connect: Callable[[], psycopg.Connection[Any]], where: str) -> None:
        self._connect = connect
        self._where = where
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self.count = 0
        #: (number, the run ids its payload named, or None: any run may have
        #: changed) of the last ``_KEPT`` notifications, oldest first.
        self._log: deque[tuple[int, frozenset[str] | None]] = deque(maxlen=_KEPT)
        #: Called (in this thread) after each notification: the store's
        #: ``watch_changes`` callback, which wakes an idle driver.
        self.on_notify: Callable[[], None] | None = None
        #: True while the LISTEN connection is up (else the store polls).
        self.listening = False
        self._thread = threading.Thread(target=self._run, name="wfdsl-listen", daemon=True)
        self._up = threading.Event()
        self._thread.start()
        # The first LISTEN is in place before the store is used, so nothing
        # sent after open() returns is missed (or the store polls).
        self._up.wait(5.0)

    def _bump(self, payload: str | None) -> None:
        named = None if payload is None or payload == "*" else frozenset(payload.split())
        with self._lock:
            self.count += 1
            self._log.append((self.count, named))
        wake = self.on_notify
        if wake is not None:
            try:
                wake()
            except Exception:  # a waker must not stop the listening
                _log.exception("wfdsl: a change callback failed")

    def _run(self) -> None:
        backoff = 0.5
        while not self._stop.is_set():
            conn: psycopg.Connection[Any] | None = None
            try:
                conn = self._connect()
                conn.execute(f"LISTEN {CHANNEL}")
                self.listening = True
                # Whatever was sent while nobody listened: look at everything.
                self._bump(None)
                self._up.set()
                backoff = 0.5
                while not self._stop.is_set():
                    for note in conn.notifies(timeout=0.1):
                        self._bump(note.payload)
            except Exception as error:  # the connection is gone: poll, then try again
                if self.listening:
                    _log.warning(
                        "wfdsl: lost the LISTEN connection to %s (%s); polling until it is back",
                        self._where,
                        str(error).strip().splitlines()[0] if str(error).strip() else error,
                    )
                self.listening = False
                self._up.set()
                self._stop.wait(backoff)
                backoff = min(backoff * 2, 5.0)
            finally:
                self.listening = False
                if conn is not None:
                    with contextlib.suppress(Exception):
                        conn.close()

    def heard_since(self, heard: int) -> tuple[int, frozenset[str] | None]:
        """(how many notifications so far, the runs named by those after
        the first ``heard``); None for the runs when one of them named no
        runs (``*``, a reconnection) or they are no longer all kept: the
        caller reads the database then."""
        with self._lock:
            count = self.count
            if count == heard:
                return count, frozenset()
            if not self._log or self._log[0][0] > heard + 1:
                return count, None
            named: set[str] = set()
            for number, ids in reversed(self._log):
                if number <= heard:
                    break
                if ids is None:
                    return count, None
                named.update(ids)
            return count, frozenset(named)

    def close(self) -> None:
        self._stop.set()
        # The thread sees the flag within its 0.1 s wait for notifications.
        self._thread.join(timeout=2.0)
