"""docs/reference.md describes the whole language, and keeps doing so.

Whoever adds a key to the JSON Schema (at any level: the document, a state
type, a retry policy, a wait alternative, ...), a state type, an argument of
a built-in action, or a function of the expression library, must document
it: this test fails and its message says exactly what to add where.

How it reads the pages: in docs/reference.md a comment
``<!-- schema: POINTER ... -->`` opens a section about the schema objects at
those JSON pointers (``#`` is the document, ``#/$defs/task_state`` a task),
``<!-- action: NAME -->`` a section about a built-in action; a key counts as
described when a table row of its section starts with it in backticks
(``| `key` | ... |``). A state type counts when it has a heading
``### `type` ``; the keys every state may have (``type``, ``next``, ``set``,
...) are described once, in the section of ``#/$defs/state``. In docs/expressions.md, a function counts when a table row
of section 8 starts with its call (``| `name(...)` |``).
"""

from __future__ import annotations

import copy
import json
import re
from collections.abc import Iterable, Iterator, Mapping
from pathlib import Path
from typing import Any

from wfdsl.dsl.expressions import BUILTIN_FUNCTIONS
from wfdsl.interpreter.actions.builtin import BUILTIN_ACTIONS, Builtins

ROOT = Path(__file__).resolve().parents[2]
SCHEMA = ROOT / "schemas" / "wfdsl-1.schema.json"
REFERENCE = ROOT / "docs" / "reference.md"
EXPRESSIONS = ROOT / "docs" / "expressions.md"

# Values inside these keywords are data (sample documents), not schema; an
# `if` only tests keys that its `then` or the object itself defines.
_NOT_SCHEMA = frozenset({"examples", "default", "const", "enum", "if"})
# The keys every state may have are described once, under "## 2. States".
COMMON_STATE = "#/$defs/state"
_MARKER = re.compile(r"<!--\s*(schema|action):\s*([^>]*?)\s*-->")
_ROW_KEY = re.compile(r"^\|\s*`([^`(]+)`", re.MULTILINE)
_HEADING = re.compile(r"^#{2,4} (.*)$", re.MULTILINE)


def schema_objects(schema: Mapping[str, Any]) -> dict[str, set[str]]:
    """JSON pointer -> property names, for every object of the schema with ``properties``."""
    found: dict[str, set[str]] = {}

    def walk(node: Any, pointer: str) -> None:
        if isinstance(node, dict):
            if isinstance(node.get("properties"), dict):
                found[pointer] = set(node["properties"])
            for key, value in node.items():
                if key not in _NOT_SCHEMA:
                    walk(value, f"{pointer}/{key}")
        elif isinstance(node, list):
            for index, value in enumerate(node):
                walk(value, f"{pointer}/{index}")

    walk(schema, "#")
    return found


def state_types(schema: Mapping[str, Any]) -> list[str]:
    types: list[str] = schema["$defs"]["state"]["properties"]["type"]["enum"]
    return types


def sections(text: str) -> Iterator[tuple[str, str, str, str]]:
    """(kind, name, heading, body) for each marker: body runs to the next marker."""
    markers = list(_MARKER.finditer(text))
    for i, marker in enumerate(markers):
        end = markers[i + 1].start() if i + 1 < len(markers) else len(text)
        headings = _HEADING.findall(text, 0, marker.start())
        heading = headings[-1] if headings else "(top)"
        for name in marker.group(2).split():
            yield marker.group(1), name, heading, text[marker.end() : end]


def documented(text: str) -> tuple[dict[str, set[str]], dict[str, str]]:
    """(marker name -> keys in its tables, marker name -> its heading)."""
    keys: dict[str, set[str]] = {}
    where: dict[str, str] = {}
    for kind, name, heading, body in sections(text):
        label = name if kind == "schema" else f"action:{name}"
        keys.setdefault(label, set()).update(k.strip() for k in _ROW_KEY.findall(body))
        where.setdefault(label, heading)
    return keys, where


def function_rows(expressions_text: str) -> set[str]:
    """Functions with a table row in section 8 of docs/expressions.md."""
    start = expressions_text.index("## 8. Functions")
    end = expressions_text.find("\n## ", start + 1)
    body = expressions_text[start : end if end != -1 else None]
    return set(re.findall(r"`([a-z_][a-z0-9_]*)\(", "\n".join(re.findall(r"^\|.*", body, re.M))))


def builtin_action_args() -> dict[str, set[str]]:
    registry = Builtins().registry
    return {name: set(registry.get(name).params) for name in BUILTIN_ACTIONS}


def problems(
    schema: Mapping[str, Any],
    reference_text: str,
    expressions_text: str,
    actions: Mapping[str, Iterable[str]],
    functions: Iterable[str],
) -> list[str]:
    """What the schema, the actions and the functions have that the pages do not describe."""
    keys, where = documented(reference_text)
    out: list[str] = []
    for pointer, names in sorted(schema_objects(schema).items()):
        if pointer not in keys:
            out.append(
                f"{SCHEMA.name} has an object at {pointer} with keys {sorted(names)}; "
                f"docs/reference.md has no section for it: add one (under the heading of "
                f"what it belongs to) that starts with the line `<!-- schema: {pointer} -->` "
                f"and holds a table with a row `| \\`KEY\\` | what it does, its default |` "
                f"per key, or add {pointer} to the `<!-- schema: ... -->` line of the "
                f"section that already explains it"
            )
            continue
        described = set(keys[pointer])
        if re.fullmatch(r"#/\$defs/\w+_state", pointer):
            described |= keys.get(COMMON_STATE, set())
        for name in sorted(names - described):
            out.append(
                f"{SCHEMA.name} has the key `{name}` at {pointer}, which docs/reference.md "
                f"does not describe: add a row `| \\`{name}\\` | what it does, its default |` "
                f"to the table of section '{where[pointer]}' (the one after "
                f"`<!-- schema: ... {pointer} ... -->`)"
                + (
                    f", or to the table of keys every state has (after "
                    f"`<!-- schema: {COMMON_STATE} -->`) if every state type takes it"
                    if pointer.endswith("_state")
                    else ""
                )
            )
    headings = set(_HEADING.findall(reference_text))
    for state_type in state_types(schema):
        if f"`{state_type}`" not in headings:
            out.append(
                f"state type `{state_type}` (#/$defs/state type enum) has no section in "
                f"docs/reference.md: add `### \\`{state_type}\\`` under '## 2. States', then "
                f"`<!-- schema: #/$defs/{state_type}_state -->` and a table of its own keys"
            )
    for action, args in sorted(actions.items()):
        label = f"action:{action}"
        if label not in keys:
            out.append(
                f"built-in action `{action}` has no section in docs/reference.md: add "
                f"`### \\`{action}\\`` under '## 6. Built-in actions', then "
                f"`<!-- action: {action} -->`, what it returns and raises, and a table "
                f"`| arg | meaning |` with a row per argument"
            )
            continue
        for arg in sorted(set(args) - keys[label]):
            out.append(
                f"built-in action `{action}` takes the argument `{arg}`, which docs/reference.md "
                f"does not describe: add a row `| \\`{arg}\\` | what it does, its default |` "
                f"to the table after `<!-- action: {action} -->` (section '{where[label]}')"
            )
    rows = function_rows(expressions_text)
    for function in sorted(set(functions) - rows):
        out.append(
            f"the expression function `{function}` has no row in docs/expressions.md: add "
            f"`| \\`{function}(ARGS)\\` | what it gives, with an example | its errors |` to "
            f"the fitting table of '## 8. Functions'"
        )
    return out


def added(
    schema: Mapping[str, Any],
    actions: Mapping[str, Iterable[str]] | None = None,
    functions: Iterable[str] = BUILTIN_FUNCTIONS,
) -> list[str]:
    """The problems a changed schema, action table or function list has that
    the pages as they are do not (so these tests do not depend on the pages
    being complete: the first test checks that)."""
    original, reference, expressions = current()
    base = set(problems(original, reference, expressions, builtin_action_args(), BUILTIN_FUNCTIONS))
    found = problems(schema, reference, expressions, actions or builtin_action_args(), functions)
    return [f for f in found if f not in base]


def current() -> tuple[dict[str, Any], str, str]:
    return (
        json.loads(SCHEMA.read_text(encoding="utf-8")),
        REFERENCE.read_text(encoding="utf-8"),
        EXPRESSIONS.read_text(encoding="utf-8"),
    )


def test_the_reference_describes_every_key_type_action_argument_and_function() -> None:
    schema, reference, expressions = current()
    found = problems(schema, reference, expressions, builtin_action_args(), BUILTIN_FUNCTIONS)
    assert found == [], "\n".join(found)


def test_the_walk_sees_every_level_of_the_schema() -> None:
    schema, _, _ = current()
    objects = schema_objects(schema)
    assert objects["#"] >= {"wfdsl", "name", "states", "schedule", "id_reuse"}
    assert "jitter" in objects["#/$defs/retry_rule"]
    assert "at_least" in objects["#/$defs/wait_alternative"]
    assert set(state_types(schema)) == {
        "task", "choice", "wait", "parallel", "map", "set",
        "emit", "subflow", "compensate", "succeed", "fail",
    }  # fmt: skip
    assert builtin_action_args()["http"] >= {"url", "method", "expect"}


def test_an_undocumented_key_of_a_state_fails_and_says_where_to_add_it() -> None:
    schema = current()[0]
    extended = copy.deepcopy(schema)
    extended["$defs"]["task_state"]["properties"]["heartbeat_timeout"] = {"type": "string"}
    (found,) = added(extended)
    assert "`heartbeat_timeout` at #/$defs/task_state" in found
    assert "add a row `| \\`heartbeat_timeout\\` |" in found
    assert "section '`task`'" in found


def test_an_undocumented_key_deep_inside_fails_too() -> None:
    schema = current()[0]
    extended = copy.deepcopy(schema)
    extended["$defs"]["schedule"]["properties"]["jitter"] = {"type": "string"}
    extended["$defs"]["handler_emit"]["properties"]["delay"] = {"type": "string"}
    found = added(extended)
    assert len(found) == 2
    assert "`jitter` at #/$defs/schedule" in found[1] and "section 'schedule'" in found[1]
    assert "`delay` at #/$defs/handler_emit" in found[0] and "section 'handlers'" in found[0]


def test_a_new_object_in_the_schema_asks_for_a_section() -> None:
    schema = current()[0]
    extended = copy.deepcopy(schema)
    extended["$defs"]["callback"] = {"type": "object", "properties": {"token": {}}}
    extended["properties"]["limits"] = {"type": "object", "properties": {"max_steps": {}}}
    found = added(extended)
    assert len(found) == 3
    assert "the key `limits` at #," in found[0]  # a new key of the document, and
    assert "`<!-- schema: #/$defs/callback -->`" in found[1]
    assert "`<!-- schema: #/properties/limits -->`" in found[2]  # the object it holds


def test_a_new_state_type_asks_for_its_section() -> None:
    schema = current()[0]
    extended = copy.deepcopy(schema)
    extended["$defs"]["state"]["properties"]["type"]["enum"].append("callback")
    (found,) = added(extended)
    assert "state type `callback`" in found and "### \\`callback\\`" in found


def test_a_new_argument_or_action_and_a_new_function_ask_for_their_rows() -> None:
    schema = current()[0]
    actions = {**builtin_action_args(), "sleep": {"seconds"}}
    actions["http"] = actions["http"] | {"retries"}
    found = added(schema, actions, [*BUILTIN_FUNCTIONS, "sha256"])
    assert len(found) == 3
    assert "`http` takes the argument `retries`" in found[0]
    assert "`<!-- action: sleep -->`" in found[1]
    assert "`sha256`" in found[2] and "docs/expressions.md" in found[2]


def test_no_shipped_file_points_to_the_unshipped_language_contract() -> None:
    """The contract the project was written from is not in the repository;
    docs/ is the reference, so nothing may send a reader elsewhere."""
    name = "DSL" + ".md"  # spelled apart so this file does not match itself
    shipped = [ROOT / "README.md", *(ROOT / "docs").rglob("*.md")]
    for folder in ("wfdsl", "dsl", "interpreter", "designer", "schemas", "examples", "tests"):
        shipped += [
            p for p in (ROOT / folder).rglob("*") if p.suffix in {".py", ".md", ".json", ".yaml"}
        ]
    shipped += list((ROOT / "dsl").rglob("*.lark"))
    found = [
        f"{path.relative_to(ROOT)}:{number}"
        for path in shipped
        for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1)
        if name in line
    ]
    assert found == [], f"these point to {name}; link the page of docs/ instead: {found}"
