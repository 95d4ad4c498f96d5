"""The Store protocol on PostgreSQL (psycopg 3, a small pool per process).

Many processes on many machines share one database: every method is one
transaction at READ COMMITTED that locks what it changes first (a run's
``queue`` row is its mutex, taken in key order), so no check is separated
from its write by another process's commit. Claims skip rows others hold
(``FOR UPDATE SKIP LOCKED``); commits are fenced by ``row_version`` and the
lease generation. The work lives beside this module: group commit in
``commit.py``, runs in ``runs.py``, leases in ``leases.py``, wake-ups in
``notify.py``, connections and error classes in ``database.py``.
"""

from __future__ import annotations

import contextlib
import threading
import time
from collections.abc import Callable, Collection, Iterable, Iterator, Sequence
from dataclasses import dataclass, replace
from typing import Any, Final

import psycopg

from wfdsl.errors import RunNotFound

from ..copy import CopyCount, Tables
from ..errors import RunNotActive, StoreError
from ..json_text import dumps
from ..records import (
    FINAL_STATUSES,
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
from . import copy as pg_copy
from . import leases as pg_leases
from . import runs as pg_runs
from . import upkeep
from .commit import apply_group, lock_runs
from .database import Conn, Database, parse_url
from .notify import Listener, notify
from .query import plan_postgres
from .rows import json_or_null, loads
from .schema import migrate

__all__ = ["PostgresStore"]

# How far below the newest message (or run) number changed_runs looks.
_LOOKBACK: Final = 256


@dataclass(frozen=True, slots=True)
class _Cursor:
    """Where :meth:`PostgresStore.changed_runs` last looked: the newest
    message seq and run key then, the numbers named in the look-back window,
    the notification count, and when (monotonic) the database was read."""

    seq: int
    key: int
    named: frozenset[int]
    heard: int = 0
    polled: float = 0.0


def _changes(cur: Any, since: _Cursor | None) -> tuple[_Cursor, set[str]]:
    cur.execute(
        "SELECT coalesce((SELECT max(seq) FROM inbox), 0), coalesce((SELECT max(key) FROM runs), 0)"
    )
    seq, key = (int(value) for value in cur.fetchone())
    low_seq = (since.seq if since is not None else seq) - _LOOKBACK
    low_key = (since.key if since is not None else key) - _LOOKBACK
    # Messages as seq, run rows as -key: one set of numbers per window.
    cur.execute(
        "SELECT i.seq, coalesce(r.id, r.name) FROM inbox i JOIN runs r ON r.key = i.run_key "
        "WHERE i.seq > %s UNION ALL SELECT -key, coalesce(id, name) FROM runs WHERE key > %s",
        (low_seq, low_key),
    )
    rows = cur.fetchall()
    seen = since.named if since is not None else frozenset()
    named = {run_id for number, run_id in rows if number not in seen}
    window = frozenset(
        number
        for number, _ in rows
        if (number > 0 and number > seq - _LOOKBACK) or (number < 0 and -number > key - _LOOKBACK)
    )
    return _Cursor(seq, key, window), named


_SEARCH_CACHE_LIMIT: Final = 200_000
# How often now() reads the server's clock again.
_CLOCK_SECONDS: Final = 10.0


class PostgresStore:
    """The :class:`~wfdsl.interpreter.store.protocol.Store` on PostgreSQL.

    ``url``: ``postgresql://user:password@host:port/database?...`` with
    libpq's parameters and the store's own: ``poll_only=1`` (no LISTEN, no
    prepared statements: for PgBouncer in transaction mode),
    ``pool_size=N`` (connections this process opens at most, default 4),
    ``poll_seconds=S`` (how often other processes' messages are polled for
    when not listening, default 1). ``synchronous`` and ``brief`` are the
    SQLite store's and ignored here (durability is the server's
    ``synchronous_commit``).
    """

    def __init__(self, url: str, **_ignored: Any) -> None:
        self.options = parse_url(url)
        self.path = self.options.shown
        self._db = Database(self.options)
        self._lock = threading.Lock()
        self._search_written: dict[str, tuple[int, str]] = {}
        self._polled: tuple[float, int] = (0.0, 0)
        self._clock: tuple[float, float] = (0.0, 0.0)
        first = self._db.connect()
        try:
            migrate(first, self.path)
        except StoreError:
            raise
        except Exception as error:
            raise self._db.error(error, "migrating the schema") from error
        finally:
            first.close()
        self._db.open_pool()
        self._listener: Listener | None = None
        if not self.options.poll_only:
            self._listener = Listener(self._db.connect, self.path)

    # --- plumbing ------------------------------------------------------------------

    def _write(self, doing: str, work: Callable[[Any], Any], *, idempotent: bool = True) -> Any:
        def run(conn: Conn) -> Any:
            with conn.cursor() as cur:
                return work(cur)

        return self._db.transact(doing, run, idempotent=idempotent)

    def _read(self, doing: str, work: Callable[[Any], Any]) -> Any:
        def run(conn: Conn) -> Any:
            with conn.cursor() as cur:
                return work(cur)

        return self._db.transact(doing, run, read_only=True)

    # --- db copy (copy.py) ----------------------------------------------------------

    @contextlib.contextmanager
    def copy_out(self) -> Iterator[Tables]:
        """Every row, for ``wfdsl db copy`` (interpreter/store/copy.py): read
        through server-side cursors on a connection of its own, in one
        REPEATABLE READ snapshot held until the block ends."""
        doing = "reading every row to copy"
        conn = self._db.connect()
        try:
            try:
                conn.execute("BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY")
            except psycopg.Error as error:
                raise self._db.error(error, doing) from error
            tables = pg_copy.tables_out(conn, lambda error: self._db.error(error, doing))
            try:
                yield tables
            finally:
                tables.close()
        finally:
            conn.close()

    def copy_in(self, tables: Tables, *, replace: bool) -> CopyCount:
        """Write a copy's rows in one transaction (interpreter/store/copy.py).

        Never tried twice: the rows are read once, as they are written, so a
        second attempt after a lost connection would write what was left.
        The transaction rolled back; the user runs the copy again."""
        attempts = 0

        def work(cur: Any) -> CopyCount:
            nonlocal attempts
            attempts += 1
            if attempts > 1:
                raise StoreError(
                    f"{self.path}: the connection was lost while writing the copied rows; "
                    "nothing was written, run the copy again"
                )
            return pg_copy.copy_in(cur, tables, replace=replace, where=self.path)

        count: CopyCount = self._write("writing the copied rows", work, idempotent=False)
        return count

    def close(self) -> None:
        listener, self._listener = self._listener, None
        if listener is not None:
            listener.close()
        self._db.close()

    def __enter__(self) -> PostgresStore:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # --- definitions ---------------------------------------------------------------

    def put_definition(self, definition: Definition) -> None:
        d = definition

        def work(cur: Any) -> None:
            cur.execute(
                "INSERT INTO definitions (hash, name, version, source, file, created_at) "
                "VALUES (%s, %s, %s, %s, %s, %s) ON CONFLICT (hash) DO NOTHING",
                (d.hash, d.name, d.version, d.source, d.file, d.created_at),
            )

        self._write(f"storing definition {d.name!r}", work)

    def get_definition(self, hash: str) -> Definition | None:
        def work(cur: Any) -> Definition | None:
            cur.execute(
                "SELECT hash, name, version, source, file, created_at FROM definitions "
                "WHERE hash = %s",
                (hash,),
            )
            row = cur.fetchone()
            return None if row is None else Definition(*row)

        found: Definition | None = self._read("reading a definition", work)
        return found

    def find_definition(self, name: str, version: str | None = None) -> Definition | None:
        query = (
            "SELECT hash, name, version, source, file, created_at FROM definitions "
            "WHERE name = %s"
            + (" AND version = %s" if version is not None else "")
            + " ORDER BY created_at DESC, seq DESC LIMIT 1"
        )
        params: tuple[Any, ...] = (name,) if version is None else (name, version)

        def work(cur: Any) -> Definition | None:
            cur.execute(query, params)
            row = cur.fetchone()
            return None if row is None else Definition(*row)

        found: Definition | None = self._read(f"finding definition {name!r}", work)
        return found

    # --- runs ------------------------------------------------------------------------

    def create_run(
        self,
        run: RunRow,
        events: Sequence[Event],
        *,
        id_reuse: str = "allow_if_no_running",
        now: float,
    ) -> RunRow:
        pg_runs.check_policy(id_reuse)

        def work(cur: Any) -> RunRow:
            pg_runs.lock_ids(cur, [run.id])
            created = pg_runs.create_run(cur, run, events, id_reuse, now)
            notify(cur, [run.id])
            return created

        # Not idempotent: a creation whose COMMIT was cut off may have
        # happened; run again it would find its own run and refuse.
        created: RunRow = self._write(f"creating run {run.id!r}", work, idempotent=False)
        self._written_search([created])
        return created

    def create_runs(
        self, runs: Sequence[RunRow], *, id_reuse: str = "allow_if_no_running", now: float
    ) -> list[RunRow]:
        pg_runs.check_policy(id_reuse)
        if not runs:
            return []

        def work(cur: Any) -> list[RunRow]:
            pg_runs.lock_ids(cur, [run.id for run in runs])
            created = [pg_runs.create_run(cur, run, (), id_reuse, now) for run in runs]
            notify(cur, [run.id for run in runs])
            return created

        created: list[RunRow] = self._write(f"creating {len(runs)} runs", work, idempotent=False)
        self._written_search(created)
        return created

    def _written_search(self, rows: Iterable[RunRow]) -> None:
        self._remember_search((row.id, row.row_version, dumps(row.search)) for row in rows)

    def _remember_search(self, written: Iterable[tuple[str, int, str]]) -> None:
        cache = self._search_written
        if len(cache) > _SEARCH_CACHE_LIMIT:
            cache.clear()
        for run_id, version, search_json in written:
            cache[run_id] = (version, search_json)

    def get_run(self, run_id: str, execution: int | None = None) -> RunRow | None:
        found: RunRow | None = self._read(
            f"reading run {run_id!r}", lambda cur: pg_runs.get_run(cur, run_id, execution)
        )
        return found

    def executions(self, run_id: str) -> list[RunRow]:
        found: list[RunRow] = self._read(
            f"reading the executions of run {run_id!r}",
            lambda cur: pg_runs.executions(cur, run_id),
        )
        return found

    def run_ids_starting(self, prefix: str, limit: int = 10) -> list[str]:
        found: list[str] = self._read(
            f"looking up run ids starting with {prefix!r}",
            lambda cur: pg_runs.ids_starting(cur, prefix, limit),
        )
        return found

    def list_runs(self, criteria: RunFilter) -> list[RunRow]:
        where = criteria.where
        plan = plan_postgres(where) if where and where.strip() else None
        found: list[RunRow] = self._read(
            "listing runs", lambda cur: pg_runs.list_runs(cur, criteria, plan)
        )
        return found

    def history(
        self, run_id: str, after_seq: int = 0, *, execution: int | None = None
    ) -> list[Event]:
        found: list[Event] = self._read(
            f"reading the history of run {run_id!r}",
            lambda cur: pg_runs.history(cur, run_id, after_seq, execution),
        )
        return found

    def forks(self, run_id: str, execution: int, limit: int = 100) -> list[tuple[RunRow, Event]]:
        found: list[tuple[RunRow, Event]] = self._read(
            f"reading the forks of run {run_id!r}",
            lambda cur: pg_runs.forks(cur, run_id, execution, limit),
        )
        return found

    def commit(self, updates: Sequence[RunUpdate], *, now: float) -> list[CommitResult]:
        if not updates:
            return []
        written: list[tuple[str, int, str]] = []

        def work(cur: Any) -> list[CommitResult]:
            results, done, woken = apply_group(cur, updates, now, self._search_written)
            written[:] = done
            if woken:
                notify(cur, woken)
            return results

        # Idempotent: run again after a COMMIT whose answer was lost, every
        # update that did apply is refused (its row_version moved on).
        results: list[CommitResult] = self._write(f"committing {len(updates)} run update(s)", work)
        self._remember_search(written)
        return results

    def move_run(
        self,
        update: RunUpdate,
        *,
        definition_hash: str,
        version: str | None,
        now: float,
    ) -> CommitResult:
        written: list[tuple[str, int, str]] = []

        def work(cur: Any) -> CommitResult:
            results, done, woken = apply_group(cur, [update], now, self._search_written)
            written[:] = done
            if results[0].outcome == "ok":
                cur.execute(
                    "UPDATE runs SET definition_hash = %s, version = %s WHERE id = %s",
                    (definition_hash, version, update.run.id),
                )
            if woken:
                notify(cur, woken)
            return results[0]

        result: CommitResult = self._write(f"moving run {update.run.id!r}", work)
        self._remember_search(written)
        return result

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
        found: tuple[list[PrunedRun], tuple[float, int] | None] = self._write(
            "deleting old runs",
            lambda cur: upkeep.prune_runs(
                cur,
                ended_before=ended_before,
                statuses=statuses,
                workflow=workflow,
                limit=limit,
                dry_run=dry_run,
                after=after,
            ),
        )
        return found

    def cached_result(self, key: str, *, now: float) -> CachedResult | None:
        found: CachedResult | None = self._read(
            "reading a cached result", lambda cur: upkeep.cached_result(cur, key, now)
        )
        return found

    def cache_result(
        self, key: str, value: Any, *, run_id: str, now: float, expires_at: float | None
    ) -> None:
        self._write(
            "caching a result",
            lambda cur: upkeep.store_result(cur, key, value, run_id, now, expires_at),
        )

    def beat(self, owner: str, *, now: float) -> None:
        self._write(
            f"recording that {owner!r} is alive",
            lambda cur: cur.execute(
                "INSERT INTO workers (owner, last_seen) VALUES (%s, %s) "
                "ON CONFLICT (owner) DO UPDATE SET last_seen = excluded.last_seen",
                (owner, now),
            ),
        )

    def silent_owners(self, *, before: float) -> set[str]:
        def work(cur: Any) -> set[str]:
            cur.execute("SELECT owner FROM workers WHERE last_seen < %s", (before,))
            return {owner for (owner,) in cur.fetchall()}

        found: set[str] = self._read("listing silent workers", work)
        return found

    def retire(self, owners: Collection[str]) -> None:
        if owners:
            self._write(
                f"forgetting {len(owners)} worker(s)",
                lambda cur: cur.execute(
                    "DELETE FROM workers WHERE owner = ANY(%s)", (list(owners),)
                ),
            )

    # --- inbox -------------------------------------------------------------------------

    def send(self, run_id: str, channel: str, data: Any, *, now: float) -> InboxMessage:
        encoded = json_or_null(data)

        def work(cur: Any) -> InboxMessage:
            # The run's queue row first: a finishing commit holds it, and a
            # message numbered after the lock is in commit order.
            head = lock_runs(cur, [run_id]).get(run_id)
            if head is None:
                raise RunNotFound(f"no run {run_id!r} in {self.path}")
            if head.status in FINAL_STATUSES:
                raise RunNotActive(run_id, head.status)
            cur.execute(
                "INSERT INTO inbox (run_key, channel, data, sent_at) VALUES (%s, %s, %s, %s) "
                "RETURNING seq",
                (head.key, channel, encoded, now),
            )
            (seq,) = cur.fetchone()
            cur.execute(
                "UPDATE queue SET ready_at = least(coalesce(ready_at, %s), %s) WHERE run_key = %s",
                (now, now, head.key),
            )
            notify(cur, [run_id])
            return InboxMessage(
                run_id=run_id, channel=channel, data=data, seq=int(seq), sent_at=now
            )

        # Not idempotent: sent twice, a message would arrive twice.
        message: InboxMessage = self._write(
            f"sending {channel!r} to run {run_id!r}", work, idempotent=False
        )
        return message

    def inbox(
        self, run_id: str, *, after_seq: int = 0, per_channel: int | None = None
    ) -> list[InboxMessage]:
        def work(cur: Any) -> list[InboxMessage]:
            if per_channel is None:
                cur.execute(
                    "SELECT i.seq, i.channel, i.data, i.sent_at FROM inbox i JOIN runs r "
                    "ON r.key = i.run_key WHERE r.id = %s AND NOT i.consumed AND i.seq > %s "
                    "ORDER BY i.seq",
                    (run_id, after_seq),
                )
            else:
                cur.execute(
                    "SELECT seq, channel, data, sent_at FROM ("
                    " SELECT i.seq, i.channel, i.data, i.sent_at, ROW_NUMBER() OVER"
                    " (PARTITION BY i.channel ORDER BY i.seq) AS n"
                    " FROM inbox i JOIN runs r ON r.key = i.run_key"
                    " WHERE r.id = %s AND NOT i.consumed AND i.seq > %s"
                    ") w WHERE n <= %s ORDER BY seq",
                    (run_id, after_seq, per_channel),
                )
            return [
                InboxMessage(
                    run_id=run_id,
                    channel=channel,
                    data=None if data is None else loads(data),
                    seq=int(seq),
                    sent_at=sent_at,
                )
                for seq, channel, data, sent_at in cur.fetchall()
            ]

        found: list[InboxMessage] = self._read(f"reading the inbox of run {run_id!r}", work)
        return found

    def with_messages(self, run_ids: Sequence[str]) -> set[str]:
        if not run_ids:
            return set()

        def work(cur: Any) -> set[str]:
            cur.execute(
                "SELECT r.id FROM runs r WHERE r.id = ANY(%b::text[]) AND EXISTS "
                "(SELECT 1 FROM inbox i WHERE i.run_key = r.key AND NOT i.consumed)",
                (list(run_ids),),
            )
            return {run_id for (run_id,) in cur.fetchall()}

        found: set[str] = self._read(f"looking for messages of {len(run_ids)} run(s)", work)
        return found

    # --- scheduling and leases ---------------------------------------------------------

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
        names = None if actions is None else sorted(actions)
        searches: list[tuple[str, int, str]] = []

        def work(cur: Any) -> list[tuple[RunRow, Lease]]:
            searches.clear()  # a retried transaction reads them again
            return pg_leases.claim_ready(
                cur,
                owner,
                now=now,
                expires=expires,
                limit=limit,
                actions=names,
                tree=tree,
                searches=searches,
            )

        claimed: list[tuple[RunRow, Lease]] = self._write(
            f"claiming ready runs for {owner!r}", work
        )
        # A run's search rows are what its search JSON says: the claimer's
        # first commit need not rewrite them (a fired timer, a taken-over run).
        self._remember_search(searches)
        return claimed

    def claim(self, run_id: str, owner: str, *, now: float, lease_seconds: float) -> Lease | None:
        expires = now + lease_seconds
        lease: Lease | None = self._write(
            f"claiming run {run_id!r} for {owner!r}",
            lambda cur: pg_leases.claim(
                cur, run_id, owner, now=now, expires=expires, where=self.path
            ),
        )
        return lease

    def renew(self, leases: Sequence[Lease], *, now: float, lease_seconds: float) -> list[Lease]:
        if not leases:
            return []
        expires = now + lease_seconds
        kept: list[Lease] = self._write(
            f"renewing {len(leases)} lease(s)",
            lambda cur: pg_leases.renew(cur, leases, expires=expires),
        )
        return kept

    def release(self, leases: Sequence[Lease], *, ready_at: float | None = None) -> None:
        if not leases:
            return

        def work(cur: Any) -> None:
            pg_leases.release(cur, leases, ready_at=ready_at)
            if ready_at is not None:
                # A hand-back: runs due for whoever claims next. Idle workers
                # sleep until told (a plain release leaves runs that wait on
                # a timer its holder knows, or on a message that notifies).
                notify(cur, [lease.run_id for lease in leases])

        self._write(f"releasing {len(leases)} lease(s)", work)

    def release_orphans(self, orphaned: Callable[[str], bool], *, now: float) -> dict[str, int]:
        owners: list[tuple[str, int]] = self._read("listing lease owners", pg_leases.lease_owners)
        gone = [owner for owner, _ in owners if orphaned(owner)]
        if not gone:
            return {}

        def work(cur: Any) -> dict[str, int]:
            freed = pg_leases.free_leases_of(cur, gone, now=now)
            if freed:
                notify(cur, ["*"])  # their runs are due: wake every idle worker
            return freed

        freed: dict[str, int] = self._write(
            f"releasing the leases of {len(gone)} gone owner(s)", work
        )
        return freed

    def next_ready_at(
        self,
        owner: str | None = None,
        *,
        actions: Collection[str] | None = None,
        tree: str | None = None,
    ) -> float | None:
        names = None if actions is None else sorted(actions)
        found: float | None = self._read(
            "finding the next ready time",
            lambda cur: pg_leases.next_ready_at(cur, owner, actions=names, tree=tree),
        )
        return found

    def now(self) -> float:
        """The database server's clock (epoch seconds), so workers on many
        machines agree on when a lease ends: read from the server every
        ``_CLOCK_SECONDS`` and carried forward on the local monotonic clock
        in between (one query per tick would cost a round trip each)."""
        base, at = self._clock
        clock = time.monotonic()
        if at == 0.0 or clock - at > _CLOCK_SECONDS:

            def work(cur: Any) -> float:
                cur.execute("SELECT extract(epoch FROM clock_timestamp())::float8")
                (server,) = cur.fetchone()
                return float(server)

            try:
                server = float(self._read("reading the server's clock", work))
            except StoreError:
                if at == 0.0:
                    raise
                return base + (clock - at)
            # Half the round trip: the server read its clock about midway.
            clock = (clock + time.monotonic()) / 2
            self._clock = (server, clock)
            return server + (time.monotonic() - clock)
        return base + (clock - at)

    def changed_runs(self, since: object | None) -> ChangedRuns:
        """The runs sent a message or given a new row since ``since``.

        While LISTEN is up, no query runs: the notifications name the runs
        (every writer of a message or a run row notifies, naming them), and
        one is delivered after its transaction commits, so however many
        messages arrive, each is named once, by the first answer after its
        notification came, never by a later one. The database is read only
        for a notification that names no runs (``*``: too many for a
        payload), after the LISTEN connection came back, or for a reader
        more than the listener keeps behind. In poll-only mode, or while
        the LISTEN connection is down, the database is read at most every
        ``poll_seconds``: the runs of messages and run rows numbered above
        the cursor, looking back ``_LOOKBACK`` numbers (a seq or key is
        taken before its transaction commits, so a lower number can commit
        after a higher one was seen; the cursor keeps the numbers already
        named in that window, so none is named twice and a late commit is
        still named). A message later than that is still never lost: a send
        makes its run due, and the claim that follows hands a held run back
        to its driver."""
        listener = self._listener
        cursor = since if isinstance(since, _Cursor) else None
        listening = listener is not None and listener.listening
        clock = time.monotonic()
        if listener is not None and listening and cursor is not None:
            heard, named = listener.heard_since(cursor.heard)
            if heard == cursor.heard:
                return ChangedRuns(cursor, frozenset(), False)
            if named is not None:
                return ChangedRuns(replace(cursor, heard=heard), named, True)
        heard = listener.count if listener is not None else 0
        if (
            cursor is not None
            and not listening
            and clock - cursor.polled < self.options.poll_seconds
        ):
            return ChangedRuns(cursor, frozenset(), False)
        fresh, found = self._read("polling for changes", lambda cur: _changes(cur, cursor))
        fresh = replace(fresh, heard=heard, polled=clock)
        if cursor is None:
            return ChangedRuns(fresh, frozenset(), True)
        return ChangedRuns(fresh, frozenset(found), True)

    def watch_changes(self, wake: Callable[[], None]) -> bool:
        listener = self._listener
        if listener is None:
            return False  # poll-only: changed_runs reads every poll_seconds
        listener.on_notify = wake
        return True

    # --- schedules ---------------------------------------------------------------------

    def schedule_state(self, definition_name: str) -> dict[str, Any] | None:
        def work(cur: Any) -> dict[str, Any] | None:
            cur.execute("SELECT state FROM schedules WHERE name = %s", (definition_name,))
            row = cur.fetchone()
            if row is None:
                return None
            state: dict[str, Any] = loads(row[0])
            return state

        found: dict[str, Any] | None = self._read(
            f"reading the schedule of {definition_name!r}", work
        )
        return found

    def set_schedule_state(self, definition_name: str, state: dict[str, Any]) -> None:
        encoded = dumps(state)

        def work(cur: Any) -> None:
            cur.execute(
                "INSERT INTO schedules (name, state) VALUES (%s, %s) "
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

        def work(cur: Any) -> bool:
            if expected is None:
                cur.execute(
                    "INSERT INTO schedules (name, state) VALUES (%s, %s) "
                    "ON CONFLICT (name) DO NOTHING",
                    (definition_name, encoded),
                )
                return bool(cur.rowcount == 1)
            # The row's lock holds until COMMIT: two swaps from one expected
            # state cannot both see it.
            cur.execute(
                "SELECT state FROM schedules WHERE name = %s FOR UPDATE", (definition_name,)
            )
            row = cur.fetchone()
            if row is None or loads(row[0]) != expected:
                return False
            cur.execute(
                "UPDATE schedules SET state = %s WHERE name = %s", (encoded, definition_name)
            )
            return True

        swapped: bool = self._write(f"saving the schedule of {definition_name!r}", work)
        return swapped
