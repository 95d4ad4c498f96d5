"""`wfdsl validate` and `wfdsl schema` (docs/cli.md): exit codes, the
`file:line:col: severity[CODE]` line with source and caret, JSON mode."""

from __future__ import annotations

import json
import re
from importlib.resources import files
from pathlib import Path

import pytest
from click.testing import CliRunner

from wfdsl.cli import cli

ROOT = Path(__file__).resolve().parents[2]
EXAMPLES = sorted((ROOT / "examples").glob("*.yaml"))
INVALID = sorted((ROOT / "tests" / "dsl" / "invalid").glob("*.yaml"))
FINDING_LINE = re.compile(
    r"^(?P<file>[^\s:]+):(?P<line>\d+):(?P<col>\d+): (?P<severity>error|warning|info)\[(?P<code>WF\d{3})\]: .+"
)

WARNING_ONLY = """\
wfdsl: "1"
name: warn
start: a
states:
  a: {type: task, action: log, args: {message: hi}, end: true}
  orphan: {type: task, action: log, args: {message: never}, end: true}
"""


def invoke(*args: str, input: str | None = None):
    return CliRunner().invoke(cli, list(args), input=input, catch_exceptions=False)


@pytest.mark.parametrize("example", EXAMPLES, ids=lambda p: p.stem)
def test_examples_are_clean(example: Path) -> None:
    result = invoke("validate", "--strict", str(example))
    assert result.exit_code == 0, result.output
    assert result.output.strip() == "no problems in 1 file"


def test_several_files_get_one_summary_line() -> None:
    result = invoke("validate", *map(str, EXAMPLES))
    assert result.exit_code == 0
    assert result.output.strip() == f"no problems in {len(EXAMPLES)} files"


@pytest.mark.parametrize("flow", INVALID, ids=lambda p: p.stem)
def test_invalid_corpus(flow: Path) -> None:
    as_json = invoke("validate", "--json", str(flow))
    report = json.loads(as_json.stdout)  # ONE JSON document, nothing else on stdout
    findings = report["files"][0]["findings"]
    assert findings, "an invalid corpus file must give at least one finding"
    errors = sum(f["severity"] == "error" for f in findings)
    assert report["errors"] == errors
    assert as_json.exit_code == (1 if errors else 0)

    human = invoke("validate", str(flow))
    assert human.exit_code == as_json.exit_code
    lines = human.output.splitlines()
    shown = [m for m in map(FINDING_LINE.match, lines) if m]
    assert [(m["code"], int(m["line"]), int(m["col"])) for m in shown] == [
        (f["code"], f["line"], f["col"]) for f in findings
    ]
    source = flow.read_text(encoding="utf-8").splitlines()
    for i, line in enumerate(lines):
        m = FINDING_LINE.match(line)
        if not m or int(m["line"]) > len(source):
            continue
        # The source line under the finding, then a caret under its column.
        gutter = f" {m['line']} | "
        assert lines[i + 1].startswith(gutter)
        caret = lines[i + 2]
        assert caret.index("^") - len(gutter) == int(m["col"]) - 1, (lines[i + 1], caret)
    assert re.fullmatch(
        r"(\d+ errors?)?(, )?(\d+ warnings?)?(, )?(\d+ infos?)? in 1 file", lines[-1]
    )


def test_caret_spans_the_offending_token(tmp_path: Path) -> None:
    flow = tmp_path / "typo.yaml"
    flow.write_text(WARNING_ONLY.replace("end: true}\n  orphan", "next: orphn}\n  orphan", 1))
    result = invoke("validate", str(flow))
    assert result.exit_code == 1
    first = result.output.splitlines()
    at = next(i for i, line in enumerate(first) if "[WF201]" in line)
    assert "did you mean 'orphan'?" in first[at]
    assert first[at + 1].endswith("a: {type: task, action: log, args: {message: hi}, next: orphn}")
    assert first[at + 2].rstrip().endswith("^^^^^")


def test_missing_file_is_a_finding_not_a_traceback(tmp_path: Path) -> None:
    missing = str(tmp_path / "nope.yaml")
    result = invoke("validate", missing)
    assert result.exit_code == 1
    assert result.output.startswith(missing) and "error[WF009]" in result.output
    report = json.loads(invoke("validate", "--json", missing).stdout)
    assert report["files"][0]["findings"][0]["code"] == "WF009"


def test_a_directory_is_a_finding_too(tmp_path: Path) -> None:
    result = invoke("validate", str(tmp_path))
    assert result.exit_code == 1 and "[WF009]" in result.output


def test_strict_turns_warnings_into_failure(tmp_path: Path) -> None:
    flow = tmp_path / "warn.yaml"
    flow.write_text(WARNING_ONLY)
    relaxed = invoke("validate", str(flow))
    assert relaxed.exit_code == 0
    assert "warning[WF202]" in relaxed.output
    strict = invoke("validate", "--strict", str(flow))
    assert strict.exit_code == 1
    report = json.loads(invoke("validate", "--strict", "--json", str(flow)).stdout)
    assert report["strict"] is True and report["ok"] is False


def test_json_mode_with_several_files(tmp_path: Path) -> None:
    flow = tmp_path / "warn.yaml"
    flow.write_text(WARNING_ONLY)
    result = invoke("validate", "--json", str(EXAMPLES[0]), str(flow), str(tmp_path / "gone.yaml"))
    report = json.loads(result.stdout)
    assert [f["file"] for f in report["files"]] == [
        str(EXAMPLES[0]),
        str(flow),
        str(tmp_path / "gone.yaml"),
    ]
    assert report["errors"] == 1 and report["warnings"] >= 1
    assert result.exit_code == 1
    finding = report["files"][1]["findings"][0]
    assert {"code", "severity", "message", "file", "line", "col", "path", "suggestion"} <= set(
        finding
    )


def test_summary_counts_every_file(tmp_path: Path) -> None:
    flow = tmp_path / "warn.yaml"
    flow.write_text(WARNING_ONLY)
    result = invoke("validate", str(flow), str(tmp_path / "gone.yaml"), str(EXAMPLES[0]))
    assert result.output.splitlines()[-1] == "1 error, 1 warning in 3 files"


def test_standard_input() -> None:
    result = invoke("validate", "-", input=WARNING_ONLY)
    assert result.exit_code == 0 and "<stdin>:6:3: warning[WF202]" in result.output


def test_markup_in_a_document_is_printed_as_text(tmp_path: Path) -> None:
    flow = tmp_path / "markup.yaml"
    flow.write_text(
        WARNING_ONLY.replace("orphan", "orphan_bold").replace("never", "[bold red]x[/]")
    )
    result = invoke("validate", str(flow))
    assert "[bold red]x[/]" in result.output


def test_no_colour_when_not_a_terminal(tmp_path: Path) -> None:
    result = invoke(
        "validate", str(ROOT / "tests" / "dsl" / "invalid" / "unknown_next_target.yaml")
    )
    assert "\x1b[" not in result.output


def test_usage_errors_exit_2() -> None:
    assert invoke("validate").exit_code == 2
    assert invoke("validate", "--bogus", str(EXAMPLES[0])).exit_code == 2
    assert invoke("frobnicate").exit_code == 2


def test_schema_prints_the_shipped_schema() -> None:
    result = invoke("schema")
    assert result.exit_code == 0
    shipped = json.loads(files("wfdsl.schemas").joinpath("wfdsl-1.schema.json").read_text("utf-8"))
    assert json.loads(result.stdout) == shipped


def test_version() -> None:
    result = invoke("--version")
    assert result.exit_code == 0 and re.match(r"wfdsl, version \d+\.\d+", result.output)
