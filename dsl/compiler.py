"""From a loaded document to the frozen model (``model.py``).

``compile_document`` reads the plain JSON copy of a document and its source
map and builds a :class:`~wfdsl.dsl.model.Workflow`. Every value that may hold
an expression is compiled here, once; durations, timestamps, cron and time
zones are checked here. The compiler reports only its own findings
(WF212, WF301, WF305, WF502-WF505) and never raises: a part of the document
it cannot build (already reported by the YAML or schema stage) is skipped, so
a broken document still yields as much of a workflow as the designer can draw.

Decisions (docs/decisions.md, "Front end"): a task without ``retry`` and
without ``defaults.retry`` gets ``retry=()`` — one attempt, no retry, as in
Step Functions; a single ``retry:`` map is one policy for ``"*"``.
"""

from __future__ import annotations

import hashlib
from typing import Any, Protocol, cast
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError, available_timezones

from .compile_states import StateCompiler, extensions, text
from .compile_values import Leaves
from .expressions import CompiledValue
from .findings import Finding
from .model import (
    DEFAULT_MAX_TRANSITIONS,
    Defaults,
    Handler,
    HandlerEmit,
    IdReuse,
    Overlap,
    Schedule,
    SignalDecl,
    Workflow,
)
from .source import JsonPath, SourceMap
from .suggest import did_you_mean

__all__ = ["CompilableDocument", "compile_document"]

_ID_REUSE = ("allow_if_no_running", "allow_if_failed", "disallow", "terminate_if_running")
_OVERLAP = ("skip", "allow", "buffer_one")


class CompilableDocument(Protocol):
    """What the compiler reads of a ``loader.LoadedDocument``."""

    @property
    def text(self) -> str: ...

    @property
    def file(self) -> str | None: ...

    @property
    def data(self) -> Any: ...

    @property
    def source_map(self) -> SourceMap: ...


def compile_document(doc: CompilableDocument) -> tuple[Workflow | None, list[Finding]]:
    """The compiled workflow (None when the document is not a mapping) and the
    compiler's findings, in document order of discovery. Never raises."""
    data = doc.data
    if not isinstance(data, dict):
        return None, []
    text_ = doc.text if isinstance(doc.text, str) else ""
    leaves = Leaves(doc.source_map, text_, doc.file)
    try:
        workflow = _Document(leaves, data, text_, doc.file, doc.source_map).build()
    except RecursionError:
        # Nesting is bounded by the loader; this is the last line of defence.
        leaves.report("WF008", (), "the document nests too deeply to compile")
        return None, leaves.findings
    return workflow, leaves.findings


class _Document:
    def __init__(
        self,
        leaves: Leaves,
        data: dict[str, Any],
        text_: str,
        file: str | None,
        source_map: SourceMap,
    ) -> None:
        self.leaves = leaves
        self.data = data
        self.text = text_
        self.file = file
        self.source_map = source_map

    def build(self) -> Workflow:
        data = self.data
        defaults = self._defaults(data.get("defaults"))
        states = StateCompiler(self.leaves, defaults)
        version = data.get("version")
        id_reuse = data.get("id_reuse")
        timeout = (
            self.leaves.literal_duration(data["timeout"], ("timeout",))
            if "timeout" in data
            else None
        )
        return Workflow(
            name=text(data, "name") or "",
            root=states.scope(data, ()),
            version=version
            if isinstance(version, (int, str)) and not isinstance(version, bool)
            else None,
            description=text(data, "description"),
            input_schema=data["input"] if isinstance(data.get("input"), dict) else None,
            output=self.leaves.optional_value(data, "output", ()),
            vars=self.leaves.value(data["vars"], ("vars",))
            if isinstance(data.get("vars"), dict)
            else None,
            search=self._search(data.get("search")),
            signals=self._signals(data.get("signals")),
            handlers=self._handlers(data.get("handlers"), states),
            timeout=timeout,
            defaults=defaults,
            id_reuse=_id_reuse(id_reuse),
            schedule=self._schedule(data.get("schedule")),
            compensate_on_failure=data.get("compensate_on_failure") is True,
            max_transitions=_max_transitions(data.get("max_transitions")),
            imports=tuple(i for i in data.get("imports") or () if isinstance(i, str))
            if isinstance(data.get("imports"), list)
            else (),
            extensions=extensions(data),
            source_text=self.text,
            source_hash=hashlib.sha256(self.text.encode("utf-8", "surrogatepass")).hexdigest(),
            file=self.file,
            source_map=self.source_map,
        )

    def _defaults(self, raw: Any) -> Defaults:
        if not isinstance(raw, dict):
            return Defaults()
        probe = StateCompiler(self.leaves, Defaults())
        retry = probe.retry(raw["retry"], ("defaults", "retry")) if "retry" in raw else ()
        timeout = (
            self.leaves.literal_duration(raw["timeout"], ("defaults", "timeout"))
            if "timeout" in raw
            else None
        )
        return Defaults(retry=retry, timeout=timeout)

    def _search(self, raw: Any) -> dict[str, CompiledValue]:
        if not isinstance(raw, dict):
            return {}
        return {
            str(name): self.leaves.value(value, ("search", str(name)))
            for name, value in raw.items()
        }

    def _signals(self, raw: Any) -> dict[str, SignalDecl]:
        if not isinstance(raw, dict):
            return {}
        out = {}
        for name, decl in raw.items():
            schema = decl.get("schema") if isinstance(decl, dict) else None
            out[str(name)] = SignalDecl(
                name=str(name),
                schema=schema if isinstance(schema, dict) else None,
                path=("signals", str(name)),
            )
        return out

    def _handlers(self, raw: Any, states: StateCompiler) -> dict[str, Handler]:
        if not isinstance(raw, dict):
            return {}
        out = {}
        for name, data in raw.items():
            if not isinstance(data, dict):
                continue
            path: JsonPath = ("handlers", str(name))
            emit = None
            raw_emit = data.get("emit")
            if isinstance(raw_emit, dict):
                where = (*path, "emit")
                emit = HandlerEmit(
                    signal=text(raw_emit, "signal") or "",
                    data=self.leaves.optional_value(raw_emit, "data", where),
                    run=self.leaves.optional_value(raw_emit, "run", where),
                )
            schema = data.get("input")
            out[str(name)] = Handler(
                name=str(name),
                when=self.leaves.optional_value(data, "when", path),
                set=states.assignments(data.get("set"), (*path, "set")),
                emit=emit,
                returns=self.leaves.optional_value(data, "return", path),
                input_schema=schema if isinstance(schema, dict) else None,
                description=text(data, "description"),
                path=path,
            )
        return out

    def _schedule(self, raw: Any) -> Schedule | None:
        if not isinstance(raw, dict):
            return None
        cron = text(raw, "cron") or ""
        if "cron" in raw and isinstance(raw["cron"], str):
            self._check_cron(cron, ("schedule", "cron"))
        timezone = text(raw, "timezone") or "UTC"
        if isinstance(raw.get("timezone"), str):
            self._check_timezone(timezone, ("schedule", "timezone"))
        overlap = raw.get("overlap")
        return Schedule(
            cron=cron,
            timezone=timezone,
            overlap=cast(Overlap, overlap if overlap in _OVERLAP else "skip"),
        )

    def _check_cron(self, cron: str, path: JsonPath) -> None:
        fields = cron.split()
        if len(fields) != 5:
            hint = None
            if len(fields) == 6:
                hint = "wfdsl cron has no seconds field: drop the first field"
            elif cron.strip().startswith("@"):
                hint = "write the five fields, e.g. '0 0 * * *' for @daily"
            self.leaves.report(
                "WF504",
                path,
                f"invalid cron {cron!r}: expected 5 fields (minute hour day-of-month month "
                f"day-of-week), found {len(fields)}",
                suggestion=hint,
            )
            return
        # croniter (with dateutil) is imported only for documents with a schedule.
        from croniter import croniter  # type: ignore[import-untyped]

        try:
            valid = bool(croniter.is_valid(cron))
        except Exception:  # croniter raises assorted errors on odd input
            valid = False
        if not valid:
            self.leaves.report("WF504", path, f"invalid cron {cron!r}: {_cron_reason(fields)}")

    def _check_timezone(self, name: str, path: JsonPath) -> None:
        try:
            ZoneInfo(name)
        except (ZoneInfoNotFoundError, ValueError, OSError):
            self.leaves.report(
                "WF505",
                path,
                f"unknown time zone {name!r}: expected an IANA name such as UTC or Europe/Berlin",
                suggestion=did_you_mean(name, available_timezones()),
            )


_CRON_FIELDS = (
    ("minute", 0, 59),
    ("hour", 0, 23),
    ("day of month", 1, 31),
    ("month", 1, 12),
    ("day of week", 0, 7),
)


def _cron_reason(fields: list[str]) -> str:
    """Name the first field croniter refuses, for a message people can act on."""
    from croniter import croniter

    for (name, low, high), field in zip(_CRON_FIELDS, fields, strict=True):
        probe = ["*"] * 5
        probe[_CRON_FIELDS.index((name, low, high))] = field
        try:
            ok = bool(croniter.is_valid(" ".join(probe)))
        except Exception:
            ok = False
        if not ok:
            return f"the {name} field {field!r} is not valid (values {low}-{high})"
    return "the fields do not combine into a valid schedule"


def _max_transitions(raw: Any) -> int:
    if isinstance(raw, int) and not isinstance(raw, bool) and raw >= 1:
        return raw
    return DEFAULT_MAX_TRANSITIONS


def _id_reuse(raw: Any) -> IdReuse:
    return cast(IdReuse, raw if raw in _ID_REUSE else "allow_if_no_running")
