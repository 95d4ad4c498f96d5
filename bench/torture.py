"""Crash torture: SIGKILL the engine at N points, recover, compare with an
uninterrupted reference (issue 6, item 2).

    python bench/torture.py --points N [--seed S] [--json]
                            [--copies C] [--parallel P] [--keep]

Batches of runs (``--copies`` runs of each crash flow: retries, timers,
signals, parallel, map, subflow, saga with undo, handlers) are driven on
virtual time by forked processes that are SIGKILLed after a chosen kind of
commit, inside an action call, or at a random instant (``--seed`` makes the
choice reproducible); each kill is a point and the next process recovers
from it. See ``bench/torture_lib.py`` for the checks. Prints one JSON
document with ``--json``: ``points``, ``runs``, ``lost``, ``duplicated``,
``reexecuted_unkilled`` (a key run again after a process that was never
killed ran it), ``diverged``, ``integrity_errors`` (all five must be 0),
``elapsed``. Exit status 1 when any of those five is not zero.
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from torture_lib import finish, torture


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--points", type=int, required=True, help="SIGKILLs to recover from")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--json", action="store_true", help="print one JSON document")
    parser.add_argument("--copies", type=int, default=2, help="runs of each flow per batch")
    parser.add_argument("--parallel", type=int, default=max(2, min(4, os.cpu_count() or 2)))
    parser.add_argument("--max-kills", type=int, default=12, help="kills per batch at most")
    parser.add_argument("--keep", action="store_true", help="keep the batch folders")
    args = parser.parse_args()

    def progress(tally: object) -> None:
        points = getattr(tally, "points", 0)
        if not args.json and points % 50 == 0:
            print(f"  {points} points ...", file=sys.stderr, flush=True)

    report = torture(
        args.points,
        seed=args.seed,
        copies=args.copies,
        parallel=args.parallel,
        max_kills=args.max_kills,
        keep=args.keep,
        progress=progress,
    )
    finish(report, as_json=args.json)


if __name__ == "__main__":
    main()
