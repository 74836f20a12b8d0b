"""The report's numbers broken down per day, model, prompt version or participant.

Exactly docs/design.md's formulas, group by group: failure = status ≠ ok, error rate = failures ÷
interactions, fallback coverage = fallback ÷ failures, cost per request = known cost ÷ interactions
with known cost, latency and TTFT percentiles with pandas' linear interpolation, positive / negative
feedback as in the report. Counts and sums are SQL aggregates; only the percentile columns are
loaded (one key and two floats per row). Feedback and flags count on the day of the interaction
they are about, so a day's row describes the answers given that day.
"""
from __future__ import annotations

from datetime import date, timedelta
from typing import Any, Literal

import pandas as pd
import sqlalchemy as sa
from sqlalchemy import orm as so

from pilot.analytics.frames import feedback_filter, interaction_filter
from pilot.analytics.summary import DAYS_PER_MONTH, _ratio, percentiles
from pilot.metrics import FAILED, FEEDBACK_NEGATIVE, FEEDBACK_POSITIVE, as_day, day_of
from pilot.models import Feedback, Interaction, Pilot

Dimension = Literal["day", "model", "prompt_version", "participant"]
DIMENSIONS: tuple[str, ...] = ("day", "model", "prompt_version", "participant")


def dimension_key(by: str) -> sa.ColumnElement:
    """The interaction expression one breakdown groups by."""
    keys = {
        "day": day_of(Interaction.occurred_at),
        "model": Interaction.model,
        "prompt_version": Interaction.prompt_version,
        "participant": Interaction.external_user_id,
    }
    if by not in keys:
        raise ValueError(f"breakdown 'by' must be one of {', '.join(DIMENSIONS)}, not {by!r}")
    return keys[by]


def _normalise(by: str, key: Any) -> Any:
    return as_day(key).isoformat() if by == "day" and key is not None else key


def breakdown(session: so.Session, pilot: Pilot, by: str, *, start: date | None = None,
              end: date | None = None) -> list[dict[str, Any]]:
    """One row per group, in docs/design.md's terms. Days: every calendar day of the window, oldest
    first (an idle day is a row of zeros); other dimensions: busiest first."""
    key = dimension_key(by)
    where = interaction_filter(pilot, start, end)
    counts = _interaction_counts(session, key, where)
    ratings = _feedback_counts(session, pilot, key, start, end)
    spread = _percentiles_by(session, key, where)
    rows = {}
    for raw_key, values in counts.items():
        group = _normalise(by, raw_key)
        rows[group] = _row(group, values, ratings.get(raw_key), spread.get(raw_key, {}))
    if by == "participant":
        window_days = _window_days(rows_days=_days_of(session, where))
        for row in rows.values():
            row["cost_per_month_usd"] = (
                row["cost_usd"] / window_days * DAYS_PER_MONTH if row["cost_usd"] is not None and window_days else None
            )
    if by == "day":
        return _every_day(rows)
    return sorted(rows.values(), key=lambda row: (-row["interactions"], str(row["key"])))


def _interaction_counts(session: so.Session, key: sa.ColumnElement, where: list) -> dict[Any, dict[str, Any]]:
    statement = sa.select(
        key.label("key"),
        sa.func.count(Interaction.id).label("interactions"),
        sa.func.count(Interaction.id).filter(FAILED).label("failures"),
        sa.func.count(Interaction.id).filter(Interaction.status == "fallback").label("fallbacks"),
        sa.func.sum(Interaction.cost_usd).label("cost_usd"),
        sa.func.count(Interaction.cost_usd).label("known_cost"),
        sa.func.count(sa.distinct(Interaction.external_user_id)).label("active_users"),
        sa.func.count(sa.distinct(day_of(Interaction.occurred_at))).label("active_days"),
    ).where(*where).group_by(key)
    return {row.key: row._asdict() for row in session.execute(statement)}


def _feedback_counts(session: so.Session, pilot: Pilot, key: sa.ColumnElement, start: date | None,
                     end: date | None) -> dict[Any, dict[str, Any]]:
    statement = (
        sa.select(
            key.label("key"),
            sa.func.count(Feedback.id).label("count"),
            sa.func.count(Feedback.id).filter(FEEDBACK_POSITIVE).label("positive"),
            sa.func.count(Feedback.id).filter(FEEDBACK_NEGATIVE).label("negative"),
            sa.func.avg(Feedback.rating).label("mean_rating"),
        )
        .join(Interaction, Interaction.id == Feedback.interaction_id)
        .where(*feedback_filter(pilot, start, end))
        .group_by(key)
    )
    return {row.key: row._asdict() for row in session.execute(statement)}


def _percentiles_by(session: so.Session, key: sa.ColumnElement, where: list) -> dict[Any, dict[str, dict]]:
    """p50/p95/p99 of latency and TTFT per group: the only per-row data loaded (key + two floats)."""
    rows = session.execute(
        sa.select(key.label("key"), Interaction.latency_ms, Interaction.ttft_ms)
        .where(*where, sa.or_(Interaction.latency_ms.is_not(None), Interaction.ttft_ms.is_not(None)))
    ).all()
    if not rows:
        return {}
    frame = pd.DataFrame.from_records(rows, columns=["key", "latency_ms", "ttft_ms"])
    frame["key"] = frame["key"].astype(object).where(frame["key"].notna(), "\0none")  # groupby drops NaN keys
    result = {}
    for group, values in frame.groupby("key", sort=False):
        raw_key = None if group == "\0none" else group
        result[raw_key] = {
            "latency_ms": percentiles(values["latency_ms"].dropna().astype("float64")),
            "ttft_ms": percentiles(values["ttft_ms"].dropna().astype("float64")),
        }
    return result


def _row(key: Any, counts: dict[str, Any], ratings: dict[str, Any] | None, spread: dict[str, dict]) -> dict[str, Any]:
    interactions, failures, known = counts["interactions"], counts["failures"], counts["known_cost"]
    cost = float(counts["cost_usd"]) if counts["cost_usd"] is not None else None
    ratings = ratings or {"count": 0, "positive": 0, "negative": 0, "mean_rating": None}
    no_values = {"p50": None, "p95": None, "p99": None}
    return {
        "key": key,
        "interactions": interactions,
        "failures": failures,
        "error_rate": _ratio(failures, interactions),
        "fallbacks": counts["fallbacks"],
        "fallback_coverage": _ratio(counts["fallbacks"], failures),
        "latency_ms": spread.get("latency_ms", no_values),
        "ttft_ms": spread.get("ttft_ms", no_values),
        "cost_usd": cost,
        "per_request_usd": _ratio(cost, known),
        "unknown_cost_interactions": interactions - known,
        "active_users": counts["active_users"],
        "active_days": counts["active_days"],
        "feedback": {
            "count": ratings["count"],
            "positive": ratings["positive"],
            "negative": ratings["negative"],
            "mean_rating": float(ratings["mean_rating"]) if ratings["mean_rating"] is not None else None,
        },
    }


def _days_of(session: so.Session, where: list) -> tuple[date | None, date | None]:
    first, last = session.execute(
        sa.select(sa.func.min(Interaction.occurred_at), sa.func.max(Interaction.occurred_at)).where(*where)
    ).one()
    return as_day(first), as_day(last)


def _window_days(rows_days: tuple[date | None, date | None]) -> int:
    """docs/design.md's window_days: calendar days from the first to the last interaction, inclusive."""
    first, last = rows_days
    return (last - first).days + 1 if first and last else 0


def _every_day(rows: dict[str, dict[str, Any]]) -> list[dict[str, Any]]:
    """Fill the idle days between the first and the last so a chart's x axis is true calendar time."""
    if not rows:
        return []
    days = sorted(date.fromisoformat(key) for key in rows)
    filled = []
    for offset in range((days[-1] - days[0]).days + 1):
        day = (days[0] + timedelta(days=offset)).isoformat()
        filled.append(rows.get(day) or _row(day, _IDLE, None, {}))
    return filled


_IDLE = {"interactions": 0, "failures": 0, "fallbacks": 0, "cost_usd": 0.0, "known_cost": 0,
         "active_users": 0, "active_days": 0}
