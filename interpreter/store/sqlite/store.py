"""The Store protocol on one SQLite file (stdlib ``sqlite3``).

One connection per store object, in autocommit mode (``isolation_level=None``)
with explicit ``BEGIN IMMEDIATE`` ... ``COMMIT``: Python's implicit deferred
transactions would upgrade from read to write mid-transaction and fail with
SQLITE_BUSY instead of waiting (https://sqlite.org/lang_transaction.html).
Every write method is one transaction; an internal lock makes the object safe
to call from several threads (``check_same_thread=False``).

This module opens and configures the file, runs each method's work in one
transaction (or read) and turns SQLite's errors into StoreError; the work
itself lives beside it: group commit in ``sqlite_commit.py``, runs in
``sqlite_runs.py``, inboxes in ``sqlite_inbox.py``, scheduling and leases in
``sqlite_leases.py``, rows and shared SQL in ``sqlite_rows.py``. Schema and
migrations: ``sqlite_schema.py``; ``where`` to SQL: ``search_query.py``.
"""

from __future__ import annotations

import contextlib
import os
import sqlite3
import threading
import time
from collections.abc import Callable, Collection, Iterator, Sequence
from typing import Any, Final, TypeVar

from ..copy import CopyCount, Tables
from ..errors import StoreError
from ..json_text import dumps
from ..query import plan_where
from ..records import (
    CachedResult,
    ChangedRuns,
    CommitResult,
    Definition,
    Event,
    InboxMessage,
    Lease,
    PrunedRun,
    RunFilter,
    RunRow,
    RunUpdate,
)
from . import cache
from . import copy as sqlite_copy
from . import inbox as sqlite_inbox
from . import leases as sqlite_leases
from . import prune as sqlite_prune
from . import runs as sqlite_runs
from .commit import GroupCommit, move_run
from .rows import insert_run, json_or_null, loads
from .runs import ID_REUSE_POLICIES, check_policy
from .schema import check_store, migrate

__all__ = ["ID_REUSE_POLICIES", "SqliteStore"]

T = TypeVar("T")

_SYNCHRONOUS: Final = frozenset({"FULL", "NORMAL", "EXTRA", "OFF"})

# SQLite's defaults: checkpoint once the WAL holds 1,000 pages; the WAL is cut
# back to 64 MiB after a checkpoint (set in _configure).
_WAL_PAGES: Final = 1000
_WAL_LIMIT: Final = 64 * 1024 * 1024
# On a disk short of space the WAL is checkpointed once it holds a quarter
# of the free space (at least this many pages) and cut back to that size.
_MIN_WAL_PAGES: Final = 8
# Free space is looked at after every write while it is short; while the disk
# has 16 times the room at which the budget starts to shrink, only after this
# many writes or seconds (a statvfs was a thirtieth of a sequential step).
_SPACE_WRITES: Final = 64
_SPACE_SECONDS: Final = 0.5
_PLENTY_FACTOR: Final = 16

# What SQLite answers when it cannot create or grow the -shm file (ENOSPC,
# EFBIG): only when no other process has the store open, since theirs
# already holds the index.
_NO_ROOM_FOR_INDEX: Final = frozenset(
    {"SQLITE_IOERR_SHMSIZE", "SQLITE_IOERR_SHMOPEN", "SQLITE_FULL"}
)

# SQLite results that waiting may cure (StoreError.transient): the disk
# full, an I/O error (a file size limit, a quota, a failing disk), another
# connection holding the lock past the busy timeout.
_TRANSIENT: Final = ("SQLITE_FULL", "SQLITE_IOERR", "SQLITE_BUSY", "SQLITE_LOCKED")


def transient(error: BaseException | None) -> bool:
    """Whether the ``sqlite3`` error ``error`` is one that waiting may cure."""
    name = getattr(error, "sqlite_errorname", "")
    return isinstance(name, str) and name.startswith(_TRANSIENT)


class SqliteStore(GroupCommit):
    """The :class:`~wfdsl.interpreter.store.protocol.Store` on one SQLite file.

    ``synchronous`` is ``FULL`` (default: every commit is on disk when it
    returns, power loss included) or ``NORMAL`` (in WAL mode, commits survive
    a crash of the process but the last ones may roll back on power loss;
    much faster on slow disks). ``busy_timeout_ms`` is how long a write waits
    for another process's transaction before raising StoreError.

    ``brief``: opened for one short command (``wfdsl runs list``,
    ``signal``, ...). When the disk has no room for SQLite's shared-memory
    index (the ``-shm`` file: 32 KiB, which exists while any process has the
    file open), such a store opens the file exclusively with the index in
    its own memory instead, so it still reads on a full disk (its writes
    fail as any write does there). A long-lived store never does: it would
    keep every other process out.

    ``commit`` (and ``_apply``, once per update) come from
    :class:`~.sqlite_commit.GroupCommit`.
    """

    def __init__(
        self,
        path: str = ":memory:",
        *,
        synchronous: str = "FULL",
        busy_timeout_ms: int = 30000,
        brief: bool = False,
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
        self._quiet = set()  # see GroupCommit
        # The PRAGMA data_version changed_runs read last (None: never).
        self._data_version: object | None = None
        self._actions_cache: tuple[Collection[str], str] | None = None
        # Where free space is watched (None: in memory) and the WAL budget
        # last set from it (see _mind_space).
        memory = path == ":memory:" or path.startswith("file::memory:") or path == ""
        self._folder = None if memory else os.path.dirname(os.path.abspath(path))
        self._wal_pages = _WAL_PAGES
        self._page_size = 4096
        # Writes left, and the monotonic time, until free space is looked at
        # again (0: at the next write; see _mind_space).
        self._space_writes = 0
        self._space_until = 0.0
        self._conn: sqlite3.Connection | None = None
        try:
            self._conn = self._connect(mode, exclusive=False)
        except StoreError as error:
            cause = getattr(error.__cause__, "sqlite_errorname", "")
            if not brief or cause not in _NO_ROOM_FOR_INDEX:
                raise
            self._conn = self._connect(mode, exclusive=True)

    def _connect(self, mode: str, *, exclusive: bool) -> sqlite3.Connection:
        path = self.path
        try:
            conn = sqlite3.connect(
                path,
                isolation_level=None,
                check_same_thread=False,
                timeout=self._busy_timeout_ms / 1000,
            )
        except sqlite3.Error as error:
            raise StoreError(
                f"cannot open the store {path!r}: {error}", transient=transient(error)
            ) from error
        try:
            if exclusive:
                # Before the first read: SQLite then keeps the WAL index in
                # this process's memory and never maps the -shm file.
                conn.execute("PRAGMA locking_mode = EXCLUSIVE")
            self._open(conn, mode, self._busy_timeout_ms / 1000)
        except sqlite3.Error as error:
            conn.close()
            raise self._error(error, "opening the store") from error
        except BaseException:
            conn.close()
            raise
        return conn

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
            conn.execute(f"PRAGMA journal_size_limit = {_WAL_LIMIT:d}")
            self._page_size = int(conn.execute("PRAGMA page_size").fetchone()[0])
        # FULL: a committed transition survives power loss (docs/reference.md §8
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
        return StoreError(message, transient=transient(error))

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
                self._mind_space(conn)
                return result
            except sqlite3.Error as error:
                self._rollback(conn)
                if getattr(error, "sqlite_errorname", "").startswith(
                    ("SQLITE_FULL", "SQLITE_IOERR")
                ):
                    self._reclaim(conn)
                raise self._error(error, doing) from error
            except BaseException:
                self._rollback(conn)
                raise
            finally:
                if relaxed:
                    with contextlib.suppress(sqlite3.Error):
                        conn.execute(f"PRAGMA synchronous = {self._sync}")

    def _mind_space(self, conn: sqlite3.Connection) -> None:
        """Keep the WAL within what the disk can take back.

        A checkpoint copies the WAL's pages into the database, which grows by
        the pages that are new, and only then can the WAL be reused. On a
        small disk SQLite's default budget (1,000 pages, 4 MiB, before a
        checkpoint) let the WAL take all the space freed after a full disk,
        and every checkpoint then failed for want of room to grow the
        database: no commit ever succeeded again until the disk grew (issue
        11 item 4b). So once the free space is short, the WAL is checkpointed
        when it holds a quarter of it, and cut back to that size afterwards:
        the database can always take what the WAL holds. One ``statvfs`` per
        write while free space is short (under 16 times the 4 x 4 MiB at which
        the budget starts to shrink); with more room, one per 64 writes or
        half a second, whichever comes first, and at the next write after
        one the disk refused. The pragmas run only when the budget changes."""
        if self._folder is None:
            return
        if self._space_writes > 0:
            self._space_writes -= 1
            if time.monotonic() < self._space_until:
                return
        try:
            stat = os.statvfs(self._folder)
        except OSError:
            return
        free = stat.f_bavail * stat.f_frsize
        short = 4 * _WAL_PAGES * self._page_size
        if free >= _PLENTY_FACTOR * short:
            self._space_writes = _SPACE_WRITES
            self._space_until = time.monotonic() + _SPACE_SECONDS
        else:
            self._space_writes = 0
        pages = max(_MIN_WAL_PAGES, min(_WAL_PAGES, free // (4 * self._page_size)))
        if pages == self._wal_pages:
            return
        self._wal_pages = pages
        limit = _WAL_LIMIT if pages == _WAL_PAGES else pages * self._page_size
        with contextlib.suppress(sqlite3.Error):
            conn.execute(f"PRAGMA wal_autocheckpoint = {pages:d}")
            conn.execute(f"PRAGMA journal_size_limit = {limit:d}")

    def _reclaim(self, conn: sqlite3.Connection) -> None:
        """A write the disk refused: checkpoint what the WAL holds if the disk
        lets the database take it, so the retry can reuse the WAL from its
        start instead of growing it (it fails, harmlessly, while the database
        cannot grow). PASSIVE: it never waits for readers, so a refused
        write is not held up by other processes."""
        self._space_writes = 0  # look at the free space after the next write
        if self._folder is None or conn.in_transaction:
            return
        self._wal_pages = 0  # set the budget again after the next write
        with contextlib.suppress(sqlite3.Error):
            conn.execute("PRAGMA wal_checkpoint(PASSIVE)")

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

    # --- db copy (copy.py) ----------------------------------------------------------

    @contextlib.contextmanager
    def copy_out(self) -> Iterator[Tables]:
        """Every row, for ``wfdsl db copy`` (interpreter/store/copy.py): read
        lazily inside one read transaction, held until the block ends."""
        doing = "reading every row to copy"
        with self._lock:
            conn = self._connection()
            try:
                conn.execute("BEGIN")
            except sqlite3.Error as error:
                raise self._error(error, doing) from error
            tables = sqlite_copy.tables_out(conn, lambda error: self._error(error, doing))
            try:
                yield tables
            finally:
                tables.close()
                self._rollback(conn)

    def copy_in(self, tables: Tables, *, replace: bool) -> CopyCount:
        """Write a copy's rows in one transaction (interpreter/store/copy.py)."""

        def work(conn: sqlite3.Connection) -> CopyCount:
            self._quiet.clear()  # the copy may bring messages
            return sqlite_copy.copy_in(conn, tables, replace=replace, where=repr(self.path))

        return self._write("writing the copied rows", work)

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

    # --- runs (sqlite_runs.py) -------------------------------------------------------

    def create_run(
        self,
        run: RunRow,
        events: Sequence[Event],
        *,
        id_reuse: str = "allow_if_no_running",
        now: float,
    ) -> RunRow:
        check_policy(id_reuse)

        def work(conn: sqlite3.Connection) -> RunRow:
            return sqlite_runs.create_run(conn, run, events, id_reuse, self._insert_run, now)

        return self._write(f"creating run {run.id!r}", work)

    def create_runs(
        self, runs: Sequence[RunRow], *, id_reuse: str = "allow_if_no_running", now: float
    ) -> list[RunRow]:
        check_policy(id_reuse)
        if not runs:
            return []

        def work(conn: sqlite3.Connection) -> list[RunRow]:
            insert = self._insert_run
            return [sqlite_runs.create_run(conn, run, (), id_reuse, insert, now) for run in runs]

        return self._write(f"creating {len(runs)} runs", work)

    def _insert_run(self, conn: sqlite3.Connection, run: RunRow, generation: int) -> int:
        """Insert one run row (a new run or a group commit's child); its key."""
        return insert_run(conn, run, generation)

    def get_run(self, run_id: str, execution: int | None = None) -> RunRow | None:
        return self._read(
            f"reading run {run_id!r}", lambda conn: sqlite_runs.get_run(conn, run_id, execution)
        )

    def executions(self, run_id: str) -> list[RunRow]:
        return self._read(
            f"reading the executions of run {run_id!r}",
            lambda conn: sqlite_runs.executions(conn, run_id),
        )

    def run_ids_starting(self, prefix: str, limit: int = 10) -> list[str]:
        return self._read(
            f"looking up run ids starting with {prefix!r}",
            lambda conn: sqlite_runs.ids_starting(conn, prefix, limit),
        )

    def list_runs(self, criteria: RunFilter) -> list[RunRow]:
        where = criteria.where
        # This module's plan_where: tests swap it to check the Python path.
        plan = plan_where(where) if where is not None and where.strip() else None
        return self._read("listing runs", lambda conn: sqlite_runs.list_runs(conn, criteria, plan))

    def history(
        self, run_id: str, after_seq: int = 0, *, execution: int | None = None
    ) -> list[Event]:
        return self._read(
            f"reading the history of run {run_id!r}",
            lambda conn: sqlite_runs.history(conn, run_id, after_seq, execution),
        )

    def forks(self, run_id: str, execution: int, limit: int = 100) -> list[tuple[RunRow, Event]]:
        return self._read(
            f"reading the forks of run {run_id!r}",
            lambda conn: sqlite_runs.forks(conn, run_id, execution, limit),
        )

    def move_run(
        self,
        update: RunUpdate,
        *,
        definition_hash: str,
        version: str | None,
        now: float,
    ) -> CommitResult:
        return self._write(
            f"moving run {update.run.id!r} to definition {definition_hash[:12]}",
            lambda conn: move_run(self, conn, update, definition_hash, version, now),
        )

    def prune_runs(
        self,
        *,
        ended_before: float,
        statuses: Collection[str],
        workflow: str | None = None,
        limit: int = 100,
        dry_run: bool = False,
        after: tuple[float, int] | None = None,
    ) -> tuple[list[PrunedRun], tuple[float, int] | None]:
        def work(conn: sqlite3.Connection) -> tuple[list[PrunedRun], tuple[float, int] | None]:
            return sqlite_prune.prune_runs(
                conn,
                ended_before=ended_before,
                statuses=statuses,
                workflow=workflow,
                limit=limit,
                dry_run=dry_run,
                after=after,
            )

        if dry_run:
            return self._read("listing runs to prune", work)
        return self._write(f"pruning up to {limit} runs", work)

    # --- inbox (sqlite_inbox.py) -----------------------------------------------------

    def send(self, run_id: str, channel: str, data: Any, *, now: float) -> InboxMessage:
        encoded = json_or_null(data)

        def work(conn: sqlite3.Connection) -> InboxMessage:
            self._quiet.discard(run_id)
            return sqlite_inbox.send(conn, run_id, channel, data, encoded, now=now, path=self.path)

        return self._write(f"sending {channel!r} to run {run_id!r}", work)

    def inbox(
        self, run_id: str, *, after_seq: int = 0, per_channel: int | None = None
    ) -> list[InboxMessage]:
        return self._read(
            f"reading the inbox of run {run_id!r}",
            lambda conn: sqlite_inbox.unconsumed(
                conn, run_id, after_seq=after_seq, per_channel=per_channel
            ),
        )

    def with_messages(self, run_ids: Sequence[str]) -> set[str]:
        """Asks only about runs not known to be without messages (``_quiet``):
        one a driver just committed, in the usual tick. A message that comes
        after the answer is caught by the commit (``inbox_seen``) either way."""
        with self._lock:
            quiet = self._quiet
            unknown = [run_id for run_id in run_ids if run_id not in quiet]
            if not unknown:
                return set()
            return self._read(
                f"looking for messages of {len(unknown)} run(s)",
                lambda conn: sqlite_inbox.with_messages(conn, unknown),
            )

    # --- scheduling and leases (sqlite_leases.py) ----------------------------------------

    def _actions_json(self, actions: Collection[str] | None) -> str | None:
        """``actions`` as the JSON array the claim queries read (the last one
        kept: a driver passes the same set tick after tick)."""
        if actions is None:
            return None
        cached = self._actions_cache
        if cached is not None and cached[0] is actions:
            return cached[1]
        encoded = dumps(sorted(actions))
        self._actions_cache = (actions, encoded)
        return encoded

    def claim_ready(
        self,
        owner: str,
        *,
        now: float,
        lease_seconds: float,
        limit: int,
        actions: Collection[str] | None = None,
        tree: str | None = None,
    ) -> list[tuple[RunRow, Lease]]:
        expires = now + lease_seconds
        names = self._actions_json(actions)
        return self._write(
            f"claiming ready runs for {owner!r}",
            lambda conn: sqlite_leases.claim_ready(
                conn, owner, now=now, expires=expires, limit=limit, actions=names, tree=tree
            ),
            leases_only=True,
        )

    def claim(self, run_id: str, owner: str, *, now: float, lease_seconds: float) -> Lease | None:
        expires = now + lease_seconds
        return self._write(
            f"claiming run {run_id!r} for {owner!r}",
            lambda conn: sqlite_leases.claim(
                conn, run_id, owner, now=now, expires=expires, path=self.path
            ),
        )

    def renew(self, leases: Sequence[Lease], *, now: float, lease_seconds: float) -> list[Lease]:
        expires = now + lease_seconds
        if not leases:
            return []
        return self._write(
            f"renewing {len(leases)} lease(s)",
            lambda conn: sqlite_leases.renew(conn, leases, expires=expires),
            leases_only=True,
        )

    def release(self, leases: Sequence[Lease], *, ready_at: float | None = None) -> None:
        if leases:
            self._write(
                f"releasing {len(leases)} lease(s)",
                lambda conn: sqlite_leases.release(conn, leases, ready_at=ready_at),
                # A hand-back changes when the run is due: that must reach
                # the disk with the lease's end, or a power loss leaves the
                # run waiting for a lease that is gone.
                leases_only=ready_at is None,
            )

    def release_orphans(self, orphaned: Callable[[str], bool], *, now: float) -> dict[str, int]:
        owners = self._read("listing lease owners", sqlite_leases.lease_owners)
        gone = [owner for owner, _ in owners if orphaned(owner)]
        if not gone:
            return {}
        return self._write(
            f"releasing the leases of {len(gone)} gone owner(s)",
            lambda conn: sqlite_leases.free_leases_of(conn, gone, now=now),
        )

    def beat(self, owner: str, *, now: float) -> None:
        self._write(
            f"recording that {owner!r} is alive",
            lambda conn: conn.execute(
                "INSERT INTO workers (owner, last_seen) VALUES (?, ?) "
                "ON CONFLICT (owner) DO UPDATE SET last_seen = excluded.last_seen",
                (owner, now),
            ),
            leases_only=True,  # a beat lost with the power is harmless
        )

    def silent_owners(self, *, before: float) -> set[str]:
        def work(conn: sqlite3.Connection) -> set[str]:
            rows = conn.execute("SELECT owner FROM workers WHERE last_seen < ?", (before,))
            return {owner for (owner,) in rows}

        return self._read("listing silent workers", work)

    def retire(self, owners: Collection[str]) -> None:
        if owners:
            self._write(
                f"forgetting {len(owners)} worker(s)",
                lambda conn: conn.executemany(
                    "DELETE FROM workers WHERE owner = ?", [(owner,) for owner in owners]
                ),
                leases_only=True,
            )

    def next_ready_at(
        self,
        owner: str | None = None,
        *,
        actions: Collection[str] | None = None,
        tree: str | None = None,
    ) -> float | None:
        names = self._actions_json(actions)
        return self._read(
            "finding the next ready time",
            lambda conn: sqlite_leases.next_ready_at(conn, owner, actions=names, tree=tree),
        )

    def now(self) -> float:
        # One file on one host: the host's wall clock is the store's.
        return time.time()

    def changed_runs(self, since: object | None) -> ChangedRuns:
        def work(conn: sqlite3.Connection) -> ChangedRuns:
            changes = sqlite_leases.changed_runs(conn, since)
            version = changes.cursor[0] if isinstance(changes.cursor, tuple) else None
            if version is None or version != self._data_version:
                # Another connection committed: it may have sent messages.
                self._quiet.clear()
                self._data_version = version
            return changes

        return self._read("polling for changes", work)

    def watch_changes(self, wake: Callable[[], None]) -> bool:
        # Another connection's commit shows only in PRAGMA data_version,
        # which changed_runs reads when asked: nothing to push.
        return False

    # --- cached task results ----------------------------------------------------------------

    def cached_result(self, key: str, *, now: float) -> CachedResult | None:
        return self._read("reading the task cache", lambda conn: cache.lookup(conn, key, now))

    def cache_result(
        self, key: str, value: Any, *, run_id: str, now: float, expires_at: float | None
    ) -> None:
        encoded = dumps(value)
        self._write(
            "writing the task cache",
            lambda conn: cache.keep(conn, key, encoded, run_id, now, expires_at),
        )

    # --- schedules ---------------------------------------------------------------------------

    def schedule_state(self, definition_name: str) -> dict[str, Any] | None:
        def work(conn: sqlite3.Connection) -> dict[str, Any] | None:
            row = conn.execute(
                "SELECT state FROM schedules WHERE name = ?", (definition_name,)
            ).fetchone()
            if row is None:
                return None
            state: dict[str, Any] = loads(row[0])
            return state

        return self._read(f"reading the schedule of {definition_name!r}", work)

    def set_schedule_state(self, definition_name: str, state: dict[str, Any]) -> None:
        encoded = dumps(state)

        def work(conn: sqlite3.Connection) -> None:
            conn.execute(
                "INSERT INTO schedules (name, state) VALUES (?, ?) "
                "ON CONFLICT (name) DO UPDATE SET state = excluded.state",
                (definition_name, encoded),
            )

        self._write(f"saving the schedule of {definition_name!r}", work)

    def swap_schedule_state(
        self,
        definition_name: str,
        expected: dict[str, Any] | None,
        state: dict[str, Any],
    ) -> bool:
        encoded = dumps(state)

        def work(conn: sqlite3.Connection) -> bool:
            if expected is None:
                cursor = conn.execute(
                    "INSERT INTO schedules (name, state) VALUES (?, ?) "
                    "ON CONFLICT (name) DO NOTHING",
                    (definition_name, encoded),
                )
                return cursor.rowcount == 1
            row = conn.execute(
                "SELECT state FROM schedules WHERE name = ?", (definition_name,)
            ).fetchone()
            # Compared as values: the text was written by dumps() and read
            # back by loads(), so equal values are equal states.
            if row is None or loads(row[0]) != expected:
                return False
            conn.execute(
                "UPDATE schedules SET state = ? WHERE name = ?", (encoded, definition_name)
            )
            return True

        return self._write(f"saving the schedule of {definition_name!r}", work)
