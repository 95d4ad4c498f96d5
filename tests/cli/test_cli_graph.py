"""`wfdsl graph`: every format on an example, -o, and exit 2 on an invalid document."""

from __future__ import annotations

import json
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest
from click.testing import CliRunner

from wfdsl.cli import cli

ROOT = Path(__file__).resolve().parents[2]
SAGA = ROOT / "examples" / "order_saga.yaml"
SAGA_STATES = (
    "save_order",
    "reserve_inventory",
    "charge_payment",
    "send_confirmation",
    "completed",
    "undo_order",
    "payment_failed",
)


def invoke(*args: str):
    return CliRunner().invoke(cli, list(args), catch_exceptions=False)


def test_mermaid_is_the_default_and_has_every_state() -> None:
    result = invoke("graph", str(SAGA))
    assert result.exit_code == 0, result.output
    assert result.stdout.startswith("flowchart TD")
    for state in SAGA_STATES:
        assert f'"{state}' in result.stdout
    assert '|"CardDeclined"|' in result.stdout


def test_dot() -> None:
    result = invoke("graph", str(SAGA), "--format", "dot")
    assert result.exit_code == 0
    dot = result.stdout
    assert dot.startswith('digraph "order-saga" {') and dot.rstrip().endswith("}")
    assert dot.count("{") == dot.count("}") and dot.count('"') % 2 == 0
    assert '"charge_payment" -> "undo_order" [label="CardDeclined", style=dashed];' in dot


def test_json() -> None:
    result = invoke("graph", str(SAGA), "--format", "json")
    data = json.loads(result.stdout)
    assert data["name"] == "order-saga"
    assert {n["id"] for n in data["nodes"]} >= set(SAGA_STATES)
    kinds = {(e["source"], e["target"]): e["kind"] for e in data["edges"]}
    assert kinds[("charge_payment", "undo_order")] == "catch"
    assert (
        next(n for n in data["nodes"] if n["id"] == "charge_payment")["path"]
        == "$.states.charge_payment"
    )


def test_svg_is_well_formed_xml(tmp_path: Path) -> None:
    out = tmp_path / "saga.svg"
    result = invoke("graph", str(SAGA), "-o", str(out))  # format from the suffix
    assert result.exit_code == 0 and result.stdout == ""
    root = ET.parse(out).getroot()
    assert root.tag == "{http://www.w3.org/2000/svg}svg"
    texts = {t.text for t in root.iter("{http://www.w3.org/2000/svg}text")}
    assert set(SAGA_STATES) <= texts


@pytest.mark.parametrize(
    "flow", ["unknown_next_target.yaml", "yaml_syntax_error.yaml", "not_a_mapping.yaml"]
)
def test_invalid_document_exits_2_with_findings_on_stderr(flow: str) -> None:
    result = invoke("graph", str(ROOT / "tests" / "dsl" / "invalid" / flow))
    assert result.exit_code == 2
    assert result.stdout == ""
    assert "error[WF" in result.stderr and "not drawn" in result.stderr


def test_missing_file_exits_2(tmp_path: Path) -> None:
    result = invoke("graph", str(tmp_path / "gone.yaml"))
    assert result.exit_code == 2 and "[WF009]" in result.stderr


def test_unwritable_output_is_a_usage_error_not_a_traceback(tmp_path: Path) -> None:
    result = invoke("graph", str(SAGA), "-o", str(tmp_path / "no" / "such" / "dir.svg"))
    assert result.exit_code == 1 and "Could not open file" in result.output + result.stderr


def test_unknown_format_is_a_usage_error() -> None:
    assert invoke("graph", str(SAGA), "--format", "png").exit_code == 2
