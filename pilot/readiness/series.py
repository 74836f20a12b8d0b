"""The small data series the report's charts draw, stored in the payload so a snapshot's charts
are as frozen as its numbers: a latency histogram and cost per day (the flag mix is `flags.by_reason`)."""
from __future__ import annotations

import math
from typing import Any

import pandas as pd
from sqlalchemy import orm as so

from pilot.analytics.summary import latency_values
from pilot.metrics import cost_per_day, nice_step, quantile
from pilot.models import Pilot

MAX_BINS = 20


def latency_histogram(values: pd.Series, target_ms: float | None) -> dict[str, Any] | None:
    """Counts per bin from 0 up to twice the target (or 1.25 × the p95, if higher), so the bulk
    and the target both show; slower answers (timeouts…) are counted in `over`."""
    if values.empty:
        return None
    upper = max(quantile(values.to_numpy(dtype="float64"), 0.95) * 1.25, float(target_ms or 0) * 2, 1.0)
    width = nice_step(upper / MAX_BINS)  # covers `upper` in at most MAX_BINS bins
    bins = max(1, math.ceil(upper / width))
    top = bins * width
    in_range = values[values < top].clip(lower=0)
    per_bin = (in_range // width).astype(int).value_counts()
    return {"bin_width_ms": width, "counts": [int(per_bin.get(index, 0)) for index in range(bins)],
            "over": int((values >= top).sum()), "target_ms": target_ms}


def chart_series(session: so.Session, pilot: Pilot, latencies: pd.Series | None = None) -> dict[str, Any]:
    """The chart data; `latencies` (non-null latency_ms) when the caller has loaded them already."""
    values = latencies if latencies is not None else latency_values(session, pilot)
    return {
        "latency_histogram": latency_histogram(values, pilot.latency_target_p95_ms),
        "cost_per_day": cost_per_day(session, pilot),
    }
