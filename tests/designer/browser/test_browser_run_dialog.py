"""The Run dialog starts from what the flow says about its input: the input
saved beside it (STEM.input.json, the file `wfdsl run --input @FILE`
reads), else a skeleton of its `input` schema with a field per property;
the input can be saved there for the next run."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from tests.designer.browser.test_browser_editor import open_editor


def test_the_run_dialog_starts_from_the_input_schema_and_saves_the_input(
    designer: Any, page: Any, artifacts: Path
) -> None:
    saved = designer.workspace / "api_orchestration.input.json"
    saved.unlink(missing_ok=True)
    open_editor(page, designer, "api_orchestration.yaml")
    page.click("#start-run")
    page.wait_for_selector("#run-field-base_url")
    source = page.locator("#run-input-source").inner_text()
    assert "skeleton of the workflow's input schema" in source, source
    assert json.loads(page.input_value("#run-input")) == {"base_url": "", "request_id": ""}
    # Each field writes its key into the JSON that is sent.
    page.fill("#run-field-base_url", "http://127.0.0.1:9")
    page.fill("#run-field-request_id", "r-1")
    assert json.loads(page.input_value("#run-input")) == {
        "base_url": "http://127.0.0.1:9",
        "request_id": "r-1",
    }
    assert page.is_checked("#run-save-input")
    assert "api_orchestration.input.json" in page.inner_text("#run-save-input-label")
    page.screenshot(path=str(artifacts / "run-dialog-schema.png"))
    page.click("#run-submit")
    page.wait_for_url("**/runs/**")
    assert json.loads(saved.read_text(encoding="utf-8")) == {
        "base_url": "http://127.0.0.1:9",
        "request_id": "r-1",
    }

    # The next time, the dialog starts from the saved file.
    open_editor(page, designer, "api_orchestration.yaml")
    page.click("#start-run")
    page.wait_for_function(
        "() => document.getElementById('run-input-source').textContent.includes('input saved')"
    )
    assert json.loads(page.input_value("#run-input"))["request_id"] == "r-1"
    assert page.input_value("#run-field-request_id") == "r-1"
    assert not page.is_checked("#run-save-input")


def test_a_saved_input_beside_the_flow_fills_the_dialog(
    designer: Any, page: Any, artifacts: Path
) -> None:
    expected = json.loads((designer.workspace / "order_saga.input.json").read_text())
    open_editor(page, designer, "order_saga.yaml")
    page.click("#start-run")
    page.wait_for_function(
        "() => document.getElementById('run-input-source').textContent.includes('order_saga.input.json')"
    )
    assert json.loads(page.input_value("#run-input")) == expected
    # The schema's plain fields show the saved values; a list is edited as JSON.
    assert page.input_value("#run-field-email") == expected["email"]
    assert page.input_value("#run-field-amount") == str(expected["amount"])
    assert json.loads(page.input_value("#run-field-items")) == expected["items"]
    page.screenshot(path=str(artifacts / "run-dialog-saved-input.png"))
    page.click("#run-cancel")
