"""WF403 undeclared-input: a read of an input field the input schema does not declare.

When the document declares an ``input`` schema, a read of ``input.sku``
where the schema's ``properties`` only name ``skus`` is almost always a typo
that the run would only find later (a null where a value was expected). The
check follows each literal path through ``properties``, ``items``,
``additionalProperties`` (a schema) and local ``$ref``s; it says nothing
where the schema cannot tell (no ``properties`` at that level, a matching
``patternProperties``, a combinator such as ``anyOf``, a computed key).
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Mapping
from typing import Any

from ..findings import Finding
from ..sites import iter_sites
from ..suggest import did_you_mean
from .context import CheckContext

__all__ = ["check_inputs"]

_UNKNOWN = object()


def check_inputs(ctx: CheckContext) -> Iterator[Finding]:
    schema = ctx.workflow.input_schema
    if not isinstance(schema, Mapping):
        return
    reported: set[tuple[Any, ...]] = set()
    for site in iter_sites(ctx.workflow):
        if "input" not in site.names:
            continue
        for inner, _, expression in site.value.expressions():
            for use in expression.name_uses:
                if use.name != "input" or use.guarded or len(use.path) < 2:
                    continue
                problem = _undeclared(schema, use.path[1:])
                if problem is None:
                    continue
                where, key, declared = problem
                path = (*site.path, *inner)
                if (path, where) in reported:
                    continue
                reported.add((path, where))
                listed = ", ".join(f"`{name}`" for name in declared) or "no field"
                yield ctx.finding(
                    "WF403",
                    f"{site.where} reads {where}, but the input schema declares "
                    f"{listed} there, not `{key}`",
                    path,
                    suggestion=did_you_mean(key, declared)
                    or f"declare `{key}` under the input schema's `properties`",
                )


def _undeclared(
    root: Mapping[str, Any], keys: tuple[str | int, ...]
) -> tuple[str, str, list[str]] | None:
    """(the path read, the undeclared key, the declared names) or None."""
    node: Any = root
    walked = "input"
    for key in keys:
        node = _resolve(root, node)
        if not isinstance(node, Mapping) or any(k in node for k in ("anyOf", "oneOf", "allOf")):
            return None
        if isinstance(key, int):
            items = node.get("items")
            if not isinstance(items, Mapping):
                return None
            node, walked = items, f"{walked}[{key}]"
            continue
        walked = f"{walked}.{key}"
        properties = node.get("properties")
        if not isinstance(properties, Mapping):
            return None
        if key in properties:
            node = properties[key]
            continue
        patterns = node.get("patternProperties")
        if isinstance(patterns, Mapping) and any(_search(p, key) for p in patterns):
            return None
        extra = node.get("additionalProperties")
        if isinstance(extra, Mapping):
            node = extra
            continue
        return walked, key, [str(name) for name in properties]
    return None


def _resolve(root: Mapping[str, Any], node: Any, depth: int = 0) -> Any:
    """Follow a local ``$ref`` (``#/$defs/line``); anything else is left as it is."""
    while isinstance(node, Mapping) and isinstance(node.get("$ref"), str) and depth < 16:
        ref = node["$ref"]
        if not ref.startswith("#"):
            return _UNKNOWN
        target: Any = root
        for part in filter(None, ref[1:].split("/")):
            part = part.replace("~1", "/").replace("~0", "~")
            if not isinstance(target, Mapping) or part not in target:
                return _UNKNOWN
            target = target[part]
        node, depth = target, depth + 1
    return node


def _search(pattern: str, key: str) -> bool:
    try:
        return re.search(pattern, key) is not None
    except re.error:
        return True  # the schema check reports the pattern; do not guess here
