"""Daily rollups behind the dashboard, and the indexes the dashboard reads through.

The dashboard must answer in ≤ 300 ms at a million interactions, which no live GROUP BY over the
interaction table does (≈ 0.5–2.6 s per query on SQLite, 0.3–0.5 s on PostgreSQL). So per UTC day
the additive numbers are kept per model × prompt version × user (`analytics_daily`, a few thousand
rows for a month of a 50-person pilot), and per day the rest — latency sketches (counts per
log-spaced bucket, pilot.analytics.sketch: they add up across days and new rows, and give
percentiles within 1 %), a latency histogram, flag counts (`analytics_day`). `analytics_state` holds when a pilot's
rollup was last brought up to date; `rollup_change` lists the (pilot, day)s whose interactions,
feedback or flags were written since (recorded by pilot.analytics.changes in the writing
transaction), and pilot.analytics.rollup brings exactly those days up to date: a day whose rows
were only added gets the new rows' numbers added, any other change recomputes the day.
"""
from __future__ import annotations

from datetime import date, datetime
from typing import Any, Optional

import sqlalchemy as sa
from sqlalchemy import orm as so

from pilot.extensions import db
from pilot.models.base import BigIntPK, utcnow


class DailyRollup(db.Model):
    """Additive numbers of one pilot's interactions on one UTC day, per model × prompt version × user."""

    __tablename__ = "analytics_daily"
    __table_args__ = (sa.Index("ix_analytics_daily_pilot_day", "pilot_id", "day"),)

    id: so.Mapped[int] = so.mapped_column(BigIntPK, primary_key=True)
    pilot_id: so.Mapped[int] = so.mapped_column(sa.ForeignKey("pilot.id", ondelete="CASCADE"))
    day: so.Mapped[date]
    model: so.Mapped[Optional[str]] = so.mapped_column(sa.String(200))
    prompt_version: so.Mapped[Optional[str]] = so.mapped_column(sa.String(100))
    external_user_id: so.Mapped[Optional[str]] = so.mapped_column(sa.String(255))
    interactions: so.Mapped[int]
    failures: so.Mapped[int]
    fallbacks: so.Mapped[int]
    known_cost: so.Mapped[int]  # interactions whose cost is known
    cost_usd: so.Mapped[float] = so.mapped_column(sa.Float(precision=53))  # sum of the known costs
    latency_count: so.Mapped[int]  # interactions with a latency (the percentile population)
    feedback_count: so.Mapped[int]
    feedback_positive: so.Mapped[int]
    feedback_negative: so.Mapped[int]
    rating_count: so.Mapped[int]
    rating_sum: so.Mapped[int]


class DayRollup(db.Model):
    """What cannot be added up across groups, for one pilot and UTC day."""

    __tablename__ = "analytics_day"
    __table_args__ = (sa.UniqueConstraint("pilot_id", "day"),)

    id: so.Mapped[int] = so.mapped_column(primary_key=True)
    pilot_id: so.Mapped[int] = so.mapped_column(sa.ForeignKey("pilot.id", ondelete="CASCADE"))
    day: so.Mapped[date]
    latency_p50: so.Mapped[Optional[float]] = so.mapped_column(sa.Float(precision=53))
    latency_p95: so.Mapped[Optional[float]] = so.mapped_column(sa.Float(precision=53))
    latency_p99: so.Mapped[Optional[float]] = so.mapped_column(sa.Float(precision=53))
    ttft_p50: so.Mapped[Optional[float]] = so.mapped_column(sa.Float(precision=53))
    ttft_p95: so.Mapped[Optional[float]] = so.mapped_column(sa.Float(precision=53))
    ttft_p99: so.Mapped[Optional[float]] = so.mapped_column(sa.Float(precision=53))
    # {"<bin>": count}: latency // LATENCY_BIN_MS, the last bin open-ended.
    latency_histogram: so.Mapped[dict[str, Any]] = so.mapped_column(sa.JSON, default=dict)
    # [[kind, reason, status, count], …] for flags on that day's interactions.
    flags: so.Mapped[list[Any]] = so.mapped_column(sa.JSON, default=list)
    # {model or "": {bucket: count}} of latency_ms, and {bucket: count} of ttft_ms (pilot.analytics.sketch)
    latency_sketch: so.Mapped[Optional[dict[str, Any]]] = so.mapped_column(sa.JSON, default=dict)
    ttft_sketch: so.Mapped[Optional[dict[str, Any]]] = so.mapped_column(sa.JSON, default=dict)


class RollupState(db.Model):
    """When a pilot's rollup was last brought up to date (the row is also the refresh lock)."""

    __tablename__ = "analytics_state"

    pilot_id: so.Mapped[int] = so.mapped_column(sa.ForeignKey("pilot.id", ondelete="CASCADE"), primary_key=True)
    refreshed_at: so.Mapped[Optional[datetime]]  # None: never built (the next refresh builds every day)
    updated_at: so.Mapped[datetime] = so.mapped_column(default=utcnow, onupdate=utcnow)


class RollupChange(db.Model):
    """A UTC day of a pilot whose rollup rows are out of date: written in the same transaction as
    the change (pilot.analytics.changes), deleted by the refresh that brings the day up to date.

    With `first_id`…`last_id`, the change is only that those interactions (ids this transaction
    inserted, all of them, and their own flags and ratings) were added: the refresh adds their
    numbers to the rollup. Without, anything may have changed on that day: it is recomputed.
    Append-only (no unique key), so concurrent writers never wait on each other's rows; a day
    listed twice is recomputed once."""

    __tablename__ = "rollup_change"
    __table_args__ = (sa.Index("ix_rollup_change_pilot_day", "pilot_id", "day"),)

    id: so.Mapped[int] = so.mapped_column(BigIntPK, primary_key=True)
    pilot_id: so.Mapped[int] = so.mapped_column(sa.ForeignKey("pilot.id", ondelete="CASCADE"))
    day: so.Mapped[date]  # with an id range: the earliest day of the batch (the range may span days)
    first_id: so.Mapped[Optional[int]] = so.mapped_column(sa.BigInteger)
    last_id: so.Mapped[Optional[int]] = so.mapped_column(sa.BigInteger)

