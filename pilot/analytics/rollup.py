"""Keep a pilot's daily rollup (pilot.models.analytics) up to date, per day, from captured changes.

Every write to interactions, feedback or flags appends a record to `rollup_change` in the
writing transaction (pilot.analytics.changes); `refresh` deletes the pilot's records and brings
exactly those days up to date. Interactions that were only added (recorded as id ranges) have
their numbers — counts, sums, latency sketches, histogram, their flags and ratings — added to
the rollup rows of their days, read by primary key: a burst costs what the burst holds, however
big its day or the pilot. Any other change (an edit, a deletion, a rating or review of an older
interaction) recomputes its day from the day's rows. The first refresh of a pilot computes every
day. No timestamps and no look-back window: a row committed late, an in-place edit of an old row
or a deletion is recorded like any other write, and a quiet pilot costs one tiny indexed query.
Percentiles come from the sketches (pilot.analytics.sketch): within 1 % of the exact ones.

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

from pilot.analytics import sketch
from pilot.analytics.frames import raw_rows
from pilot.database import insert_ignoring_conflicts, lock_against_writers
from pilot.extensions import db
from pilot.metrics import FAILED as FAILURE
from pilot.metrics import FEEDBACK_NEGATIVE, FEEDBACK_POSITIVE, as_day, day_bounds, day_of
from pilot.models import DailyRollup, DayRollup, Feedback, Flag, Interaction, Pilot, RollupChange, RollupState
from pilot.models.base import utcnow

LATENCY_BIN_MS = 100
LATENCY_LAST_BIN = 600  # bins of 100 ms up to 60 s; the last one holds everything slower
NO_MODEL = ""  # the latency sketch's key for interactions without a model
RANGES_PER_QUERY = 200  # id ranges OR-ed into one query of added rows
SUMS = ("interactions", "failures", "fallbacks", "known_cost", "cost_usd", "latency_count", "feedback_count",
        "feedback_positive", "feedback_negative", "rating_count", "rating_sum")


def refresh(session: so.Session, pilot: Pilot, *, rebuild: bool = False) -> list[date]:
    """Bring the days written since the last refresh up to date (every day on the first one, or
    with `rebuild`); returns them. No commit: the caller's transaction holds the work.

    Read-only when nothing is pending. Otherwise the pilot's state row is locked first (FOR
    UPDATE on PostgreSQL; SQLite serialises writers anyway), and the pending records are taken
    with DELETE … RETURNING: exactly the records visible now, so a record committed while we
    work stays for the next refresh, and two refreshes never split or repeat the work.

    Adding is only right for rows counted exactly once. Added rows are read by their taken id
    ranges, so a later record's rows are never read. A recomputed day reads all of the day's
    committed rows, so on PostgreSQL (where other writers commit while we work) the refresh
    then also locks `rollup_change` against new records and takes again: every row it reads
    has its record taken, and no record left behind names a row already counted.
    """
    built = session.scalar(sa.select(RollupState.refreshed_at).where(RollupState.pilot_id == pilot.id))
    if built is not None and not rebuild and not pending(session, pilot):
        return []
    state = _locked_state(session, pilot)
    taken = _take(session, pilot)
    full = state.refreshed_at is None or rebuild or any(first is None for _, first, _ in taken)
    if full and lock_against_writers(session, RollupChange.__tablename__):
        taken += _take(session, pilot)
    if state.refreshed_at is None or rebuild:
        session.execute(sa.delete(DailyRollup).where(DailyRollup.pilot_id == pilot.id))
        session.execute(sa.delete(DayRollup).where(DayRollup.pilot_id == pilot.id))
        days, ranges = _all_days(session, pilot), []
    else:
        days = sorted({as_day(day) for day, first, _ in taken if first is None})
        ranges = sorted((first, last) for _, first, last in taken if first is not None)
    for first, last in _runs(days):
        recompute(session, pilot, first, last)
    added = add_rows(session, pilot, ranges, skip=set(days))
    if days or added or state.refreshed_at is None:
        state.refreshed_at = utcnow()  # also the cost page's cache key (pilot.analytics.costs)
    session.flush()
    return sorted(set(days) | set(added))


def _take(session: so.Session, pilot: Pilot) -> list[tuple]:
    """Delete the pilot's pending records, returning (day, first_id, last_id) of each."""
    return [tuple(row) for row in session.execute(
        sa.delete(RollupChange).where(RollupChange.pilot_id == pilot.id)
        .returning(RollupChange.day, RollupChange.first_id, RollupChange.last_id))]


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
    values = {"pilot_id": pilot.id, "refreshed_at": None, "updated_at": utcnow()}
    session.execute(insert_ignoring_conflicts(session, RollupState).values(**values))
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
            parts = _day_parts(session, first, day, in_span)
            session.execute(sa.insert(DayRollup.__table__),
                            [_day_row(pilot, day_value, part) for day_value, part in sorted(parts.items())])
        first = span_last + timedelta(days=1)


def add_rows(session: so.Session, pilot: Pilot, ranges: list[tuple[int, int]], skip: set[date]) -> list[date]:
    """Add the numbers of the interactions in these id ranges (with their ratings and flags) to
    the rollup rows of their days, except days in `skip` (recomputed whole); returns the days.

    Reads only those rows, by primary key, and only the rollup rows of their days: bounded by
    the burst, not by its day or the pilot."""
    groups: dict[tuple, dict[str, Any]] = {}
    parts: dict[date, dict[str, Any]] = {}
    day = [day_of(Interaction.occurred_at)]
    for start in range(0, len(ranges), RANGES_PER_QUERY):
        chunk = ranges[start:start + RANGES_PER_QUERY]
        where = [Interaction.pilot_id == pilot.id,
                 sa.or_(*(Interaction.id.between(first, last) for first, last in chunk))]
        for row in _group_rows(session, pilot, None, day, where):
            if row["day"] not in skip:
                _add_group(groups, row)
        for day_value, part in _day_parts(session, None, day, where).items():
            if day_value not in skip:
                parts[day_value] = _merge_parts(parts.get(day_value), part)
    days = sorted({key[0] for key in groups} | set(parts))
    if not days:
        return []
    table = DailyRollup.__table__
    existing = {(r.day if isinstance(r.day, date) else as_day(r.day), r.model, r.prompt_version, r.external_user_id): r
                for r in session.execute(sa.select(table).where(table.c.pilot_id == pilot.id, table.c.day.in_(days)))}
    updates, inserts = [], []
    for key, row in groups.items():
        old = existing.get(key)
        if old is None:
            inserts.append(row)
        else:
            updates.append({"row_id": old.id, **{name: getattr(old, name) + row[name] for name in SUMS}})
    if updates:
        session.execute(sa.update(table).where(table.c.id == sa.bindparam("row_id"))
                        .values({name: sa.bindparam(name) for name in SUMS}), updates)
    if inserts:
        session.execute(sa.insert(table), inserts)
    stored = {d.day: d for d in session.scalars(
        sa.select(DayRollup).where(DayRollup.pilot_id == pilot.id, DayRollup.day.in_(days)))}
    for day_value, part in parts.items():
        old = stored.get(day_value)
        if old is None:
            session.add(DayRollup(**_day_row(pilot, day_value, part)))
            continue
        merged = _merge_parts({"latency_sketch": old.latency_sketch or {}, "ttft_sketch": old.ttft_sketch or {},
                               "latency_histogram": old.latency_histogram or {}, "flags": old.flags or []}, part)
        for name, value in _day_row(pilot, day_value, merged).items():
            setattr(old, name, value)
    return days


def _add_group(groups: dict[tuple, dict[str, Any]], row: dict[str, Any]) -> None:
    key = (row["day"], row["model"], row["prompt_version"], row["external_user_id"])
    if key in groups:
        for name in SUMS:
            groups[key][name] += row[name]
    else:
        groups[key] = row


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


def _day_parts(session: so.Session, first: date | None, day: list, where: list) -> dict[date, dict[str, Any]]:
    """Per day of the matching rows: latency sketches per model, the TTFT sketch, the latency
    histogram and flag counts — all additive, so parts of a day merge (`_merge_parts`)."""
    rows = raw_rows(session, sa.select(Interaction.latency_ms, Interaction.ttft_ms, Interaction.model, *day)
                    .where(*where))
    timings = np.array([row[:2] for row in rows], dtype="float64").reshape(-1, 2)  # None → NaN
    by_raw = {raw: as_day(raw) for raw in dict.fromkeys(row[3] for row in rows)} if day else {}
    frame = pd.DataFrame({"day": [by_raw[row[3]] for row in rows] if day else [first] * len(rows),
                          "model": [NO_MODEL if row[2] is None else row[2] for row in rows],
                          "latency": timings[:, 0], "ttft": timings[:, 1]})
    del rows
    flags: dict[date, list] = {}
    for row in session.execute(
        sa.select(*day, Flag.kind, Flag.reason, Flag.status, sa.func.count(Flag.id))
        .select_from(Interaction).join(Flag, Flag.interaction_id == Interaction.id).where(*where)
        .group_by(*day, Flag.kind, Flag.reason, Flag.status)
    ):
        day_value, kind, reason, status, count = _with_day(row, first, day)
        flags.setdefault(day_value, []).append([kind, reason, status, count])
    result = {}
    for day_value, timings in frame.groupby("day", sort=True):
        latency = timings["latency"].dropna()
        result[day_value] = {
            "latency_sketch": {model: sketch.sketch_of(values) for model, values
                               in latency.groupby(timings.loc[latency.index, "model"], sort=True)},
            "ttft_sketch": sketch.sketch_of(timings["ttft"].to_numpy()),
            "latency_histogram": latency_histogram(latency), "flags": flags.get(day_value, []),
        }
    return result


def _merge_parts(old: dict[str, Any] | None, new: dict[str, Any]) -> dict[str, Any]:
    """Two parts of one day's numbers as one (counts add)."""
    if old is None:
        return new
    flags: dict[tuple, int] = {}
    for kind, reason, status, count in [*old["flags"], *new["flags"]]:
        flags[(kind, reason, status)] = flags.get((kind, reason, status), 0) + int(count)
    models = set(old["latency_sketch"]) | set(new["latency_sketch"])
    return {
        "latency_sketch": {m: sketch.merge(old["latency_sketch"].get(m), new["latency_sketch"].get(m)) for m in models},
        "ttft_sketch": sketch.merge(old["ttft_sketch"], new["ttft_sketch"]),
        "latency_histogram": sketch.merge(old["latency_histogram"], new["latency_histogram"]),
        "flags": [[*key, count] for key, count in flags.items()],
    }


def _day_row(pilot: Pilot, day_value: date, part: dict[str, Any]) -> dict[str, Any]:
    """An analytics_day row from a day's merged parts; its percentiles read from the sketches."""
    lat = sketch.percentiles(sketch.merge(*part["latency_sketch"].values()))
    first_token = sketch.percentiles(part["ttft_sketch"])
    return {
        "pilot_id": pilot.id, "day": day_value,
        "latency_p50": lat["p50"], "latency_p95": lat["p95"], "latency_p99": lat["p99"],
        "ttft_p50": first_token["p50"], "ttft_p95": first_token["p95"], "ttft_p99": first_token["p99"],
        "latency_histogram": dict(sorted(part["latency_histogram"].items(), key=lambda kv: int(kv[0]))),
        "flags": sorted(part["flags"]),
        "latency_sketch": {m: dict(sorted(sk.items())) for m, sk in sorted(part["latency_sketch"].items())},
        "ttft_sketch": dict(sorted(part["ttft_sketch"].items())),
    }


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
