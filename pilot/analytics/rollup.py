"""Keep a pilot's daily rollup (pilot.models.analytics) up to date, per day, from captured changes.

Every write to interactions, feedback or flags appends its (pilot, day) to `rollup_change` in the
writing transaction (pilot.analytics.changes); `refresh` deletes the pilot's records and
recomputes exactly those days from the interaction rows — narrow SQL aggregates, and the
latency columns for the day's percentiles. The first refresh of a pilot computes every day. No
timestamps and no look-back window: a row committed late, an in-place edit of an old row or a
deletion is recorded like any other write, and a quiet pilot costs one tiny indexed query.

Who refreshes: the worker after each ingested batch (pilot.worker.jobs.refresh_rollup), and the
dashboard's GET through `refresh_apart` — its own short transaction, committed before the page
reads, so the page never serves a stale number and the GET's own unit of work writes nothing.
"""
from __future__ import annotations

from datetime import date, timedelta
from typing import Any, Iterable

import numpy as np
import pandas as pd
import sqlalchemy as sa
from sqlalchemy import orm as so
from sqlalchemy.dialects import postgresql, sqlite

from pilot.analytics.frames import raw_rows
from pilot.analytics.summary import percentiles
from pilot.extensions import db
from pilot.metrics import FAILED as FAILURE
from pilot.metrics import FEEDBACK_NEGATIVE, FEEDBACK_POSITIVE, as_day, day_bounds, day_of
from pilot.models import DailyRollup, DayRollup, Feedback, Flag, Interaction, Pilot, RollupChange, RollupState
from pilot.models.base import utcnow

LATENCY_BIN_MS = 100
LATENCY_LAST_BIN = 600  # bins of 100 ms up to 60 s; the last one holds everything slower


def refresh(session: so.Session, pilot: Pilot, *, rebuild: bool = False) -> list[date]:
    """Recompute the days written since the last refresh (every day on the first one, or with
    `rebuild`); returns them. No commit: the caller's transaction holds the work.

    Read-only when nothing is pending. Otherwise the pilot's state row is locked first (FOR
    UPDATE on PostgreSQL; SQLite serialises writers anyway), and the pending records are taken
    with DELETE … RETURNING: exactly the records visible now, so a record committed while we
    recompute stays for the next refresh, and two refreshes never split or repeat the work.
    """
    built = session.scalar(sa.select(RollupState.refreshed_at).where(RollupState.pilot_id == pilot.id))
    if built is not None and not rebuild and not pending(session, pilot):
        return []
    state = _locked_state(session, pilot)
    taken = session.scalars(sa.delete(RollupChange).where(RollupChange.pilot_id == pilot.id)
                            .returning(RollupChange.day)).all()
    if state.refreshed_at is None or rebuild:
        session.execute(sa.delete(DailyRollup).where(DailyRollup.pilot_id == pilot.id))
        session.execute(sa.delete(DayRollup).where(DayRollup.pilot_id == pilot.id))
        days = _all_days(session, pilot)
    else:
        days = sorted({as_day(day) for day in taken})
    for first, last in _runs(days):
        recompute(session, pilot, first, last)
    if days or state.refreshed_at is None:
        state.refreshed_at = utcnow()  # also the cost page's cache key (pilot.analytics.costs)
    session.flush()
    return days


def pending(session: so.Session, pilot: Pilot) -> bool:
    """Whether writes to this pilot's data are waiting for a refresh (one indexed lookup)."""
    return session.scalar(sa.select(RollupChange.id).where(RollupChange.pilot_id == pilot.id).limit(1)) is not None


def refresh_apart(pilot_id: int) -> list[date]:
    """Refresh in a short transaction of its own, committed here, for a GET that must read fresh
    numbers but must not write in its own unit of work. Chosen over computing the pending days
    read-only for each response because the work is then done once (the next view, and the
    worker, find nothing pending) and the page reads one kind of data; a refresh that fails
    rolls back alone and its error propagates (no page with stale numbers)."""
    with so.Session(db.engine) as session:
        pilot = session.get(Pilot, pilot_id)
        days = refresh(session, pilot) if pilot is not None else []
        session.commit()
        return days


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
