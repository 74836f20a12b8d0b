"""The SVG charts: well-formed, accessible, hostile text escaped, gaps not drawn as zeros."""
import math
import xml.etree.ElementTree as ET

import pytest
from markupsafe import Markup

from pilot.charts import (
    Series,
    bar_chart,
    compact_number,
    donut_chart,
    histogram,
    horizontal_bar_chart,
    line_chart,
    milliseconds,
    percent,
    stacked_bar_chart,
    usd,
)
from pilot.charts.svg import _nice_ticks

SVG = "{http://www.w3.org/2000/svg}"
HOSTILE = '<script>alert("x")</script>&"\'><img src=x onerror=alert(1)>'


def parse(svg: str) -> ET.Element:
    return ET.fromstring(str(svg))


def all_charts(label: str):
    """One of each chart kind, with `label` in every place text can go."""
    return [
        line_chart(["d1", label], [Series(label, [1, 2])], title=label, target=1.5, target_label=label),
        bar_chart([(label, 3), ("b", 4)], title=label),
        stacked_bar_chart([label, "b"], [Series(label, [1, 2]), Series("other", [3, None])], title=label),
        histogram([(0, 10, 4), (10, 20, 2)], title=label, target=12, target_label=label),
        horizontal_bar_chart([label, "b"], [Series(label, [1, 2])], title=label),
        donut_chart([(label, 3), ("b", 1)], title=label),
    ]


@pytest.mark.parametrize("index", range(6))
def test_hostile_labels_are_escaped_everywhere(index):
    svg = all_charts(HOSTILE)[index]
    assert isinstance(svg, Markup)
    assert "<script" not in svg and "<img" not in svg
    root = parse(svg)  # escaping kept it well-formed XML
    texts = "".join(root.itertext())
    assert "<script>" in texts or "<script" in texts.replace("…", "")  # shown as text, not markup


@pytest.mark.parametrize("index", range(6))
def test_every_chart_is_an_accessible_image(index):
    root = parse(all_charts("Model <b>")[index])
    assert root.get("role") == "img"
    title, desc = root.find(f"{SVG}title"), root.find(f"{SVG}desc")
    assert title is not None and title.text == "Model <b>"
    assert desc is not None and desc.text
    assert root.get("aria-labelledby") == f"{title.get('id')} {desc.get('id')}"
    assert root.get("viewBox").startswith("0 0 480 ")


def test_series_colour_cannot_inject_attributes():
    svg = line_chart(["a", "b"], [Series("s", [1, 2], color='red" onload="alert(1)')], title="t")
    assert "onload" not in svg
    assert 'stroke="#2457d6"' in svg


def test_line_chart_breaks_the_line_at_gaps_and_skips_nan():
    svg = line_chart(["a", "b", "c", "d", "e"], [Series("p95", [1, 2, None, 4, float("nan")])], title="t")
    root = parse(svg)
    assert len(root.findall(f".//{SVG}circle")) == 3  # None and NaN are not points
    polylines = root.findall(f".//{SVG}polyline")
    assert len(polylines) == 1  # a–b is a line; d stands alone (no line bridges the gap)
    assert len(polylines[0].get("points").split()) == 2


def test_line_chart_point_tooltips_carry_the_values():
    svg = line_chart(["Mar 01"], [Series("p95", [1234.0])], title="t", y_format=milliseconds, target=3000)
    assert "<title>p95 · Mar 01: 1,234 ms</title>" in svg
    assert "target 3,000 ms" in svg and "stroke-dasharray" in svg


def test_bar_heights_are_proportional():
    root = parse(bar_chart([("a", 10), ("b", 20)], title="t"))
    heights = [float(rect.get("height")) for rect in root.findall(f".//{SVG}rect")]
    assert heights[1] == pytest.approx(2 * heights[0], rel=1e-3)


def test_stacked_bars_stack_in_order():
    root = parse(stacked_bar_chart(["d"], [Series("positive", [3]), Series("negative", [1])], title="t"))
    positive, negative = [rect for rect in root.findall(f".//{SVG}rect") if rect.find(f"{SVG}title") is not None]
    assert float(negative.get("y")) + float(negative.get("height")) == pytest.approx(float(positive.get("y")), abs=0.02)
    assert "positive: 3" in positive.find(f"{SVG}title").text


def test_histogram_labels_overflow_and_target():
    svg = histogram([(0, 1000, 5), (1000, 2000, 3), (2000, 3000, 1)], title="t", x_format=milliseconds,
                    target=2500, overflow=True)
    assert "2,000 ms and above: 1" in svg
    assert "3,000 ms+" in svg
    root = parse(svg)
    target = [line for line in root.findall(f".//{SVG}line") if line.get("stroke-dasharray")
              and line.get("x1") == line.get("x2")]
    assert len(target) == 1


def test_horizontal_bars_shorten_long_labels_but_keep_them_in_the_tooltip():
    label = "a-very-long-external-user-identifier-0001"
    svg = horizontal_bar_chart([label], [Series("cost", [2.5])], title="t", value_format=usd)
    assert f"<title>{label}: $2.50</title>" in svg
    assert "a-very-long-exter…" in svg


def test_donut_shares_and_single_slice():
    svg = donut_chart([("a", 3), ("b", 1), ("zero", 0)], title="t")
    assert "a: 3 (75%)" in svg and "b: 1 (25%)" in svg and "zero" not in svg
    single = parse(donut_chart([("only", 5)], title="t"))
    assert single.find(f".//{SVG}circle") is not None  # a full ring, not a degenerate arc


@pytest.mark.parametrize("make", [
    lambda: line_chart([], [], title="t"),
    lambda: line_chart(["a"], [Series("s", [None])], title="t"),
    lambda: bar_chart([("a", 0)], title="t"),
    lambda: histogram([], title="t"),
    lambda: horizontal_bar_chart([], [], title="t"),
    lambda: donut_chart([("a", None)], title="t"),
])
def test_no_data_is_said_not_drawn(make):
    svg = make()
    assert "No data yet" in svg
    parse(svg)


def test_nice_ticks_are_round_and_cover_the_range():
    assert _nice_ticks(0, 412) == [0, 100, 200, 300, 400, 500]
    assert _nice_ticks(0, 0.031)[-1] >= 0.031
    assert _nice_ticks(0, 0) == [0, 0.2, 0.4, 0.6, 0.8, 1.0]


def test_formats():
    assert compact_number(1234) == "1.2k" and compact_number(2_500_000) == "2.5M" and compact_number(0.25) == "0.25"
    assert usd(1234.5) == "$1,234" and usd(12.5) == "$12.50" and usd(0.00312) == "$0.00312" and usd(0) == "$0.00"
    assert milliseconds(1234) == "1,234 ms" and milliseconds(30000) == "30.0 s"
    assert percent(0.031) == "3.1%" and percent(0.5) == "50%"
    assert math.isclose(float(usd(0.5)[1:]), 0.5)
