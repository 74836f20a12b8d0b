"""Inline SVG charts for the printable report (HTML and PDF): no JavaScript, no external files.

Three small charts from the report's frozen data: the latency histogram with the p95 target,
cost per day, and the flag mix. Every text label is escaped; the result is safe Markup.
(When the analytics capability's `pilot/charts/` lands on main, these can delegate to it.)
"""
from __future__ import annotations

from typing import Any, Sequence

from markupsafe import Markup, escape

WIDTH, HEIGHT = 640, 210
LEFT, RIGHT, TOP, BOTTOM = 56, 12, 14, 40
BAR = "#2457d6"
MUTED = "#5d6878"
LINE = "#dde2ea"
TARGET = "#b3261e"


def _svg(body: str, label: str, height: int = HEIGHT) -> Markup:
    return Markup(
        f'<svg class="chart" xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {WIDTH} {height}" '
        f'width="{WIDTH}" height="{height}" role="img" aria-label="{escape(label)}" '
        f'font-family="DejaVu Sans, sans-serif" font-size="11">{body}</svg>'
    )


def _text(x: float, y: float, content: Any, *, anchor: str = "start", fill: str = MUTED, size: int = 11) -> str:
    return (f'<text x="{x:.1f}" y="{y:.1f}" text-anchor="{anchor}" fill="{fill}" font-size="{size}">'
            f"{escape(str(content))}</text>")


def _empty(label: str, message: str) -> Markup:
    return _svg(_text(WIDTH / 2, 60, message, anchor="middle"), label, height=100)


def _columns(values: Sequence[float], labels: Sequence[str], label: str, value_text) -> str:
    """Vertical bars with a y-axis at 0 and max, labels under some of the bars."""
    plot_w, plot_h = WIDTH - LEFT - RIGHT, HEIGHT - TOP - BOTTOM
    top = max(values) or 1.0
    slot = plot_w / len(values)
    parts = [f'<line x1="{LEFT}" y1="{TOP + plot_h}" x2="{WIDTH - RIGHT}" y2="{TOP + plot_h}" stroke="{LINE}"/>',
             _text(LEFT - 6, TOP + 8, value_text(top), anchor="end"),
             _text(LEFT - 6, TOP + plot_h, value_text(0), anchor="end")]
    every = max(1, len(values) // 8)
    for index, (value, name) in enumerate(zip(values, labels)):
        height = plot_h * (value / top)
        x = LEFT + index * slot
        parts.append(f'<rect x="{x + 1:.1f}" y="{TOP + plot_h - height:.1f}" width="{max(slot - 2, 1):.1f}" '
                     f'height="{height:.1f}" fill="{BAR}">'
                     f"<title>{escape(name)}: {escape(value_text(value))}</title></rect>")
        if index % every == 0:
            parts.append(_text(x + slot / 2, TOP + plot_h + 14, name, anchor="middle", size=10))
    return "".join(parts)


def latency_histogram(histogram: dict[str, Any] | None) -> Markup:
    label = "Latency histogram"
    if not histogram:
        return _empty(label, "No latency reported.")
    width = histogram["bin_width_ms"]
    counts = list(histogram["counts"]) + [histogram["over"]]
    bins = len(histogram["counts"])
    labels = [f"{i * width / 1000:g}s" for i in range(bins)] + [f"≥{bins * width / 1000:g}s"]
    body = _columns(counts, labels, label, lambda v: f"{v:,.0f}")
    target = histogram.get("target_ms")
    if target:
        plot_w = WIDTH - LEFT - RIGHT
        x = LEFT + plot_w * (target / width) / len(counts)
        body += (f'<line x1="{x:.1f}" y1="{TOP}" x2="{x:.1f}" y2="{HEIGHT - BOTTOM}" stroke="{TARGET}" '
                 f'stroke-dasharray="4 3"/>' + _text(x + 4, TOP + 10, f"p95 target {target:,.0f} ms", fill=TARGET))
    body += _text(LEFT, HEIGHT - 6, "interactions per latency bin", size=10)
    return _svg(body, label)


def cost_per_day(days: list[dict[str, Any]]) -> Markup:
    label = "Cost per day"
    known = [day for day in days if day["usd"] is not None]
    if not known:
        return _empty(label, "No known cost yet.")
    values = [day["usd"] or 0.0 for day in days]
    labels = [day["day"][5:] for day in days]
    body = _columns(values, labels, label, lambda v: f"${v:,.2f}")
    body += _text(LEFT, HEIGHT - 6, "known cost per UTC day (USD)", size=10)
    return _svg(body, label)


def flag_mix(by_reason: dict[str, int]) -> Markup:
    label = "Flags by reason"
    if not by_reason:
        return _empty(label, "No flags yet.")
    rows = sorted(by_reason.items(), key=lambda item: (-item[1], item[0]))[:12]
    row_h, name_w = 18, 150
    height = TOP + row_h * len(rows) + 10
    top = max(count for _, count in rows) or 1
    plot_w = WIDTH - name_w - RIGHT - 50
    parts = []
    for index, (reason, count) in enumerate(rows):
        y = TOP + index * row_h
        bar = plot_w * count / top
        parts.append(_text(name_w - 6, y + 12, reason, anchor="end"))
        parts.append(f'<rect x="{name_w}" y="{y + 2}" width="{max(bar, 1):.1f}" height="{row_h - 5}" fill="{BAR}"/>')
        parts.append(_text(name_w + bar + 5, y + 12, f"{count:,}"))
    return _svg("".join(parts), label, height=height)


def report_charts(report: dict[str, Any]) -> dict[str, Markup]:
    """The three charts of one report (live or snapshot), from its own payload."""
    series = report.get("series") or {}
    return {
        "latency": latency_histogram(series.get("latency_histogram")),
        "cost": cost_per_day(series.get("cost_per_day") or []),
        "flags": flag_mix(report["flags"]["by_reason"]),
    }
