"""The Store protocol on one SQLite file (stdlib ``sqlite3``).

One connection per store object, in autocommit mode (``isolation_level=None``)
with explicit ``BEGIN IMMEDIATE`` ... ``COMMIT``: Python's implicit deferred
transactions would upgrade from read to write mid-transaction and fail with
SQLITE_BUSY instead of waiting (https://sqlite.org/lang_transaction.html).
Every write method is one transaction; an internal lock makes the object safe
to call from several threads (``check_same_thread=False``).

Schema and migrations: ``sqlite_schema.py``; ``where`` to SQL:
``search_query.py``.
"""

from __future__ import annotations

import contextlib
import json
import logging
import sqlite3
import threading
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import Any, Final, TypeVar

from wfdsl.errors import RunAlreadyExists, RunNotFound

from .json_text import dumps
from .records import (
    FINAL_STATUSES,
    CommitResult,
    Definition,
    Event,
    InboxMessage,
    Lease,
    RunFilter,
    RunRow,
    RunUpdate,
)
from .search_query import encode_search, plan_where, where_matches
from .sqlite_schema import check_store, migrate
from .store import DamagedRun, RunNotActive, StoreError

__all__ = ["ID_REUSE_POLICIES", "SqliteStore"]

T = TypeVar("T")

#: The ``id_reuse`` values ``create_run`` understands (DSL.md §1).
ID_REUSE_POLICIES: Final = frozenset(
    {"allow_if_no_running", "allow_if_failed", "disallow", "terminate_if_running"}
)
_SYNCHRONOUS: Final = frozenset({"FULL", "NORMAL", "EXTRA", "OFF"})

# Compact JSON with one reused C encoder (json_text). NaN and Infinity are
# refused: a value the store cannot read back must fail before anything is
# written.
_dumps: Final = dumps
_loads: Final = json.loads
_log = logging.getLogger(__name__)

_ACTIVE_SQL: Final = "('running', 'waiting', 'paused')"
_RUN_COLUMNS: Final = (
    "r.id, r.workflow, r.version, r.definition_hash, r.status, r.input, r.vars, r.output, "
    "r.error, r.started_at, r.ended_at, r.ready_at, r.state, r.search, r.parent_run, "
    "r.row_version"
)
# RETURNING cannot name a table alias.
_RUN_COLUMNS_BARE: Final = _RUN_COLUMNS.replace("r.", "")
_INSERT_RUN: Final = (
    "INSERT INTO runs (id, workflow, version, definition_hash, status, input, vars, output, "
    "error, started_at, ended_at, ready_at, state, search, parent_run, row_version, "
    "lease_generation) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)"
)
_UPDATE_RUN: Final = (
    "UPDATE runs SET status = ?, vars = ?, output = ?, error = ?, ended_at = ?, ready_at = ?, "
    "state = ?, search = ?, row_version = ? WHERE key = ?"
)
# The same without `status` (it did not change): rewriting the two indexes
# that hold it costs about 2 µs of every transition.
_UPDATE_RUN_SAME_STATUS: Final = (
    "UPDATE runs SET vars = ?, output = ?, error = ?, ended_at = ?, ready_at = ?, "
    "state = ?, search = ?, row_version = ? WHERE key = ?"
)
_INSERT_EVENT: Final = (
    "INSERT INTO events (run_key, seq, type, time, state, data) VALUES (?, ?, ?, ?, ?, ?)"
)
_INSERT_MESSAGE: Final = "INSERT INTO inbox (run_key, channel, data, sent_at) VALUES (?, ?, ?, ?)"
# min(ready_at, now), where a NULL ready_at (waiting on messages only) counts
# as "later than now".
_WAKE: Final = "UPDATE runs SET ready_at = min(coalesce(ready_at, ?1), ?1) WHERE key = ?2"
_SEARCH_CACHE_LIMIT: Final = 200_000


def _json_or_null(value: Any) -> str | None:
    return None if value is None else _dumps(value)


def _run_from_row(row: Sequence[Any]) -> RunRow:
    try:
        return _decode_run(row)
    except (ValueError, TypeError) as exc:  # JSONDecodeError is a ValueError
        raise DamagedRun(str(row[0]), f"{type(exc).__name__}: {exc}"[:200]) from exc


def _decode_run(row: Sequence[Any]) -> RunRow:
    return RunRow(
        id=row[0],
        workflow=row[1],
        version=row[2],
        definition_hash=row[3],
        status=row[4],
        input=None if row[5] is None else _loads(row[5]),
        vars=_loads(row[6]),
        output=None if row[7] is None else _loads(row[7]),
        error=None if row[8] is None else _loads(row[8]),
        started_at=row[9],
        ended_at=row[10],
        ready_at=row[11],
        state=_loads(row[12]),
        search=_loads(row[13]),
        parent_run=row[14],
        row_version=row[15],
    )


def _event_rows(key: int, events: Iterable[Event]) -> list[tuple[Any, ...]]:
    return [
        (key, e.seq, e.type, e.time, e.state, _dumps(e.data) if e.data else None) for e in events
    ]


class SqliteStore:
    """The :class:`~wfdsl.interpreter.store.Store` on one SQLite file.

    ``synchronous`` is ``FULL`` (default: every commit is on disk when it
    returns, power loss included) or ``NORMAL`` (in WAL mode, commits survive
    a crash of the process but the last ones may roll back on power loss;
    much faster on slow disks). ``busy_timeout_ms`` is how long a write waits
    for another process's transaction before raising StoreError.
    """

    def __init__(
        self,
        path: str = ":memory:",
        *,
        synchronous: str = "FULL",
        busy_timeout_ms: int = 30000,
    ) -> None:
        mode = synchronous.upper()
        if mode not in _SYNCHRONOUS:
            raise ValueError(
                f"synchronous must be one of {sorted(_SYNCHRONOUS)}, not {synchronous!r}"
            )
        self.path = path
        self._busy_timeout_ms = int(busy_timeout_ms)
        # Lease bookkeeping (claim, renew, release) needs no fsync of its
        # own: losing a lease change with the power loses nothing (the run's
        # row is unchanged; a lease not on disk is one nobody else saw
        # survive). It commits under NORMAL and reaches the disk with the
        # next synced commit. Only when the store is synced at all.
        self._lease_sync = "NORMAL" if mode in ("FULL", "EXTRA") else None
        self._sync = mode
        self._lock = threading.RLock()
        # (row_version, search JSON) this object last committed per run: when
        # a commit's search is unchanged from it, the search rows are too.
        self._search_written: dict[str, tuple[int, str]] = {}
        try:
            conn = sqlite3.connect(
                path, isolation_level=None, check_same_thread=False, timeout=busy_timeout_ms / 1000
            )
        except sqlite3.Error as error:
            raise StoreError(f"cannot open the store {path!r}: {error}") from error
        self._conn: sqlite3.Connection | None = conn
        try:
            self._open(conn, mode, busy_timeout_ms / 1000)
        except sqlite3.Error as error:
            conn.close()
            self._conn = None
            raise self._error(error, "opening the store") from error
        except BaseException:
            conn.close()
            self._conn = None
            raise

    def _open(self, conn: sqlite3.Connection, synchronous: str, patience: float) -> None:
        """Configure and migrate, waiting out a file another process is
        creating or converting at this moment: some of those steps (the
        switch to WAL, the first look at a file being initialised) answer
        "busy" at once instead of calling the busy handler, and two
        `wfdsl` commands started together on a new file must both open it."""
        deadline = time.monotonic() + patience
        while True:
            try:
                self._configure(conn, synchronous)
                migrate(conn, repr(self.path))
                return
            except sqlite3.OperationalError as error:
                busy = getattr(error, "sqlite_errorcode", 0) & 0xFF in (5, 6)  # BUSY, LOCKED
                if not busy or time.monotonic() >= deadline:
                    raise
                self._rollback(conn)
                time.sleep(0.02)

    def _configure(self, conn: sqlite3.Connection, synchronous: str) -> None:
        # First, so every later statement (journal_mode included) waits for a
        # busy file instead of failing at once.
        conn.execute(f"PRAGMA busy_timeout = {self._busy_timeout_ms:d}")
        # Another application's database (a wrong --db) is refused before
        # anything below writes to it.
        check_store(conn, repr(self.path))
        if self.path != ":memory:" and not self.path.startswith("file::memory:"):
            # WAL: readers never block the writer and a commit is one append
            # (plus one fsync under FULL) instead of a rollback journal's two.
            mode = conn.execute("PRAGMA journal_mode = WAL").fetchone()[0]
            if str(mode).lower() != "wal":
                raise StoreError(
                    f"{self.path!r}: SQLite refused WAL mode (got {mode!r}); "
                    "the store needs a local file system (no network shares)"
                )
            # Bound the -wal file after checkpoints: without it a burst of
            # writes leaves a WAL file as large as the burst forever.
            conn.execute("PRAGMA journal_size_limit = 67108864")
        # FULL: a committed transition survives power loss (DSL.md §10
        # exactly-once transitions); NORMAL trades the last commits on power
        # loss for speed, only when the operator asks for it.
        conn.execute(f"PRAGMA synchronous = {synchronous}")
        # Cascading deletes of a replaced run's history, inbox and search rows
        # rely on foreign keys, which SQLite leaves off per connection.
        conn.execute("PRAGMA foreign_keys = ON")
        # Hot pages of runs/events stay in memory across commits (16 MB).
        conn.execute("PRAGMA cache_size = -16000")
        conn.execute("PRAGMA temp_store = MEMORY")

    # --- plumbing ------------------------------------------------------------------

    def _connection(self) -> sqlite3.Connection:
        if self._conn is None:
            raise StoreError(f"the store {self.path!r} is closed")
        return self._conn

    def _error(self, error: sqlite3.Error, doing: str) -> StoreError:
        text = str(error)
        where = repr(self.path)
        if "database or disk is full" in text:
            message = (
                f"{where}: the disk is full (or the store reached its size limit) while "
                f"{doing}; nothing was committed. Free some space and retry."
            )
        elif "locked" in text or "busy" in text:
            message = (
                f"{where} stayed locked by another connection for longer than the busy "
                f"timeout ({self._busy_timeout_ms} ms) while {doing}; nothing was committed"
            )
        elif "disk I/O error" in text or getattr(error, "sqlite_errorname", "").startswith(
            "SQLITE_IOERR"
        ):
            # A write refused by the OS: ENOSPC is SQLITE_FULL above, but a
            # file size limit (EFBIG, ulimit -f), a quota or a failing disk
            # come back as an I/O error.
            message = (
                f"{where}: an I/O error while {doing} ({text}): the disk may be full, a file "
                "size limit or quota reached, or the disk failing; nothing was committed. "
                "The committed runs are intact and carry on once the cause is fixed."
            )
        elif isinstance(error, sqlite3.IntegrityError) and "FOREIGN KEY" in text:
            message = (
                f"{where}: {doing} refers to a row that does not exist "
                f"(a run's definition must be stored first): {text}"
            )
        else:
            message = f"{where}: SQLite error while {doing}: {text}; nothing was committed"
        return StoreError(message)

    def _write(
        self, doing: str, work: Callable[[sqlite3.Connection], T], *, leases_only: bool = False
    ) -> T:
        """Run ``work`` in one BEGIN IMMEDIATE transaction, all or nothing.
        ``leases_only``: it changes nothing but leases, so it need not be
        synced on its own (see ``_lease_sync``)."""
        with self._lock:
            conn = self._connection()
            relaxed = leases_only and self._lease_sync is not None
            try:
                if relaxed:
                    conn.execute(f"PRAGMA synchronous = {self._lease_sync}")
                conn.execute("BEGIN IMMEDIATE")
                result = work(conn)
                conn.execute("COMMIT")
                return result
            except sqlite3.Error as error:
                self._rollback(conn)
                raise self._error(error, doing) from error
            except BaseException:
                self._rollback(conn)
                raise
            finally:
                if relaxed:
                    with contextlib.suppress(sqlite3.Error):
                        conn.execute(f"PRAGMA synchronous = {self._sync}")

    @staticmethod
    def _rollback(conn: sqlite3.Connection) -> None:
        # SQLITE_FULL and some I/O errors roll the transaction back already;
        # ROLLBACK then would raise "no transaction is active".
        if conn.in_transaction:
            # A broken connection cannot roll back; SQLite already did.
            with contextlib.suppress(sqlite3.Error):
                conn.execute("ROLLBACK")

    def _read(self, doing: str, work: Callable[[sqlite3.Connection], T]) -> T:
        with self._lock:
            conn = self._connection()
            try:
                return work(conn)
            except sqlite3.Error as error:
                raise self._error(error, doing) from error

    def close(self) -> None:
        with self._lock:
            if self._conn is not None:
                conn, self._conn = self._conn, None
                conn.close()

    def __enter__(self) -> SqliteStore:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # --- definitions -----------------------------------------------------------------

    def put_definition(self, definition: Definition) -> None:
        d = definition

        def work(conn: sqlite3.Connection) -> None:
            conn.execute(
                "INSERT OR IGNORE INTO definitions (hash, name, version, source, file, created_at) "
                "VALUES (?, ?, ?, ?, ?, ?)",
                (d.hash, d.name, d.version, d.source, d.file, d.created_at),
            )

        self._write(f"storing definition {d.name!r}", work)

    def get_definition(self, hash: str) -> Definition | None:
        def work(conn: sqlite3.Connection) -> Definition | None:
            row = conn.execute(
                "SELECT hash, name, version, source, file, created_at FROM definitions "
                "WHERE hash = ?",
                (hash,),
            ).fetchone()
            return None if row is None else Definition(*row)

        return self._read("reading a definition", work)

    def find_definition(self, name: str, version: str | None = None) -> Definition | None:
        query = (
            "SELECT hash, name, version, source, file, created_at FROM definitions "
            "WHERE name = ?"
            + (" AND version = ?" if version is not None else "")
            + " ORDER BY created_at DESC, rowid DESC LIMIT 1"
        )
        params: tuple[Any, ...] = (name,) if version is None else (name, version)

        def work(conn: sqlite3.Connection) -> Definition | None:
            row = conn.execute(query, params).fetchone()
            return None if row is None else Definition(*row)

        return self._read(f"finding definition {name!r}", work)

    # --- runs ------------------------------------------------------------------------

    def create_run(
        self,
        run: RunRow,
        events: Sequence[Event],
        *,
        id_reuse: str = "allow_if_no_running",
        now: float,
    ) -> RunRow:
        _check_policy(id_reuse)

        def work(conn: sqlite3.Connection) -> RunRow:
            return self._create(conn, run, events, id_reuse)

        created = self._write(f"creating run {run.id!r}", work)
        self._written_search([created])
        return created

    def create_runs(
        self, runs: Sequence[RunRow], *, id_reuse: str = "allow_if_no_running", now: float
    ) -> list[RunRow]:
        _check_policy(id_reuse)
        if not runs:
            return []

        def work(conn: sqlite3.Connection) -> list[RunRow]:
            return [self._create(conn, run, (), id_reuse) for run in runs]

        created = self._write(f"creating {len(runs)} runs", work)
        self._written_search(created)
        return created

    def _written_search(self, rows: Iterable[RunRow]) -> None:
        """Committed: the search rows of these runs are what their ``search``
        says, so their first transition need not rewrite them."""
        cache = self._search_written
        if len(cache) > _SEARCH_CACHE_LIMIT:
            cache.clear()
        for row in rows:
            cache[row.id] = (row.row_version, _dumps(row.search))

    def _create(
        self, conn: sqlite3.Connection, run: RunRow, events: Sequence[Event], id_reuse: str
    ) -> RunRow:
        finished = run.status in FINAL_STATUSES
        stored = replace(run, ready_at=None) if finished else run
        row_version, generation = stored.row_version, 0
        existing = conn.execute(
            "SELECT key, status, row_version, lease_generation FROM runs WHERE id = ?",
            (run.id,),
        ).fetchone()
        if existing is not None:
            key, status, old_version, old_generation = existing
            _check_reuse(run.id, status, id_reuse)
            # The replacement's versions continue the old run's, so a
            # commit or lease computed against the old run can never
            # match the new one.
            conn.execute("DELETE FROM runs WHERE key = ?", (key,))
            row_version = max(row_version, old_version + 1)
            generation = old_generation + 1
        if row_version != stored.row_version:
            stored = replace(stored, row_version=row_version)
        key = self._insert_run(conn, stored, generation)
        if events:
            conn.executemany(_INSERT_EVENT, _event_rows(key, events))
        return stored

    def _insert_run(self, conn: sqlite3.Connection, run: RunRow, generation: int) -> int:
        search_json = _dumps(run.search)
        cursor = conn.execute(
            _INSERT_RUN,
            (
                run.id,
                run.workflow,
                run.version,
                run.definition_hash,
                run.status,
                _json_or_null(run.input),
                _dumps(run.vars),
                _json_or_null(run.output),
                _json_or_null(run.error),
                run.started_at,
                run.ended_at,
                None if run.status in FINAL_STATUSES else run.ready_at,
                _dumps(run.state),
                search_json,
                run.parent_run,
                run.row_version,
                generation,
            ),
        )
        key = cursor.lastrowid
        assert key is not None
        rows = encode_search(run.search)
        if rows:
            conn.executemany(
                "INSERT INTO search (run_key, name, value) VALUES (?, ?, ?)",
                [(key, name, value) for name, value in rows],
            )
        return key

    def get_run(self, run_id: str) -> RunRow | None:
        def work(conn: sqlite3.Connection) -> RunRow | None:
            row = conn.execute(
                f"SELECT {_RUN_COLUMNS} FROM runs r WHERE r.id = ?", (run_id,)
            ).fetchone()
            return None if row is None else _run_from_row(row)

        return self._read(f"reading run {run_id!r}", work)

    def list_runs(self, criteria: RunFilter) -> list[RunRow]:
        conditions: list[str] = []
        params: list[Any] = []
        if criteria.status is not None:
            conditions.append("r.status = ?")
            params.append(criteria.status)
        if criteria.workflow is not None:
            conditions.append("r.workflow = ?")
            params.append(criteria.workflow)
        where = criteria.where
        plan = plan_where(where) if where is not None and where.strip() else None
        if plan is not None and plan.sql is not None:
            conditions.append(f"({plan.sql})")
            params.extend(plan.params)
        clause = (" WHERE " + " AND ".join(conditions)) if conditions else ""
        order = " ORDER BY r.started_at DESC, r.key DESC"
        limit, offset = criteria.limit, criteria.offset

        def exact(conn: sqlite3.Connection) -> list[RunRow]:
            rows = conn.execute(
                f"SELECT {_RUN_COLUMNS} FROM runs r{clause}{order} LIMIT ? OFFSET ?",
                (*params, limit, offset),
            ).fetchall()
            return [_run_from_row(row) for row in rows]

        if plan is None or plan.exact:
            return self._read("listing runs", exact)
        expression = plan.expression

        def evaluated(conn: sqlite3.Connection) -> list[RunRow]:
            # Only the columns the expression can see: the rest of a run
            # (vars, state, input) is loaded for the matches alone.
            cursor = conn.execute(
                "SELECT r.key, r.search, r.workflow, r.status, r.started_at, r.ended_at "
                f"FROM runs r{clause}{order}",
                params,
            )
            keys: list[int] = []
            skip = offset
            for key, search, workflow, status, started_at, ended_at in cursor:
                if limit >= 0 and len(keys) >= limit:
                    break
                if not where_matches(
                    expression,
                    _loads(search),
                    workflow=workflow,
                    status=status,
                    started_at=started_at,
                    ended_at=ended_at,
                ):
                    continue
                if skip > 0:
                    skip -= 1
                    continue
                keys.append(key)
            cursor.close()
            found: dict[int, RunRow] = {}
            for start in range(0, len(keys), 500):
                chunk = keys[start : start + 500]
                marks = ", ".join("?" * len(chunk))
                for row in conn.execute(
                    f"SELECT r.key, {_RUN_COLUMNS} FROM runs r WHERE r.key IN ({marks})", chunk
                ):
                    found[row[0]] = _run_from_row(row[1:])
            return [found[key] for key in keys if key in found]

        return self._read("listing runs", evaluated)

    def history(self, run_id: str, after_seq: int = 0) -> list[Event]:
        def work(conn: sqlite3.Connection) -> list[Event]:
            rows = conn.execute(
                "SELECT e.seq, e.type, e.time, e.state, e.data FROM events e "
                "JOIN runs r ON r.key = e.run_key WHERE r.id = ? AND e.seq > ? ORDER BY e.seq",
                (run_id, after_seq),
            ).fetchall()
            return [
                Event(
                    run_id=run_id,
                    seq=seq,
                    type=type_,
                    time=time,
                    state=state,
                    data={} if data is None else _loads(data),
                )
                for seq, type_, time, state, data in rows
            ]

        return self._read(f"reading the history of run {run_id!r}", work)

    # --- group commit ------------------------------------------------------------------

    def commit(self, updates: Sequence[RunUpdate], *, now: float) -> list[CommitResult]:
        if not updates:
            return []
        group = _Group()

        def work(conn: sqlite3.Connection) -> list[CommitResult]:
            group.heads = _read_heads(conn, [update.run.id for update in updates])
            results = [self._apply(conn, update, now, group) for update in updates]
            # The events of every update go in with one executemany at the
            # end (a run's rows exist by then; order within a run is kept).
            if group.events:
                conn.executemany(_INSERT_EVENT, group.events)
            return results

        results = self._write(f"committing {len(updates)} run update(s)", work)
        # Only now that the transaction is durable may the cache vouch for
        # what the search rows hold.
        cache = self._search_written
        if len(cache) > _SEARCH_CACHE_LIMIT:
            cache.clear()
        for run_id, version, search_json in group.written:
            cache[run_id] = (version, search_json)
        return results

    @staticmethod
    def _write_search(conn: sqlite3.Connection, key: int, search: Mapping[str, Any]) -> None:
        conn.execute("DELETE FROM search WHERE run_key = ?", (key,))
        rows = encode_search(search)
        if rows:
            conn.executemany(
                "INSERT INTO search (run_key, name, value) VALUES (?, ?, ?)",
                [(key, name, value) for name, value in rows],
            )

    def _apply(
        self,
        conn: sqlite3.Connection,
        update: RunUpdate,
        now: float,
        group: _Group,
    ) -> CommitResult:
        run = update.run
        head = None if run.id in group.stale else group.heads.get(run.id, _MISSING)
        if head is None:  # changed earlier in this transaction: read it again
            head = _read_heads(conn, [run.id]).get(run.id, _MISSING)
        group.stale.add(run.id)
        if head is _MISSING:
            return CommitResult(run.id, "conflict", 0)
        key, version, lease_owner, lease_generation, last_seq = head
        maybe_unseen = last_seq is not None and last_seq > update.inbox_seen
        lease = update.lease
        if lease is not None and (
            lease_owner != lease.owner or lease_generation != lease.generation
        ):
            return CommitResult(run.id, "lease_lost", version)
        if version != update.expected_version:
            return CommitResult(run.id, "conflict", version)
        unseen = False
        if maybe_unseen:
            consumed = set(update.consumed)
            unseen = any(
                seq not in consumed
                for (seq,) in conn.execute(
                    "SELECT seq FROM inbox WHERE run_key = ? AND consumed = 0 AND seq > ?",
                    (key, update.inbox_seen),
                )
            )
        finished = run.status in FINAL_STATUSES
        if finished and unseen:
            # A message arrived after the machine last looked: ending the run
            # now would drop it. The engine reloads and decides again.
            return CommitResult(run.id, "conflict", version)
        children: list[RunRow] = []
        for child in update.new_runs:
            existing = conn.execute(
                "SELECT parent_run FROM runs WHERE id = ?", (child.id,)
            ).fetchone()
            if existing is None:
                children.append(child)
            elif existing[0] != run.id:
                return CommitResult(run.id, "conflict", version)

        ready_at = None if finished else run.ready_at
        if unseen and (ready_at is None or ready_at > now):
            ready_at = now
        new_version = version + 1
        search_json = _dumps(run.search)
        values = (
            _dumps(run.vars),
            _json_or_null(run.output),
            _json_or_null(run.error),
            run.ended_at,
            ready_at,
            _dumps(run.state),
            search_json,
            new_version,
            key,
        )
        if update.previous_status == run.status:
            conn.execute(_UPDATE_RUN_SAME_STATUS, values)
        else:
            conn.execute(_UPDATE_RUN, (run.status, *values))
        if update.events:
            group.events.extend(_event_rows(key, update.events))
        if update.consumed:
            conn.executemany(
                "UPDATE inbox SET consumed = 1 WHERE seq = ? AND run_key = ?",
                [(seq, key) for seq in update.consumed],
            )
        if self._search_written.get(run.id) != (version, search_json):
            self._write_search(conn, key, run.search)
        group.written.append((run.id, new_version, search_json))
        if children:
            by_run: dict[str, list[Event]] = {}
            for event in update.new_run_events:
                by_run.setdefault(event.run_id, []).append(event)
            for child in children:
                group.stale.add(child.id)
                child_key = self._insert_run(conn, child, 0)
                conn.executemany(_INSERT_EVENT, _event_rows(child_key, by_run.get(child.id, ())))
        for message in update.outbox:
            group.stale.add(message.run_id)
            self._deliver(conn, message, now)
        return CommitResult(run.id, "ok", new_version)

    @staticmethod
    def _deliver(conn: sqlite3.Connection, message: InboxMessage, now: float) -> int | None:
        """Append to an active run's inbox and wake it; None when there is none."""
        target = conn.execute(
            "SELECT key, status FROM runs WHERE id = ?", (message.run_id,)
        ).fetchone()
        if target is None or target[1] in FINAL_STATUSES:
            return None
        cursor = conn.execute(
            _INSERT_MESSAGE, (target[0], message.channel, _json_or_null(message.data), now)
        )
        conn.execute(_WAKE, (now, target[0]))
        return cursor.lastrowid

    # --- inbox -----------------------------------------------------------------------------

    def send(self, run_id: str, channel: str, data: Any, *, now: float) -> InboxMessage:
        encoded = _json_or_null(data)

        def work(conn: sqlite3.Connection) -> InboxMessage:
            target = conn.execute("SELECT key, status FROM runs WHERE id = ?", (run_id,)).fetchone()
            if target is None:
                raise RunNotFound(f"no run {run_id!r} in {self.path!r}")
            key, status = target
            if status in FINAL_STATUSES:
                raise RunNotActive(run_id, status)
            cursor = conn.execute(_INSERT_MESSAGE, (key, channel, encoded, now))
            conn.execute(_WAKE, (now, key))
            seq = cursor.lastrowid
            assert seq is not None
            return InboxMessage(run_id=run_id, channel=channel, data=data, seq=seq, sent_at=now)

        return self._write(f"sending {channel!r} to run {run_id!r}", work)

    def inbox(
        self, run_id: str, *, after_seq: int = 0, per_channel: int | None = None
    ) -> list[InboxMessage]:
        def work(conn: sqlite3.Connection) -> list[InboxMessage]:
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
                    data=None if data is None else _loads(data),
                    seq=seq,
                    sent_at=sent_at,
                )
                for seq, channel, data, sent_at in rows
            ]

        return self._read(f"reading the inbox of run {run_id!r}", work)

    def with_messages(self, run_ids: Sequence[str]) -> set[str]:
        def work(conn: sqlite3.Connection) -> set[str]:
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

        if not run_ids:
            return set()
        return self._read(f"looking for messages of {len(run_ids)} run(s)", work)

    # --- scheduling and leases ----------------------------------------------------------------

    def claim_ready(
        self, owner: str, *, now: float, lease_seconds: float, limit: int
    ) -> list[tuple[RunRow, Lease]]:
        expires = now + lease_seconds

        def work(conn: sqlite3.Connection) -> list[tuple[RunRow, Lease]]:
            # One statement: the candidates are chosen and leased under the
            # same write lock, so two owners can never both take a run.
            # INDEXED BY: for `status IN (...)` the planner picked
            # runs_by_status and sorted every active run (4.6 ms a claim at
            # 20,000 parked runs, and their pages in memory); runs_ready
            # walks only the runs due, already in order.
            rows = conn.execute(
                "UPDATE runs SET "
                "lease_generation = CASE WHEN lease_owner IS ?1 THEN lease_generation "
                "ELSE lease_generation + 1 END, lease_owner = ?1, lease_expires_at = ?2 "
                "WHERE key IN (SELECT key FROM runs INDEXED BY runs_ready WHERE ready_at <= ?3 "
                f"AND status IN {_ACTIVE_SQL} "
                "AND (lease_owner IS NULL OR lease_expires_at <= ?3 OR lease_owner = ?1) "
                "ORDER BY ready_at LIMIT ?4) "
                f"RETURNING {_RUN_COLUMNS_BARE}, lease_generation",
                (owner, expires, now, limit),
            ).fetchall()
            claimed = []
            for row in rows:
                try:
                    run = _run_from_row(row)
                except DamagedRun as exc:
                    # Set aside: out of the ready index and unleased, so no
                    # loop claims it again; its data is left as found.
                    conn.execute(
                        "UPDATE runs SET ready_at = NULL, lease_owner = NULL, "
                        "lease_expires_at = NULL WHERE id = ?",
                        (row[0],),
                    )
                    _log.error("wfdsl: %s", exc)
                    continue
                claimed.append((run, Lease(row[0], owner, row[16], expires)))
            claimed.sort(key=lambda pair: (pair[0].ready_at or 0.0, pair[0].id))
            return claimed

        return self._write(f"claiming ready runs for {owner!r}", work, leases_only=True)

    def claim(self, run_id: str, owner: str, *, now: float, lease_seconds: float) -> Lease | None:
        expires = now + lease_seconds

        def work(conn: sqlite3.Connection) -> Lease | None:
            row = conn.execute(
                "UPDATE runs SET "
                "lease_generation = CASE WHEN lease_owner IS ?1 THEN lease_generation "
                "ELSE lease_generation + 1 END, lease_owner = ?1, lease_expires_at = ?2 "
                "WHERE id = ?4 AND (lease_owner IS NULL OR lease_expires_at <= ?3 "
                "OR lease_owner = ?1) RETURNING lease_generation",
                (owner, expires, now, run_id),
            ).fetchone()
            if row is not None:
                return Lease(run_id, owner, row[0], expires)
            if conn.execute("SELECT 1 FROM runs WHERE id = ?", (run_id,)).fetchone() is None:
                raise RunNotFound(f"no run {run_id!r} in {self.path!r}")
            return None

        return self._write(f"claiming run {run_id!r} for {owner!r}", work)

    def renew(self, leases: Sequence[Lease], *, now: float, lease_seconds: float) -> list[Lease]:
        expires = now + lease_seconds

        def work(conn: sqlite3.Connection) -> list[Lease]:
            kept: list[Lease] = []
            for lease in leases:
                row = conn.execute(
                    "UPDATE runs SET lease_expires_at = ? WHERE id = ? AND lease_owner = ? "
                    "AND lease_generation = ? RETURNING 1",
                    (expires, lease.run_id, lease.owner, lease.generation),
                ).fetchone()
                if row is not None:
                    kept.append(replace(lease, expires_at=expires))
            return kept

        if not leases:
            return []
        return self._write(f"renewing {len(leases)} lease(s)", work, leases_only=True)

    def release(self, leases: Sequence[Lease]) -> None:
        def work(conn: sqlite3.Connection) -> None:
            conn.executemany(
                "UPDATE runs SET lease_owner = NULL, lease_expires_at = NULL "
                "WHERE id = ? AND lease_owner = ? AND lease_generation = ?",
                [(lease.run_id, lease.owner, lease.generation) for lease in leases],
            )

        if leases:
            self._write(f"releasing {len(leases)} lease(s)", work, leases_only=True)

    def release_orphans(self, orphaned: Callable[[str], bool], *, now: float) -> dict[str, int]:
        def owners(conn: sqlite3.Connection) -> list[tuple[str, int]]:
            # Only leased runs are visited (the partial index runs_leased).
            return conn.execute(
                "SELECT lease_owner, count(*) FROM runs INDEXED BY runs_leased "
                "WHERE lease_owner IS NOT NULL GROUP BY lease_owner"
            ).fetchall()

        gone = [owner for owner, _ in self._read("listing lease owners", owners) if orphaned(owner)]

        def work(conn: sqlite3.Connection) -> dict[str, int]:
            freed: dict[str, int] = {}
            for owner in gone:
                count = conn.execute(
                    "UPDATE runs INDEXED BY runs_leased SET lease_owner = NULL, "
                    "lease_expires_at = NULL, ready_at = min(ready_at, ?2) "
                    "WHERE lease_owner = ?1",
                    (owner, now),
                ).rowcount
                if count:
                    freed[owner] = count
            return freed

        if not gone:
            return {}
        return self._write(f"releasing the leases of {len(gone)} gone owner(s)", work)

    def next_ready_at(self, owner: str | None = None) -> float | None:
        def work(conn: sqlite3.Connection) -> float | None:
            if owner is None:
                row = conn.execute(
                    "SELECT min(ready_at) FROM runs WHERE ready_at IS NOT NULL"
                ).fetchone()
                return None if row is None else row[0]
            # Walks runs_ready in order and stops at the first run this owner
            # could claim; runs leased elsewhere are few (runs_leased). The
            # planner would pick runs_ready for the second query too and
            # scan every timer-parked run on each idle poll: idle CPU grew
            # linearly with parked runs (3 ms per poll at 20,000).
            free = conn.execute(
                "SELECT ready_at FROM runs WHERE ready_at IS NOT NULL "
                "AND (lease_owner IS NULL OR lease_owner = ?) ORDER BY ready_at LIMIT 1",
                (owner,),
            ).fetchone()
            leased = conn.execute(
                "SELECT min(max(ready_at, lease_expires_at)) FROM runs INDEXED BY runs_leased "
                "WHERE lease_owner IS NOT NULL AND lease_owner != ? AND ready_at IS NOT NULL",
                (owner,),
            ).fetchone()
            times = [t for t in (free and free[0], leased and leased[0]) if t is not None]
            return min(times) if times else None

        return self._read("finding the next ready time", work)

    def change_counter(self) -> int:
        def work(conn: sqlite3.Connection) -> int:
            return int(conn.execute("PRAGMA data_version").fetchone()[0])

        return self._read("polling for changes", work)

    # --- schedules ---------------------------------------------------------------------------

    def schedule_state(self, definition_name: str) -> dict[str, Any] | None:
        def work(conn: sqlite3.Connection) -> dict[str, Any] | None:
            row = conn.execute(
                "SELECT state FROM schedules WHERE name = ?", (definition_name,)
            ).fetchone()
            if row is None:
                return None
            state: dict[str, Any] = _loads(row[0])
            return state

        return self._read(f"reading the schedule of {definition_name!r}", work)

    def set_schedule_state(self, definition_name: str, state: dict[str, Any]) -> None:
        encoded = _dumps(state)

        def work(conn: sqlite3.Connection) -> None:
            conn.execute(
                "INSERT INTO schedules (name, state) VALUES (?, ?) "
                "ON CONFLICT (name) DO UPDATE SET state = excluded.state",
                (definition_name, encoded),
            )

        self._write(f"saving the schedule of {definition_name!r}", work)


#: What :func:`_read_heads` gives per run: key, row_version, lease_owner,
#: lease_generation, and the highest seq of its unconsumed messages.
_Head = tuple[int, int, str | None, int, int | None]
_MISSING: Final[_Head] = (0, 0, None, 0, None)


@dataclass(slots=True)
class _Group:
    """One group commit in the making: the runs' heads read up front (one
    query for the batch), the events to insert at the end, and what was
    written. ``stale``: runs this transaction already changed (an update
    applied, a message delivered, a child created), whose head is read again
    if another update of the batch is about them."""

    heads: dict[str, _Head] = field(default_factory=dict)
    stale: set[str] = field(default_factory=set)
    events: list[tuple[Any, ...]] = field(default_factory=list)
    written: list[tuple[str, int, str]] = field(default_factory=list)


def _read_heads(conn: sqlite3.Connection, run_ids: Sequence[str]) -> dict[str, _Head]:
    heads: dict[str, _Head] = {}
    for start in range(0, len(run_ids), 500):
        chunk = run_ids[start : start + 500]
        marks = ",".join("?" * len(chunk))
        for run_id, *head in conn.execute(
            "SELECT id, key, row_version, lease_owner, lease_generation, (SELECT max(seq) "
            "FROM inbox WHERE run_key = runs.key AND consumed = 0) "
            f"FROM runs WHERE id IN ({marks})",
            chunk,
        ):
            heads[run_id] = tuple(head)
    return heads


def _check_policy(id_reuse: str) -> None:
    if id_reuse not in ID_REUSE_POLICIES:
        raise ValueError(f"id_reuse must be one of {sorted(ID_REUSE_POLICIES)}, not {id_reuse!r}")


def _check_reuse(run_id: str, status: str, policy: str) -> None:
    """Raise RunAlreadyExists unless ``policy`` lets a new run replace one in ``status``."""
    if policy == "terminate_if_running":
        return
    if policy == "allow_if_no_running" and status in FINAL_STATUSES:
        return
    if policy == "allow_if_failed" and status in ("failed", "cancelled"):
        return
    why = {
        "disallow": "id_reuse 'disallow' never reuses an id",
        "allow_if_no_running": "id_reuse 'allow_if_no_running' replaces finished runs only",
        "allow_if_failed": "id_reuse 'allow_if_failed' replaces failed or cancelled runs only",
    }[policy]
    raise RunAlreadyExists(f"run {run_id!r} already exists and is {status}: {why}")
