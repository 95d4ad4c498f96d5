"""Dependencies point one way (ARCHITECTURE.md): errors < dsl < interpreter <
designer, testing, observe < cli < the wfdsl facade, and dsl/ stays pure.

Every .py file of the packages is read with ``ast``; imports under
``if TYPE_CHECKING:`` are types only and do not count.
"""

from __future__ import annotations

import ast
from dataclasses import dataclass
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]

# Folder in the repository -> the package it installs as.
FOLDERS = {
    "wfdsl": "wfdsl",
    "dsl": "wfdsl.dsl",
    "interpreter": "wfdsl.interpreter",
    "designer": "wfdsl.designer",
    "testing": "wfdsl.testing",
    "observe": "wfdsl.observe",
}

# dsl/ is text in, findings or a Workflow out: no I/O, threads, loops or UI.
FORBIDDEN_IN_DSL = frozenset(
    {
        "sqlite3",
        "starlette",
        "click",
        "rich",
        "threading",
        "asyncio",
        "uvicorn",
        "httpx",
        "subprocess",
        "socket",
        "multiprocessing",
        "concurrent",
    }
)


# Each database driver belongs to its store backend alone (ARCHITECTURE.md):
# driver -> the one package allowed to import it.
DRIVERS = {
    "sqlite3": "wfdsl.interpreter.store.sqlite",
    "psycopg": "wfdsl.interpreter.store.postgres",
    "psycopg_pool": "wfdsl.interpreter.store.postgres",
}

# The machine is a pure transition function: inside the interpreter it may
# read only its own package and the store's plain records.
MACHINE = "wfdsl.interpreter.machine"
MACHINE_MAY_IMPORT = (MACHINE, "wfdsl.interpreter.store.records")


def _within(module: str, package: str) -> bool:
    return module == package or module.startswith(package + ".")


def layer(module: str) -> int:
    """The rank of a wfdsl module; a module may only import ranks <= its own."""
    if module == "wfdsl.errors" or module.startswith("wfdsl.errors."):
        return 0
    for rank, package in enumerate(("wfdsl.dsl", "wfdsl.interpreter", "wfdsl.designer"), 1):
        if module == package or module.startswith(package + "."):
            return rank
    if module == "wfdsl.testing" or module.startswith("wfdsl.testing."):
        return 3  # `wfdsl test`'s runner: on the engine, beside the designer
    if module == "wfdsl.observe" or module.startswith("wfdsl.observe."):
        return 3  # metrics and traces: on the engine's public API, beside the designer
    if module == "wfdsl.cli" or module.startswith("wfdsl.cli_"):
        return 4  # `wfdsl serve` starts the designer, so the CLI sits above it
    return 5  # the facade: wfdsl/__init__.py and anything else at the top


@dataclass(frozen=True)
class Import:
    module: str  # the importing module
    target: str  # the absolute name imported
    line: int


def module_name(path: Path, root: Path = ROOT) -> str:
    relative = path.relative_to(root).with_suffix("")
    parts = list(relative.parts)
    parts[0] = FOLDERS[parts[0]]
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def _type_checking_only(node: ast.If) -> bool:
    test = node.test
    return (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING") or (
        isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING"
    )


def imports_of(source: str, module: str, *, is_package: bool = False) -> list[Import]:
    """Absolute names imported by ``module`` (relative imports resolved)."""
    tree = ast.parse(source)
    package = module if is_package else module.rpartition(".")[0]
    found: list[Import] = []

    def visit(node: ast.AST) -> None:
        if isinstance(node, ast.If) and _type_checking_only(node):
            for child in node.orelse:
                visit(child)
            return
        if isinstance(node, ast.Import):
            found.extend(Import(module, alias.name, node.lineno) for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = package.split(".")
                anchor = anchor[: len(anchor) - (node.level - 1)]
                base = ".".join([*anchor, base] if base else anchor)
            # `from wfdsl import errors` names a module; `from x import name` the package.
            for alias in node.names:
                found.append(Import(module, f"{base}.{alias.name}", node.lineno))
        for child in ast.iter_child_nodes(node):
            visit(child)

    visit(tree)
    return found


def violations(files: dict[str, tuple[str, bool]]) -> list[str]:
    """Every wrong import among ``files``: module name -> (source, is_package)."""
    problems = []
    for module, (source, is_package) in sorted(files.items()):
        for imp in imports_of(source, module, is_package=is_package):
            # Ranks go by prefix, so `wfdsl.dsl.model.Workflow` ranks as
            # wfdsl.dsl and `from wfdsl import Engine` as the facade.
            target = imp.target
            top = imp.target.split(".")[0]
            where = f"{module}:{imp.line} imports {imp.target}"
            if layer(module) == 1 and top in FORBIDDEN_IN_DSL:
                problems.append(f"{where}: dsl/ must stay pure (no {top})")
            if top == "wfdsl" and layer(target) > layer(module):
                problems.append(f"{where}: a lower layer must not import a higher one")
            if top in DRIVERS and not _within(module, DRIVERS[top]):
                problems.append(f"{where}: only {DRIVERS[top]} may import {top}")
            if (
                _within(module, MACHINE)
                and _within(target, "wfdsl.interpreter")
                and not any(_within(target, allowed) for allowed in MACHINE_MAY_IMPORT)
            ):
                problems.append(f"{where}: the machine must stay pure (no {target})")
    return problems


def package_files() -> dict[str, tuple[str, bool]]:
    files = {}
    for folder in FOLDERS:
        for path in sorted((ROOT / folder).rglob("*.py")):
            files[module_name(path)] = (
                path.read_text(encoding="utf-8"),
                path.name == "__init__.py",
            )
    return files


def test_the_packages_import_only_downwards() -> None:
    files = package_files()
    assert "wfdsl.dsl.model" in files and "wfdsl.cli" in files  # the walk found the tree
    assert violations(files) == []


# The walker itself must be able to fail.


@pytest.mark.parametrize(
    ("module", "source", "expected"),
    [
        pytest.param("wfdsl.dsl.bad", "import sqlite3\n", "dsl/ must stay pure", id="sqlite3"),
        pytest.param(
            "wfdsl.dsl.bad", "from rich.console import Console\n", "no rich", id="rich-from"
        ),
        pytest.param(
            "wfdsl.dsl.bad",
            "def f():\n    import threading\n",
            "no threading",
            id="nested-import",
        ),
        pytest.param(
            "wfdsl.dsl.bad",
            "from ..interpreter import engine\n",
            "imports wfdsl.interpreter.engine: a lower layer",
            id="relative-upwards",
        ),
        pytest.param(
            "wfdsl.interpreter.bad",
            "from wfdsl.designer import app\n",
            "a lower layer",
            id="interpreter-to-designer",
        ),
        pytest.param("wfdsl.errors", "import wfdsl.dsl\n", "a lower layer", id="errors-to-dsl"),
        pytest.param(
            "wfdsl.interpreter.engine_loop",
            "import sqlite3\n",
            "only wfdsl.interpreter.store.sqlite may import sqlite3",
            id="sqlite3-above-the-store",
        ),
        pytest.param(
            "wfdsl.interpreter.store.sqlite.store",
            "from psycopg import sql\n",
            "only wfdsl.interpreter.store.postgres may import psycopg",
            id="psycopg-outside-its-backend",
        ),
        pytest.param(
            "wfdsl.interpreter.machine.tasks",
            "from ..store.sqlite import SqliteStore\n",
            "the machine must stay pure",
            id="machine-to-a-backend",
        ),
        pytest.param(
            "wfdsl.designer.bad", "from wfdsl import cli\n", "a lower layer", id="designer-to-cli"
        ),
        pytest.param(
            "wfdsl.dsl.bad", "from wfdsl import Engine\n", "a lower layer", id="dsl-to-facade"
        ),
    ],
)
def test_the_walker_reports_a_bad_module(module: str, source: str, expected: str) -> None:
    files = {
        module: (source, False),
        "wfdsl.cli": ("", False),
        "wfdsl": ("", True),
        "wfdsl.interpreter.engine": ("", False),
    }
    problems = violations(files)
    assert any(expected in p for p in problems), problems


@pytest.mark.parametrize(
    ("module", "source"),
    [
        pytest.param("wfdsl.dsl.ok", "from .model import Workflow\nimport json\n", id="sibling"),
        pytest.param(
            "wfdsl.errors",
            "from typing import TYPE_CHECKING\nif TYPE_CHECKING:\n    from wfdsl.dsl.findings import Finding\n",
            id="type-checking",
        ),
        pytest.param(
            "wfdsl.cli", "from wfdsl.designer import app\nimport click\n", id="cli-to-designer"
        ),
        pytest.param("wfdsl", "from wfdsl.interpreter import Engine\n", id="facade"),
    ],
)
def test_the_walker_accepts_a_good_module(module: str, source: str) -> None:
    assert violations({module: (source, module == "wfdsl")}) == []


def test_relative_imports_resolve_from_a_package_init() -> None:
    found = imports_of("from .model import Workflow\n", "wfdsl.dsl", is_package=True)
    assert [i.target for i in found] == ["wfdsl.dsl.model.Workflow"]
    found = imports_of("from ..errors import X\n", "wfdsl.dsl.loader")
    assert [i.target for i in found] == ["wfdsl.errors.X"]


def test_test_modules_have_unique_names() -> None:
    """pytest's default import mode puts each test folder on sys.path, so two
    test files with one basename in different folders break collection."""
    tests = Path(__file__).resolve().parent
    seen: dict[str, Path] = {}
    for path in sorted(tests.rglob("test_*.py")):
        assert path.name not in seen, f"{path} and {seen[path.name]} share a name"
        seen[path.name] = path
