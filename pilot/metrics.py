"""One definition per concept, in SQL and in Python (docs/design.md's formulas).

A low-level module: it imports only the models, SQLAlchemy and the standard library, so the write
side (ingest, feedback, flagging, review) and the read side (analytics, readiness) both import it
downward and never each other for a definition.

- failed = status ≠ ok (analytics, alerts, the report, the prompt comparison);
- ai_error = status in error / timeout / rate_limited: the user saw the AI fail without a
  fallback (readiness facts, flag rules, the ingest token check);
- positive feedback = thumbs up or rating ≥ 4; negative = thumbs down or rating ≤ 2 (one rating
  can be both when it carries a thumb and a rating that disagree);
- members: `MEMBER` = not removed, any role (links interactions and ratings to a membership,
  decides `unenrolled_user`); `SEAT` = a participant who is not removed (invited ones too: the
  `max_participants` cap); `ENROLLED` = a participant who accepted the invite (active or paused):
  `participants.enrolled` everywhere (report, dashboard, roster, the dashboard's per-user column);
- window_days, the known cost of a span (cost per day), cost per month, the UTC day of a
  timestamp, and the round step of a histogram's bins;
- percentile at share q of n values = linear interpolation between the sorted values at ranks
  ⌊q(n−1)⌋ and ⌊q(n−1)⌋+1 (pandas' and numpy's default). `quantile` computes it from values,
  `rank_position` + `interpolate` are the same definition for readers that fetch the two
  neighbours themselves (the alert window's query, a latency sketch).
"""
from __future__ import annotations

import math
from datetime import date, datetime, time, timedelta
from typing import Any, Sequence

import numpy as np
import sqlalchemy as sa
from sqlalchemy import orm as so

from pilot.models import Feedback, Interaction, Membership, Pilot

AI_ERROR_STATUSES = ("error", "timeout", "rate_limited")

FAILED = Interaction.status != "ok"
AI_ERROR = Interaction.status.in_(AI_ERROR_STATUSES)
FEEDBACK_POSITIVE = sa.or_(Feedback.thumbs == "up", Feedback.rating >= 4)
FEEDBACK_NEGATIVE = sa.or_(Feedback.thumbs == "down", Feedback.rating <= 2)
PERCENTILES = {"p50": 0.5, "p95": 0.95, "p99": 0.99}  # the percentiles every page reports

ENROLLED_STATUSES = ("active", "paused")
MEMBER = Membership.status != "removed"
SEAT = sa.and_(Membership.role == "participant", MEMBER)
ENROLLED = sa.and_(Membership.role == "participant", Membership.status.in_(ENROLLED_STATUSES))

DAYS_PER_MONTH = 30


def is_failed(status: str | None) -> bool:
    """Python form of FAILED: any status but ok."""
    return status != "ok"


def is_ai_error(status: str | None) -> bool:
    """Python form of AI_ERROR."""
    return status in AI_ERROR_STATUSES


def is_negative(thumbs: str | None, rating: int | None) -> bool:
    """Python form of FEEDBACK_NEGATIVE."""
    return thumbs == "down" or (rating is not None and rating <= 2)


def is_positive(thumbs: str | None, rating: int | None) -> bool:
    """Python form of FEEDBACK_POSITIVE."""
    return thumbs == "up" or (rating is not None and rating >= 4)


def is_member(status: str | None) -> bool:
    """Python form of MEMBER: any membership that has not been removed (None: no membership)."""
    return status is not None and status != "removed"


def holds_seat(role: str | None, status: str | None) -> bool:
    """Python form of SEAT: a participant invited, active or paused."""
    return role == "participant" and is_member(status)


def is_enrolled(role: str | None, status: str | None) -> bool:
    """Python form of ENROLLED: a participant who accepted the invite and was not removed."""
    return role == "participant" and status in ENROLLED_STATUSES


def participant_counts(session: so.Session, pilot: Pilot) -> dict[str, int]:
    """`enrolled` (ENROLLED) and `invited` (a SEAT not yet accepted), in one grouped query."""
    rows = dict(session.execute(
        sa.select(Membership.status, sa.func.count(Membership.id))
        .where(Membership.pilot_id == pilot.id, SEAT).group_by(Membership.status)
    ).all())
    return {"enrolled": sum(rows.get(status, 0) for status in ENROLLED_STATUSES), "invited": rows.get("invited", 0)}


def seats_taken(session: so.Session, pilot: Pilot) -> int:
    """Participants counted against `max_participants` (SEAT)."""
    return session.scalar(sa.select(sa.func.count(Membership.id)).where(Membership.pilot_id == pilot.id, SEAT)) or 0


def day_of(column: sa.ColumnElement) -> sa.ColumnElement:
    """The UTC calendar day of a timestamp column (`date()` exists in SQLite and PostgreSQL)."""
    return sa.func.date(column)


def as_day(value: str | date | datetime | None) -> date | None:
    """A day as `date`, whatever the driver returned ('2026-03-01' on SQLite, a date on PostgreSQL)."""
    if value is None or isinstance(value, date) and not isinstance(value, datetime):
        return value
    if isinstance(value, datetime):
        return value.date()
    return date.fromisoformat(str(value)[:10])


def day_bounds(start: date | None, end: date | None) -> tuple[datetime | None, datetime | None]:
    """[start 00:00, day after end 00:00): both days inclusive, as naive UTC timestamps."""
    low = datetime.combine(start, time.min) if start else None
    high = datetime.combine(end + timedelta(days=1), time.min) if end else None
    return low, high


def window_days(first: str | date | datetime | None, last: str | date | datetime | None) -> int:
    """Calendar days (UTC) from the first to the last interaction, inclusive; 0 without interactions."""
    first_day, last_day = as_day(first), as_day(last)
    if first_day is None or last_day is None:
        return 0
    return (last_day - first_day).days + 1


def known_cost(cost_sum: float | None, known: int, interactions: int) -> float | None:
    """The cost of a span (a day, a window): the sum of the known costs; $0 with no interactions;
    None when there were interactions but no cost is known (unknown is never zero)."""
    if known:
        return float(cost_sum)
    return 0.0 if not interactions else None


def cost_per_day(session: so.Session, pilot: Pilot) -> list[dict[str, Any]]:
    """Known cost (`known_cost`) and interactions per UTC day with interactions, oldest first."""
    day = day_of(Interaction.occurred_at)
    rows = session.execute(
        sa.select(day, sa.func.sum(Interaction.cost_usd), sa.func.count(Interaction.cost_usd),
                  sa.func.count(Interaction.id))
        .where(Interaction.pilot_id == pilot.id).group_by(day).order_by(day)
    ).all()
    return [{"day": as_day(d).isoformat(), "usd": known_cost(usd, known, n), "interactions": n}
            for d, usd, known, n in rows]


def per_month(amount: float | None, window_days: int, users: int = 1) -> float | None:
    """An amount over the window as a monthly figure per user: amount ÷ users ÷ window_days × 30
    (cost per active user per month; a user's own cost per month with users=1)."""
    if amount is None or not users or not window_days:
        return None
    return amount / users / window_days * DAYS_PER_MONTH


def nice_step(raw: float, multiple_of: float | None = None) -> float:
    """The smallest 1, 2, 2.5 or 5 × 10^k at or above `raw`: a histogram's bin width. With
    `multiple_of` (stored bins' width), at least that and a whole multiple of it."""
    if multiple_of:
        raw = max(raw, multiple_of)
    if raw <= 0:
        return 1.0
    magnitude = 10 ** math.floor(math.log10(raw))
    for factor in (1, 2, 2.5, 5, 10):
        width = factor * magnitude
        if width >= raw and (not multiple_of or width % multiple_of == 0):
            return width
    return 10 * magnitude


def feedback_counts(session: so.Session, pilot: Pilot) -> dict[str, Any]:
    """Positive = thumbs up or rating ≥ 4; negative = thumbs down or rating ≤ 2; mean over 1–5 ratings."""
    count, positive, negative, mean_rating = session.execute(
        sa.select(
            sa.func.count(Feedback.id),
            sa.func.count(Feedback.id).filter(FEEDBACK_POSITIVE),
            sa.func.count(Feedback.id).filter(FEEDBACK_NEGATIVE),
            sa.func.avg(Feedback.rating),
        ).where(Feedback.pilot_id == pilot.id)
    ).one()
    return {
        "count": count,
        "positive": positive,
        "negative": negative,
        "mean_rating": float(mean_rating) if mean_rating is not None else None,
    }


def rank_position(share: float, count: int) -> tuple[int, float]:
    """Where the percentile at `share` of `count` sorted values lies: the lower neighbour's rank
    (0-based) and the fraction of the way to the next one."""
    position = share * (count - 1)
    low = math.floor(position)
    return low, position - low


def interpolate(low_value: float, high_value: float | None, fraction: float) -> float:
    """The percentile from its two neighbours (`high_value` None when there is no next value)."""
    if high_value is None or fraction == 0:
        return float(low_value)
    return float(low_value + (high_value - low_value) * fraction)


def quantile(values: Sequence[float] | np.ndarray, shares: float | Sequence[float], axis: int | None = None):
    """The percentile definition over plain values (NaN-free): numpy's linear method, which is
    `rank_position` + `interpolate`. A float for one share, an array for several or with `axis`."""
    result = np.quantile(np.asarray(values, dtype="float64"), shares, axis=axis, method="linear")
    return float(result) if np.ndim(result) == 0 else result


def percentiles(values: Sequence[float] | np.ndarray) -> dict[str, float | None]:
    """p50/p95/p99 of the values (None each when there are none)."""
    values = np.asarray(values, dtype="float64")
    if values.size == 0:
        return {name: None for name in PERCENTILES}
    return dict(zip(PERCENTILES, quantile(values, list(PERCENTILES.values())).tolist()))
