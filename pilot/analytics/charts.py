"""The dashboard's charts, as inline SVG built from `dashboard_numbers` (reusable in reports)."""
from __future__ import annotations

from datetime import date
from typing import Any

from markupsafe import Markup

from pilot.charts import (
    Series,
    bar_chart,
    donut_chart,
    histogram,
    horizontal_bar_chart,
    line_chart,
    milliseconds,
    percent,
    stacked_bar_chart,
    usd,
)
from pilot.charts.svg import NEGATIVE, PALETTE, POSITIVE

TOP_USERS = 10


def day_label(day: date) -> str:
    return day.strftime("%b %d")


def dashboard_charts(numbers: dict[str, Any]) -> dict[str, Markup]:
    """One SVG per chart of the dashboard, keyed by name."""
    days = numbers["days"]
    labels = [day_label(d["day"]) for d in days]
    target = numbers["latency_ms"]["target_p95"]
    return {
        "interactions": bar_chart([(label, d["interactions"]) for label, d in zip(labels, days)],
                                  title="Interactions per day"),
        "latency_histogram": histogram(numbers["latency_histogram"]["bins"], title="Latency distribution",
                                       x_format=milliseconds, target=target, target_label="p95 target",
                                       overflow=numbers["latency_histogram"]["overflow"]),
        "latency_over_time": line_chart(labels, [
            Series("p95 latency", [d["latency_p95"] for d in days], PALETTE[0]),
            Series("p50 latency", [d["latency_p50"] for d in days], PALETTE[4]),
            Series("p95 time to first token", [d["ttft_p95"] for d in days], PALETTE[1]),
        ], title="Latency per day", y_format=milliseconds, target=target, target_label="p95 target"),
        "error_rate": line_chart(labels, [Series("error rate", [d["error_rate"] for d in days], PALETTE[5])],
                                 title="Error rate per day", y_format=percent,
                                 target=numbers["interactions"]["max_error_rate"], target_label="max"),
        "cost_per_day": bar_chart([(label, d["cost_usd"]) for label, d in zip(labels, days)],
                                  title="Known cost per day", y_format=usd, color=PALETTE[2]),
        "cumulative_cost": line_chart(labels, [Series("cumulative cost", [d["cumulative_cost_usd"] for d in days],
                                                      PALETTE[2])], title="Cumulative known cost", y_format=usd),
        "cost_per_user": _cost_per_user(numbers["users"]),
        "model_mix": donut_chart([(m["model"] or "(no model)", m["interactions"]) for m in numbers["models"]],
                                 title="Model mix (interactions)"),
        "feedback": stacked_bar_chart(labels, [
            Series("positive", [d["feedback_positive"] for d in days], POSITIVE),
            Series("negative", [d["feedback_negative"] for d in days], NEGATIVE),
        ], title="Feedback per day"),
        "flag_mix": horizontal_bar_chart(
            [r["reason"] for r in numbers["flags"]["by_reason"]],
            [Series(status, [r[status] for r in numbers["flags"]["by_reason"]], color)
             for status, color in (("open", PALETTE[5]), ("confirmed", PALETTE[3]), ("dismissed", PALETTE[6]))],
            title="Flags by reason and status", label_chars=21),  # the longest reason code is 20
    }


def _cost_per_user(users: list[dict[str, Any]]) -> Markup:
    known = sorted((u for u in users if u["cost_usd"]), key=lambda u: -u["cost_usd"])[:TOP_USERS]
    return horizontal_bar_chart([u["user"] or "(no user id)" for u in known],
                                [Series("cost", [u["cost_usd"] for u in known])],
                                title=f"Known cost per user (top {TOP_USERS})", value_format=usd)
