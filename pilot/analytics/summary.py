"""The measured sections of the readiness report, with exactly docs/design.md's formulas.

Counts and sums are SQL aggregates; latency percentiles use pandas' default linear
interpolation over the single latency column (the only per-row data loaded).
"""
from __future__ import annotations

from datetime import datetime
from typing import Any

import numpy as np
import pandas as pd
import sqlalchemy as sa
from sqlalchemy import orm as so

from pilot import metrics
from pilot.analytics.frames import raw_rows
from pilot.metrics import FAILED, feedback_counts, known_cost, participant_counts, per_month, window_days
from pilot.models import Flag, Interaction, Pilot


def _ratio(numerator: float | None, denominator: float | None) -> float | None:
    if numerator is None or not denominator:
        return None
    return numerator / denominator


def window(session: so.Session, pilot: Pilot) -> dict[str, Any]:
    """Calendar days (UTC) from the first to the last interaction, inclusive."""
    # Two statements: SQLite answers a lone min() or max() from the index, both together by a full scan.
    first = session.scalar(sa.select(sa.func.min(Interaction.occurred_at)).where(Interaction.pilot_id == pilot.id))
    last = session.scalar(sa.select(sa.func.max(Interaction.occurred_at)).where(Interaction.pilot_id == pilot.id))
    if first is None:
        return {"start": None, "end": None, "days": 0}
    return {"start": first.isoformat() + "Z", "end": last.isoformat() + "Z", "days": window_days(first, last)}


def participants(session: so.Session, pilot: Pilot) -> dict[str, Any]:
    """Enrolled: pilot.metrics.ENROLLED (participants who accepted their invite; invited ones are
    counted apart, on the roster). Active: distinct `user` values with an interaction."""
    enrolled = participant_counts(session, pilot)["enrolled"]
    active = session.scalar(
        sa.select(sa.func.count(sa.distinct(Interaction.external_user_id))).where(Interaction.pilot_id == pilot.id)
    )
    return {"enrolled": enrolled or 0, "active": active or 0, "min": pilot.min_participants, "max": pilot.max_participants}


def interactions(session: so.Session, pilot: Pilot) -> dict[str, Any]:
    """Failure = status ≠ ok; fallback coverage = fallback ÷ failures."""
    totals = interaction_totals(session, pilot)
    return interactions_from_counts(totals["total"], totals["failures"], totals["fallbacks"])


def interaction_totals(session: so.Session, pilot: Pilot) -> dict[str, Any]:
    """The interactions and cost sections' counts and sum, in one pass over the pilot's rows."""
    row = session.execute(
        sa.select(
            sa.func.count(Interaction.id).label("total"),
            sa.func.count(Interaction.id).filter(FAILED).label("failures"),
            sa.func.count(Interaction.id).filter(Interaction.status == "fallback").label("fallbacks"),
            sa.func.sum(Interaction.cost_usd).label("total_usd"),
            sa.func.count(Interaction.cost_usd).label("known"),
            sa.func.count(Interaction.id).filter(Interaction.cost_usd.is_(None)).label("unknown"),
        ).where(Interaction.pilot_id == pilot.id)
    ).one()
    return dict(row._mapping)


def interactions_from_counts(total: int, failures: int, fallbacks: int) -> dict[str, Any]:
    """The interactions section from its three counts (shared with the dashboard's rollup)."""
    return {
        "total": total,
        "failures": failures,
        "error_rate": _ratio(failures, total),
        "fallback_coverage": _ratio(fallbacks, failures),
    }


def latency_values(session: so.Session, pilot: Pilot, column=Interaction.latency_ms) -> pd.Series:
    """One float column, for percentiles. Read through Core straight into a float array: at a
    million rows the ORM's per-row objects took 2–4 s of the report's 5 s budget."""
    result = session.connection().execute(
        sa.select(column).where(Interaction.pilot_id == pilot.id, column.is_not(None))
    )
    return pd.Series(np.fromiter((row[0] for row in result), dtype="float64"))


def percentiles(values: pd.Series) -> dict[str, float | None]:
    """Exact p50/p95/p99 by pilot.metrics' one percentile definition."""
    return metrics.percentiles(values.to_numpy(dtype="float64"))


def timing_values(session: so.Session, pilot: Pilot) -> tuple[pd.Series, pd.Series]:
    """The non-null latency_ms and ttft_ms values, read in one scan as plain driver tuples (no
    row objects): the readiness report needs both columns and would otherwise scan twice."""
    rows = raw_rows(session, sa.select(Interaction.latency_ms, Interaction.ttft_ms)
                    .where(Interaction.pilot_id == pilot.id))
    timings = np.array(rows, dtype="float64").reshape(-1, 2)  # None → NaN
    del rows
    latency_ms, ttft_ms = timings[:, 0], timings[:, 1]
    return (pd.Series(latency_ms[~np.isnan(latency_ms)]), pd.Series(ttft_ms[~np.isnan(ttft_ms)]))


def latency(session: so.Session, pilot: Pilot, values: pd.Series | None = None) -> dict[str, Any]:
    """Latency percentiles; `values` (the non-null latencies) when the caller already has them."""
    if values is None:
        values = latency_values(session, pilot)
    return {**percentiles(values), "target_p95": pilot.latency_target_p95_ms}


def cost(session: so.Session, pilot: Pilot, active_users: int, window_days: int,
         totals: dict[str, Any] | None = None) -> dict[str, Any]:
    """Cost per active user per month = total ÷ active users ÷ window days × 30; margin at the planned price.
    `totals`: `interaction_totals`' row, when the caller has it."""
    totals = totals or interaction_totals(session, pilot)
    return cost_from_totals(pilot, totals["total_usd"], totals["known"], totals["unknown"], active_users, window_days)


def cost_from_totals(pilot: Pilot, total_usd: float | None, known: int, unknown: int, active_users: int,
                     window_days: int) -> dict[str, Any]:
    """The cost section from SUM(cost_usd) (None when no cost is known), the known and unknown
    counts, active users and window days (shared with the dashboard's rollup)."""
    total_usd = known_cost(total_usd, known, known + unknown)
    per_user_month = per_month(total_usd, window_days, active_users)
    price = pilot.planned_price_per_user_month
    margin = price - per_user_month if price is not None and per_user_month is not None else None
    return {
        "total_usd": total_usd,
        "per_request_usd": _ratio(total_usd, known),
        "per_active_user_per_month_usd": per_user_month,
        "planned_price_per_user_month": price,
        "margin_per_user_month": margin,
        "margin_pct": _ratio(margin, price),
        "target_users": pilot.target_users,
        "projected_monthly_usd_at_target": (
            per_user_month * pilot.target_users if per_user_month is not None and pilot.target_users else None
        ),
        "unknown_cost_interactions": unknown,
    }


feedback = feedback_counts  # the report's `feedback` block: one definition, in pilot.metrics


def flags(session: so.Session, pilot: Pilot) -> dict[str, Any]:
    by_status = dict(session.execute(
        sa.select(Flag.status, sa.func.count(Flag.id)).where(Flag.pilot_id == pilot.id).group_by(Flag.status)
    ).all())
    by_reason = dict(session.execute(
        sa.select(Flag.reason, sa.func.count(Flag.id)).where(Flag.pilot_id == pilot.id)
        .group_by(Flag.reason).order_by(Flag.reason)
    ).all())
    return {
        "open": by_status.get("open", 0),
        "confirmed": by_status.get("confirmed", 0),
        "dismissed": by_status.get("dismissed", 0),
        "by_reason": by_reason,
    }


def pilot_summary(session: so.Session, pilot: Pilot, now: datetime | None = None, *,
                  latencies: pd.Series | None = None, totals: dict[str, Any] | None = None) -> dict[str, Any]:
    """Every measured section of the readiness report (docs/design.md keys), live from the data.
    `latencies` (the non-null latency_ms values) and `totals` (a mapping with at least
    `interaction_totals`' keys), when the caller has them already."""
    window_section = window(session, pilot)
    participants_section = participants(session, pilot)
    totals = totals if totals is not None else interaction_totals(session, pilot)
    return {
        "window": window_section,
        "participants": participants_section,
        "interactions": interactions_from_counts(totals["total"], totals["failures"], totals["fallbacks"]),
        "latency_ms": latency(session, pilot, latencies),
        "cost": cost(session, pilot, participants_section["active"], window_section["days"], totals),
        "feedback": feedback(session, pilot),
        "flags": flags(session, pilot),
    }
