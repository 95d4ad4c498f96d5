"""An embedded schema (``input:``, a signal's ``schema``, a handler's
``input``) is checked against JSON Schema 2020-12 by a compiled predicate of
the flattened meta-schema, so ``wfdsl validate`` need not import jsonschema
for a valid document. The predicate must agree with jsonschema's own
meta-schema validator, both ways."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path
from typing import Any

from flat_metaschema import TARGET, text
from hypothesis import given, settings
from hypothesis import strategies as st
from jsonschema import Draft202012Validator  # type: ignore[import-untyped]
from wfdsl.dsl import schema_check

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"
META = Draft202012Validator(Draft202012Validator.META_SCHEMA)


def _agree(schema: Any) -> None:
    predicate = schema_check._meta_predicate()
    assert predicate is not None
    assert predicate(schema) == META.is_valid(schema), schema


def test_the_shipped_flat_metaschema_is_the_one_made_from_jsonschemas_copy() -> None:
    assert TARGET.read_text(encoding="utf-8") == text(), (
        "run python tests/dsl/flat_metaschema.py to write it again"
    )


SCALARS = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(-3, 3),
    st.floats(-2, 2, allow_nan=False),
    st.sampled_from(["", "string", "object", "array", "integer", "nope", "#x", "a#b", "^a$"]),
)
KEYWORDS = st.sampled_from(
    [
        "type", "properties", "required", "items", "prefixItems", "enum", "const",
        "minimum", "maxLength", "minLength", "minItems", "uniqueItems", "pattern",
        "additionalProperties", "patternProperties", "allOf", "anyOf", "oneOf", "not",
        "if", "then", "else", "$ref", "$id", "$anchor", "$defs", "definitions",
        "dependencies", "dependentRequired", "dependentSchemas", "format", "title",
        "deprecated", "examples", "contentSchema", "unevaluatedProperties",
        "$vocabulary", "multipleOf", "exclusiveMinimum", "maxContains", "x-custom",
    ]
)  # fmt: skip


def _schemas() -> st.SearchStrategy[Any]:
    return st.recursive(
        SCALARS,
        lambda inner: st.one_of(
            st.lists(inner, max_size=3),
            st.dictionaries(KEYWORDS, inner, max_size=4),
            st.lists(st.sampled_from(["string", "number", "null", "string"]), max_size=3),
        ),
        max_leaves=12,
    )


@settings(max_examples=600, deadline=None)
@given(_schemas())
def test_the_predicate_agrees_with_jsonschema_on_generated_schemas(schema: Any) -> None:
    _agree(schema)


def test_the_predicate_agrees_on_hand_picked_schemas() -> None:
    cases = [
        True, False, {}, {"type": "objekt"}, {"type": ["string", "string"]},
        {"type": []}, {"required": ["a", "a"]}, {"required": "a"},
        {"minLength": -1}, {"minLength": 1.0}, {"minLength": True},
        {"properties": {"a": {"type": "string"}, "b": 3}},
        {"$id": "x#frag"}, {"$id": "x#"}, {"$anchor": "1bad"}, {"enum": []},
        {"allOf": []}, {"multipleOf": 0}, {"multipleOf": 0.5},
        {"dependencies": {"a": ["b"], "c": {"type": "string"}}},
        {"dependencies": {"a": [1]}}, {"$defs": {"a": {"type": 1}}},
        {"items": [{"type": "string"}]}, {"prefixItems": []},
        {"pattern": "["}, {"format": 3}, {"x-anything": {"type": 3}},
        {"type": "object", "properties": {"email": {"type": "string", "format": "email"}},
         "required": ["email"], "additionalProperties": False},
    ]  # fmt: skip
    for case in cases:
        _agree(case)


def test_every_examples_embedded_schema_is_judged_alike() -> None:
    from ruamel.yaml import YAML

    seen = 0
    for path in sorted(EXAMPLES.rglob("*.yaml")):
        data = YAML(typ="safe").load(path.read_text(encoding="utf-8"))
        if not isinstance(data, dict):
            continue
        for _, embedded in schema_check._embedded(data):
            _agree(embedded)
            seen += 1
    assert seen >= 3  # the walk found the examples' schemas


def test_validating_a_document_with_an_input_schema_does_not_import_jsonschema(
    tmp_path: Path,
) -> None:
    flow = tmp_path / "small.yaml"
    flow.write_text(
        'wfdsl: "1"\nname: small\n'
        "input: {type: object, required: [email], properties: {email: {type: string}}}\n"
        "start: done\nstates:\n  done: {type: succeed}\n",
        encoding="utf-8",
    )
    probe = (
        "import sys\n"
        "from wfdsl.dsl.api import validate_text\n"
        f"findings = validate_text(open({str(flow)!r}).read(), 'small.yaml')\n"
        "assert not [f for f in findings if f.severity == 'error'], findings\n"
        "print('jsonschema' in sys.modules)\n"
    )
    done = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "False"


def test_a_broken_embedded_schema_is_still_explained() -> None:
    from wfdsl.dsl.api import validate_text

    findings = validate_text(
        'wfdsl: "1"\nname: small\ninput: {type: objekt}\nstart: done\n'
        "states:\n  done: {type: succeed}\n",
        "small.yaml",
    )
    assert [f.code for f in findings if f.code == "WF107"] == ["WF107"]
