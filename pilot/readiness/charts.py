"""The report's three charts (latency histogram, cost per day, flag mix), drawn by pilot.charts
from the report's own `series`, so a snapshot's charts stay as frozen as its numbers."""
from __future__ import annotations

from typing import Any

from markupsafe import Markup

from pilot.charts import Series, bar_chart, histogram, horizontal_bar_chart, milliseconds, usd

FLAG_REASONS_SHOWN = 12


def latency_histogram(series: dict[str, Any] | None) -> Markup:
    """Interactions per latency bin; the last bin holds everything slower; the p95 target dashed."""
    title = "Latency histogram"
    if not series:
        return histogram([], title=title)
    width = series["bin_width_ms"]
    counts = list(series["counts"]) + [series["over"]]
    bins = [(i * width, (i + 1) * width, count) for i, count in enumerate(counts)]
    return histogram(bins, title=title, x_format=milliseconds, overflow=True,
                     target=series.get("target_ms"), target_label="p95 target")


def cost_per_day(days: list[dict[str, Any]]) -> Markup:
    """Known cost per UTC day."""
    return bar_chart([(day["day"][5:], day["usd"]) for day in days], title="Cost per day", y_format=usd)


def flag_mix(by_reason: dict[str, int]) -> Markup:
    """The most frequent flag reasons, one row each."""
    rows = sorted(by_reason.items(), key=lambda item: (-item[1], item[0]))[:FLAG_REASONS_SHOWN]
    return horizontal_bar_chart([reason for reason, _ in rows], [Series("flags", [count for _, count in rows])],
                                title="Flags by reason", label_chars=24)


def report_charts(report: dict[str, Any]) -> dict[str, Markup]:
    """The three charts of one report (live or snapshot), from its own payload."""
    series = report.get("series") or {}
    return {
        "latency": latency_histogram(series.get("latency_histogram")),
        "cost": cost_per_day(series.get("cost_per_day") or []),
        "flags": flag_mix(report["flags"]["by_reason"]),
    }
