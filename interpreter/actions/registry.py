"""Actions: Python callables registered under dotted names (``email.send``).

A workflow's task names an action; the engine's :class:`ActionRunner` (in
``action_runner.py``) looks it up here and calls it with the task's ``args``
by keyword, plus an :class:`ActionContext` if the callable asks for one (a
parameter named ``ctx`` or annotated ``ActionContext``).

Registries chain: an engine's own registry (``engine.action``) sits on top of
the process-wide default registry that the module-level :func:`action`
decorator (exported as ``wfdsl.action``) fills. The built-in actions (``http``,
``log``, ``noop``, ``shell``) live in a registry the runner builds with the
operator's settings and consults last, so a user registration of the same
name shadows a built-in.

Modules named in a workflow's ``imports:`` or on the command line
(``--actions``) are imported with :func:`load_modules`; distributions can
advertise modules or callables in the ``wfdsl.actions`` entry point group,
loaded once, the first time a name is not found in the default registry.

Signatures are inspected once, at registration, so a call checks its
arguments against precomputed sets instead of re-inspecting the callable.
"""

from __future__ import annotations

import functools
import importlib
import importlib.util
import inspect
import logging
import os
import re
import sys
import threading
from collections.abc import Callable, Iterable, Mapping, MutableMapping
from dataclasses import dataclass, field
from pathlib import Path
from types import ModuleType
from typing import Any, TypeVar

from wfdsl.dsl.suggest import did_you_mean

from wfdsl.errors import WfdslError

__all__ = [
    "ENTRY_POINT_GROUP",
    "ActionContext",
    "ActionImportError",
    "ActionNotFound",
    "ActionRegistry",
    "ActionSpec",
    "ArgumentError",
    "action",
    "default_registry",
    "load_entry_points",
    "load_modules",
    "registrations",
]

ENTRY_POINT_GROUP = "wfdsl.actions"

_F = TypeVar("_F", bound=Callable[..., Any])

_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_-]*(?:\.[A-Za-z_][A-Za-z0-9_-]*)*\Z")

_log = logging.getLogger("wfdsl.actions")

# Bumped by every registration in any registry, so a runner can cache what a
# name resolves to and know when the cache may be stale.
_registrations = 0


def registrations() -> int:
    """A counter that changes whenever any registry gains an action."""
    return _registrations


# ------------------------------------------------------------------ errors


class ActionNotFound(WfdslError, LookupError):
    """No action is registered under the name a task asked for."""

    error = "ActionNotFound"

    def __init__(self, name: str, known: Iterable[str] = (), notes: Iterable[str] = ()) -> None:
        self.name = name
        known = list(known)
        message = f"no action named '{name}' is registered"
        hint = did_you_mean(name, known)
        if hint:
            message += f" ({hint})"
        message += (
            f"; register it with @wfdsl.action('{name}') in a module listed in the "
            "workflow's imports:, passed with --actions, or advertised in the "
            f"'{ENTRY_POINT_GROUP}' entry point group"
        )
        for note in notes:
            message += f"; {note}"
        super().__init__(message)


class ArgumentError(WfdslError, TypeError):
    """A task's ``args`` do not fit the action's signature (missing required
    arguments, unexpected ones, or ``args`` that is not a map)."""

    error = "ArgumentError"


class ActionImportError(WfdslError, ImportError):
    """A module named in ``imports:``, ``--actions`` or an entry point could not
    be imported; the message names it and says how to make it importable."""


# ------------------------------------------------------------------ context


class _ContextLogger(logging.LoggerAdapter):  # type: ignore[type-arg]
    """Prefixes every message with the call's coordinates."""

    def process(
        self, msg: Any, kwargs: MutableMapping[str, Any]
    ) -> tuple[Any, MutableMapping[str, Any]]:
        extra = self.extra or {}
        prefix = f"run '{extra['run_id']}' state '{extra['state']}' attempt {extra['attempt']}: "
        kwargs.setdefault("extra", {}).update(extra)
        return prefix + str(msg), kwargs


@dataclass(frozen=True, slots=True, kw_only=True)
class ActionContext:
    """What an action may know about the call it serves.

    ``idempotency_key`` is stable across re-executions of the same attempt
    (after a crash the attempt runs again with the same key), so an action can
    pass it to a payment API and be effectively once. ``timeout`` is the
    attempt's limit in seconds, if any.
    """

    run_id: str
    state: str
    action: str
    attempt: int = 1
    idempotency_key: str = ""
    call_id: str = ""
    undo: bool = False
    timeout: float | None = None
    on_heartbeat: Callable[[Any], None] | None = field(default=None, repr=False, compare=False)
    #: The W3C trace context of this attempt (``traceparent``, maybe
    #: ``tracestate``): its span's when the engine traces (``wfdsl.observe.
    #: tracing``), else the one the run was started in; empty when neither.
    #: Pass it on to what the action calls (the ``http`` action does).
    trace: Mapping[str, str] = field(default_factory=dict, repr=False, compare=False)

    def heartbeat(self, details: Any = None) -> None:
        """Tell the engine this call is alive (a long action calls this now and
        then); ``details`` is an optional JSON value describing progress.
        Safe to call from the worker thread of a sync action."""
        if self.on_heartbeat is not None:
            self.on_heartbeat(details)

    @property
    def logger(self) -> logging.LoggerAdapter:  # type: ignore[type-arg]
        """A logger (``wfdsl.actions``) whose messages start with this call's
        run, state and attempt, and carry them as ``extra`` fields."""
        return _ContextLogger(
            _log, {"run_id": self.run_id, "state": self.state, "attempt": self.attempt}
        )


# ------------------------------------------------------------------ specs


@dataclass(frozen=True, slots=True)
class ActionSpec:
    """A registered action with its signature digested for fast calls.

    ``params`` are the names ``args`` may use, ``required`` those it must;
    ``var_keyword`` means the callable takes ``**kwargs`` (any name goes);
    ``ctx_param`` is the parameter that receives the :class:`ActionContext`.
    ``inline`` marks a cheap sync function the runner calls directly on the
    event loop instead of in a worker thread (it must never block).
    """

    name: str
    fn: Callable[..., Any]
    is_async: bool
    params: frozenset[str]
    required: tuple[str, ...]
    var_keyword: bool
    ctx_param: str | None
    signature: str
    inline: bool = False

    @classmethod
    def of(cls, name: str, fn: Callable[..., Any], *, inline: bool = False) -> ActionSpec:
        """Inspect ``fn`` once. Raises ``ValueError`` for a bad name or a
        signature that cannot take keyword arguments, ``TypeError`` when
        ``fn`` is not callable."""
        if not isinstance(name, str) or not _NAME.match(name):
            raise ValueError(
                f"invalid action name {name!r}: use dotted identifiers such as 'email.send' "
                "(letters, digits, '_' and '-', segments separated by '.')"
            )
        if not callable(fn):
            raise TypeError(f"action '{name}' must be callable, got a {type(fn).__name__}")
        label = _describe(fn)
        try:
            sig = inspect.signature(fn)
        except (TypeError, ValueError) as exc:
            raise ValueError(
                f"action '{name}': cannot read the signature of {label}: {exc}"
            ) from None
        params: list[str] = []
        required: list[str] = []
        ctx_param: str | None = None
        var_keyword = False
        for p in sig.parameters.values():
            if p.kind is p.VAR_POSITIONAL:
                continue
            if p.kind is p.VAR_KEYWORD:
                var_keyword = True
                continue
            if ctx_param is None and _is_ctx(p):
                ctx_param = p.name
                continue
            if p.kind is p.POSITIONAL_ONLY:
                if p.default is p.empty:
                    raise ValueError(
                        f"action '{name}': parameter '{p.name}' of {label} is positional-only, "
                        "but actions receive their args by keyword; remove the '/' from its "
                        "signature"
                    )
                continue
            params.append(p.name)
            if p.default is p.empty:
                required.append(p.name)
        if inline and _is_async(fn):
            raise ValueError(
                f"action '{name}': inline=True is for sync functions, {label} is async"
            )
        return cls(
            name=name,
            fn=fn,
            is_async=_is_async(fn),
            params=frozenset(params),
            required=tuple(required),
            var_keyword=var_keyword,
            ctx_param=ctx_param,
            signature=f"{getattr(fn, '__name__', type(fn).__name__)}{_shown(sig)}",
            inline=inline,
        )

    def bind(self, args: Mapping[str, Any], ctx: ActionContext | None) -> dict[str, Any]:
        """The keyword arguments for one call; raises :class:`ArgumentError`
        naming the action, what is missing or unexpected, and the signature."""
        if type(args) is not dict and not isinstance(args, Mapping):
            raise ArgumentError(
                f"action '{self.name}' takes its args as a map of names to values, "
                f"got a {type(args).__name__}; its signature is {self.signature}"
            )
        missing = [p for p in self.required if p not in args]
        unexpected = [] if self.var_keyword else [k for k in args if k not in self.params]
        if self.ctx_param is not None and self.ctx_param in args:
            raise ArgumentError(
                f"action '{self.name}': argument '{self.ctx_param}' is reserved for the "
                f"ActionContext; rename it in args; its signature is {self.signature}"
            )
        if missing or unexpected:
            raise ArgumentError(self._mismatch(missing, unexpected))
        kwargs = dict(args)
        if self.ctx_param is not None:
            kwargs[self.ctx_param] = ctx
        return kwargs

    def _mismatch(self, missing: list[str], unexpected: list[Any]) -> str:
        parts = []
        if unexpected:
            shown = []
            for key in unexpected:
                text = repr(key) if not isinstance(key, str) else f"'{key}'"
                hint = did_you_mean(key, self.params) if isinstance(key, str) else None
                shown.append(f"{text} ({hint})" if hint else text)
            parts.append(
                f"got unexpected argument{'s' if len(shown) > 1 else ''} {', '.join(shown)}"
            )
        if missing:
            names = ", ".join(f"'{m}'" for m in missing)
            parts.append(f"is missing required argument{'s' if len(missing) > 1 else ''} {names}")
        return f"action '{self.name}' {' and '.join(parts)}; its signature is {self.signature}"


class _Source(str):
    """An annotation kept as text (``from __future__ import annotations``),
    shown without quotes in messages."""

    __slots__ = ()

    def __repr__(self) -> str:
        return str(self)


def _shown(sig: inspect.Signature) -> inspect.Signature:
    def plain(annotation: Any) -> Any:
        return _Source(annotation) if isinstance(annotation, str) else annotation

    params = [p.replace(annotation=plain(p.annotation)) for p in sig.parameters.values()]
    return sig.replace(parameters=params, return_annotation=plain(sig.return_annotation))


def _is_ctx(p: inspect.Parameter) -> bool:
    if p.name == "ctx":
        return True
    annotation = p.annotation
    if annotation is ActionContext:
        return True
    return isinstance(annotation, str) and annotation.rsplit(".", 1)[-1] == "ActionContext"


def _is_async(fn: Callable[..., Any]) -> bool:
    if inspect.iscoroutinefunction(fn):
        return True
    target = fn.func if isinstance(fn, functools.partial) else fn
    if inspect.isfunction(target) or inspect.ismethod(target):
        return False
    return inspect.iscoroutinefunction(type(target).__call__)


def _describe(fn: Callable[..., Any]) -> str:
    module = getattr(fn, "__module__", None) or type(fn).__module__
    qualname = getattr(fn, "__qualname__", None) or type(fn).__qualname__
    return f"{module}.{qualname}"


# ------------------------------------------------------------------ registry


class ActionRegistry:
    """Name -> action. ``parent`` is consulted for names this one lacks.

    Registering a name twice with the same function is harmless (a module
    imported twice); with a different function it raises ``ValueError``
    naming both. A name registered here may shadow one in a parent (an
    engine's test double over a module's real action).
    """

    __slots__ = ("_entry_point_problems", "_entry_points", "_lock", "_parent", "_specs", "name")

    def __init__(
        self,
        *,
        parent: ActionRegistry | None = None,
        name: str = "actions",
        entry_points: bool = False,
    ) -> None:
        self.name = name
        self._parent = parent
        self._specs: dict[str, ActionSpec] = {}
        self._lock = threading.Lock()
        # None: not loaded yet (lazily, at the first miss); else the problems met.
        self._entry_points = entry_points
        self._entry_point_problems: list[str] | None = None

    @property
    def parent(self) -> ActionRegistry | None:
        """The registry consulted for names this one lacks."""
        return self._parent

    def register(self, name: str, fn: Callable[..., Any], *, inline: bool = False) -> ActionSpec:
        """Register ``fn`` under ``name``; returns its :class:`ActionSpec`."""
        spec = ActionSpec.of(name, fn, inline=inline)
        with self._lock:
            existing = self._specs.get(name)
            if existing is not None:
                if existing.fn is fn or existing.fn == fn:
                    return existing
                raise ValueError(
                    f"action '{name}' is already registered in the {self.name} registry to "
                    f"{_describe(existing.fn)}; cannot register {_describe(fn)} under the same "
                    "name (rename one of them)"
                )
            self._specs[name] = spec
            global _registrations
            _registrations += 1
        return spec

    def action(self, name: str, *, inline: bool = False) -> Callable[[_F], _F]:
        """Decorator form of :meth:`register`; returns the function unchanged."""

        def decorate(fn: _F) -> _F:
            self.register(name, fn, inline=inline)
            return fn

        return decorate

    def lookup(self, name: str) -> ActionSpec | None:
        """The action registered under ``name`` here or in a parent, else None.
        A miss in a registry that reads entry points loads them (once) first."""
        registry: ActionRegistry | None = self
        while registry is not None:
            spec = registry._specs.get(name)
            if spec is not None:
                return spec
            registry = registry._parent
        if self._load_pending_entry_points():
            return self.lookup(name)
        return None

    def get(self, name: str) -> ActionSpec:
        """Like :meth:`lookup`, but a miss raises :class:`ActionNotFound` with a
        did-you-mean and how to register the action."""
        spec = self.lookup(name)
        if spec is None:
            raise ActionNotFound(name, self.names(), self.problems())
        return spec

    def __contains__(self, name: object) -> bool:
        return isinstance(name, str) and self.lookup(name) is not None

    def names(self) -> list[str]:
        """Every name resolvable here, parents included, sorted."""
        found: set[str] = set()
        registry: ActionRegistry | None = self
        while registry is not None:
            found.update(registry._specs)
            registry = registry._parent
        return sorted(found)

    def own_names(self) -> list[str]:
        """Names registered in this registry itself, sorted."""
        return sorted(self._specs)

    def child(self, name: str = "engine") -> ActionRegistry:
        """A new registry on top of this one."""
        return ActionRegistry(parent=self, name=name)

    def merge(self, other: ActionRegistry) -> None:
        """Register ``other``'s own actions here (not its parents'); the
        same duplicate rules as :meth:`register` apply."""
        for spec in list(other._specs.values()):
            self.register(spec.name, spec.fn, inline=spec.inline)

    def problems(self) -> list[str]:
        """Entry points of this chain that failed to load, as messages."""
        found: list[str] = []
        registry: ActionRegistry | None = self
        while registry is not None:
            found.extend(registry._entry_point_problems or ())
            registry = registry._parent
        return found

    def load_entry_points(self) -> None:
        """Load the entry points this chain reads (once), so :meth:`names`
        is complete: what a process can call is what it claims work for."""
        self._load_pending_entry_points()

    def _load_pending_entry_points(self) -> bool:
        registry: ActionRegistry | None = self
        loaded = False
        while registry is not None:
            if registry._entry_points and registry._entry_point_problems is None:
                load_entry_points(registry)
                loaded = True
            registry = registry._parent
        return loaded

    def __repr__(self) -> str:
        parent = f", parent={self._parent.name!r}" if self._parent is not None else ""
        return f"ActionRegistry({self.name!r}, {len(self._specs)} actions{parent})"


_DEFAULT = ActionRegistry(name="default", entry_points=True)


def default_registry() -> ActionRegistry:
    """The process-wide registry that :func:`action` fills and that engines'
    registries sit on top of."""
    return _DEFAULT


def action(name: str, *, inline: bool = False) -> Callable[[_F], _F]:
    """Register a sync or async callable in the process-wide default registry
    (``wfdsl.action``)::

        @wfdsl.action("email.send")
        async def send(to: str, template: str, ctx: wfdsl.ActionContext) -> dict: ...
    """
    return _DEFAULT.action(name, inline=inline)


# ------------------------------------------------------------------ loading


def load_entry_points(
    registry: ActionRegistry | None = None, *, group: str = ENTRY_POINT_GROUP
) -> list[str]:
    """Load the ``wfdsl.actions`` entry points once per registry; returns the
    problems met (also kept for :class:`ActionNotFound` messages).

    An entry point naming a module is imported (its ``@wfdsl.action``
    decorators register); one naming a callable is registered under the entry
    point's name. A plugin that fails to load is logged and reported, not
    fatal: the other actions stay usable.
    """
    target = _DEFAULT if registry is None else registry
    with target._lock:
        if target._entry_point_problems is not None:
            return list(target._entry_point_problems)
        target._entry_point_problems = []
    # Imported here: it brings the email package along, and a registry only
    # looks for plugins when a name is not found.
    import importlib.metadata

    problems: list[str] = []
    for ep in importlib.metadata.entry_points(group=group):
        dist = getattr(ep.dist, "name", None) or "an unknown distribution"
        try:
            obj = ep.load()
            if not isinstance(obj, ModuleType):
                target.register(ep.name, obj)
        except Exception as exc:
            problem = (
                f"entry point '{ep.name} = {ep.value}' of {dist} failed to load: "
                f"{type(exc).__name__}: {exc}"
            )
            _log.warning("%s", problem)
            problems.append(problem)
    with target._lock:
        target._entry_point_problems = problems
    return list(problems)


def load_modules(modules: Iterable[str], *, origin: str = "imports:") -> list[ModuleType]:
    """Import each module (dotted name, or a path to a ``.py`` file) so its
    ``@wfdsl.action`` registrations take effect. ``origin`` says where the
    names came from (``imports:``, ``--actions``) for error messages.

    Raises :class:`ActionImportError` naming the module and how to fix it.
    """
    loaded = []
    for name in modules:
        if name.endswith(".py") or os.sep in name or "/" in name:
            loaded.append(_load_file(name, origin))
        else:
            loaded.append(_import(name, origin))
    return loaded


def _import(name: str, origin: str) -> ModuleType:
    try:
        return importlib.import_module(name)
    except ModuleNotFoundError as exc:
        missing = exc.name or ""
        if missing and (name == missing or name.startswith(missing + ".")):
            raise ActionImportError(
                f"cannot import actions module '{name}' (from {origin}): no module named "
                f"'{missing}'. Install the distribution that provides it (pip install ...), "
                "or add the folder that contains it to PYTHONPATH (for a file in the current "
                f"directory: PYTHONPATH=. or pass its path, ./{name.replace('.', '/')}.py)",
                name=name,
            ) from exc
        raise ActionImportError(
            f"actions module '{name}' (from {origin}) was found, but importing it failed: "
            f"it needs module '{missing}', which is not installed (pip install {missing.split('.')[0]})",
            name=name,
        ) from exc
    except Exception as exc:
        raise ActionImportError(
            f"importing actions module '{name}' (from {origin}) raised {type(exc).__name__}: {exc}",
            name=name,
        ) from exc


def _load_file(path_text: str, origin: str) -> ModuleType:
    path = Path(path_text).resolve()
    if not path.is_file():
        raise ActionImportError(
            f"cannot import actions file '{path_text}' (from {origin}): no such file "
            f"(resolved to {path})",
            path=str(path),
        )
    module_name = f"wfdsl_actions_{path.stem}_{abs(hash(str(path))):x}"
    existing = sys.modules.get(module_name)
    if existing is not None:
        return existing
    spec = importlib.util.spec_from_file_location(module_name, path)
    if spec is None or spec.loader is None:  # pragma: no cover - a .py file always has one
        raise ActionImportError(f"cannot import actions file '{path_text}' (from {origin})")
    module = importlib.util.module_from_spec(spec)
    sys.modules[module_name] = module
    try:
        spec.loader.exec_module(module)
    except Exception as exc:
        del sys.modules[module_name]
        raise ActionImportError(
            f"importing actions file '{path_text}' (from {origin}) raised "
            f"{type(exc).__name__}: {exc}",
            path=str(path),
        ) from exc
    return module
