"""The machine's own bookkeeping, kept in :attr:`RunRow.state` as JSON.

The store persists this document with every commit, so it is small and flat:
one record per live thread of control, optional keys left out when empty.
While ``advance`` works it holds mutable :class:`Thread` objects (cheaper than
rebuilding frozen records at each step); ``to_json`` writes them back.

Layout of ``RunRow.state`` (version 1)::

    {"v": 1,
     "seq": 12,            # last history seq written (events continue from it)
     "calls": 3,           # call-id counter: call ids are "1", "2", ... per run
     "seen": 40,           # highest inbox seq the machine has looked at
     "paused": true,       # only when paused
     "break_at": [...],    # only when set: state names or paths to pause before
     "brk": "a/b",         # the break already taken (entering it again proceeds)
     "detached": [...],    # running children started with `wait: false` that the
                           # run cancels if it is cancelled or fails
     "trace": {...},       # only when given at start: the W3C trace context
     "threads": [...]}     # root thread first, then branches/iterations

A thread (keys other than ``id`` and ``ph`` are omitted when empty)::

    {"id": "fan_out/notify",   # path prefix: "" root, "m[3]" map iteration
     "parent": "",             # the forking thread's id (absent for the root)
     "sk": "fan_out/notify",   # scope key: which Scope the states are in
     "key": "notify",          # branch name or iteration index
     "at": "email",            # current state
     "ph": "call",             # run|call|cb|retry|wait|fork|child|comp|done
     "vars": {...},            # own vars (not for the root: run.vars holds them)
     "bind": {"line": ..., "index": 3},   # map item names in scope
     "att": 2, "t0": 17.0,     # task attempt and time of its first attempt
     "call": {...},            # action call in flight (id, action, args, key, attempt)
     "due": 19.0,              # retry timer
     "wait": {"due": {"1": 99.0}, "done": [1], "win": {"0": 1}},
     "fork": {"kids": [...], "out": {...} or [...], "n": 1, "need": 2,
              "next": 4, "items": [...]},
     "child": {"id": ..., "workflow": ..., "input": ...},
     "cb": {"d": ..., "att": 1, "t0": 5.0, "beat": 9.0,   # waiting for a callback
            "timeout": 60.0, "heartbeat": 10.0},          # token (digest d)
     "undo": [{"seq": 7, "path": "charge", "sk": "", "name": "charge",
               "st": "started"|"done", "call": {...}, "args": {...}}],
     "visits": {"charge": 2},
     "comp": {"todo": [...], "then": {...}, "cur": {...}}}
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

__all__ = ["RunState", "Thread"]

STATE_VERSION = 1

_OPTIONAL = (
    "parent",
    "sk",
    "key",
    "at",
    "bind",
    "att",
    "t0",
    "call",
    "due",
    "wait",
    "fork",
    "child",
    "cb",
    "undo",
    "visits",
    "comp",
)


class Thread:
    """One thread of control: the root, a parallel branch or a map iteration."""

    __slots__ = (
        "at",
        "att",
        "bind",
        "call",
        "cb",
        "child",
        "comp",
        "due",
        "fork",
        "id",
        "key",
        "kp",
        "parent",
        "ph",
        "sk",
        "t0",
        "undo",
        "vars",
        "visits",
        "wait",
    )

    def __init__(
        self,
        id: str,
        *,
        parent: str | None = None,
        sk: str = "",
        key: str | int | None = None,
        at: str | None = None,
        ph: str = "run",
        vars: dict[str, Any] | None = None,
        bind: dict[str, Any] | None = None,
    ) -> None:
        self.id = id
        self.parent = parent
        self.sk = sk
        self.key = key
        self.at = at
        self.ph = ph
        self.vars: dict[str, Any] = vars if vars is not None else {}
        self.bind: dict[str, Any] | None = bind
        self.att = 0
        self.t0: float | None = None
        self.call: dict[str, Any] | None = None
        self.due: float | None = None
        self.wait: dict[str, Any] | None = None
        self.fork: dict[str, Any] | None = None
        self.child: dict[str, Any] | None = None
        self.cb: dict[str, Any] | None = None
        self.undo: list[dict[str, Any]] = []
        self.visits: dict[str, int] = {}
        self.comp: dict[str, Any] | None = None
        #: The thread's path in idempotency keys and child run ids when it
        #: differs from ``id``: a branch of a parallel entered a second time, or
        #: of its second attempt, is ``fan_out#2/notify`` or ``fan_out@2/notify``
        #: there, so its actions are new effects; None: the same as ``id``.
        self.kp: str | None = None

    @classmethod
    def from_json(cls, data: Mapping[str, Any], root_vars: Mapping[str, Any]) -> Thread:
        # Runs once per thread at every transition: keys absent from the
        # JSON keep __init__'s defaults, and only the keys present are read.
        get = data.get
        parent = get("parent")
        thread = cls(
            data["id"],
            parent=parent,
            sk=get("sk", ""),
            key=get("key"),
            at=get("at"),
            ph=data["ph"],
            # Vars are never changed in place (writes copy along their path),
            # so sharing the caller's dicts is safe and avoids a deep copy.
            vars=dict(root_vars) if parent is None else dict(get("vars") or {}),
            bind=get("bind"),
        )
        if "att" in data:
            thread.att = data["att"]
        if "t0" in data:
            thread.t0 = data["t0"]
        if "call" in data:
            thread.call = data["call"]
        if "due" in data:
            thread.due = data["due"]
        wait = get("wait")
        if wait:
            thread.wait = {
                "due": dict(wait["due"]),
                "done": list(wait["done"]),
                "win": dict(wait.get("win", {})),
            }
        fork = get("fork")
        if fork:
            fork = dict(fork)
            fork["kids"] = list(fork["kids"])
            out = fork["out"]
            fork["out"] = list(out) if isinstance(out, list) else dict(out)
            thread.fork = fork
        if "child" in data:
            thread.child = data["child"]
        if "cb" in data:
            thread.cb = dict(data["cb"])
        undo = get("undo")
        if undo:
            thread.undo = [dict(entry) for entry in undo]
        visits = get("visits")
        if visits:
            thread.visits = dict(visits)
        if "kp" in data:
            thread.kp = data["kp"]
        comp = get("comp")
        if comp:
            thread.comp = dict(comp, todo=[dict(e) for e in comp["todo"]])
        return thread

    def to_json(self) -> dict[str, Any]:
        # Written out key by key: this runs at every commit of every run.
        data: dict[str, Any] = {"id": self.id, "ph": self.ph}
        if self.parent is not None:
            data["parent"] = self.parent
            data["vars"] = self.vars
        if self.sk:
            data["sk"] = self.sk
        if self.key is not None:
            data["key"] = self.key
        if self.at is not None:
            data["at"] = self.at
        if self.bind:
            data["bind"] = self.bind
        if self.att:
            data["att"] = self.att
        if self.t0 is not None:
            data["t0"] = self.t0
        if self.call is not None:
            data["call"] = self.call
        if self.due is not None:
            data["due"] = self.due
        if self.wait is not None:
            data["wait"] = self.wait
        if self.fork is not None:
            data["fork"] = self.fork
        if self.child is not None:
            data["child"] = self.child
        if self.cb is not None:
            data["cb"] = self.cb
        if self.undo:
            data["undo"] = self.undo
        if self.visits:
            data["visits"] = self.visits
        if self.comp is not None:
            data["comp"] = self.comp
        if self.kp is not None:
            data["kp"] = self.kp
        return data

    @property
    def is_root(self) -> bool:
        return self.parent is None

    def path(self, state: str) -> str:
        """The state path used in events: ``fan_out/notify/email``."""
        return f"{self.id}/{state}" if self.id else state

    def visit_path(self, state: str) -> str:
        """The state's path in idempotency keys and child run ids: the key path
        of the thread, the state, and ``#visit`` from the second visit on
        (``remind#2``), so each visit is a distinct effect."""
        base = self.kp if self.kp is not None else self.id
        path = f"{base}/{state}" if base else state
        visit = self.visits.get(state, 1)
        return path if visit <= 1 else f"{path}#{visit}"


class RunState:
    """The whole machine state of one run, mutable while ``advance`` works."""

    __slots__ = (
        "break_at",
        "brk",
        "calls",
        "detached",
        "paused",
        "seen",
        "seq",
        "threads",
        "trace",
    )

    def __init__(self) -> None:
        self.detached: list[str] = []
        self.seq = 0
        self.calls = 0
        self.seen = 0
        self.paused = False
        self.break_at: list[str] = []
        self.brk: str | None = None
        self.threads: dict[str, Thread] = {}
        #: The trace context the run was started in (traceparent, tracestate).
        self.trace: dict[str, str] | None = None

    @classmethod
    def from_json(cls, data: Mapping[str, Any], root_vars: Mapping[str, Any]) -> RunState:
        state = cls()
        state.seq = data.get("seq", 0)
        state.calls = data.get("calls", 0)
        state.seen = data.get("seen", 0)
        state.paused = data.get("paused", False)
        state.break_at = list(data.get("break_at", ()))
        state.brk = data.get("brk")
        if "detached" in data:
            state.detached = list(data["detached"])
        trace = data.get("trace")
        if trace:
            state.trace = dict(trace)
        for item in data.get("threads", ()):
            thread = Thread.from_json(item, root_vars)
            state.threads[thread.id] = thread
        return state

    def to_json(self) -> dict[str, Any]:
        data: dict[str, Any] = {
            "v": STATE_VERSION,
            "seq": self.seq,
            "calls": self.calls,
            "seen": self.seen,
        }
        if self.paused:
            data["paused"] = True
        if self.break_at:
            data["break_at"] = self.break_at
        if self.brk is not None:
            data["brk"] = self.brk
        if self.detached:
            data["detached"] = self.detached
        if self.trace:
            data["trace"] = self.trace
        data["threads"] = [thread.to_json() for thread in self.threads.values()]
        return data

    @property
    def root(self) -> Thread | None:
        return self.threads.get("")
