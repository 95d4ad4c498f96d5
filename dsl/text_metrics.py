"""How wide the graph's text is: the layout's input for node and label boxes.

The designer's browser measures its own font once (canvas ``measureText``,
designer/static/text_metrics.js) and sends the advance width of every
printable ASCII character for the two kinds of text the drawing has: state
names (bold, 12 px) and details and edge labels (11 px). Without a
measurement (the CLI's ``wfdsl graph``, a first request) the widths are a
per-character estimate, a little over DejaVu Sans' average, which is what
the layout has always used. Pure: no file, no font, no browser here.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Final, Literal

__all__ = ["ESTIMATE", "PRINTABLE", "TextMetrics", "parse_metrics"]

#: The characters a measurement covers, in this order: space to tilde.
PRINTABLE: Final = "".join(chr(c) for c in range(32, 127))

Kind = Literal["label", "detail"]


@dataclass(frozen=True, slots=True)
class TextMetrics:
    """Advance widths (drawing units) of each measured character, per kind
    of text; a character outside the table counts ``other`` (one em, wider
    than any measured Latin glyph, so unmeasured text is never cut short)."""

    label: Mapping[str, float] = field(default_factory=dict)
    detail: Mapping[str, float] = field(default_factory=dict)
    label_other: float = 7.8
    detail_other: float = 6.6

    def width(self, text: str, kind: Kind = "detail") -> float:
        """The width of ``text`` set as ``kind`` (kerning left out)."""
        table, other = (
            (self.label, self.label_other) if kind == "label" else (self.detail, self.detail_other)
        )
        if not table:  # the estimate: exactly what the layout always computed
            return other * len(text)
        return sum(table.get(ch, other) for ch in text)

    def fits(self, text: str, width: float, kind: Kind = "detail") -> int:
        """How many leading characters of ``text`` fit in ``width``."""
        table, other = (
            (self.label, self.label_other) if kind == "label" else (self.detail, self.detail_other)
        )
        used = 0.0
        for count, ch in enumerate(text):
            used += table.get(ch, other)
            if used > width + 0.05:
                return count
        return len(text)


#: The estimate used without a measurement: 7.8 units a character of a
#: state name, 6.6 of other text.
ESTIMATE: Final = TextMetrics()

#: A measurement's widths are sent in tenths of a unit, two base-36 digits
#: each (0 to 129.5); this bounds what a client can make the layout believe.
_DIGITS: Final = 2
_MAX_TENTHS: Final = 36**_DIGITS - 1


def parse_metrics(text: str | None) -> TextMetrics | None:
    """The metrics in ``text`` (``v1.<label widths>.<detail widths>``, each
    the characters of :data:`PRINTABLE` in order, two base-36 digits of
    tenths a character); ``None`` for anything else (then: the estimate)."""
    if not text or len(text) > 8 + 2 * _DIGITS * len(PRINTABLE):
        return None
    parts = text.split(".")
    if len(parts) != 3 or parts[0] != "v1":
        return None
    tables: list[dict[str, float]] = []
    for part in parts[1:]:
        if len(part) != _DIGITS * len(PRINTABLE):
            return None
        try:
            tenths = [int(part[i : i + _DIGITS], 36) for i in range(0, len(part), _DIGITS)]
        except ValueError:
            return None
        if any(t <= 0 or t > _MAX_TENTHS for t in tenths[1:]):  # a space may be narrow, not 0
            return None
        tables.append({ch: t / 10 for ch, t in zip(PRINTABLE, tenths, strict=True)})
    label, detail = tables
    return TextMetrics(
        label=label,
        detail=detail,
        label_other=max(12.0, math.ceil(max(label.values()))),
        detail_other=max(11.0, math.ceil(max(detail.values()))),
    )
