"""Crash takeover: leases whose holder is known to be gone are released at
once instead of being waited out (docs/operations.md "Crashes and stops").

A run with an action in flight is leased to the process running the action.
When that process dies, nobody may re-issue the call until the lease lapses
(``lease_seconds``, 30 s by default): the lease is what keeps two live
processes from driving one run. Two cases are safe to take over sooner:

- **The engine's own explicit owner name, at a restart.** An engine built
  with ``owner="billing-worker"`` that finds runs leased under that name at
  its first drive is a restart of that owner: it holds nothing yet, so those
  leases are a previous incarnation's. The name must never be used by two
  live processes at once (like a Temporal worker identity or a DBOS
  executor id); that is the operator's promise, not something checked here.
- **A default owner id of a dead process on this host.** The default owner
  id ``host:pid:start:space:random`` records where the pid is valid
  (``space``: a hash of the boot id and the pid and time namespaces) and the
  process's start time in clock ticks (``/proc/<pid>/stat``). An owner in the
  same space whose pid no longer exists, is a zombie, or now belongs to a
  process started at another time is dead. A live process is never taken for
  dead: a pid that exists but cannot be read counts as alive.

- **An owner whose heartbeat stopped, on any host.** A driving engine on the
  store's clock beats (``Store.beat``) every ``BEAT_EVERY`` second from a
  thread of its own; an owner silent for ``SILENT_AFTER`` seconds of the
  store's clock is dead or cut off, wherever it ran, and its runs are taken
  over then, seconds after a kill instead of a lease later. If it was only
  cut off (or stopped), its next commit finds its lease gone
  (``lease_lost``) and it lets the run go: the lease generation fences it.
  For a default owner of this host the pid check above answers instead
  (a stopped process there keeps its runs). Engines on a
  ``VirtualClock`` do not judge by heartbeats (virtual time jumps hours
  between two beats); they keep the lease wait.

Everything else (owners that never beat: an older wfdsl, a one-shot
command's handler call) keeps the lease wait.
Released runs become ready at once; the driver's next claim takes them and
its ``Recover`` re-issues the calls that were in flight (at-least-once, same
idempotency keys).
"""

from __future__ import annotations

import contextlib
import hashlib
import logging
import os
import socket
import sys
import threading
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass

from .store.errors import StoreError
from .store.protocol import Store

__all__ = [
    "BEAT_EVERY",
    "IDLE_AFTER",
    "IDLE_SWEEP_INTERVAL",
    "SILENT_AFTER",
    "SWEEP_INTERVAL",
    "LocalOwner",
    "Orphans",
    "default_owner",
    "is_dead",
    "parse_owner",
]

_log = logging.getLogger("wfdsl.engine")

#: How often a driving engine looks for leases of dead processes (seconds of
#: real time). A look reads the leased runs (index runs_leased): about 5 ms
#: with 10,000 actions in flight; it is spaced out so that it never takes
#: more than 1/``SWEEP_SHARE`` of the time.
SWEEP_INTERVAL = 1.0
SWEEP_SHARE = 200
#: How often an engine that holds no lease (nothing in flight for
#: ``IDLE_AFTER`` seconds) looks (two queries): an idle worker's largest
#: share of its query budget (docs/operations.md "What an idle worker costs").
IDLE_SWEEP_INTERVAL = 5.0
#: Seconds without a lease after which an engine stops beating and forgets
#: its heartbeat row: nobody needs to judge an owner that holds nothing. It
#: beats again (first synchronously, before its next claim) once it holds.
IDLE_AFTER = 2.0

#: Seconds between two heartbeats of a driving engine (real time).
BEAT_EVERY = 1.0
#: Seconds of the store's clock without a beat after which an owner is
#: dead: four missed beats, so a loaded machine's late beat is not a death.
SILENT_AFTER = 4.0


@dataclass(frozen=True, slots=True)
class LocalOwner:
    """What a default owner id says about the process behind it."""

    host: str
    pid: int
    start: int
    space: str


def _read(path: str) -> str | None:
    try:
        with open(path, encoding="ascii", errors="replace") as f:
            return f.read()
    except OSError:
        return None


def _stat(pid: int | str) -> tuple[int, str, int] | None:
    """(pid, state, start time in clock ticks) from ``/proc/<pid>/stat``."""
    text = _read(f"/proc/{pid}/stat")
    if text is None:
        return None
    # "pid (comm) state ppid ..."; comm may hold spaces and parentheses.
    head, _, rest = text.rpartition(")")
    fields = rest.split()
    try:
        return int(head.split(" (", 1)[0]), fields[0], int(fields[19])
    except (IndexError, ValueError):
        return None


def _space() -> str | None:
    """Where this process's pids mean something: a hash of the boot id and
    its pid and time namespaces (start times are shown relative to a time
    namespace). None where that cannot be known (not Linux, no /proc, or a
    /proc mounted for another pid namespace)."""
    if not sys.platform.startswith("linux"):
        return None
    me = _stat("self")
    boot = _read("/proc/sys/kernel/random/boot_id")
    if me is None or me[0] != os.getpid() or not boot:
        return None
    parts = [boot.strip()]
    for ns in ("pid", "time"):
        try:
            parts.append(os.readlink(f"/proc/self/ns/{ns}"))
        except FileNotFoundError:
            parts.append("")  # a kernel without time namespaces
        except OSError:
            return None
    return hashlib.sha256("\n".join(parts).encode()).hexdigest()[:12]


def default_owner() -> str:
    """``host:pid:start:space:random`` where the process can be checked later
    (Linux), else ``host:pid:random``."""
    host = socket.gethostname()
    pid = os.getpid()
    tag = uuid.uuid4().hex[:8]
    space = _space()
    me = _stat("self")
    if space is None or me is None:
        return f"{host}:{pid}:{tag}"
    return f"{host}:{pid}:{me[2]}:{space}:{tag}"


def parse_owner(owner: str) -> LocalOwner | None:
    """The process behind a default owner id; None for any other name."""
    parts = owner.rsplit(":", 4)
    if len(parts) != 5:
        return None
    host, pid, start, space, tag = parts
    if not (pid.isdigit() and start.isdigit() and len(space) == 12 and len(tag) == 8):
        return None
    if not all(c in "0123456789abcdef" for c in space + tag) or int(pid) <= 0:
        return None
    return LocalOwner(host, int(pid), int(start), space)


def is_dead(owner: str, space: str | None = None) -> bool:
    """True only when ``owner`` is a default owner id of a process in this
    process's pid space that is certainly gone."""
    local = parse_owner(owner)
    here = _space() if space is None else space
    if local is None or here is None or local.space != here:
        return False
    try:
        os.kill(local.pid, 0)  # signal 0: only asks whether the pid exists
    except ProcessLookupError:
        return True
    except PermissionError:
        pass  # exists, another user's
    except OSError:
        return False
    stat = _stat(local.pid)
    if stat is None:
        return False  # exists but unreadable (hidepid): assume alive
    _, state, start = stat
    # A zombie holds nothing; another start time means the pid was reused.
    return state in ("Z", "X") or start != local.start


def _here(owner: str, space: str) -> bool:
    """Whether ``owner`` is a default owner id of this host's pid space."""
    local = parse_owner(owner)
    return local is not None and local.space == space


class Orphans:
    """One engine's takeover of leases left by dead holders.

    ``restart``: the engine was given its owner name explicitly, so leases
    under that name found at its first drive are a previous incarnation's.
    ``now``: the store's clock when the engine reads it (``StoreClock``),
    which turns heartbeats on; None on a virtual clock (no heartbeats)."""

    def __init__(
        self,
        store: Store,
        owner: str,
        *,
        restart: bool,
        now: Callable[[], float] | None = None,
        holding: Callable[[], bool] | None = None,
    ) -> None:
        self.store = store
        self.owner = owner
        self.restart = restart
        self.space = _space()
        self._first = True
        self._next_sweep = 0.0
        self._now = now
        self._beating: threading.Thread | None = None
        self._stop = threading.Event()
        #: Whether the engine holds a lease right now (None: always, as if busy).
        self._holding = holding
        self._held_at = time.monotonic()
        #: Whether this owner's heartbeat row is in the store (guarded by _lock).
        self._row = False
        self._lock = threading.Lock()

    def busy(self) -> bool:
        """Whether the engine held a lease in the last ``IDLE_AFTER`` seconds."""
        tick = time.monotonic()
        if self._holding is None or self._holding():
            self._held_at = tick
        return tick - self._held_at < IDLE_AFTER

    # ------------------------------------------------------------ heartbeats

    def start_beating(self) -> None:
        """Beat from now on (a driving engine; idempotent)."""
        if self._now is None or self._beating is not None or self._stop.is_set():
            return
        self._beat()  # before the first claim: alive from the start
        thread = threading.Thread(target=self._beat_loop, name="wfdsl-heartbeat", daemon=True)
        self._beating = thread
        thread.start()

    def _beat(self) -> None:
        assert self._now is not None
        with self._lock:
            try:
                self.store.beat(self.owner, now=self._now())
                self._row = True
            except StoreError as exc:  # the next beat tries again
                _log.warning("heartbeat of %s not recorded: %s", self.owner, exc)

    def _beat_loop(self) -> None:
        while not self._stop.wait(BEAT_EVERY):
            self.beat_once()

    def beat_once(self) -> None:
        """One round of the heartbeat thread: beat while the engine holds
        a lease (or did within ``IDLE_AFTER``); else forget the heartbeat
        once (nothing for anyone to judge; a stale row left behind would be
        taken for a death once the engine holds again), and stay silent."""
        if self.busy():
            self._beat()
            return
        with self._lock:
            if self._row:
                try:
                    self.store.retire([self.owner])
                    self._row = False
                except StoreError as exc:  # the next round tries again
                    _log.warning("heartbeat of %s not retired: %s", self.owner, exc)

    def before_claim(self) -> None:
        """Before the engine claims: an owner that stopped beating (idle)
        beats at once, so its new leases are judged by a fresh heartbeat."""
        self._held_at = time.monotonic()
        if self._now is not None and not self._row and not self._stop.is_set():
            self._beat()

    def next_sweep_in(self) -> float:
        """Seconds (real time) until the next :meth:`sweep` looks."""
        return max(0.0, self._next_sweep - time.monotonic())

    def close(self) -> None:
        """Stop beating and forget this owner's heartbeat (a clean stop)."""
        self._stop.set()
        thread, self._beating = self._beating, None
        if thread is None:
            return
        thread.join(5)
        with contextlib.suppress(StoreError):
            self.store.retire([self.owner])

    # ------------------------------------------------------------ sweeping

    def sweep(self, now: float) -> dict[str, int]:
        """At the first drive, and then about every ``SWEEP_INTERVAL``:
        release the leases of dead owners (and, at the first drive, this
        owner's own after a restart) and make their runs ready at ``now``.
        Returns the runs released per owner."""
        tick = time.monotonic()
        if not self._first and tick < self._next_sweep:
            return {}
        first, self._first = self._first, False
        interval = SWEEP_INTERVAL if self.busy() else IDLE_SWEEP_INTERVAL
        self._next_sweep = tick + interval
        silent: set[str] = set()
        if self._now is not None:
            silent = self.store.silent_owners(before=now - SILENT_AFTER)
            silent.discard(self.owner)
        if self.space is None and not silent and not (first and self.restart):
            return {}

        def orphaned(owner: str) -> bool:
            if owner == self.owner:
                return first and self.restart
            if self.space is not None and _here(owner, self.space):
                # This host's pid answers better than a heartbeat: a process
                # that exists, even stopped, is alive; a gone one is dead now.
                return is_dead(owner, self.space)
            return owner in silent

        freed = self.store.release_orphans(orphaned, now=now)
        if silent:
            self.store.retire(silent)
        spent = time.monotonic() - tick
        self._next_sweep = tick + max(interval, SWEEP_SHARE * spent)
        for owner, runs in freed.items():
            if owner == self.owner:
                why = "a previous run of this owner"
            elif owner in silent:
                why = f"its heartbeat stopped more than {SILENT_AFTER:g} s ago"
            else:
                why = "a dead process"
            _log.info("took over %d run(s) leased by %s (%s)", runs, owner, why)
        return freed
