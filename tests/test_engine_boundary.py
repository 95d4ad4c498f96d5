"""The CLI, the designer, observe/ and testing/ use the engine's public
methods only (issue 13 §1 "Boundaries"): reaching into ``engine.store``,
``engine.driver`` or ``engine.definitions`` (or any ``engine._private``)
ties them to one backend and one driver, and would bypass what the engine
does around each call (time, leases, wake-ups, the store thread).

Every .py file of those packages is read with ``ast``."""

from __future__ import annotations

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
FOLDERS = ("wfdsl", "designer", "observe", "testing")
INTERNAL = frozenset({"store", "driver", "definitions"})


def _reaches_inside(tree: ast.AST) -> list[tuple[int, str]]:
    found = []
    for node in ast.walk(tree):
        if not isinstance(node, ast.Attribute):
            continue
        if node.attr in INTERNAL:
            found.append((node.lineno, f".{node.attr}"))
        elif node.attr.startswith("_") and not node.attr.startswith("__"):
            owner = node.value
            name = owner.attr if isinstance(owner, ast.Attribute) else getattr(owner, "id", "")
            if name.endswith("engine"):
                found.append((node.lineno, f"{name}.{node.attr}"))
    return found


def test_no_layer_above_the_interpreter_touches_an_engines_internals() -> None:
    offences = [
        f"{path.relative_to(ROOT)}:{line}: {what}"
        for folder in FOLDERS
        for path in sorted((ROOT / folder).rglob("*.py"))
        for line, what in _reaches_inside(ast.parse(path.read_text(encoding="utf-8")))
    ]
    assert offences == []


def test_the_check_sees_a_reach_inside() -> None:
    code = "def f(engine, c):\n    engine.store.get_run('x')\n    c.engine._row('x')\n"
    assert sorted(_reaches_inside(ast.parse(code))) == [(2, ".store"), (3, "engine._row")]
