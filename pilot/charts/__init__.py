"""Server-side SVG charts: small, accessible, and the same in the browser and in WeasyPrint PDFs.

Every function takes plain lists (labels and `Series` of numbers) and returns a `Markup` string of
inline SVG, so a template writes `{{ chart }}` and no JavaScript or internet is needed. Every piece
of text that reaches the SVG (titles, labels, series names) is escaped here; numbers are formatted
here; colours come only from the palette below. Each chart is an `img` with a <title> and a <desc>
that says what the data shows, and every bar or point has its own <title> (a hover tooltip, and
what a screen reader reads). Presentation attributes rather than CSS, because WeasyPrint reads them.
"""
from __future__ import annotations

from pilot.charts.svg import (
    PALETTE,
    Series,
    bar_chart,
    donut_chart,
    histogram,
    horizontal_bar_chart,
    line_chart,
    stacked_bar_chart,
)

# The charts' tick formats are pilot.formatting's short forms, under the names the charts' callers use.
from pilot.formatting import compact_number
from pilot.formatting import ms_short as milliseconds
from pilot.formatting import pct_short as percent
from pilot.formatting import usd_short as usd

__all__ = [
    "PALETTE", "Series", "bar_chart", "compact_number", "donut_chart", "histogram", "horizontal_bar_chart",
    "line_chart", "milliseconds", "percent", "stacked_bar_chart", "usd",
]
