"""A mergeable latency sketch: counts per log-spaced bucket, for percentiles within 1 %.

Why: exact percentiles over a whole pilot need every value or an ordered index of them, and
such an index takes each insert at a random leaf (at a million rows its pages no longer fit the
cache, and ingestion slows as the pilot grows). Counts per bucket add up across days, models and
new batches, so the rollup keeps one sketch per day (and model) and updates it from new rows only.

Buckets follow DDSketch (Masson et al., VLDB 2019): with γ = (1 + α) / (1 − α), a positive value
x falls in bucket i = ⌈log_γ x⌉, i.e. (γ^(i−1), γ^i], and every value of bucket i is within
relative error α of the bucket's representative 2γ^i / (γ + 1). Values ≤ 0 (a latency of 0 ms)
share bucket "z", whose representative is 0. A percentile follows pilot.metrics' definition
(linear interpolation between the values at ranks ⌊q(n−1)⌋ and the next), with each neighbour
replaced by its bucket's representative; both are within α of the true neighbours, so their
interpolation is within α of the exact percentile: |estimate − exact| ≤ 1 % of exact.

A sketch is a plain dict {bucket key: count} (keys are strings, for JSON columns).
"""
from __future__ import annotations

import math
from typing import Iterable, Mapping

import numpy as np

from pilot.metrics import PERCENTILES, interpolate, rank_position

RELATIVE_ACCURACY = 0.01  # α: every percentile read from a sketch is within 1 % of the exact one
GAMMA = (1 + RELATIVE_ACCURACY) / (1 - RELATIVE_ACCURACY)
_LOG_GAMMA = math.log(GAMMA)
ZERO = "z"

Sketch = dict[str, int]


def sketch_of(values: Iterable[float] | np.ndarray) -> Sketch:
    """The sketch of these values (NaN ignored): one vectorised pass."""
    values = np.asarray(values, dtype="float64")
    values = values[~np.isnan(values)]
    result: Sketch = {}
    zeros = int((values <= 0).sum())
    if zeros:
        result[ZERO] = zeros
    positive = values[values > 0]
    if positive.size:
        keys, counts = np.unique(np.ceil(np.log(positive) / _LOG_GAMMA).astype("int64"), return_counts=True)
        result.update({str(int(k)): int(c) for k, c in zip(keys, counts)})
    return result


def merge(*sketches: Mapping[str, int] | None) -> Sketch:
    """The sketch of all their values together (counts add)."""
    result: Sketch = {}
    for sketch in sketches:
        for key, count in (sketch or {}).items():
            result[key] = result.get(key, 0) + int(count)
    return result


def count(sketch: Mapping[str, int] | None) -> int:
    return sum(int(c) for c in (sketch or {}).values())


def _representative(key: str) -> float:
    return 0.0 if key == ZERO else 2 * GAMMA ** int(key) / (GAMMA + 1)


def _ordered(sketch: Mapping[str, int]) -> list[tuple[float, int]]:
    """(representative, count) by increasing value."""
    keys = sorted(sketch, key=lambda k: -math.inf if k == ZERO else int(k))
    return [(_representative(k), int(sketch[k])) for k in keys if int(sketch[k]) > 0]


def percentiles(sketch: Mapping[str, int] | None) -> dict[str, float | None]:
    """p50/p95/p99 within RELATIVE_ACCURACY of the exact ones (None each for an empty sketch)."""
    ordered = _ordered(sketch or {})
    total = sum(c for _, c in ordered)
    if not total:
        return {name: None for name in PERCENTILES}
    cumulative = np.cumsum([c for _, c in ordered])
    values = [v for v, _ in ordered]

    def at_rank(rank: int) -> float:
        return values[int(np.searchsorted(cumulative, rank, side="right"))]

    result = {}
    for name, share in PERCENTILES.items():
        low, fraction = rank_position(share, total)
        result[name] = interpolate(at_rank(low), at_rank(low + 1) if fraction and low + 1 < total else None,
                                   fraction)
    return result
