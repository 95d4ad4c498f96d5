"""The SQLite store's schema and its forward-only migrations.

The schema version lives in ``PRAGMA user_version`` (an integer in the file
header, readable before any table exists) and ``PRAGMA application_id`` marks
the file as a wfdsl store, so a stranger's database is refused instead of
being "migrated". Migrations are an ordered list of functions: migration
``n`` takes a file from version ``n`` to ``n + 1``; every pending one runs in
ONE ``BEGIN IMMEDIATE`` transaction together with the new ``user_version``,
and the version is re-read inside that transaction, so two processes opening
the same new file at once migrate it exactly once.

Why not sqlite-utils' ``Migrations``: it records applied migrations by name in
its own table and reads the pending list outside the transaction that applies
them (two processes opening one file race, and the loser fails on a unique
index), has no notion of "this file is newer than me", and costs ~140 ms of
imports on every CLI start. The integer version does all three jobs here.
"""

from __future__ import annotations

import re
import sqlite3
from collections.abc import Callable, Sequence

from ..errors import StoreError

__all__ = ["APPLICATION_ID", "MIGRATIONS", "SCHEMA_VERSION", "check_store", "migrate"]

#: 'wfds' in ASCII: ``PRAGMA application_id`` of every wfdsl store.
APPLICATION_ID = 0x77666473

Migration = Callable[[sqlite3.Connection], None]


def _v1_initial(conn: sqlite3.Connection) -> None:
    statements = (
        # Definitions are content-addressed: a run pins the exact text it
        # started with (docs/reference.md §1 `version`).
        """CREATE TABLE definitions (
            hash TEXT PRIMARY KEY,
            name TEXT NOT NULL,
            version TEXT,
            source TEXT NOT NULL,
            file TEXT,
            created_at REAL NOT NULL
        )""",
        "CREATE INDEX definitions_by_name ON definitions (name, created_at)",
        # `key` is the rowid: the child tables reference it instead of the
        # text id, which saves the id's bytes in every event, message and
        # search row (a parked run must stay under ~2 KB). JSON columns are
        # declared TEXT on purpose: a column typed "JSON" gets NUMERIC
        # affinity and SQLite would turn the JSON text '5' into the integer 5.
        """CREATE TABLE runs (
            key INTEGER PRIMARY KEY,
            id TEXT NOT NULL UNIQUE,
            workflow TEXT NOT NULL,
            version TEXT,
            definition_hash TEXT NOT NULL REFERENCES definitions (hash),
            status TEXT NOT NULL,
            input TEXT,
            vars TEXT NOT NULL,
            output TEXT,
            error TEXT,
            started_at REAL NOT NULL,
            ended_at REAL,
            ready_at REAL,
            state TEXT NOT NULL,
            search TEXT NOT NULL,
            parent_run TEXT,
            row_version INTEGER NOT NULL,
            lease_owner TEXT,
            lease_generation INTEGER NOT NULL DEFAULT 0,
            lease_expires_at REAL
        )""",
        # Only runs with something due are in this index (the store keeps
        # ready_at NULL for finished runs): parked runs waiting for a message
        # cost nothing here, and the loop's "what is next" is its first entry.
        "CREATE INDEX runs_ready ON runs (ready_at) WHERE ready_at IS NOT NULL",
        # The few runs some process is driving right now, for next_ready_at.
        "CREATE INDEX runs_leased ON runs (lease_expires_at) WHERE lease_owner IS NOT NULL",
        # list_runs is newest first, with or without status/workflow filters.
        "CREATE INDEX runs_by_started ON runs (started_at)",
        "CREATE INDEX runs_by_status ON runs (status, started_at)",
        "CREATE INDEX runs_by_workflow ON runs (workflow, status, started_at)",
        # History is read and appended per run: clustered on (run, seq).
        """CREATE TABLE events (
            run_key INTEGER NOT NULL REFERENCES runs (key) ON DELETE CASCADE,
            seq INTEGER NOT NULL,
            type TEXT NOT NULL,
            time REAL NOT NULL,
            state TEXT,
            data TEXT,
            PRIMARY KEY (run_key, seq)
        ) WITHOUT ROWID""",
        # AUTOINCREMENT: a message seq is never reused, even after the newest
        # message's run was replaced and deleted, so "seq > inbox_seen" stays
        # a sound test for "newer than what the machine looked at".
        """CREATE TABLE inbox (
            seq INTEGER PRIMARY KEY AUTOINCREMENT,
            run_key INTEGER NOT NULL REFERENCES runs (key) ON DELETE CASCADE,
            channel TEXT NOT NULL,
            data TEXT,
            sent_at REAL NOT NULL,
            consumed INTEGER NOT NULL DEFAULT 0
        )""",
        "CREATE INDEX inbox_by_run ON inbox (run_key, consumed, seq)",
        # `value` has no declared type, so every value keeps its own storage
        # class (a TEXT '5' never equals the INTEGER 5, as in JSON). Numbers
        # and strings are stored as themselves, bools, lists and maps as
        # their JSON in a BLOB; null attributes have no row.
        """CREATE TABLE search (
            run_key INTEGER NOT NULL REFERENCES runs (key) ON DELETE CASCADE,
            name TEXT NOT NULL,
            value NOT NULL,
            PRIMARY KEY (run_key, name)
        ) WITHOUT ROWID""",
        "CREATE INDEX search_by_value ON search (name, value)",
        """CREATE TABLE schedules (
            name TEXT PRIMARY KEY,
            state TEXT NOT NULL
        ) WITHOUT ROWID""",
    )
    for statement in statements:
        conn.execute(statement)


def _v2_needs_action(conn: sqlite3.Connection) -> None:
    """Capability routing: ``needs_action`` is the action a run waits for a
    process that has it (set when a driver without it hands the run back).
    Such runs leave ``runs_ready`` for ``runs_needing``, keyed by the action,
    so a claim only visits the runs it can take: runs nobody can take cost a
    claim nothing, however many there are."""
    conn.execute("ALTER TABLE runs ADD COLUMN needs_action TEXT")
    conn.execute("DROP INDEX runs_ready")
    conn.execute(
        "CREATE INDEX runs_ready ON runs (ready_at) "
        "WHERE ready_at IS NOT NULL AND needs_action IS NULL"
    )
    conn.execute(
        "CREATE INDEX runs_needing ON runs (needs_action, ready_at) WHERE needs_action IS NOT NULL"
    )


def _v3_executions(conn: sqlite3.Connection) -> None:
    """Every execution of a run id is kept (issue 12): a new run under a
    reused id no longer deletes the old one with its history.

    ``runs.id`` loses NOT NULL: the current execution of an id holds it (the
    unique index every lookup by id uses, unchanged), an earlier one has
    ``id`` NULL and keeps its id in ``name`` (NULL on current rows, so a run
    costs no extra bytes). ``execution`` numbers the executions of an id
    from 1. SQLite cannot drop a NOT NULL in place: the table is rebuilt
    from its own stored definition (whatever columns earlier migrations
    added) with keys kept, so events, inbox and search rows, which point at
    ``runs.key``, stay attached. :func:`migrate` turns foreign keys off
    around it, so dropping the old table cascades nothing."""
    (sql,) = conn.execute(
        "SELECT sql FROM sqlite_master WHERE type = 'table' AND name = 'runs'"
    ).fetchone()
    new_sql, changed = re.subn(r"\bid TEXT NOT NULL UNIQUE\b", "id TEXT UNIQUE", sql, count=1)
    if changed != 1:
        raise StoreError(f"cannot migrate the runs table: unexpected definition {sql!r}")
    new_sql = new_sql.replace("CREATE TABLE runs", "CREATE TABLE runs_v2", 1)
    indexes = [
        index_sql
        for (index_sql,) in conn.execute(
            "SELECT sql FROM sqlite_master WHERE type = 'index' AND tbl_name = 'runs' "
            "AND sql IS NOT NULL"
        )
    ]
    columns = ", ".join(
        f'"{name}"' for (name,) in conn.execute("SELECT name FROM pragma_table_info('runs')")
    )
    conn.execute(new_sql)
    conn.execute(f"INSERT INTO runs_v2 ({columns}) SELECT {columns} FROM runs")
    conn.execute("DROP TABLE runs")
    conn.execute("ALTER TABLE runs_v2 RENAME TO runs")
    for index_sql in indexes:
        conn.execute(index_sql)
    conn.execute("ALTER TABLE runs ADD COLUMN name TEXT")
    conn.execute("ALTER TABLE runs ADD COLUMN execution INTEGER NOT NULL DEFAULT 1")
    # The earlier executions of an id, oldest first; current rows are not in it.
    conn.execute(
        "CREATE UNIQUE INDEX runs_executions ON runs (name, execution) WHERE name IS NOT NULL"
    )
    broken = conn.execute("PRAGMA foreign_key_check").fetchall()
    if broken:
        raise StoreError(f"migrating the runs table broke {len(broken)} reference(s)")


def _v4_workers(conn: sqlite3.Connection) -> None:
    """Heartbeats (issue 13 §1 "Orphans"): each driving engine's owner id
    and when it last said it was alive, in the store's clock. An owner whose
    beat stopped is dead wherever it ran, so its runs are taken over within
    seconds instead of a lease later (the pid check sees one host only)."""
    conn.execute(
        "CREATE TABLE workers (owner TEXT PRIMARY KEY, last_seen REAL NOT NULL) WITHOUT ROWID"
    )


def _v5_retention(conn: sqlite3.Connection) -> None:
    """Retention (``prune_runs``) walks finished runs by their end, and asks
    whether a run's parent exists or its children are active: both without
    a scan of every run. Active runs (``ended_at`` NULL) and top-level runs
    are not in the indexes, so they cost nothing."""
    conn.execute("CREATE INDEX runs_ended ON runs (ended_at) WHERE ended_at IS NOT NULL")
    conn.execute("CREATE INDEX runs_by_parent ON runs (parent_run) WHERE parent_run IS NOT NULL")


def _v6_pins(conn: sqlite3.Connection) -> None:
    """The subflow definitions a run was submitted with (``RunRow.pins``,
    JSON; NULL for a run without subflows, so a parked run costs nothing)."""
    conn.execute("ALTER TABLE runs ADD COLUMN pins TEXT")


def _v7_task_cache(conn: sqlite3.Connection) -> None:
    """Cached task results (a task's ``cache``, issue 14 item 13): the value
    of a successful call under its key, which run produced it, and until
    when it may be reused. Shared by every run of the store."""
    conn.execute(
        "CREATE TABLE task_cache (key TEXT PRIMARY KEY, value TEXT NOT NULL, "
        "run_id TEXT NOT NULL, created_at REAL NOT NULL, expires_at REAL) WITHOUT ROWID"
    )


def _v8_forks(conn: sqlite3.Connection) -> None:
    """The runs forked from a run (``Store.forks``, the run page's "forks"
    list): a fork's first event records ``forked_from``. Only forks' first
    events are in the index (the text test runs before any JSON is read),
    so neither history appends nor other runs' starts pay for it."""
    conn.execute(
        "CREATE INDEX events_forked_from ON events (json_extract(data, '$.forked_from.run')) "
        "WHERE seq = 1 AND type = 'run_started' AND instr(data, '\"forked_from\"') > 0"
    )


#: Migration ``i`` takes the schema from version ``i`` to ``i + 1``.
MIGRATIONS: Sequence[Migration] = (
    _v1_initial,
    _v2_needs_action,
    _v3_executions,
    _v4_workers,
    _v5_retention,
    _v6_pins,
    _v7_task_cache,
    _v8_forks,
)
SCHEMA_VERSION = len(MIGRATIONS)


def _versions(conn: sqlite3.Connection) -> tuple[int, int, int]:
    # One statement, so one snapshot: read apart, another process creating
    # the store between the reads showed "no application id, 17 tables", a
    # foreign database, and a second `wfdsl` opening a new file beside the
    # first one refused it.
    user_version, application_id, tables = conn.execute(
        "SELECT (SELECT user_version FROM pragma_user_version), "
        "(SELECT application_id FROM pragma_application_id), "
        "(SELECT count(*) FROM sqlite_master)"
    ).fetchone()
    return int(user_version), int(application_id), int(tables)


def _check(where: str, user_version: int, application_id: int, tables: int) -> None:
    if application_id not in (0, APPLICATION_ID) or (application_id == 0 and tables):
        raise StoreError(
            f"{where} is an SQLite database but not a wfdsl store "
            f"(application_id {application_id:#x}, {tables} schema objects); "
            "point --db at a new file or at an existing wfdsl store"
        )
    if user_version > SCHEMA_VERSION:
        raise StoreError(
            f"{where} has wfdsl store schema version {user_version}, newer than the "
            f"{SCHEMA_VERSION} this wfdsl understands; upgrade wfdsl to open it "
            "(the file was left unchanged)"
        )


def check_store(conn: sqlite3.Connection, where: str) -> None:
    """Raise StoreError, before anything is written, for a database that is
    not a wfdsl store or has a newer schema: opening one must not change it
    (``journal_mode = WAL`` alone rewrites the file's header)."""
    _check(where, *_versions(conn))


def migrate(conn: sqlite3.Connection, where: str) -> int:
    """Bring the file forward to :data:`SCHEMA_VERSION`; return the version found.

    ``conn`` must be in autocommit mode (``isolation_level=None``). Raises
    StoreError for a newer schema or a database that is not a wfdsl store.
    """
    found, application_id, tables = _versions(conn)
    _check(where, found, application_id, tables)
    if found == SCHEMA_VERSION:
        return found
    # A migration may rebuild a table that others reference (SQLite's
    # twelve steps): with foreign keys on, dropping the old table would
    # cascade-delete every run's history. The pragma is a no-op inside a
    # transaction, hence here; the caller's setting comes back after.
    foreign_keys = conn.execute("PRAGMA foreign_keys").fetchone()[0]
    conn.execute("PRAGMA foreign_keys = OFF")
    try:
        _apply(conn, where)
    finally:
        conn.execute(f"PRAGMA foreign_keys = {int(foreign_keys):d}")
    return found


def _apply(conn: sqlite3.Connection, where: str) -> None:
    conn.execute("BEGIN IMMEDIATE")
    try:
        # Another process may have migrated between the read above and the
        # write lock: decide again under the lock.
        found, application_id, tables = _versions(conn)
        _check(where, found, application_id, tables)
        for migration in MIGRATIONS[found:]:
            migration(conn)
        conn.execute(f"PRAGMA user_version = {SCHEMA_VERSION:d}")
        conn.execute(f"PRAGMA application_id = {APPLICATION_ID:d}")
        conn.execute("COMMIT")
    except BaseException:
        if conn.in_transaction:
            conn.execute("ROLLBACK")
        raise
