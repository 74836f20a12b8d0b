"""Keep a pilot's daily rollup (pilot.models.analytics) up to date, lazily and per day.

`refresh` runs before the dashboard reads. It finds the UTC days whose interactions arrived, or
whose feedback or flags changed, since the last refresh (indexed range scans over received_at /
updated_at, so a quiet pilot costs three tiny queries) and recomputes exactly those days from the
interaction rows — narrow SQL aggregates, and the latency columns for the day's percentiles. The
first refresh of a pilot computes every day. A row committed late (its transaction began before
the last refresh but committed after it) is still found: the look-back starts LAG before the last
refresh, and a fingerprint of that window (counts and latest stamps) says whether anything in it
changed since, so a view of unchanged data recomputes nothing. In-place edits of old interactions or deletions are not noticed by timestamps; whoever
does those calls `invalidate` (the next refresh then recomputes everything).
"""
from __future__ import annotations

from datetime import date, datetime, timedelta
from typing import Any, Iterable

import numpy as np
import pandas as pd
import sqlalchemy as sa
from sqlalchemy import orm as so
from sqlalchemy.dialects import postgresql, sqlite

from pilot.analytics.frames import raw_rows
from pilot.analytics.summary import percentiles
from pilot.metrics import FAILED as FAILURE
from pilot.metrics import FEEDBACK_NEGATIVE, FEEDBACK_POSITIVE, as_day, day_bounds, day_of
from pilot.models import DailyRollup, DayRollup, Feedback, Flag, Interaction, Pilot, RollupState
from pilot.models.base import utcnow

LAG = timedelta(minutes=2)  # longer than any ingestion transaction takes to commit
LATENCY_BIN_MS = 100
LATENCY_LAST_BIN = 600  # bins of 100 ms up to 60 s; the last one holds everything slower


def refresh(session: so.Session, pilot: Pilot, now: datetime | None = None) -> list[date]:
    """Recompute the days that changed since the last refresh; returns them (no commit).

    Read-only when nothing changed. Otherwise the pilot's state row is locked first (FOR UPDATE
    on PostgreSQL; SQLite serialises writers anyway), and the work is re-planned under the lock,
    so a request that waited for another one's refresh does not redo it.
    """
    now = now or utcnow()
    known = session.execute(
        sa.select(RollupState.refreshed_at, RollupState.looked_back_from, RollupState.fingerprint)
        .where(RollupState.pilot_id == pilot.id)
    ).one_or_none()
    if known is not None and known.refreshed_at is not None and _unchanged(session, pilot, known):
        return []
    state = _locked_state(session, pilot)
    # Taken before any data is read: a row committed from here on changes the next fingerprint.
    looked_back_from = now - LAG
    next_fingerprint = fingerprint(session, pilot, looked_back_from)
    if state.refreshed_at is None:
        session.execute(sa.delete(DailyRollup).where(DailyRollup.pilot_id == pilot.id))
        session.execute(sa.delete(DayRollup).where(DayRollup.pilot_id == pilot.id))
        days = _all_days(session, pilot)
    elif _unchanged(session, pilot, state):  # the request we waited for did the work
        return []
    else:
        days = _changed_days(session, pilot, state.looked_back_from)
    for first, last in _runs(days):
        recompute(session, pilot, first, last)
    state.refreshed_at, state.looked_back_from, state.fingerprint = now, looked_back_from, next_fingerprint
    session.flush()
    return days


def fingerprint(session: so.Session, pilot: Pilot, since: datetime) -> list[list]:
    """How many interactions, ratings and flags were stamped at or after `since`, and the latest
    stamp of each: three index range scans over recent rows only. A new row, a late commit or an
    update (its stamp becomes the latest) changes it."""
    result = []
    for column, owner in ((Interaction.received_at, Interaction.pilot_id), (Feedback.updated_at, Feedback.pilot_id),
                          (Flag.updated_at, Flag.pilot_id)):
        count, latest = session.execute(
            sa.select(sa.func.count(), sa.func.max(column)).where(owner == pilot.id, column >= since)
        ).one()
        result.append([count, latest.isoformat() if latest is not None else None])
    return result


def _unchanged(session: so.Session, pilot: Pilot, state) -> bool:
    return (state.looked_back_from is not None
            and state.fingerprint == fingerprint(session, pilot, state.looked_back_from))


def invalidate(session: so.Session, pilot: Pilot) -> None:
    """Forget the rollup's freshness: the next refresh recomputes every day (no commit)."""
    session.execute(sa.update(RollupState).where(RollupState.pilot_id == pilot.id)
                    .values(refreshed_at=None, fingerprint=None))


def _locked_state(session: so.Session, pilot: Pilot) -> RollupState:
    """The pilot's state row, created if missing (concurrent creators do not collide), locked."""
    dialect = session.get_bind().dialect.name
    values = {"pilot_id": pilot.id, "refreshed_at": None, "updated_at": utcnow()}
    if dialect == "postgresql":
        session.execute(postgresql.insert(RollupState).values(**values).on_conflict_do_nothing())
    elif dialect == "sqlite":
        session.execute(sqlite.insert(RollupState).values(**values).on_conflict_do_nothing())
    elif session.get(RollupState, pilot.id) is None:
        session.add(RollupState(**values))
        session.flush()
    return session.scalars(
        sa.select(RollupState).where(RollupState.pilot_id == pilot.id).with_for_update()
        .execution_options(populate_existing=True)
    ).one()


def _all_days(session: so.Session, pilot: Pilot) -> list[date]:
    """First to last day with interactions (two separate index lookups: one min(), one max())."""
    where = Interaction.pilot_id == pilot.id
    first = session.scalar(sa.select(sa.func.min(Interaction.occurred_at)).where(where))
    last = session.scalar(sa.select(sa.func.max(Interaction.occurred_at)).where(where))
    if first is None:
        return []
    first_day, last_day = as_day(first), as_day(last)
    return [first_day + timedelta(days=n) for n in range((last_day - first_day).days + 1)]


def _changed_days(session: so.Session, pilot: Pilot, since: datetime) -> list[date]:
    """Days of the interactions received, or whose ratings or flags changed, at or after `since`."""
    day = day_of(Interaction.occurred_at)
    queries = [
        sa.select(day).where(Interaction.pilot_id == pilot.id, Interaction.received_at >= since),
        sa.select(day).join(Feedback, Feedback.interaction_id == Interaction.id)
        .where(Feedback.pilot_id == pilot.id, Feedback.updated_at >= since),
        sa.select(day).join(Flag, Flag.interaction_id == Interaction.id)
        .where(Flag.pilot_id == pilot.id, Flag.updated_at >= since),
    ]
    days = set()
    for query in queries:
        days.update(as_day(value) for value in session.scalars(query.distinct()))
    return sorted(days)


def _runs(days: Iterable[date]) -> list[tuple[date, date]]:
    """Consecutive days as (first, last) ranges, so each range is one indexed scan."""
    runs: list[tuple[date, date]] = []
    for day in sorted(days):
        if runs and day == runs[-1][1] + timedelta(days=1):
            runs[-1] = (runs[-1][0], day)
        else:
            runs.append((day, day))
    return runs


SPAN_DAYS = 7  # days computed by one set of queries: few queries, and at most a week's latencies in memory


def recompute(session: so.Session, pilot: Pilot, first: date, last: date) -> None:
    """Replace the rollup rows of the days `first`…`last` with numbers computed from the data.

    Up to SPAN_DAYS days at a time, in four queries whatever the number of days (each an index
    range scan of the span, grouped by day): a first refresh of a month is a few dozen queries,
    not four per day, and a single day is grouped by plain columns (no per-row date()).
    """
    session.execute(sa.delete(DailyRollup).where(DailyRollup.pilot_id == pilot.id, DailyRollup.day.between(first, last)))
    session.execute(sa.delete(DayRollup).where(DayRollup.pilot_id == pilot.id, DayRollup.day.between(first, last)))
    while first <= last:
        span_last = min(last, first + timedelta(days=SPAN_DAYS - 1))
        low, high = day_bounds(first, span_last)
        in_span = [Interaction.pilot_id == pilot.id, Interaction.occurred_at >= low, Interaction.occurred_at < high]
        # The day of each row: one day is the span's own (no per-row date() to compute or group by).
        day = [] if first == span_last else [day_of(Interaction.occurred_at)]
        groups = _group_rows(session, pilot, first, day, in_span)
        if groups:
            session.execute(sa.insert(DailyRollup.__table__), groups)
            session.execute(sa.insert(DayRollup.__table__), _day_rows(session, pilot, first, day, in_span))
        first = span_last + timedelta(days=1)


def _group_rows(session: so.Session, pilot: Pilot, first: date, day: list, in_span: list) -> list[dict[str, Any]]:
    """Counts and sums per day × model × prompt version × user, feedback included."""
    keys = (*day, Interaction.model, Interaction.prompt_version, Interaction.external_user_id)
    counted = session.execute(
        sa.select(
            *keys,
            sa.func.count(Interaction.id),
            sa.func.count(Interaction.id).filter(FAILURE),
            sa.func.count(Interaction.id).filter(Interaction.status == "fallback"),
            sa.func.count(Interaction.cost_usd),
            sa.func.coalesce(sa.func.sum(Interaction.cost_usd), 0.0),
            sa.func.count(Interaction.latency_ms),
        ).where(*in_span).group_by(*keys)
    ).all()
    rated = session.execute(
        sa.select(
            *keys,
            sa.func.count(Feedback.id),
            sa.func.count(Feedback.id).filter(FEEDBACK_POSITIVE),
            sa.func.count(Feedback.id).filter(FEEDBACK_NEGATIVE),
            sa.func.count(Feedback.rating),
            sa.func.coalesce(sa.func.sum(Feedback.rating), 0),
        ).join(Feedback, Feedback.interaction_id == Interaction.id).where(*in_span).group_by(*keys)
    ).all()
    ratings = {_with_day(r, first, day)[:4]: _with_day(r, first, day)[4:] for r in rated}
    rows = []
    for row in counted:
        day_value, model, version, user, interactions, failures, fallbacks, known, cost, latencies = _with_day(row, first, day)
        count, positive, negative, rating_count, rating_sum = ratings.get((day_value, model, version, user),
                                                                          (0, 0, 0, 0, 0))
        rows.append({
            "pilot_id": pilot.id, "day": day_value, "model": model, "prompt_version": version,
            "external_user_id": user, "interactions": interactions, "failures": failures, "fallbacks": fallbacks,
            "known_cost": known, "cost_usd": float(cost), "latency_count": latencies,
            "feedback_count": count, "feedback_positive": positive, "feedback_negative": negative,
            "rating_count": rating_count, "rating_sum": int(rating_sum),
        })
    return rows


def _day_rows(session: so.Session, pilot: Pilot, first: date, day: list, in_span: list) -> list[dict[str, Any]]:
    """Per day of the span with interactions: exact percentiles, a latency histogram, flag counts."""
    rows = raw_rows(session, sa.select(Interaction.latency_ms, Interaction.ttft_ms, *day).where(*in_span))
    timings = np.array([row[:2] for row in rows], dtype="float64").reshape(-1, 2)  # None → NaN
    by_raw = {raw: as_day(raw) for raw in dict.fromkeys(row[2] for row in rows)} if day else {}
    frame = pd.DataFrame({"day": [by_raw[row[2]] for row in rows] if day else [first] * len(rows),
                          "latency": timings[:, 0], "ttft": timings[:, 1]})
    del rows
    flags: dict[date, list] = {}
    for row in session.execute(
        sa.select(*day, Flag.kind, Flag.reason, Flag.status, sa.func.count(Flag.id))
        .select_from(Interaction).join(Flag, Flag.interaction_id == Interaction.id).where(*in_span)
        .group_by(*day, Flag.kind, Flag.reason, Flag.status)
    ):
        day_value, kind, reason, status, count = _with_day(row, first, day)
        flags.setdefault(day_value, []).append([kind, reason, status, count])
    result = []
    for day_value, timings in frame.groupby("day", sort=True):
        latency = timings["latency"].dropna().reset_index(drop=True)
        lat, first_token = percentiles(latency), percentiles(timings["ttft"].dropna())
        result.append({
            "pilot_id": pilot.id, "day": day_value,
            "latency_p50": lat["p50"], "latency_p95": lat["p95"], "latency_p99": lat["p99"],
            "ttft_p50": first_token["p50"], "ttft_p95": first_token["p95"], "ttft_p99": first_token["p99"],
            "latency_histogram": latency_histogram(latency), "flags": sorted(flags.get(day_value, [])),
        })
    return result


def _with_day(row, first: date, day: list) -> tuple:
    """A grouped row with its day first, as a date (the span's own day when it was not selected)."""
    return (as_day(row[0]), *row[1:]) if day else (first, *row)


def latency_histogram(latency: pd.Series) -> dict[str, int]:
    """Counts per 100 ms bin (as JSON object keys); everything from 60 s up in the last bin."""
    if latency.empty:
        return {}
    bins = np.minimum(np.maximum(latency.to_numpy() // LATENCY_BIN_MS, 0), LATENCY_LAST_BIN).astype(int)
    values, counts = np.unique(bins, return_counts=True)
    return {str(int(v)): int(c) for v, c in zip(values, counts)}
