"""The wfdsl CLI as a child process, for the tests that run it for real,
and under a file size limit: what a full disk does to the files it writes."""

from __future__ import annotations

import sys

__all__ = ["WFDSL", "with_file_size_limit"]

#: ``wfdsl`` as this interpreter runs it (no console script needed).
WFDSL = [sys.executable, "-c", "from wfdsl.cli import main; main()"]

# Sets RLIMIT_FSIZE to argv[1] bytes, ignores SIGXFSZ (a write past the
# limit then fails with EFBIG instead of killing the process), and runs
# python with the rest of argv.
_LIMITED = (
    "import os, resource, signal, sys\n"
    "signal.signal(signal.SIGXFSZ, signal.SIG_IGN)\n"
    "limit = int(sys.argv[1])\n"
    "resource.setrlimit(resource.RLIMIT_FSIZE, (limit, limit))\n"
    "os.execv(sys.executable, [sys.executable, *sys.argv[2:]])\n"
)


def with_file_size_limit(limit: int) -> list[str]:
    """``WFDSL`` in a process that cannot grow a file past ``limit`` bytes:
    append the command's arguments."""
    return [sys.executable, "-c", _LIMITED, str(limit), *WFDSL[1:]]
