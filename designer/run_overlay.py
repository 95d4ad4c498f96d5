"""What the graph of a run shows: a status per graph node, folded from the
run's history (designer/API.md, "The run overlay").

History events name thread paths (``quote_lines[2]/quote``: a map item's
state); the graph has one node for every item (``quote_lines/quote``), so
each path is folded onto its node id and a node's status is the most
telling of its threads' (a failed item makes the body node red).

Pure: events in, plain mappings out. :class:`Overlay` folds incrementally,
so the live stream feeds it only what is new.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from wfdsl.interpreter.run_view import Event, event_to_json

__all__ = ["STATUSES", "Overlay", "event_json", "node_of"]

#: Node statuses, the most telling first: a node that several threads (map
#: items) reached shows the first of theirs in this order.
STATUSES = (
    "failed",
    "compensating",
    "active",
    "waiting",
    "paused",
    "cancelled",
    "caught",
    "compensated",
    "completed",
)
_RANK = {status: rank for rank, status in enumerate(STATUSES)}
_LIVE = frozenset({"active", "waiting"})
_ITEM = re.compile(r"\[\d+\]")
_ITEM_END = re.compile(r"\[(\d+)\]$")


def node_of(path: str) -> str:
    """The graph node id of a thread path: map item indexes dropped."""
    return _ITEM.sub("", path)


def event_json(event: Event) -> dict[str, Any]:
    """A history event as JSON, with the graph ``node`` its state path is on."""
    return {**event_to_json(event), "node": node_of(event.state) if event.state else None}


def _scope(path: str) -> str:
    return path.rpartition("/")[0]


def _edge_end(scope: str, which: str) -> str:
    node = node_of(scope)
    return f"{node}/({which})" if node else f"({which})"


@dataclass
class _Item:
    """One map item (an iteration): ``running``, ``done`` or ``failed``."""

    status: str = "running"
    retried: bool = False


@dataclass
class Overlay:
    """The overlay of one run, advanced with :meth:`feed`."""

    threads: dict[str, str] = field(default_factory=dict)  # thread path -> status
    types: dict[str, str] = field(default_factory=dict)  # node -> state type
    visits: dict[str, int] = field(default_factory=dict)
    retries: dict[str, int] = field(default_factory=dict)
    compensated: set[str] = field(default_factory=set)
    items: dict[str, dict[str, _Item]] = field(
        default_factory=dict
    )  # map node -> item path -> item
    taken: dict[tuple[str, str], int] = field(default_factory=dict)
    current: dict[str, str] = field(default_factory=dict)  # thread scope -> its state's path
    pending: dict[str, dict[str, Any]] = field(default_factory=dict)  # path -> uncaught error
    stopped: dict[str, str] | None = None
    failed: str | None = None
    last_entered: str | None = None
    in_map: set[str] = field(default_factory=set)  # nodes of a map body
    # A redriven run re-enters the state that failed, a forked one starts at
    # its fork point: no transition leads into that entry.
    resume_at: str | None = None

    # ------------------------------------------------------------ folding

    def feed(self, events: Iterable[Event]) -> set[str]:
        """Advance over ``events``; return the node ids whose status changed."""
        before = self.statuses()
        for event in events:
            self._one(event)
        after = self.statuses()
        return {node for node in after if before.get(node) != after[node]}

    def _put(self, path: str, status: str) -> None:
        self.threads[path] = status

    def _take(self, source: str, target: str) -> None:
        key = (source, target)
        self.taken[key] = self.taken.get(key, 0) + 1

    def _leave(self, path: str) -> None:
        """``path``'s thread went on to another state (or its scope ended)."""
        if path in self.pending:
            self.pending.pop(path)
            if self.threads.get(path) not in ("failed", "compensating", "compensated"):
                self._put(path, "caught")
        elif self.threads.get(path) in _LIVE or self.threads.get(path) == "paused":
            self._put(path, "completed")

    def _one(self, event: Event) -> None:
        path = event.state
        kind = event.type
        data = event.data
        if kind == "state_entered" and path:
            self._enter(path, str(data.get("type") or ""))
        elif kind == "branch_started" and path:
            parent = _scope(path) if _ITEM_END.search(path) is None else path[: path.rfind("[")]
            self._take(node_of(parent), _edge_end(path, "start"))
            if _ITEM_END.search(path):
                self.items.setdefault(node_of(parent), {})[path] = _Item()
        elif kind == "branch_completed" and path:
            self._branch_end(path, data)
        elif kind in ("timer_started", "signal_received") and path:
            if self.threads.get(path) in _LIVE:
                self._put(path, "waiting")
        elif kind == "action_started" and path:
            if self.threads.get(path) in ("waiting", None):
                self._put(path, "active")
        elif kind == "action_failed" and path:
            self.pending[path] = {
                "error": data.get("error"),
                "message": data.get("message"),
                "details": data.get("details"),
            }
        elif kind == "retry_scheduled" and path:
            self.pending.pop(path, None)
            node = node_of(path)
            self.retries[node] = self.retries.get(node, 0) + 1
            for match in _ITEM.finditer(path):
                item_path = path[: match.end()]
                map_node = node_of(item_path[: item_path.rfind("[")])
                item = self.items.get(map_node, {}).get(item_path)
                if item is not None:
                    item.retried = True
        elif kind == "undo_started" and path:
            self._put(path, "compensating")
        elif kind == "undo_completed" and path:
            self._put(path, "compensated")
            self.compensated.add(node_of(path))
        elif kind == "paused":
            reason = str(data.get("reason") or "")
            if reason == "break" and path:
                # Before entering ``path``: the state its thread was in is done.
                self.stopped = {"state": node_of(path), "reason": "break"}
                previous = self.current.get(_scope(path))
                if previous is not None:
                    self._leave(previous)
            elif self.last_entered is not None:
                word = "step" if reason == "step" else "paused"
                self.stopped = {"state": node_of(self.last_entered), "reason": word}
        elif kind == "resumed":
            self.stopped = None
        elif kind == "run_completed":
            self.stopped = None
            last = self.current.get("")
            if last is not None:
                self._take(node_of(last), "(end)")
            for other in list(self.current.values()):
                self._leave(other)
            self._finish("completed")
        elif kind == "run_cancelled":
            self.stopped = None
            self._finish("cancelled")
        elif kind == "run_failed":
            self.stopped = None
            self._run_failed(path)
        elif kind == "run_redriven":
            self.failed = None
            self.resume_at = path or str(data.get("state") or "") or None
        elif kind == "run_started":
            forked = data.get("forked_from")
            if isinstance(forked, dict) and forked.get("state"):
                self.resume_at = str(forked["state"])

    def _enter(self, path: str, kind: str) -> None:
        scope = _scope(path)
        node = node_of(path)
        previous = self.current.get(scope)
        if self.resume_at == path:
            self.resume_at = None
            if previous is not None and previous != path:
                self._leave(previous)
        elif previous is None:
            self._take(_edge_end(scope, "start"), node)
        else:
            source = node_of(previous)
            caught = previous in self.pending
            if not caught and self.types.get(source) in ("parallel", "map"):
                source = f"{source}/(join)"
            self._take(source, node)
            self._leave(previous)
        self.current[scope] = path
        self.types[node] = kind
        if node != path:
            self.in_map.add(node)
        self.visits[node] = self.visits.get(node, 0) + 1
        if kind == "map":
            self.items[node] = {}
        self._put(path, "waiting" if kind == "wait" else "active")
        self.last_entered = path
        if self.stopped is not None and self.stopped["state"] == node:
            self.stopped = None

    def _branch_end(self, path: str, data: Any) -> None:
        last = self.current.pop(path, None)
        failed = "error" in data
        if last is not None:
            if failed:
                self.pending.pop(last, None)
                self._put(last, "failed")
            else:
                self._take(node_of(last), _edge_end(path, "end"))
                self._leave(last)
        if not failed:
            parent = path[: path.rfind("[")] if _ITEM_END.search(path) else _scope(path)
            self._take(_edge_end(path, "end"), f"{node_of(parent)}/(join)")
        for other, status in list(self.threads.items()):
            if other.startswith(path + "/") and status in _LIVE:
                self._put(other, "cancelled" if failed else "completed")
        if _ITEM_END.search(path):
            map_node = node_of(path[: path.rfind("[")])
            item = self.items.get(map_node, {}).get(path)
            if item is not None:
                item.status = "failed" if failed else "done"
        if failed:
            error = data.get("error") or {}
            parent = path[: path.rfind("[")] if _ITEM_END.search(path) else _scope(path)
            self.pending[parent] = dict(error) if isinstance(error, dict) else {}

    def _finish(self, status: str) -> None:
        for other, now in list(self.threads.items()):
            if now in _LIVE or now == "paused":
                self._put(other, status)

    def _run_failed(self, path: str | None) -> None:
        failed = path
        if failed is None:
            last = self.last_entered
            if last is not None and self.types.get(node_of(last)) == "fail":
                failed = last
            elif self.pending:
                failed = next(reversed(self.pending))
            else:
                failed = last
        self._finish("cancelled")
        if failed:
            self.pending.pop(failed, None)
            self._put(failed, "failed")
            self.failed = node_of(failed)

    # ------------------------------------------------------------ reading

    def statuses(self) -> dict[str, str]:
        """``{node id: status}`` of every node the run reached (or stopped at)."""
        out: dict[str, str] = {}
        for path, status in self.threads.items():
            node = node_of(path)
            if node not in out or _RANK[status] < _RANK[out[node]]:
                out[node] = status
        if self.stopped is not None:
            out[self.stopped["state"]] = "paused"
        return out

    def _items_json(self, node: str) -> dict[str, int] | None:
        if self.types.get(node) != "map":
            return None
        items = list(self.items.get(node, {}).values())
        return {
            "total": len(items),
            "done": sum(i.status == "done" for i in items),
            "failed": sum(i.status == "failed" for i in items),
            "running": sum(i.status == "running" for i in items),
            "retried": sum(i.retried for i in items),
        }

    def _badge(self, node: str, status: str, items: dict[str, int] | None) -> str | None:
        words: list[str] = []
        if items is not None:
            words.append(f"{items['done']}/{items['total']} done")
            for key in ("failed", "running", "retried"):
                if items[key]:
                    words.append(f"{items[key]} {key}")
        else:
            retries = self.retries.get(node, 0)
            if retries:
                words.append("1 retry" if retries == 1 else f"{retries} retries")
            visits = self.visits.get(node, 0)
            if visits > 1 and node not in self.in_map:  # a map body's: one per item
                words.append(f"{visits} visits")
        if node in self.compensated:
            words.append("undone")
        if self.stopped is not None and self.stopped["state"] == node:
            words.append("breakpoint" if self.stopped["reason"] == "break" else "paused here")
        del status
        return ", ".join(words) or None

    def to_json(self) -> dict[str, Any]:
        """The overlay as designer/API.md documents it."""
        states: dict[str, Any] = {}
        for node, status in self.statuses().items():
            items = self._items_json(node)
            states[node] = {
                "status": status,
                "visits": self.visits.get(node, 0),
                "retries": self.retries.get(node, 0),
                "compensated": node in self.compensated,
                "items": items,
                "badge": self._badge(node, status, items),
            }
        return {
            "states": states,
            "taken": [{"source": s, "target": t, "count": n} for (s, t), n in self.taken.items()],
            "stopped": None if self.stopped is None else dict(self.stopped),
            "failed": self.failed,
        }
