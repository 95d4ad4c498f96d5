"""Text widths as the layout's input (dsl/text_metrics.py): the browser's
measurement, sent as the ``wfdsl_text`` cookie, sizes states and labels to
the text as drawn; without one (or with a bad one) the estimate does."""

from __future__ import annotations

from pathlib import Path

import pytest
from wfdsl.dsl.api import compile_text
from wfdsl.dsl.graph import build_graph
from wfdsl.dsl.layout import label_chars, layout, node_size
from wfdsl.dsl.svg import to_svg
from wfdsl.dsl.text_metrics import ESTIMATE, PRINTABLE, TextMetrics, parse_metrics

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"


DIGITS = "0123456789abcdefghijklmnopqrstuvwxyz"


def cookie(label: float, detail: float) -> str:
    """What text_metrics.js sends for a font whose every character is as wide."""

    def table(width: float) -> str:
        tenths = round(width * 10)
        return (DIGITS[tenths // 36] + DIGITS[tenths % 36]) * len(PRINTABLE)

    return f"v1.{table(label)}.{table(detail)}"


def test_a_measurement_round_trips_and_unmeasured_characters_count_an_em() -> None:
    metrics = parse_metrics(cookie(9.0, 5.0))
    assert metrics is not None
    assert metrics.width("abc", "label") == pytest.approx(27.0)
    assert metrics.width("abc") == pytest.approx(15.0)
    assert metrics.width("é", "label") == 12.0 and metrics.width("漢") == 11.0
    assert metrics.fits("abcdef", 15.0) == 3


@pytest.mark.parametrize(
    "text",
    [
        None,
        "",
        "v2" + cookie(9, 5)[2:],
        cookie(9, 5)[:-2],
        cookie(9, 5).replace(".", ";"),
        cookie(9, 5)[:-2] + "!!",
        cookie(9, 5)[:5] + "00" + cookie(9, 5)[7:],  # a character of width 0
        cookie(9, 5) + "." + "zz" * 95,
    ],
)
def test_anything_but_a_measurement_means_the_estimate(text: str | None) -> None:
    assert parse_metrics(text) is None


def test_the_estimate_is_the_layout_it_always_was() -> None:
    workflow, _ = compile_text((EXAMPLES / "order_saga.yaml").read_text(encoding="utf-8"))
    assert workflow is not None
    graph = build_graph(workflow)
    assert layout(graph, metrics=ESTIMATE) == layout(graph)
    node = next(n for n in graph.nodes if n.label == "send_confirmation")
    assert node_size(node) == (max(96.0, 7.8 * 17 + 32), 46.0)


def test_narrow_and_wide_fonts_size_states_and_cut_labels_by_their_widths() -> None:
    workflow, _ = compile_text((EXAMPLES / "signup.yaml").read_text(encoding="utf-8"))
    assert workflow is not None
    graph = build_graph(workflow)
    narrow = parse_metrics(cookie(5.0, 4.0))
    wide = parse_metrics(cookie(11.0, 9.0))
    assert narrow is not None and wide is not None
    node = next(n for n in graph.nodes if n.label == "send_verification")
    assert node_size(node, narrow)[0] == max(96.0, 5.0 * 17 + 32, 4.0 * len(node.detail or "") + 32)
    assert node_size(node, wide)[0] == pytest.approx(11.0 * 17 + 32)
    thin, fat = layout(graph, metrics=narrow), layout(graph, metrics=wide)
    assert fat.nodes[node.id][2] > thin.nodes[node.id][2]
    # An edge label's box is as wide as its text (plus padding), and the
    # SVG cuts a label to what its box holds by the same widths.
    labelled = next(i for i, e in enumerate(graph.edges) if e.label)
    text = graph.edges[labelled].label
    assert fat.labels[labelled][2] == pytest.approx(9.0 * min(len(text), 40) + 8, abs=0.1)
    assert label_chars(fat.labels[labelled], text, wide) == min(len(text), 40)
    assert f">{text}<" in to_svg(graph, fat) or len(text) > 40


def test_a_measured_table_covers_every_printable_character() -> None:
    measured = (Path(__file__).parent / "chromium_text_metrics.txt").read_text().strip()
    metrics = parse_metrics(measured)
    assert isinstance(metrics, TextMetrics)
    assert set(metrics.label) == set(PRINTABLE) == set(metrics.detail)
    # Bold 12 px is wider than 11 px, character by character.
    assert all(metrics.label[c] >= metrics.detail[c] for c in PRINTABLE)
