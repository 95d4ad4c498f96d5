"""One module per scenario of issues 5 and 13; each has ``NAME``, ``KEYS`` (the JSON
keys it must print) and ``run(options) -> dict``; those that measure another
process also have ``child(request)``, run as ``run.py --child NAME``."""

ORDER = (
    "concurrent",
    "sequential",
    "waiting",
    "timers",
    "recovery",
    "signal",
    "validate",
    "interpret",
    "startup",
)

#: Issue 13's set, side by side in one run (``run.py --suite scale``): the
#: PostgreSQL scenarios with SQLite's concurrent and sequential beside them.
#: Not in ORDER: they start a PostgreSQL server (bench/pg_server.py).
SCALE = (
    "pg_concurrent",
    "concurrent",
    "sequential",
    "due_timers",
    "pg_recovery",
    "pg_waiting",
)
