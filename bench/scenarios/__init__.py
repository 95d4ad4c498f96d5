"""One module per scenario of issue 5; each has ``NAME``, ``KEYS`` (the JSON
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
