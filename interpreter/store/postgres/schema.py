"""The PostgreSQL store's schema and its forward-only migrations.

The version lives in ``wfdsl_schema`` (one row). Every process that opens
the store runs :func:`migrate`: it takes a transaction-level advisory lock
(``pg_advisory_xact_lock``, released by the COMMIT, so it also works through
PgBouncer's transaction pooling, which breaks session locks), reads the
version again under it and applies the pending migrations in that one
transaction, so N workers started together migrate a new database once.

Layout (docs/decisions.md, PostgreSQL store):

- ``runs`` is wide and written once per transition; ``queue`` is narrow
  (ready time, routing, lease owner, generation, expiry) and written by
  every claim, renewal and release too. Apart, a claim rewrites ~60 bytes
  instead of the whole run, and the queue table's fillfactor leaves room
  for HOT updates.
- Text that is compared or ordered (ids, search strings) is ``COLLATE "C"``:
  code point order, as in SQLite, whatever the database's locale.
- JSON is stored as text: the store writes and reads it verbatim (jsonb
  would reorder keys and cost a parse per write).
"""

from __future__ import annotations

from collections.abc import Sequence

import psycopg

from ..errors import StoreError

__all__ = ["ADVISORY_KEY", "MIGRATIONS", "SCHEMA_VERSION", "migrate"]

#: 'wfds' in ASCII: the advisory lock every migration holds.
ADVISORY_KEY = 0x77666473

_V1: tuple[str, ...] = (
    """CREATE TABLE definitions (
        hash text PRIMARY KEY,
        name text COLLATE "C" NOT NULL,
        version text,
        source text NOT NULL,
        file text,
        created_at double precision NOT NULL,
        seq bigint GENERATED ALWAYS AS IDENTITY
    )""",
    "CREATE INDEX definitions_by_name ON definitions (name, created_at, seq)",
    # `id` is the current execution's (unique); an earlier execution keeps
    # its id in `name` with `id` NULL (as in the SQLite store).
    """CREATE TABLE runs (
        key bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
        id text COLLATE "C" UNIQUE,
        name text COLLATE "C",
        execution integer NOT NULL DEFAULT 1,
        workflow text COLLATE "C" NOT NULL,
        version text,
        definition_hash text NOT NULL REFERENCES definitions (hash),
        status text COLLATE "C" NOT NULL,
        input text,
        vars text NOT NULL,
        output text,
        error text,
        started_at double precision NOT NULL,
        ended_at double precision,
        state text NOT NULL,
        search text NOT NULL,
        parent_run text COLLATE "C",
        row_version bigint NOT NULL
    )""",
    "CREATE UNIQUE INDEX runs_executions ON runs (name, execution) WHERE name IS NOT NULL",
    "CREATE INDEX runs_by_started ON runs (started_at, key)",
    "CREATE INDEX runs_by_status ON runs (status, started_at, key)",
    "CREATE INDEX runs_by_workflow ON runs (workflow, status, started_at, key)",
    # One row per run. The row lock on it is the run's mutex: every writer
    # of a run (commit, send, claim, release) locks it first, in key order.
    """CREATE TABLE queue (
        run_key bigint PRIMARY KEY REFERENCES runs (key) ON DELETE CASCADE,
        ready_at double precision,
        needs_action text COLLATE "C",
        lease_owner text COLLATE "C",
        lease_generation bigint NOT NULL DEFAULT 0,
        lease_expires_at double precision
    ) WITH (fillfactor = 70, autovacuum_vacuum_scale_factor = 0.01,
            autovacuum_vacuum_cost_delay = 0)""",
    "CREATE INDEX queue_ready ON queue (ready_at) "
    "WHERE ready_at IS NOT NULL AND needs_action IS NULL",
    "CREATE INDEX queue_needing ON queue (needs_action, ready_at) WHERE needs_action IS NOT NULL",
    "CREATE INDEX queue_leased ON queue (lease_owner, lease_expires_at) "
    "WHERE lease_owner IS NOT NULL",
    """CREATE TABLE events (
        run_key bigint NOT NULL REFERENCES runs (key) ON DELETE CASCADE,
        seq integer NOT NULL,
        type text NOT NULL,
        time double precision NOT NULL,
        state text,
        data text,
        PRIMARY KEY (run_key, seq)
    )""",
    # A message's seq is taken after its run's queue row is locked, so a
    # run's messages are numbered in commit order.
    """CREATE TABLE inbox (
        seq bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
        run_key bigint NOT NULL REFERENCES runs (key) ON DELETE CASCADE,
        channel text NOT NULL,
        data text,
        sent_at double precision NOT NULL,
        consumed boolean NOT NULL DEFAULT false
    )""",
    "CREATE INDEX inbox_unconsumed ON inbox (run_key, seq) WHERE NOT consumed",
    # One typed column per kind of value, so `where` compares like with
    # like: numbers exactly (numeric holds any int and a float's exact
    # value), strings in code point order, other JSON by its text.
    """CREATE TABLE search (
        run_key bigint NOT NULL REFERENCES runs (key) ON DELETE CASCADE,
        name text COLLATE "C" NOT NULL,
        num numeric,
        txt text COLLATE "C",
        raw text COLLATE "C",
        PRIMARY KEY (run_key, name)
    )""",
    "CREATE INDEX search_by_num ON search (name, num) WHERE num IS NOT NULL",
    "CREATE INDEX search_by_txt ON search (name, txt) WHERE txt IS NOT NULL",
    "CREATE INDEX search_by_raw ON search (name, raw) WHERE raw IS NOT NULL",
    """CREATE TABLE schedules (
        name text COLLATE "C" PRIMARY KEY,
        state text NOT NULL
    )""",
)

# Heartbeats of driving engines (orphans on other hosts), UNLOGGED: a beat
# lost with a crash of the server is harmless; and the task result cache.
_V2: tuple[str, ...] = (
    """CREATE UNLOGGED TABLE workers (
        owner text COLLATE "C" PRIMARY KEY,
        last_seen double precision NOT NULL
    )""",
    """CREATE TABLE task_cache (
        key text PRIMARY KEY,
        value text,
        run_id text NOT NULL,
        created_at double precision NOT NULL,
        expires_at double precision
    )""",
)

# `where` on `ended_at` (a range of finished runs) and retention's scan
# in end order read this instead of every run (the SQLite store's
# runs_ended).
_V3: tuple[str, ...] = (
    "CREATE INDEX runs_ended ON runs (ended_at, key) WHERE ended_at IS NOT NULL",
)

# The runs forked from a run (Store.forks): only forks' first events are
# in the index, and the text test comes before the JSON is read, so other
# runs' starts never parse their data (json, not jsonb: jsonb refuses \u0000).
_V4: tuple[str, ...] = (
    "CREATE INDEX events_forked_from ON events (((data::json -> 'forked_from') ->> 'run')) "
    "WHERE seq = 1 AND type = 'run_started' AND strpos(data, '\"forked_from\"') > 0",
)

#: Migration ``i`` takes the schema from version ``i`` to ``i + 1``.
MIGRATIONS: Sequence[tuple[str, ...]] = (_V1, _V2, _V3, _V4)
SCHEMA_VERSION = len(MIGRATIONS)


def _version(conn: psycopg.Connection[tuple[object, ...]]) -> int | None:
    """The schema version, 0 for an empty database, None for a database
    whose tables are not a wfdsl store's."""
    row = conn.execute(
        "SELECT to_regclass('wfdsl_schema') IS NOT NULL, "
        "(SELECT count(*) FROM pg_tables WHERE schemaname = current_schema())"
    ).fetchone()
    assert row is not None
    has_schema, tables = row
    if not has_schema:
        return 0 if tables == 0 else None
    found = conn.execute("SELECT version FROM wfdsl_schema").fetchone()
    return 0 if found is None else int(str(found[0]))


def migrate(conn: psycopg.Connection[tuple[object, ...]], where: str) -> int:
    """Bring the database forward to :data:`SCHEMA_VERSION` (``conn`` not
    in a transaction); the version found. StoreError for a newer schema or
    a database holding other tables."""
    with conn.transaction():
        conn.execute("SELECT pg_advisory_xact_lock(%s)", (ADVISORY_KEY,))
        found = _version(conn)
        if found is None:
            raise StoreError(
                f"{where} holds tables but is not a wfdsl store; point --db at an empty "
                "database (or schema) or at an existing wfdsl store"
            )
        if found > SCHEMA_VERSION:
            raise StoreError(
                f"{where} has wfdsl store schema version {found}, newer than the "
                f"{SCHEMA_VERSION} this wfdsl understands; upgrade wfdsl to open it "
                "(the database was left unchanged)"
            )
        if found == SCHEMA_VERSION:
            return found
        if found == 0:
            conn.execute("CREATE TABLE wfdsl_schema (version integer NOT NULL)")
            conn.execute("INSERT INTO wfdsl_schema VALUES (0)")
        for statements in MIGRATIONS[found:]:
            for statement in statements:
                conn.execute(statement.encode())
        conn.execute("UPDATE wfdsl_schema SET version = %s", (SCHEMA_VERSION,))
    return found
