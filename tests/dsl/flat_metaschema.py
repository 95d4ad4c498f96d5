"""Writes schemas/json-schema-2020-12.flat.json: JSON Schema 2020-12's
meta-schema with its seven vocabularies inlined as ``$defs`` and every
``$dynamicRef: "#meta"`` pointed at the whole (which is what it resolves to
when a schema is checked against the 2020-12 meta-schema itself).

The flat copy lets ``wfdsl validate`` answer "is this embedded schema
valid?" with a compiled predicate, without importing jsonschema; jsonschema
explains only the ones the predicate rejects. ``test_flat_metaschema.py``
fails when the shipped file is not what this module makes from the
meta-schemas jsonschema bundles. Run ``python tests/dsl/flat_metaschema.py``
to write it again.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

ROOT_URI = "https://json-schema.org/draft/2020-12/schema"
VOCABULARIES = (
    "core",
    "applicator",
    "unevaluated",
    "validation",
    "meta-data",
    "format-annotation",
    "content",
)
# Identification and annotations: nothing that makes an instance invalid.
DROPPED = {"$schema", "$id", "$vocabulary", "$dynamicAnchor", "$comment", "title", "default"}
TARGET = Path(__file__).resolve().parents[2] / "schemas" / "json-schema-2020-12.flat.json"


def _rewrite(node: Any, vocabulary: str | None) -> Any:
    if isinstance(node, list):
        return [_rewrite(item, vocabulary) for item in node]
    if not isinstance(node, dict):
        return node
    out: dict[str, Any] = {}
    for key, value in node.items():
        if key in DROPPED or key == "$defs":
            continue
        if key == "$dynamicRef":
            if value != "#meta":
                raise ValueError(f"unexpected $dynamicRef {value!r}")
            out["$ref"] = "#/$defs/meta"
        elif key == "$ref":
            out["$ref"] = _pointer(value, vocabulary)
        elif key in ("properties", "patternProperties", "dependentSchemas"):
            # Keys here are property names, not keywords: keep them all.
            out[key] = {name: _rewrite(sub, vocabulary) for name, sub in value.items()}
        else:
            out[key] = _rewrite(value, vocabulary)
    return out


def _pointer(ref: str, vocabulary: str | None) -> str:
    """A reference of the meta-schemas as a ``#/$defs/<name>`` of the flat one."""
    target, _, fragment = ref.partition("#")
    if target.startswith("meta/"):
        vocabulary = target[len("meta/") :]
    elif target:
        raise ValueError(f"unexpected $ref {ref!r}")
    if not fragment:
        return f"#/$defs/{vocabulary}"
    prefix = "/$defs/"
    if not fragment.startswith(prefix) or "/" in fragment[len(prefix) :]:
        raise ValueError(f"unexpected $ref {ref!r}")
    return f"#/$defs/{vocabulary}.{fragment[len(prefix) :]}"


def flat_metaschema() -> dict[str, Any]:
    from jsonschema_specifications import REGISTRY  # type: ignore[import-untyped]

    defs: dict[str, Any] = {}
    for vocabulary in VOCABULARIES:
        contents = REGISTRY.contents(f"https://json-schema.org/draft/2020-12/meta/{vocabulary}")
        defs[vocabulary] = _rewrite(contents, vocabulary)
        for name, sub in contents.get("$defs", {}).items():
            defs[f"{vocabulary}.{name}"] = _rewrite(sub, vocabulary)
    root = REGISTRY.contents(ROOT_URI)
    if root.get("$defs"):
        raise ValueError("the 2020-12 meta-schema grew $defs of its own")
    defs["meta"] = _rewrite(root, None)
    return {
        "$comment": (
            "JSON Schema 2020-12's meta-schema, flattened for wfdsl's compiled "
            "validity check; written by tests/dsl/flat_metaschema.py"
        ),
        "$ref": "#/$defs/meta",
        "$defs": dict(sorted(defs.items())),
    }


def text() -> str:
    return json.dumps(flat_metaschema(), indent=1, sort_keys=False) + "\n"


if __name__ == "__main__":
    TARGET.write_text(text(), encoding="utf-8")
    print(f"wrote {TARGET.name}")
