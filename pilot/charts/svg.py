"""The chart functions. Coordinates are in viewBox units; the SVG scales to its container's width."""
from __future__ import annotations

import hashlib
import math
from dataclasses import dataclass
from typing import Callable, Sequence

from markupsafe import Markup, escape

from pilot.formatting import compact_number
from pilot.formatting import pct_short as percent

# Okabe–Ito, reordered: distinguishable with the common colour-vision deficiencies.
PALETTE = ("#2457d6", "#e69f00", "#009e73", "#cc79a7", "#56b4e9", "#d55e00", "#6b7280", "#f0e442", "#0b3d91")
POSITIVE, NEGATIVE, TARGET = "#1c7c4a", "#b3261e", "#b3261e"
INK, MUTED, GRID = "#1c2330", "#5d6878", "#e3e7ee"
FONT = "system-ui, -apple-system, 'Segoe UI', Roboto, 'DejaVu Sans', sans-serif"
WIDTH, HEIGHT = 480, 240  # read at ~330–560 px wide: text stays ≥ 9 px on a phone
MARGIN_LEFT, MARGIN_RIGHT, MARGIN_TOP, MARGIN_BOTTOM = 58, 18, 14, 40
FONT_SIZE = 13
CHAR_WIDTH = 7.2  # average glyph width at FONT_SIZE, for fitting labels
Formatter = Callable[[float], str]


@dataclass(frozen=True)
class Series:
    """One named row of values, aligned with the chart's labels; None is a gap (no data)."""

    name: str
    values: Sequence[float | None]
    color: str | None = None


def _clean(value: float | None) -> float | None:
    """None for missing, NaN or infinite values: they are gaps, never drawn as zero."""
    if value is None:
        return None
    value = float(value)
    return value if math.isfinite(value) else None


def _num(value: float) -> str:
    """A coordinate with two decimals (short SVG, no exponent notation)."""
    return f"{value:.2f}".rstrip("0").rstrip(".")


def _color(series: Series, index: int) -> str:
    """A palette colour: a series may name one of ours, never an arbitrary string."""
    return series.color if series.color in PALETTE + (POSITIVE, NEGATIVE) else PALETTE[index % len(PALETTE)]


def _nice_ticks(low: float, high: float, count: int = 5) -> list[float]:
    """Round tick values (1, 2, 2.5 or 5 × 10^k) from `low` up to at least `high`."""
    if high <= low:
        high = low + (abs(low) or 1.0)
    raw_step = (high - low) / count
    magnitude = 10 ** math.floor(math.log10(raw_step))
    step = next(m * magnitude for m in (1, 2, 2.5, 5, 10) if m * magnitude >= raw_step)
    start = math.floor(low / step) * step
    ticks, value = [], start
    while value < high + step * 0.999:
        ticks.append(round(value, 12))
        value += step
    return ticks


def _chart_id(kind: str, title: str, payload: object) -> str:
    """A stable id for the aria references: same chart, same id (deterministic output)."""
    digest = hashlib.sha1(f"{kind}|{title}|{payload!r}".encode()).hexdigest()[:10]
    return f"chart-{kind}-{digest}"


def _open(kind: str, title: str, description: str, height: float, payload: object) -> tuple[str, list[str]]:
    chart_id = _chart_id(kind, title, payload)
    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" class="chart chart-{kind}" viewBox="0 0 {WIDTH} {_num(height)}"'
        f' width="100%" role="img" aria-labelledby="{chart_id}-title {chart_id}-desc"'
        f' font-family="{FONT}" font-size="{FONT_SIZE}">',
        f'<title id="{chart_id}-title">{escape(title)}</title>',
        f'<desc id="{chart_id}-desc">{escape(description)}</desc>',
    ]
    return chart_id, parts


def _close(parts: list[str]) -> Markup:
    parts.append("</svg>")
    return Markup("".join(parts))


def _empty(kind: str, title: str, message: str = "No data yet") -> Markup:
    _, parts = _open(kind, title, message, 120, ())
    parts.append(f'<rect x="0.5" y="0.5" width="{WIDTH - 1}" height="119" rx="6" fill="#f6f7f9" stroke="{GRID}"/>')
    parts.append(f'<text x="{WIDTH / 2}" y="66" text-anchor="middle" fill="{MUTED}">{escape(message)}</text>')
    return _close(parts)


def _text(x: float, y: float, text: str, *, anchor: str = "start", fill: str = MUTED, size: int | None = None,
          weight: str | None = None) -> str:
    extra = (f' font-size="{size}"' if size else "") + (f' font-weight="{weight}"' if weight else "")
    return (f'<text x="{_num(x)}" y="{_num(y)}" text-anchor="{anchor}" fill="{fill}"{extra}>'
            f"{escape(text)}</text>")


def _fit(label: str, max_chars: int) -> str:
    """Shorten a label to fit; the full text stays in the element's <title>."""
    return label if len(label) <= max_chars else label[: max(1, max_chars - 1)] + "…"


@dataclass(frozen=True)
class _Key:
    """One legend entry: a colour swatch, or a dashed line for a target."""

    name: str
    color: str
    dashed: bool = False


def _keys(series: Sequence[Series], target_text: str | None) -> list[_Key]:
    """Legend entries: the series when there are several, and the target line if any."""
    keys = [_Key(_fit(item.name, 32), _color(item, i)) for i, item in enumerate(series)] if len(series) > 1 else []
    return keys + ([_Key(target_text, TARGET, dashed=True)] if target_text else [])


def _legend_layout(keys: Sequence[_Key], left: float) -> tuple[list[tuple[float, float, _Key]], float]:
    """Where each legend entry goes, wrapping onto new rows; and the height the legend takes."""
    placed, x, y = [], left, MARGIN_TOP + 10
    for key in keys:
        width = (30 if key.dashed else 17) + len(key.name) * CHAR_WIDTH + 16
        if x > left and x + width > WIDTH - MARGIN_RIGHT:
            x, y = left, y + 20
        placed.append((x, y, key))
        x += width
    return placed, (y - MARGIN_TOP + 12 if keys else 0)


def _legend(parts: list[str], placed: Sequence[tuple[float, float, _Key]]) -> None:
    for x, y, key in placed:
        if key.dashed:
            parts.append(f'<line x1="{_num(x)}" y1="{_num(y - 4)}" x2="{_num(x + 24)}" y2="{_num(y - 4)}"'
                         f' stroke="{key.color}" stroke-width="1.5" stroke-dasharray="6 4"/>')
            parts.append(_text(x + 30, y, key.name, fill=key.color))
        else:
            parts.append(f'<rect x="{_num(x)}" y="{_num(y - 10)}" width="12" height="12" rx="2" fill="{key.color}"/>')
            parts.append(_text(x + 17, y, key.name, fill=INK))


@dataclass
class _Plot:
    """The plot area of a chart with a category x axis and a numeric y axis."""

    top: float
    height: float
    ticks: list[float]
    count: int
    left: float = MARGIN_LEFT

    @property
    def width(self) -> float:
        return WIDTH - self.left - MARGIN_RIGHT

    @property
    def bottom(self) -> float:
        return self.top + self.height

    def y(self, value: float) -> float:
        low, high = self.ticks[0], self.ticks[-1]
        return self.bottom - (value - low) / (high - low) * self.height

    def slot(self) -> float:
        return self.width / max(self.count, 1)

    def x_center(self, index: int) -> float:
        return self.left + self.slot() * (index + 0.5)


def _axes(parts: list[str], plot: _Plot, labels: Sequence[str], y_format: Formatter) -> None:
    """Grid lines with y tick labels, and as many x labels as fit without overlapping."""
    for tick in plot.ticks:
        y = plot.y(tick)
        parts.append(f'<line x1="{_num(plot.left)}" y1="{_num(y)}" x2="{_num(plot.left + plot.width)}" y2="{_num(y)}"'
                     f' stroke="{GRID}" stroke-width="1"/>')
        parts.append(_text(plot.left - 8, y + 4, y_format(tick), anchor="end"))
    parts.append(f'<line x1="{_num(plot.left)}" y1="{_num(plot.bottom)}" x2="{_num(plot.left + plot.width)}"'
                 f' y2="{_num(plot.bottom)}" stroke="{MUTED}" stroke-width="1"/>')
    _x_labels(parts, [(plot.x_center(i), _fit(label, 14)) for i, label in enumerate(labels)], plot.bottom + 18)


def _x_labels(parts: list[str], placed: Sequence[tuple[float, str]], y: float) -> None:
    """Centred labels at evenly spaced x positions, thinned to a regular stride so none overlap;
    the last one is kept when it fits (it is the latest day, the one people look for)."""
    if not placed:
        return
    gap = placed[1][0] - placed[0][0] if len(placed) > 1 else WIDTH
    widest = max(len(label) for _, label in placed) * CHAR_WIDTH + 10
    every = max(1, math.ceil(widest / gap))
    chosen = list(range(0, len(placed), every))
    last = len(placed) - 1
    if chosen[-1] != last:
        if (last - chosen[-1]) * gap >= widest:
            chosen.append(last)
        elif len(chosen) > 1:
            chosen[-1] = last
    shown: list[tuple[float, str]] = []
    for index in chosen:
        x, label = placed[index]
        half = len(label) * CHAR_WIDTH / 2 + 4
        x = min(max(x, half), WIDTH - half)  # kept inside the image
        if shown and shown[-1][0] + len(shown[-1][1]) * CHAR_WIDTH / 2 + 4 > x - half:
            shown.pop()  # only the last label can collide (it was pulled in from the edge): it wins
        shown.append((x, label))
    parts.extend(_text(x, y, label, anchor="middle") for x, label in shown)


def _target_line(parts: list[str], plot: _Plot, target: float) -> None:
    """A dashed line at `target`, named in the legend (a label on the line would hide data)."""
    y = plot.y(target)
    parts.append(f'<line x1="{_num(plot.left)}" y1="{_num(y)}" x2="{_num(plot.left + plot.width)}" y2="{_num(y)}"'
                 f' stroke="{TARGET}" stroke-width="1.5" stroke-dasharray="6 4"/>')


def _layout(values: list[float], target: float | None, keys: Sequence[_Key], count: int,
            y_format: Formatter) -> tuple[_Plot, list]:
    """Zero-based y axis up to the highest value (or the target); the left margin fits the tick
    labels, the top makes room for the legend."""
    high = max(values + ([target * 1.08] if target is not None else []) + [0.0])
    ticks = _nice_ticks(min(values + [0.0]), high)
    left = max(MARGIN_LEFT - 20, max(len(y_format(t)) for t in ticks) * CHAR_WIDTH + 14)
    placed, legend_height = _legend_layout(keys, left)
    top = MARGIN_TOP + legend_height
    return _Plot(top=top, height=HEIGHT - top - MARGIN_BOTTOM, ticks=ticks, count=count, left=left), placed


def _describe_series(labels: Sequence[str], series: Sequence[Series], fmt: Formatter) -> str:
    pieces = []
    for item in series:
        known = [(label, v) for label, v in zip(labels, map(_clean, item.values)) if v is not None]
        if not known:
            pieces.append(f"{item.name}: no data")
            continue
        top_label, top_value = max(known, key=lambda pair: pair[1])
        pieces.append(f"{item.name}: {len(known)} values from {known[0][0]} to {known[-1][0]}, "
                      f"latest {fmt(known[-1][1])}, highest {fmt(top_value)} ({top_label})")
    return "; ".join(pieces) + "."


def line_chart(labels: Sequence[str], series: Sequence[Series], *, title: str, y_format: Formatter = compact_number,
               target: float | None = None, target_label: str = "target") -> Markup:
    """Lines over categories (days): gaps where a value is None, an optional dashed target line."""
    cleaned = [[_clean(v) for v in item.values] for item in series]
    values = [v for row in cleaned for v in row if v is not None]
    if not labels or not values:
        return _empty("line", title)
    target_text = f"{target_label} {y_format(target)}" if target is not None else None
    plot, legend = _layout(values, target, _keys(series, target_text), len(labels), y_format)
    description = _describe_series(labels, series, y_format) + (f" {target_text.capitalize()}." if target_text else "")
    _, parts = _open("line", title, description, HEIGHT, (labels, cleaned, target))
    _legend(parts, legend)
    _axes(parts, plot, labels, y_format)
    if target is not None:
        _target_line(parts, plot, target)
    for index, (item, row) in enumerate(zip(series, cleaned)):
        color = _color(item, index)
        for run in _runs(row):
            points = " ".join(f"{_num(plot.x_center(i))},{_num(plot.y(row[i]))}" for i in run)
            if len(run) > 1:
                parts.append(f'<polyline points="{points}" fill="none" stroke="{color}" stroke-width="2.2"'
                             f' stroke-linejoin="round" stroke-linecap="round"/>')
        radius = 3 if len(labels) <= 45 else 1.8
        for i, value in enumerate(row):
            if value is not None:
                parts.append(f'<circle cx="{_num(plot.x_center(i))}" cy="{_num(plot.y(value))}" r="{radius}"'
                             f' fill="{color}"><title>{escape(item.name)} · {escape(labels[i])}: '
                             f"{escape(y_format(value))}</title></circle>")
    return _close(parts)


def _runs(row: Sequence[float | None]) -> list[list[int]]:
    """Index runs between gaps, so a missing day breaks the line instead of bridging it."""
    runs: list[list[int]] = []
    current: list[int] = []
    for index, value in enumerate(row):
        if value is None:
            if current:
                runs.append(current)
            current = []
        else:
            current.append(index)
    if current:
        runs.append(current)
    return runs


def bar_chart(points: Sequence[tuple[str, float | None]], *, title: str, y_format: Formatter = compact_number,
              color: str = PALETTE[0], target: float | None = None, target_label: str = "target") -> Markup:
    """Vertical bars, one per category (e.g. interactions per day)."""
    labels = [label for label, _ in points]
    return stacked_bar_chart(labels, [Series(title, [v for _, v in points], color)], title=title, y_format=y_format,
                             target=target, target_label=target_label)


def stacked_bar_chart(labels: Sequence[str], series: Sequence[Series], *, title: str,
                      y_format: Formatter = compact_number, target: float | None = None,
                      target_label: str = "target") -> Markup:
    """Vertical bars with the series stacked bottom-up in the order given."""
    cleaned = [[_clean(v) or 0.0 for v in item.values] for item in series]
    totals = [sum(row[i] for row in cleaned) for i in range(len(labels))]
    if not labels or not any(totals):
        return _empty("bar", title)
    target_text = f"{target_label} {y_format(target)}" if target is not None else None
    plot, legend = _layout(totals, target, _keys(series, target_text), len(labels), y_format)
    description = _describe_series(labels, series, y_format) + (f" {target_text.capitalize()}." if target_text else "")
    _, parts = _open("bar", title, description, HEIGHT, (labels, cleaned, target))
    _legend(parts, legend)
    _axes(parts, plot, labels, y_format)
    bar_width = max(1.0, plot.slot() * 0.72)
    for i, label in enumerate(labels):
        base = 0.0
        for index, (item, row) in enumerate(zip(series, cleaned)):
            value = row[i]
            if value <= 0:
                continue
            y_top, y_base = plot.y(base + value), plot.y(base)
            parts.append(f'<rect x="{_num(plot.x_center(i) - bar_width / 2)}" y="{_num(y_top)}"'
                         f' width="{_num(bar_width)}" height="{_num(max(0.5, y_base - y_top))}"'
                         f' fill="{_color(item, index)}"><title>{escape(label)} · {escape(item.name)}: '
                         f"{escape(y_format(value))}</title></rect>")
            base += value
    if target is not None:
        _target_line(parts, plot, target)
    return _close(parts)


def histogram(bins: Sequence[tuple[float, float, float]], *, title: str, x_format: Formatter = compact_number,
              target: float | None = None, target_label: str = "target", overflow: bool = False,
              color: str = PALETTE[0]) -> Markup:
    """Adjacent bars over numeric bins (low, high, count); a dashed vertical line at `target`.

    With `overflow`, the last bin is 'high and above' and is labelled so.
    """
    counts = [_clean(count) or 0.0 for _, _, count in bins]
    if not bins or not any(counts):
        return _empty("histogram", title)
    target_text = f"{target_label} {x_format(target)}" if target is not None else None
    plot, legend = _layout(counts, None, _keys([], target_text), len(bins), compact_number)
    low, high = bins[0][0], bins[-1][1]
    total = sum(counts)
    peak = max(range(len(bins)), key=lambda i: counts[i])
    description = (f"{compact_number(total)} values from {x_format(low)} to {x_format(high)}"
                   f"{' and above' if overflow else ''}; most between {x_format(bins[peak][0])} and "
                   f"{x_format(bins[peak][1])}." + (f" Target {x_format(target)}." if target is not None else ""))
    _, parts = _open("histogram", title, description, HEIGHT, (list(bins), target, overflow))
    _legend(parts, legend)
    _axes(parts, plot, [], compact_number)
    edge_labels = [x_format(b[0]) for b in bins] + [x_format(high) + ("+" if overflow else "")]
    for i, (lo, hi, _) in enumerate(bins):
        count = counts[i]
        x = plot.left + plot.slot() * i
        if count > 0:
            y = plot.y(count)
            range_text = f"{x_format(lo)} and above" if overflow and i == len(bins) - 1 else f"{x_format(lo)}–{x_format(hi)}"
            parts.append(f'<rect x="{_num(x + 0.5)}" y="{_num(y)}" width="{_num(max(0.5, plot.slot() - 1))}"'
                         f' height="{_num(max(0.5, plot.bottom - y))}" fill="{color}"><title>{escape(range_text)}: '
                         f"{escape(compact_number(count))}</title></rect>")
    _x_labels(parts, [(plot.left + plot.slot() * i, label) for i, label in enumerate(edge_labels)], plot.bottom + 18)
    if target is not None and low <= target <= high:
        index = next((i for i, (lo, hi, _) in enumerate(bins) if lo <= target < hi), len(bins) - 1)
        lo, hi, _ = bins[index]
        x = plot.left + plot.slot() * (index + ((target - lo) / (hi - lo) if hi > lo else 0))
        parts.append(f'<line x1="{_num(x)}" y1="{_num(plot.top)}" x2="{_num(x)}" y2="{_num(plot.bottom)}"'
                     f' stroke="{TARGET}" stroke-width="1.5" stroke-dasharray="6 4"/>')
    return _close(parts)


def horizontal_bar_chart(labels: Sequence[str], series: Sequence[Series], *, title: str,
                         value_format: Formatter = compact_number, label_chars: int = 18) -> Markup:
    """One row per label (top N users, models, flag reasons); several series stack left to right."""
    cleaned = [[_clean(v) or 0.0 for v in item.values] for item in series]
    totals = [sum(row[i] for row in cleaned) for i in range(len(labels))]
    if not labels or not any(totals):
        return _empty("hbar", title)
    row_height = 26
    label_width = min(label_chars, max(len(label) for label in labels)) * CHAR_WIDTH + 12
    value_width = max(len(value_format(total)) for total in totals) * CHAR_WIDTH + 10
    left = 8 + label_width
    placed, legend = _legend_layout(_keys(series, None), left)
    width = WIDTH - left - value_width - 8
    height = MARGIN_TOP + legend + row_height * len(labels) + 8
    scale = width / max(totals)
    description = "; ".join(f"{label}: {value_format(total)}" for label, total in zip(labels, totals)) + "."
    _, parts = _open("hbar", title, description, height, (labels, cleaned))
    _legend(parts, placed)
    for i, label in enumerate(labels):
        y = MARGIN_TOP + legend + row_height * i
        parts.append(f'<g><title>{escape(label)}: {escape(value_format(totals[i]))}</title>')
        parts.append(_text(left - 8, y + 17, _fit(label, label_chars), anchor="end", fill=INK))
        x = left
        for index, (item, row) in enumerate(zip(series, cleaned)):
            if row[i] > 0:
                bar = max(1.0, row[i] * scale)
                parts.append(f'<rect x="{_num(x)}" y="{_num(y + 5)}" width="{_num(bar)}" height="16" rx="2"'
                             f' fill="{_color(item, index)}"><title>{escape(label)} · {escape(item.name)}: '
                             f"{escape(value_format(row[i]))}</title></rect>")
                x += bar
        parts.append(_text(x + 6, y + 17, value_format(totals[i]), fill=INK))
        parts.append("</g>")
    return _close(parts)


def donut_chart(points: Sequence[tuple[str, float | None]], *, title: str,
                value_format: Formatter = compact_number) -> Markup:
    """Shares of a whole (model mix) as a ring, with a legend giving each share in words."""
    cleaned = [(label, _clean(value) or 0.0) for label, value in points]
    cleaned = [(label, value) for label, value in cleaned if value > 0]
    total = sum(value for _, value in cleaned)
    if not total:
        return _empty("donut", title)
    rows, row_height = len(cleaned), 38
    height = max(170, rows * row_height + 20)
    cx, cy, outer, inner = 80, height / 2, 70, 42
    description = "; ".join(f"{label}: {value_format(value)} ({percent(value / total)})" for label, value in cleaned) + "."
    _, parts = _open("donut", title, description, height, cleaned)
    angle = -math.pi / 2
    for index, (label, value) in enumerate(cleaned):
        color = PALETTE[index % len(PALETTE)]
        tooltip = f"<title>{escape(label)}: {escape(value_format(value))} ({escape(percent(value / total))})</title>"
        if value >= total:  # a single slice: a full ring (an arc cannot start and end on one point)
            parts.append(f'<circle cx="{cx}" cy="{_num(cy)}" r="{(outer + inner) / 2}" fill="none" stroke="{color}"'
                         f' stroke-width="{outer - inner}">{tooltip}</circle>')
            break
        sweep = 2 * math.pi * value / total
        parts.append(f'<path d="{_arc(cx, cy, outer, inner, angle, angle + sweep)}" fill="{color}">{tooltip}</path>')
        angle += sweep
    parts.append(_text(cx, cy + 6, compact_number(total), anchor="middle", fill=INK, size=18, weight="600"))
    legend_x = cx + outer + 26
    label_chars = int((WIDTH - legend_x - 24) / CHAR_WIDTH)
    legend_top = cy - rows * row_height / 2 + 16
    for index, (label, value) in enumerate(cleaned):
        y = legend_top + index * row_height
        parts.append(f'<rect x="{legend_x}" y="{_num(y - 11)}" width="12" height="12" rx="2"'
                     f' fill="{PALETTE[index % len(PALETTE)]}"/>')
        parts.append(_text(legend_x + 18, y, _fit(label, label_chars), fill=INK))
        parts.append(_text(legend_x + 18, y + 16, f"{value_format(value)} · {percent(value / total)}", size=12))
    return _close(parts)


def _arc(cx: float, cy: float, outer: float, inner: float, start: float, end: float) -> str:
    """The path of one ring slice from angle `start` to `end` (radians, clockwise)."""
    large = 1 if end - start > math.pi else 0
    p = [(cx + r * math.cos(a), cy + r * math.sin(a)) for r, a in ((outer, start), (outer, end), (inner, end), (inner, start))]
    return (f"M{_num(p[0][0])},{_num(p[0][1])} A{outer},{outer} 0 {large} 1 {_num(p[1][0])},{_num(p[1][1])} "
            f"L{_num(p[2][0])},{_num(p[2][1])} A{inner},{inner} 0 {large} 0 {_num(p[3][0])},{_num(p[3][1])} Z")
