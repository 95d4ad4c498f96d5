"""Compiling states: one function per state type, plus the pieces they share.

A state's ``path`` is its JSON path in the document, e.g.
``("states", "fan_out", "branches", "notify", "states", "email")``. Every
function is tolerant: a key of the wrong type (already reported by the
schema) is skipped, and a state whose ``type`` is unknown is left out of its
scope.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from .compile_values import Leaves
from .expressions import CompiledValue, Constant
from .model import (
    AllWait,
    AnyWait,
    Assignment,
    AtLeastWait,
    Branch,
    Callback,
    Catch,
    ChoiceRule,
    ChoiceState,
    CompensateState,
    Defaults,
    EmitState,
    FailState,
    Join,
    MapState,
    ParallelState,
    RetryPolicy,
    Scope,
    SetState,
    SignalWait,
    State,
    SubflowState,
    SucceedState,
    TaskCache,
    TaskState,
    TimerWait,
    Undo,
    UntilWait,
    WaitNode,
    WaitState,
)
from .source import JsonPath

__all__ = ["StateCompiler", "extensions", "text"]

_WAIT_KINDS = ("timer", "until", "signal", "any", "all", "at_least")


def text(data: Mapping[str, Any], key: str) -> str | None:
    """``data[key]`` when it is a string, else None (the schema reports the type)."""
    value = data.get(key)
    return value if isinstance(value, str) else None


def _int(data: Mapping[str, Any], key: str, default: int) -> int:
    value = data.get(key)
    return value if isinstance(value, int) and not isinstance(value, bool) else default


def _bool(data: Mapping[str, Any], key: str, default: bool = False) -> bool:
    value = data.get(key)
    return value if isinstance(value, bool) else default


def _names(raw: Any) -> tuple[str, ...]:
    """``errors: "*"`` or a list of error names."""
    if isinstance(raw, str):
        return (raw,)
    if isinstance(raw, list):
        return tuple(item for item in raw if isinstance(item, str))
    return ()


def extensions(data: Mapping[str, Any]) -> dict[str, Any]:
    """The ``x-`` keys of a mapping, kept for tools."""
    return {
        key: value for key, value in data.items() if isinstance(key, str) and key.startswith("x-")
    }


class StateCompiler:
    """Builds the states of every scope of one document."""

    def __init__(self, leaves: Leaves, defaults: Defaults) -> None:
        self.leaves = leaves
        self.defaults = defaults
        self._by_type: dict[
            str, Callable[[str, dict[str, Any], JsonPath, dict[str, Any]], State]
        ] = {
            "task": self._task,
            "choice": self._choice,
            "wait": self._wait,
            "parallel": self._parallel,
            "map": self._map,
            "set": lambda name, data, path, common: SetState(**common),
            "emit": self._emit,
            "subflow": self._subflow,
            "compensate": lambda name, data, path, common: CompensateState(**common),
            "succeed": self._succeed,
            "fail": self._fail,
        }

    # ------------------------------------------------------------ scopes

    def scope(self, data: Mapping[str, Any], path: JsonPath) -> Scope:
        """A machine (``start`` + ``states``) at ``path``: the top level, a branch, a map body."""
        states: dict[str, State] = {}
        raw_states = data.get("states")
        if isinstance(raw_states, dict):
            for name, raw in raw_states.items():
                if not isinstance(name, str) or not isinstance(raw, dict):
                    continue
                state = self.state(name, raw, (*path, "states", name))
                if state is not None:
                    states[name] = state
        return Scope(start=text(data, "start") or "", states=states, path=path)

    def state(self, name: str, data: dict[str, Any], path: JsonPath) -> State | None:
        build = self._by_type.get(text(data, "type") or "")
        if build is None:
            return None
        common: dict[str, Any] = {
            "name": name,
            "path": path,
            "description": text(data, "description"),
            "next": text(data, "next"),
            "end": data.get("end") is True,
            "set": self.assignments(data.get("set"), (*path, "set")),
            "extensions": extensions(data),
        }
        return build(name, data, path, common)

    # ------------------------------------------------------- shared parts

    def assignments(self, raw: Any, path: JsonPath) -> tuple[Assignment, ...]:
        if not isinstance(raw, dict):
            return ()
        out = []
        for key, value in raw.items():
            where = (*path, str(key))
            target = self.leaves.var_path(str(key), where, key=True)
            if target is not None:
                out.append(
                    Assignment(target=target, value=self.leaves.value(value, where), path=where)
                )
        return tuple(out)

    def catches(self, raw: Any, path: JsonPath) -> tuple[Catch, ...]:
        if not isinstance(raw, list):
            return ()
        out = []
        for index, entry in enumerate(raw):
            if not isinstance(entry, dict):
                continue
            where = (*path, index)
            as_ = self.leaves.var_path(entry["as"], (*where, "as")) if "as" in entry else None
            out.append(
                Catch(
                    errors=_names(entry.get("errors")),
                    next=text(entry, "next"),
                    as_=as_,
                    when=self.leaves.value(entry["when"], (*where, "when"))
                    if "when" in entry
                    else None,
                    path=where,
                )
            )
        return tuple(out)

    def retry(self, raw: Any, path: JsonPath) -> tuple[RetryPolicy, ...]:
        """A single map is one policy for every error; a list is ordered policies."""
        if isinstance(raw, dict):
            return (self._policy(raw, path, ("*",)),)
        if isinstance(raw, list):
            return tuple(
                self._policy(entry, (*path, index), _names(entry.get("errors")))
                for index, entry in enumerate(raw)
                if isinstance(entry, dict)
            )
        return ()

    def _policy(self, data: dict[str, Any], path: JsonPath, errors: tuple[str, ...]) -> RetryPolicy:
        fields: dict[str, Any] = {"errors": errors, "path": path}
        attempts = data.get("max_attempts")
        if attempts == "unlimited":
            fields["max_attempts"] = None
        elif isinstance(attempts, int) and not isinstance(attempts, bool):
            fields["max_attempts"] = attempts
        for key in ("initial_interval", "max_interval", "max_duration"):
            if key in data:
                seconds = self.leaves.literal_duration(data[key], (*path, key))
                if seconds is not None:
                    fields[key] = seconds
        for key in ("backoff", "jitter"):
            value = data.get(key)
            if isinstance(value, (int, float)) and not isinstance(value, bool):
                fields[key] = float(value)
        if data.get("jitter") in ("full", "equal"):
            fields["jitter_mode"] = data["jitter"]
        if "non_retryable" in data:
            fields["non_retryable"] = _names(data["non_retryable"])
        if "retry_on" in data:
            fields["retry_on"] = _names(data["retry_on"])
        return RetryPolicy(**fields)

    def _var(self, data: Mapping[str, Any], key: str, path: JsonPath) -> Any:
        return self.leaves.var_path(data[key], (*path, key)) if key in data else None

    # -------------------------------------------------------- state types

    def _task(
        self, name: str, data: dict[str, Any], path: JsonPath, common: dict[str, Any]
    ) -> State:
        retry = (
            self.retry(data["retry"], (*path, "retry")) if "retry" in data else self.defaults.retry
        )
        timeout = (
            self.leaves.literal_duration(data["timeout"], (*path, "timeout"))
            if "timeout" in data
            else self.defaults.timeout
        )
        undo = None
        raw_undo = data.get("undo")
        if isinstance(raw_undo, dict):
            undo = Undo(
                action=text(raw_undo, "action") or "",
                args=self.leaves.optional_value(raw_undo, "args", (*path, "undo")),
                path=(*path, "undo"),
            )
        return TaskState(
            **common,
            callback=self._callback(data.get("callback"), (*path, "callback")),
            cache=self._cache(data.get("cache"), (*path, "cache")),
            action=text(data, "action") or "",
            args=self.leaves.optional_value(data, "args", path),
            result=self._var(data, "result", path),
            timeout=timeout,
            retry=retry,
            catch=self.catches(data.get("catch"), (*path, "catch")),
            undo=undo,
        )

    def _choice(
        self, name: str, data: dict[str, Any], path: JsonPath, common: dict[str, Any]
    ) -> State:
        rules = []
        raw = data.get("choices")
        for index, entry in enumerate(raw if isinstance(raw, list) else []):
            if not isinstance(entry, dict):
                continue
            where = (*path, "choices", index)
            when: CompiledValue = (
                self.leaves.value(entry["when"], (*where, "when"))
                if "when" in entry
                else Constant(False)
            )
            rules.append(
                ChoiceRule(
                    when=when, next=text(entry, "next"), end=entry.get("end") is True, path=where
                )
            )
        return ChoiceState(**common, choices=tuple(rules), default=text(data, "default"))

    def _wait(
        self, name: str, data: dict[str, Any], path: JsonPath, common: dict[str, Any]
    ) -> State:
        return WaitState(**common, condition=self.wait_node(data, path, own_next=False))

    def wait_node(
        self, data: Mapping[str, Any], path: JsonPath, *, own_next: bool = True
    ) -> WaitNode:
        """The wait tree: a state's own kind (its ``next`` stays on the state) or an alternative."""
        next_ = text(data, "next") if own_next else None
        kind = next((k for k in _WAIT_KINDS if k in data), None)
        if kind == "timer":
            seconds, expr = self.leaves.duration(data["timer"], (*path, "timer"))
            return TimerWait(seconds=seconds, seconds_expr=expr, next=next_, path=path)
        if kind == "until":
            at, at_expr = self.leaves.timestamp(data["until"], (*path, "until"))
            return UntilWait(at=at, at_expr=at_expr, next=next_, path=path)
        if kind == "signal":
            return SignalWait(
                channel=text(data, "signal") or "",
                as_=self._var(data, "as", path),
                count=_int(data, "count", 1),
                next=next_,
                path=path,
            )
        if kind == "at_least":
            raw = data["at_least"]
            raw = raw if isinstance(raw, dict) else {}
            where = (*path, "at_least")
            return AtLeastWait(
                count=_int(raw, "count", 1),
                alternatives=self._alternatives(raw.get("of"), (*where, "of")),
                next=next_,
                path=path,
            )
        if kind == "any":
            return AnyWait(
                alternatives=self._alternatives(data["any"], (*path, "any")), next=next_, path=path
            )
        alternatives = self._alternatives(data.get("all"), (*path, "all")) if kind == "all" else ()
        return AllWait(alternatives=alternatives, next=next_, path=path)

    def _alternatives(self, raw: Any, path: JsonPath) -> tuple[WaitNode, ...]:
        if not isinstance(raw, list):
            return ()
        return tuple(
            self.wait_node(entry, (*path, index))
            for index, entry in enumerate(raw)
            if isinstance(entry, dict)
        )

    def _parallel(
        self, name: str, data: dict[str, Any], path: JsonPath, common: dict[str, Any]
    ) -> State:
        branches = []
        raw = data.get("branches")
        for branch_name, machine in raw.items() if isinstance(raw, dict) else ():
            if isinstance(branch_name, str) and isinstance(machine, dict):
                where = (*path, "branches", branch_name)
                branches.append(
                    Branch(name=branch_name, scope=self.scope(machine, where), path=where)
                )
        join = Join()
        raw_join = data.get("join")
        if raw_join == "any":
            join = Join(kind="any")
        elif isinstance(raw_join, dict) and isinstance(raw_join.get("count"), int):
            join = Join(kind="count", count=raw_join["count"])
        return ParallelState(
            **common,
            branches=tuple(branches),
            join=join,
            result=self._var(data, "result", path),
            catch=self.catches(data.get("catch"), (*path, "catch")),
            retry=self.retry(data["retry"], (*path, "retry")) if "retry" in data else (),
        )

    def _map(
        self, name: str, data: dict[str, Any], path: JsonPath, common: dict[str, Any]
    ) -> State:
        raw_do = data.get("do")
        body = self.scope(raw_do if isinstance(raw_do, dict) else {}, (*path, "do"))
        items = (
            self.leaves.items(data["items"], (*path, "items")) if "items" in data else Constant([])
        )
        as_ = self.leaves.item_name(data["as"], (*path, "as")) if "as" in data else "item"
        return MapState(
            **common,
            items=items,
            do=body,
            as_=as_,
            concurrency=_int(data, "concurrency", 1),
            result=self._var(data, "result", path),
            catch=self.catches(data.get("catch"), (*path, "catch")),
            retry=self.retry(data["retry"], (*path, "retry")) if "retry" in data else (),
            **self._tolerance(data.get("tolerated_failures"), (*path, "tolerated_failures")),
        )

    def _tolerance(self, raw: Any, path: JsonPath) -> dict[str, Any]:
        """``tolerated_failures: 3`` (a count) or ``"10%"`` (of the items, at most 100%).

        Other types and forms are the schema's findings (WF104, WF105)."""
        if isinstance(raw, int) and not isinstance(raw, bool):
            return {"tolerated_failures": raw}
        if isinstance(raw, str) and raw.strip().endswith("%"):
            try:
                percent = float(raw.strip()[:-1])
            except ValueError:
                return {}
            if not 0 <= percent <= 100:
                self.leaves.report(
                    "WF105",
                    path,
                    f"tolerated_failures {raw!r} must be a percentage from 0% to 100% of the items",
                    suggestion="write '100%' to let every iteration fail",
                )
                return {}
            return {"tolerated_percent": percent}
        return {}

    def _emit(
        self, name: str, data: dict[str, Any], path: JsonPath, common: dict[str, Any]
    ) -> State:
        return EmitState(
            **common,
            signal=text(data, "signal") or "",
            data=self.leaves.optional_value(data, "data", path),
            run=self.leaves.optional_value(data, "run", path),
        )

    def _callback(self, raw: Any, path: JsonPath) -> Callback | None:
        if raw is True:
            return Callback()
        if not isinstance(raw, dict):
            return None
        limits = {
            key: self.leaves.literal_duration(raw[key], (*path, key))
            for key in ("timeout", "heartbeat")
            if key in raw
        }
        return Callback(timeout=limits.get("timeout"), heartbeat=limits.get("heartbeat"))

    def _cache(self, raw: Any, path: JsonPath) -> TaskCache | None:
        if raw is True:
            return TaskCache(path=path)
        if not isinstance(raw, dict):
            return None
        version = raw.get("version")
        return TaskCache(
            key=self.leaves.optional_value(raw, "key", path),
            version=None if version is None or isinstance(version, bool) else str(version),
            ttl=self.leaves.literal_duration(raw["ttl"], (*path, "ttl")) if "ttl" in raw else None,
            path=path,
        )

    def _subflow(
        self, name: str, data: dict[str, Any], path: JsonPath, common: dict[str, Any]
    ) -> State:
        return SubflowState(
            **common,
            workflow=text(data, "workflow") or "",
            input=self.leaves.optional_value(data, "input", path),
            result=self._var(data, "result", path),
            wait=_bool(data, "wait", True),
            catch=self.catches(data.get("catch"), (*path, "catch")),
            retry=self.retry(data["retry"], (*path, "retry")) if "retry" in data else (),
            parent_close="abandon" if data.get("parent_close") == "abandon" else "cancel",
        )

    def _succeed(
        self, name: str, data: dict[str, Any], path: JsonPath, common: dict[str, Any]
    ) -> State:
        return SucceedState(**common, output=self.leaves.optional_value(data, "output", path))

    def _fail(
        self, name: str, data: dict[str, Any], path: JsonPath, common: dict[str, Any]
    ) -> State:
        error = self.leaves.optional_value(data, "error", path) or Constant("Failed")
        return FailState(
            **common,
            error=error,
            message=self.leaves.optional_value(data, "message", path),
            compensate=_bool(data, "compensate"),
        )
