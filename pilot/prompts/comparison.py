"""Two versions of a prompt compared on the pilot's real traffic, each figure with its uncertainty.

Rates (errors, fallbacks, negative feedback, flags, confirmed failures) are SQL counts with a
Wilson 95 % interval each and a two-proportion z-test for the difference. Percentiles (latency
p50/p95, TTFT p95) and cost per request come from a narrow frame of four number columns and a
seeded bootstrap of the difference (its p-value: twice the share of resampled differences on the
far side of zero). Mean rating: a normal interval from SUM and SUM of squares, and a z-test.
Many figures are judged at once, so the p-values are Holm-adjusted across every figure tested:
"95 % confident" holds for the whole set of verdicts together, not for each figure alone.
The definitions are the project's: failure = status ≠ ok (pilot.metrics.FAILED),
negative feedback = FEEDBACK_NEGATIVE, percentiles by pilot.metrics.quantile (the one linear definition).
"""
from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd
import sqlalchemy as sa
from sqlalchemy import orm as so

from pilot.metrics import FAILED, FEEDBACK_NEGATIVE, as_day, day_of, quantile
from pilot.models import Feedback, Flag, Interaction, Pilot, RegressionItem
from pilot.models.prompts import REGRESSION_VERDICTS

Z95 = 1.959963984540054
BOOTSTRAP_SAMPLES = 1_000
BOOTSTRAP_MAX_VALUES = 5_000  # per version: a seeded subsample beyond this keeps the page under a second (intervals get a little wider, never narrower)
SEED = 20260401
MIN_SAMPLE = 30  # below this per version, no verdict is drawn


def wilson(successes: int, trials: int) -> tuple[float | None, float | None]:
    """Wilson score 95 % interval of a proportion (sensible at 0 %, 100 % and small n)."""
    if trials <= 0:
        return None, None
    p = successes / trials
    denominator = 1 + Z95 ** 2 / trials
    centre = (p + Z95 ** 2 / (2 * trials)) / denominator
    half = Z95 * math.sqrt(p * (1 - p) / trials + Z95 ** 2 / (4 * trials ** 2)) / denominator
    return max(0.0, centre - half), min(1.0, centre + half)


def two_proportion_p(x_a: int, n_a: int, x_b: int, n_b: int) -> float | None:
    """Two-sided p-value of the pooled two-proportion z-test; None without data in both."""
    if n_a <= 0 or n_b <= 0:
        return None
    pooled = (x_a + x_b) / (n_a + n_b)
    spread = math.sqrt(pooled * (1 - pooled) * (1 / n_a + 1 / n_b))
    if spread == 0:
        return 1.0
    z = (x_b / n_b - x_a / n_a) / spread
    return math.erfc(abs(z) / math.sqrt(2))


def bootstrap_difference(a: np.ndarray, b: np.ndarray, statistic: str) -> tuple[float | None, float | None]:
    """95 % percentile-bootstrap interval of statistic(b) − statistic(a); statistic is 'mean' or
    a quantile like 'q0.95'. Seeded, so the same data always gives the same interval."""
    differences = bootstrap_differences(a, b, statistic)
    if differences is None:
        return None, None
    low, high = quantile(differences, [0.025, 0.975])
    return float(low), float(high)


def bootstrap_p(differences: np.ndarray | None) -> float | None:
    """Two-sided bootstrap p-value of "no difference": twice the smaller share of resampled
    differences at or beyond zero on either side, counted with the +1 that keeps it above 0."""
    if differences is None:
        return None
    below, above = int((differences <= 0).sum()), int((differences >= 0).sum())
    return min(1.0, 2 * (min(below, above) + 1) / (len(differences) + 1))


def bootstrap_differences(a: np.ndarray, b: np.ndarray, statistic: str) -> np.ndarray | None:
    """BOOTSTRAP_SAMPLES seeded resamples of statistic(b) − statistic(a); None below 2 values a side."""
    if len(a) < 2 or len(b) < 2:
        return None
    rng = np.random.default_rng(SEED)
    a = a if len(a) <= BOOTSTRAP_MAX_VALUES else rng.choice(a, BOOTSTRAP_MAX_VALUES, replace=False)
    b = b if len(b) <= BOOTSTRAP_MAX_VALUES else rng.choice(b, BOOTSTRAP_MAX_VALUES, replace=False)

    def stat(samples: np.ndarray) -> np.ndarray:
        if statistic == "mean":
            return samples.mean(axis=1)
        return quantile(samples, float(statistic[1:]), axis=1)

    differences = np.empty(BOOTSTRAP_SAMPLES)
    chunk = max(1, 2_000_000 // max(len(a), len(b)))  # bound memory: resample in chunks of rows
    for start in range(0, BOOTSTRAP_SAMPLES, chunk):
        rows = min(chunk, BOOTSTRAP_SAMPLES - start)
        differences[start:start + rows] = (stat(b[rng.integers(0, len(b), (rows, len(b)))])
                                           - stat(a[rng.integers(0, len(a), (rows, len(a)))]))
    return differences


@dataclass
class Figure:
    """One compared figure: both values, their intervals, the difference's test, and the words."""

    key: str
    title: str
    kind: str  # rate | number
    a: float | None
    b: float | None
    a_interval: tuple[float | None, float | None] = (None, None)
    b_interval: tuple[float | None, float | None] = (None, None)
    difference_interval: tuple[float | None, float | None] = (None, None)
    p_value: float | None = None  # of "no difference", for this figure alone
    adjusted_p: float | None = None  # Holm-adjusted across the figures tested together (judged at 0.05)
    higher_is_worse: bool = True
    a_count: int | None = None
    b_count: int | None = None
    direction: str = "unclear"  # better | worse | same-ish | unclear (for B against A)
    words: str = ""

    def as_json(self) -> dict[str, Any]:
        return {k: v for k, v in self.__dict__.items()}


@dataclass
class Comparison:
    a: str
    b: str
    counts: dict[str, int]
    figures: list[Figure]
    verdict: str
    daily: dict[str, Any] = field(default_factory=dict)
    regression: dict[str, int] = field(default_factory=dict)
    tested: int = 0  # figures judged together under the Holm correction


def _testable(figure: Figure, enough: bool) -> bool:
    return enough and figure.a is not None and figure.b is not None and figure.p_value is not None


def holm(p_values: list[float]) -> list[float]:
    """Holm's step-down adjustment: a figure is significant at 5 % when its adjusted p < 0.05, and
    the chance of any false "better" or "worse" among them all stays under 5 %."""
    order = sorted(range(len(p_values)), key=lambda index: p_values[index])
    adjusted, running = [1.0] * len(p_values), 0.0
    for rank, index in enumerate(order):
        running = max(running, min(1.0, (len(p_values) - rank) * p_values[index]))
        adjusted[index] = running
    return adjusted


def _significant_direction(figure: Figure) -> str:
    if figure.adjusted_p is None:
        return "unclear"
    if figure.adjusted_p >= 0.05:
        return "same"
    worse = (figure.b > figure.a) == figure.higher_is_worse
    return "worse" if worse else "better"


def _rate(key: str, title: str, counts: dict[str, dict[str, int]], a: str, b: str, numerator: str,
          denominator: str = "n") -> Figure:
    x_a, n_a = counts[a].get(numerator, 0), counts[a].get(denominator, 0)
    x_b, n_b = counts[b].get(numerator, 0), counts[b].get(denominator, 0)
    return Figure(key, title, "rate", x_a / n_a if n_a else None, x_b / n_b if n_b else None,
                  wilson(x_a, n_a), wilson(x_b, n_b), p_value=two_proportion_p(x_a, n_a, x_b, n_b),
                  a_count=x_a, b_count=x_b)


def _counts(session: so.Session, pilot: Pilot, versions: list[str]) -> dict[str, dict[str, int]]:
    """Per version: interactions, failures, fallbacks, known-cost count, negatively rated, rating
    sums, flagged by reason and confirmed failures. All GROUP BY; no text is read."""
    I = Interaction  # noqa: E741
    where = [I.pilot_id == pilot.id, I.prompt_version.in_(versions)]
    counts: dict[str, dict[str, Any]] = {v: {"n": 0} for v in versions}
    for version, n, failures, fallbacks in session.execute(
            sa.select(I.prompt_version, sa.func.count(I.id), sa.func.count(I.id).filter(FAILED),
                      sa.func.count(I.id).filter(I.status == "fallback")).where(*where).group_by(I.prompt_version)):
        counts[version].update(n=n, failures=failures, fallbacks=fallbacks)
    for version, negative in session.execute(
            sa.select(I.prompt_version, sa.func.count(sa.distinct(Feedback.interaction_id)))
            .select_from(Feedback).join(I, I.id == Feedback.interaction_id)
            .where(*where, FEEDBACK_NEGATIVE).group_by(I.prompt_version)):
        counts[version]["negative"] = negative
    for version, ratings, total, squares in session.execute(
            sa.select(I.prompt_version, sa.func.count(Feedback.rating), sa.func.sum(Feedback.rating),
                      sa.func.sum(Feedback.rating * Feedback.rating))
            .select_from(Feedback).join(I, I.id == Feedback.interaction_id)
            .where(*where, Feedback.rating.is_not(None)).group_by(I.prompt_version)):
        counts[version].update(ratings=ratings, rating_sum=float(total or 0), rating_squares=float(squares or 0))
    for version, reason, flagged in session.execute(
            sa.select(I.prompt_version, Flag.reason, sa.func.count(sa.distinct(Flag.interaction_id)))
            .select_from(Flag).join(I, I.id == Flag.interaction_id)
            .where(*where).group_by(I.prompt_version, Flag.reason)):
        counts[version][f"flag:{reason}"] = flagged
    for version, confirmed in session.execute(
            sa.select(I.prompt_version, sa.func.count(sa.distinct(Flag.interaction_id)))
            .select_from(Flag).join(I, I.id == Flag.interaction_id)
            .where(*where, Flag.status == "confirmed", Flag.kind == "failure").group_by(I.prompt_version)):
        counts[version]["confirmed"] = confirmed
    return counts


def _numbers(session: so.Session, pilot: Pilot, versions: list[str]) -> pd.DataFrame:
    """The narrow frame the percentiles and the cost need: version, day and three numbers."""
    rows = session.execute(
        sa.select(Interaction.prompt_version, day_of(Interaction.occurred_at), Interaction.latency_ms,
                  Interaction.ttft_ms, Interaction.cost_usd)
        .where(Interaction.pilot_id == pilot.id, Interaction.prompt_version.in_(versions))).all()
    frame = pd.DataFrame.from_records(rows, columns=["version", "day", "latency_ms", "ttft_ms", "cost_usd"])
    for column in ("latency_ms", "ttft_ms", "cost_usd"):
        frame[column] = pd.to_numeric(frame[column], errors="coerce").astype("float64")
    frame["day"] = frame["day"].map(as_day)
    return frame


def _statistic(values: np.ndarray, statistic: str) -> float | None:
    if not len(values):
        return None
    return float(values.mean()) if statistic == "mean" else quantile(values, float(statistic[1:]))


def _bootstrapped(key: str, title: str, frame: pd.DataFrame, a: str, b: str, column: str, statistic: str) -> Figure:
    values_a = frame.loc[frame["version"] == a, column].dropna().to_numpy()
    values_b = frame.loc[frame["version"] == b, column].dropna().to_numpy()
    differences = bootstrap_differences(values_a, values_b, statistic)
    interval = (None, None) if differences is None else tuple(float(x) for x in quantile(differences, [0.025, 0.975]))
    return Figure(key, title, "number", _statistic(values_a, statistic), _statistic(values_b, statistic),
                  difference_interval=interval, p_value=bootstrap_p(differences),
                  a_count=len(values_a), b_count=len(values_b))


def _mean_rating(counts: dict[str, dict[str, Any]], a: str, b: str) -> Figure:
    def mean_and_interval(c: dict[str, Any]) -> tuple[float | None, tuple, float]:
        n = c.get("ratings", 0)
        if not n:
            return None, (None, None), 0.0
        mean = c["rating_sum"] / n
        variance = max(0.0, c["rating_squares"] / n - mean ** 2) * n / max(1, n - 1)
        half = Z95 * math.sqrt(variance / n)
        return mean, (mean - half, mean + half), variance / n

    mean_a, interval_a, var_a = mean_and_interval(counts[a])
    mean_b, interval_b, var_b = mean_and_interval(counts[b])
    difference, p_value = (None, None), None
    if mean_a is not None and mean_b is not None:
        spread = math.sqrt(var_a + var_b)
        difference = (mean_b - mean_a - Z95 * spread, mean_b - mean_a + Z95 * spread)
        if spread:
            p_value = math.erfc(abs(mean_b - mean_a) / spread / math.sqrt(2))
        else:  # every rating equal on both sides
            p_value = 1.0 if mean_a == mean_b else 0.0
    return Figure("mean_rating", "Mean rating (1–5)", "number", mean_a, mean_b, interval_a, interval_b, difference,
                  p_value=p_value, higher_is_worse=False, a_count=counts[a].get("ratings", 0),
                  b_count=counts[b].get("ratings", 0))


def _words(figure: Figure, b: str) -> str:
    if figure.direction == "unclear":
        return f"Not enough data on {figure.title.lower()} to tell."
    if figure.direction == "same":
        return f"No clear difference on {figure.title.lower()}."
    return f"{b} is {figure.direction} on {figure.title.lower()}, 95 % confident."


def _daily(counts_by_day: list[tuple], frame: pd.DataFrame, a: str, b: str) -> dict[str, Any]:
    """Per day and version: interactions, error rate, negative-feedback rate, p95 latency."""
    days = sorted({as_day(row[1]) for row in counts_by_day})
    table = {(row[0], as_day(row[1])): row[2:] for row in counts_by_day}
    p95 = {key: quantile(values.to_numpy(), 0.95) for key, values
           in frame.dropna(subset=["latency_ms"]).groupby(["version", "day"])["latency_ms"]}

    def series(version: str, pick) -> list[float | None]:
        return [pick(table.get((version, day))) if (version, day) in table else None for day in days]

    return {
        "days": [day.isoformat() for day in days],
        "interactions": {v: series(v, lambda r: r[0]) for v in (a, b)},
        "error_rate": {v: series(v, lambda r: r[1] / r[0] if r[0] else None) for v in (a, b)},
        "negative_rate": {v: series(v, lambda r: r[2] / r[0] if r[0] else None) for v in (a, b)},
        "p95_latency_ms": {v: [p95.get((v, day)) for day in days] for v in (a, b)},
    }


def _counts_by_day(session: so.Session, pilot: Pilot, versions: list[str]) -> list[tuple]:
    I = Interaction  # noqa: E741
    day = day_of(I.occurred_at)
    negative = (sa.select(Feedback.interaction_id).where(FEEDBACK_NEGATIVE, Feedback.pilot_id == pilot.id)
                .distinct().subquery())
    return [tuple(row) for row in session.execute(
        sa.select(I.prompt_version, day, sa.func.count(I.id), sa.func.count(I.id).filter(FAILED),
                  sa.func.count(negative.c.interaction_id))
        .select_from(I).outerjoin(negative, negative.c.interaction_id == I.id)
        .where(I.pilot_id == pilot.id, I.prompt_version.in_(versions))
        .group_by(I.prompt_version, day).order_by(day))]


def regression_tally(session: so.Session, prompt_id: int, replay_version: str | None = None) -> dict[str, int]:
    """Reviewers' better / same / worse marks on the replayed regression set (and how many wait)."""
    where = [RegressionItem.prompt_id == prompt_id, RegressionItem.replay_output.is_not(None)]
    if replay_version:
        where.append(RegressionItem.replay_version == replay_version)
    rows = dict(session.execute(sa.select(RegressionItem.verdict, sa.func.count(RegressionItem.id)).where(*where)
                                .group_by(RegressionItem.verdict)).all())
    return {**{name: rows.get(name, 0) for name in REGRESSION_VERDICTS}, "unreviewed": rows.get(None, 0)}


def compare(session: so.Session, pilot: Pilot, a: str, b: str, prompt_id: int | None = None) -> Comparison:
    """Version string `a` (the baseline) against `b` (the challenger) over all their interactions."""
    versions = [a, b] if a != b else [a]
    counts = _counts(session, pilot, versions)
    counts.setdefault(b, counts[a])
    frame = _numbers(session, pilot, versions)
    figures = [
        _rate("error_rate", "Error rate", counts, a, b, "failures"),
        _rate("fallback_rate", "Fallback rate", counts, a, b, "fallbacks"),
        _bootstrapped("latency_p50", "Latency p50", frame, a, b, "latency_ms", "q0.5"),
        _bootstrapped("latency_p95", "Latency p95", frame, a, b, "latency_ms", "q0.95"),
        _bootstrapped("ttft_p95", "Time to first token p95", frame, a, b, "ttft_ms", "q0.95"),
        _bootstrapped("cost_per_request", "Cost per request", frame, a, b, "cost_usd", "mean"),
        _rate("negative_feedback_rate", "Negative feedback", counts, a, b, "negative"),
        _mean_rating(counts, a, b),
        _rate("confirmed_failure_rate", "Confirmed failures (reviewed)", counts, a, b, "confirmed"),
    ]
    reasons = sorted({key[5:] for version in versions for key in counts[version] if key.startswith("flag:")})
    for reason in reasons:
        figures.append(_rate(f"flag_rate:{reason}", f"Flag rate: {reason}", counts, a, b, f"flag:{reason}"))
    enough = counts[a]["n"] >= MIN_SAMPLE and counts[b]["n"] >= MIN_SAMPLE
    tested = [f for f in figures if _testable(f, enough and (f.a_count or 0) + (f.b_count or 0) > 0)]
    for figure, adjusted in zip(tested, holm([f.p_value for f in tested])):
        figure.adjusted_p = adjusted
    for figure in figures:
        figure.direction = _significant_direction(figure)
        figure.words = _words(figure, b)
    worse = [f.title.lower() for f in figures if f.direction == "worse"]
    better = [f.title.lower() for f in figures if f.direction == "better"]
    if not enough:
        verdict = (f"Too little traffic to judge: {counts[a]['n']:,} interactions on {a} and {counts[b]['n']:,} on "
                   f"{b} (at least {MIN_SAMPLE} each).")
    elif worse:
        verdict = f"{b} is worse than {a} on {', '.join(worse)}, 95 % confident."
        if better:
            verdict += f" It is better on {', '.join(better)}."
    elif better:
        verdict = f"{b} is better than {a} on {', '.join(better)}, 95 % confident, and worse on nothing measured."
    else:
        verdict = f"No clear difference between {a} and {b} on any figure at 95 % confidence."
    comparison = Comparison(a, b, {v: counts[v]["n"] for v in versions}, figures, verdict,
                            _daily(_counts_by_day(session, pilot, versions), frame, a, b), tested=len(tested))
    if prompt_id is not None:
        comparison.regression = regression_tally(session, prompt_id, b)
    return comparison
