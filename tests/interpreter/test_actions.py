"""The action registry: registration, lookup, signatures, module and entry point loading."""

from __future__ import annotations

import functools
import importlib.metadata
import inspect
import logging
import sys
import textwrap
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from wfdsl.interpreter.actions import registry as actions_module
from wfdsl.interpreter.actions.registry import (
    ActionContext,
    ActionImportError,
    ActionNotFound,
    ActionRegistry,
    ActionSpec,
    ArgumentError,
    action,
    default_registry,
    load_entry_points,
    load_modules,
)

from wfdsl.errors import WfdslError


@pytest.fixture
def registry() -> ActionRegistry:
    return ActionRegistry(name="test")


@pytest.fixture
def clean_default() -> Iterator[ActionRegistry]:
    """The default registry, restored afterwards (entry points included)."""
    default = default_registry()
    specs = dict(default._specs)
    problems = default._entry_point_problems
    yield default
    default._specs.clear()
    default._specs.update(specs)
    default._entry_point_problems = problems


def send(to: str, template: str = "welcome") -> dict[str, str]:
    return {"to": to, "template": template}


def other_send(to: str) -> None:
    return None


# ------------------------------------------------------------------ registration


def test_register_and_get(registry: ActionRegistry) -> None:
    spec = registry.register("email.send", send)
    assert registry.get("email.send") is spec
    assert spec.fn is send and spec.name == "email.send"
    assert "email.send" in registry and "email.other" not in registry and 3 not in registry
    assert registry.names() == ["email.send"]


def test_decorator_returns_the_function_unchanged(registry: ActionRegistry) -> None:
    @registry.action("a.b")
    async def handler(x: int) -> int:
        return x

    assert registry.get("a.b").fn is handler
    assert registry.get("a.b").is_async


def test_registering_the_same_function_twice_is_harmless(registry: ActionRegistry) -> None:
    first = registry.register("email.send", send)
    assert registry.register("email.send", send) is first


def test_a_duplicate_name_with_another_function_names_both(registry: ActionRegistry) -> None:
    registry.register("email.send", send)
    with pytest.raises(ValueError) as info:
        registry.register("email.send", other_send)
    message = str(info.value)
    assert "'email.send'" in message
    assert f"{__name__}.send" in message and f"{__name__}.other_send" in message
    assert registry.get("email.send").fn is send


@pytest.mark.parametrize("name", ["", "email..send", ".send", "send.", "has space", "1abc", "a/b"])
def test_invalid_names_are_refused(registry: ActionRegistry, name: str) -> None:
    with pytest.raises(ValueError, match="invalid action name"):
        registry.register(name, send)


@pytest.mark.parametrize("name", ["send", "email.send", "a_b.c-d.E2", "_private"])
def test_dotted_names_are_accepted(registry: ActionRegistry, name: str) -> None:
    registry.register(name, send)
    assert name in registry


def test_non_callables_are_refused(registry: ActionRegistry) -> None:
    with pytest.raises(TypeError, match="must be callable, got a str"):
        registry.register("x", "not a function")  # type: ignore[arg-type]


def test_required_positional_only_parameters_are_refused(registry: ActionRegistry) -> None:
    def positional(a: int, /) -> int:
        return a

    with pytest.raises(ValueError, match=r"'a'.*positional-only.*by keyword"):
        registry.register("x", positional)


def test_child_registries_see_and_may_shadow_their_parent(registry: ActionRegistry) -> None:
    registry.register("email.send", send)
    registry.register("shared", send)
    engine = registry.child()
    engine.register("shared", other_send)
    engine.register("own", other_send)
    assert engine.get("email.send").fn is send
    assert engine.get("shared").fn is other_send, "the engine's own registration wins"
    assert registry.get("shared").fn is send, "the parent is untouched"
    assert engine.names() == ["email.send", "own", "shared"]
    assert engine.own_names() == ["own", "shared"]
    assert "own" not in registry
    assert engine.parent is registry


def test_merge_copies_own_actions_with_the_duplicate_rules(registry: ActionRegistry) -> None:
    other = ActionRegistry(parent=ActionRegistry(name="grandparent"), name="other")
    other.register("a", send)
    other.parent.register("b", send)  # type: ignore[union-attr]
    registry.merge(other)
    assert registry.own_names() == ["a"]
    registry.merge(other)  # same functions: harmless
    clash = ActionRegistry()
    clash.register("a", other_send)
    with pytest.raises(ValueError, match="already registered"):
        registry.merge(clash)


def test_module_level_decorator_fills_the_default_registry(clean_default: ActionRegistry) -> None:
    @action("tests.module_level")
    def fn() -> None:
        return None

    assert clean_default.get("tests.module_level").fn is fn
    assert ActionRegistry(parent=clean_default).get("tests.module_level").fn is fn


# ------------------------------------------------------------------ not found


def test_get_of_an_unknown_name_says_what_to_do(registry: ActionRegistry) -> None:
    registry.register("email.send", send)
    with pytest.raises(ActionNotFound) as info:
        registry.get("email.sned")
    error = info.value
    assert isinstance(error, WfdslError) and isinstance(error, LookupError)
    assert error.error == "ActionNotFound" and error.name == "email.sned"
    message = str(error)
    assert "no action named 'email.sned'" in message
    assert "did you mean 'email.send'?" in message
    assert "@wfdsl.action('email.sned')" in message and "imports:" in message
    assert "--actions" in message and "wfdsl.actions" in message
    assert registry.lookup("email.sned") is None


# ------------------------------------------------------------------ signatures


def test_spec_digests_the_signature() -> None:
    def fn(a: int, b: int = 2, *rest: int, c: str, d: str = "", ctx: Any = None) -> None:
        return None

    spec = ActionSpec.of("x", fn)
    assert spec.params == {"a", "b", "c", "d"}
    assert spec.required == ("a", "c")
    assert spec.ctx_param == "ctx"
    assert not spec.var_keyword and not spec.is_async and not spec.inline
    assert spec.signature.startswith("fn(a: int, b: int = 2")


def test_context_is_found_by_annotation_too() -> None:
    def by_text(x: int, context: ActionContext) -> None:  # annotations are text here
        return None

    def by_class(x: int, context: Any) -> None:
        return None

    sig = inspect.signature(by_class)
    params = [
        p.replace(annotation=ActionContext) if p.name == "context" else p
        for p in sig.parameters.values()
    ]
    by_class.__signature__ = sig.replace(parameters=params)  # type: ignore[attr-defined]
    for fn in (by_text, by_class):
        spec = ActionSpec.of("x", fn)
        assert spec.ctx_param == "context" and spec.params == {"x"}


class AsyncCallable:
    async def __call__(self, x: int) -> int:
        return x


class SyncCallable:
    def __call__(self, x: int) -> int:
        return x


async def async_fn(x: int, y: int) -> int:
    return x + y


@pytest.mark.parametrize(
    ("fn", "is_async"),
    [
        pytest.param(async_fn, True, id="async-def"),
        pytest.param(send, False, id="def"),
        pytest.param(AsyncCallable(), True, id="async-callable-object"),
        pytest.param(SyncCallable(), False, id="callable-object"),
        pytest.param(functools.partial(async_fn, y=1), True, id="partial-of-async"),
        pytest.param(functools.partial(send, template="x"), False, id="partial-of-def"),
        pytest.param(SyncCallable().__call__, False, id="bound-method"),
        pytest.param(AsyncCallable().__call__, True, id="async-bound-method"),
    ],
)
def test_async_is_detected_once(fn: Any, is_async: bool) -> None:
    assert ActionSpec.of("x", fn).is_async is is_async


def test_inline_is_for_sync_functions_only() -> None:
    assert ActionSpec.of("x", send, inline=True).inline
    with pytest.raises(ValueError, match="inline=True is for sync functions"):
        ActionSpec.of("x", async_fn, inline=True)


def test_bind_passes_args_by_keyword_and_adds_the_context() -> None:
    def fn(to: str, ctx: ActionContext) -> None:
        return None

    ctx = ActionContext(run_id="r", state="s", action="x")
    assert ActionSpec.of("x", fn).bind({"to": "a"}, ctx) == {"to": "a", "ctx": ctx}
    assert ActionSpec.of("x", send).bind({"to": "a"}, None) == {"to": "a"}


def test_bind_names_missing_and_unexpected_args_and_the_signature() -> None:
    spec = ActionSpec.of("email.send", send)
    with pytest.raises(ArgumentError) as info:
        spec.bind({"too": "a", "extra": 1}, None)
    message = str(info.value)
    assert info.value.error == "ArgumentError" and isinstance(info.value, TypeError)
    assert message == (
        "action 'email.send' got unexpected arguments 'too' (did you mean 'to'?), 'extra' "
        "and is missing required argument 'to'; "
        "its signature is send(to: str, template: str = 'welcome') -> dict[str, str]"
    )


def test_bind_refuses_args_that_are_not_a_map() -> None:
    with pytest.raises(ArgumentError, match=r"takes its args as a map.*got a list"):
        ActionSpec.of("x", send).bind(["a"], None)  # type: ignore[arg-type]


def test_bind_refuses_an_arg_named_like_the_context() -> None:
    def fn(ctx: ActionContext) -> None:
        return None

    with pytest.raises(ArgumentError, match="'ctx' is reserved for the ActionContext"):
        ActionSpec.of("x", fn).bind({"ctx": 1}, None)


def test_var_keyword_accepts_any_arg() -> None:
    def fn(a: int, **rest: Any) -> None:
        return None

    spec = ActionSpec.of("x", fn)
    assert spec.bind({"a": 1, "b": 2}, None) == {"a": 1, "b": 2}
    with pytest.raises(ArgumentError, match="missing required argument 'a'"):
        spec.bind({"b": 2}, None)


# ------------------------------------------------------------------ context


def test_heartbeat_calls_the_injected_callback() -> None:
    beats: list[Any] = []
    ctx = ActionContext(run_id="r", state="s", action="x", on_heartbeat=beats.append)
    ctx.heartbeat()
    ctx.heartbeat({"done": 3})
    assert beats == [None, {"done": 3}]
    ActionContext(run_id="r", state="s", action="x").heartbeat()  # no callback: nothing


def test_context_logger_prefixes_coordinates(caplog: pytest.LogCaptureFixture) -> None:
    ctx = ActionContext(run_id="o1", state="charge", action="pay", attempt=3)
    with caplog.at_level(logging.INFO, logger="wfdsl.actions"):
        ctx.logger.info("charging %s", "card")
    record = caplog.records[-1]
    assert record.getMessage() == "run 'o1' state 'charge' attempt 3: charging card"
    assert record.run_id == "o1" and record.state == "charge"  # type: ignore[attr-defined]


# ------------------------------------------------------------------ modules


@pytest.fixture
def modules(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """A folder on sys.path for throwaway modules, unloaded afterwards."""
    monkeypatch.syspath_prepend(str(tmp_path))
    before = set(sys.modules)
    yield tmp_path
    for name in set(sys.modules) - before:
        del sys.modules[name]


def _write(folder: Path, name: str, body: str) -> None:
    (folder / f"{name}.py").write_text(textwrap.dedent(body))


def test_load_modules_imports_and_registers(modules: Path, clean_default: ActionRegistry) -> None:
    _write(
        modules,
        "wf_acts_ok",
        """
        import wfdsl.interpreter.actions.registry as a

        @a.action("wf_acts_ok.hello")
        def hello(name: str) -> str:
            return "hi " + name
        """,
    )
    (loaded,) = load_modules(["wf_acts_ok"])
    assert loaded.__name__ == "wf_acts_ok"
    assert clean_default.get("wf_acts_ok.hello").fn is loaded.hello
    load_modules(["wf_acts_ok"])  # imported once: no duplicate error


def test_a_missing_module_is_named_with_the_fix(modules: Path) -> None:
    with pytest.raises(ActionImportError) as info:
        load_modules(["wf_nowhere.actions"], origin="--actions")
    message = str(info.value)
    assert isinstance(info.value, ImportError) and info.value.name == "wf_nowhere.actions"
    assert "cannot import actions module 'wf_nowhere.actions' (from --actions)" in message
    assert "no module named 'wf_nowhere'" in message
    assert "pip install" in message and "PYTHONPATH" in message
    assert "./wf_nowhere/actions.py" in message


def test_a_missing_dependency_is_told_apart_from_a_missing_module(modules: Path) -> None:
    _write(modules, "wf_acts_dep", "import wf_not_installed_dep.sub\n")
    with pytest.raises(ActionImportError) as info:
        load_modules(["wf_acts_dep"])
    message = str(info.value)
    assert "'wf_acts_dep' (from imports:) was found, but importing it failed" in message
    assert "needs module 'wf_not_installed_dep'" in message
    assert "pip install wf_not_installed_dep" in message


def test_a_module_that_raises_is_reported_with_its_error(modules: Path) -> None:
    _write(modules, "wf_acts_boom", "raise RuntimeError('no config')\n")
    with pytest.raises(ActionImportError, match=r"'wf_acts_boom'.*raised RuntimeError: no config"):
        load_modules(["wf_acts_boom"])


def test_load_modules_accepts_a_file_path(tmp_path: Path, clean_default: ActionRegistry) -> None:
    path = tmp_path / "my_actions.py"
    path.write_text(
        "import wfdsl.interpreter.actions.registry as a\n"
        "@a.action('file.loaded')\n"
        "def f() -> int:\n    return 1\n"
    )
    (module,) = load_modules([str(path)])
    assert clean_default.get("file.loaded").fn is module.f
    assert load_modules([str(path)]) == [module], "a file is executed once"
    del sys.modules[module.__name__]


def test_a_missing_file_is_named(tmp_path: Path) -> None:
    with pytest.raises(ActionImportError, match=r"'\./nope\.py' \(from --actions\): no such file"):
        load_modules(["./nope.py"], origin="--actions")


def test_a_file_that_raises_is_reported_and_not_kept(tmp_path: Path) -> None:
    path = tmp_path / "broken_actions.py"
    path.write_text("1 / 0\n")
    with pytest.raises(ActionImportError, match="raised ZeroDivisionError"):
        load_modules([str(path)])
    assert not any(name.startswith("wfdsl_actions_broken_actions") for name in sys.modules)


# ------------------------------------------------------------------ entry points


class _EntryPoints:
    """Stands in for importlib.metadata.entry_points, counting calls."""

    def __init__(self, *points: importlib.metadata.EntryPoint) -> None:
        self.points = points
        self.calls = 0

    def __call__(self, *, group: str) -> list[importlib.metadata.EntryPoint]:
        self.calls += 1
        return [p for p in self.points if p.group == group]


def _ep(name: str, value: str) -> importlib.metadata.EntryPoint:
    return importlib.metadata.EntryPoint(name=name, value=value, group="wfdsl.actions")


def test_entry_points_load_lazily_once_at_the_first_miss(
    modules: Path, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    _write(
        modules,
        "wf_plugin",
        """
        def greet(name: str) -> str:
            return "hello " + name
        """,
    )
    _write(
        modules,
        "wf_plugin_module",
        """
        # registers into the registry the test puts in place of the default one
        import wfdsl.interpreter.actions.registry as a
        a._DEFAULT.register("plugin.from_module", lambda: 1)
        """,
    )
    fake = _EntryPoints(
        _ep("plugin.greet", "wf_plugin:greet"),
        _ep("plugin-module", "wf_plugin_module"),
        _ep("plugin.broken", "wf_plugin_missing:thing"),
    )
    monkeypatch.setattr(importlib.metadata, "entry_points", fake)
    default = ActionRegistry(name="default", entry_points=True)
    monkeypatch.setattr(actions_module, "_DEFAULT", default)
    engine = default.child()
    engine.register("own", send)

    assert engine.get("own").fn is send
    assert fake.calls == 0, "a hit never reads entry points"
    with caplog.at_level(logging.WARNING, logger="wfdsl.actions"):
        assert engine.get("plugin.greet").fn(name="x") == "hello x"
    assert fake.calls == 1
    assert "plugin.from_module" in engine
    assert "wf_plugin_missing" in caplog.text

    with pytest.raises(ActionNotFound) as info:
        engine.get("plugin.nothing")
    assert fake.calls == 1, "entry points are read once"
    message = str(info.value)
    assert "entry point 'plugin.broken = wf_plugin_missing:thing'" in message
    assert "ModuleNotFoundError" in message
    assert engine.problems() == default.problems() and len(default.problems()) == 1
    assert load_entry_points(default) == default.problems()


def test_registries_without_entry_points_never_read_them(monkeypatch: pytest.MonkeyPatch) -> None:
    fake = _EntryPoints()
    monkeypatch.setattr(importlib.metadata, "entry_points", fake)
    assert ActionRegistry().lookup("anything") is None
    assert fake.calls == 0
