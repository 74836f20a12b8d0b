"""The numbers of the overview dashboard, read from the daily rollup (pilot.analytics.rollup).

Same formulas as the readiness report (pilot.analytics.summary) and the breakdowns; without a date
range the headline numbers equal `pilot_summary`'s, except the latency percentiles: they are
read from the days' latency sketches (pilot.analytics.sketch), overall, per model and per day,
with or without a date range, and are within 1 % of the exact ones (the page says so). The
readiness report, on which a launch decision rests, keeps computing them exactly from the rows.
"""
from __future__ import annotations

import math
from datetime import date, timedelta
from typing import Any

import pandas as pd
import sqlalchemy as sa
from sqlalchemy import orm as so

from pilot.analytics import sketch
from pilot.analytics.frames import raw_rows
from pilot.analytics.rollup import LATENCY_BIN_MS, LATENCY_LAST_BIN, NO_MODEL, refresh
from pilot.analytics.summary import _ratio, cost_from_totals, interactions_from_counts
from pilot.analytics.usage import flag_counts_from_rows, usage_from_counts
from pilot.metrics import ENROLLED, as_day, known_cost, nice_step, participant_counts, per_month, window_days
from pilot.models import DailyRollup, DayRollup, Membership, Pilot
from pilot.models.flags import FLAG_STATUSES

NO_KEY = "\0none"  # stands for a missing model / version / user while grouping (pandas drops NaN keys)
ROLLUP_COLUMNS = ("day", "model", "prompt_version", "external_user_id", "interactions", "failures", "fallbacks",
                  "known_cost", "cost_usd", "latency_count", "feedback_count", "feedback_positive",
                  "feedback_negative", "rating_count", "rating_sum")
SUMMED = [c for c in ROLLUP_COLUMNS if c not in ("day", "model", "prompt_version", "external_user_id")]


def dashboard_numbers(session: so.Session, pilot: Pilot, *, start: date | None = None, end: date | None = None,
                      refresh_first: bool = True) -> dict[str, Any]:
    """Everything the dashboard shows, for the whole pilot or the inclusive day range."""
    if refresh_first:
        refresh(session, pilot)
    rows = _rollup_frame(session, pilot, start, end)
    days = _day_rollups(session, pilot, start, end)
    totals = rows[SUMMED].sum() if not rows.empty else pd.Series(0, index=SUMMED)
    window = _window(rows)
    active = int(rows.loc[rows["external_user_id"] != NO_KEY, "external_user_id"].nunique()) if not rows.empty else 0
    spread = _latency(days)
    flags = flag_counts_from_rows([(d.day, *flag) for d in days for flag in d.flags])
    return {
        "filter": {"start": start, "end": end},
        "window": window,
        "participants": {"enrolled": participant_counts(session, pilot)["enrolled"], "active": active,
                         "min": pilot.min_participants, "max": pilot.max_participants},
        "interactions": {**interactions_from_counts(int(totals["interactions"]), int(totals["failures"]),
                                                    int(totals["fallbacks"])),
                         "max_error_rate": pilot.max_error_rate},
        "latency_ms": {**spread["overall"], "target_p95": pilot.latency_target_p95_ms},
        "cost": cost_from_totals(pilot, float(totals["cost_usd"]) if totals["known_cost"] else None,
                                 int(totals["known_cost"]), int(totals["interactions"] - totals["known_cost"]),
                                 active, window["days"]),
        "feedback": _feedback(totals),
        "flags": {**{status: sum(r[status] for r in flags["by_reason"]) for status in FLAG_STATUSES},
                  "by_reason": flags["by_reason"]},
        "days": _per_day(rows, days, window),
        "latency_histogram": display_histogram(_merged_histogram(days), pilot.latency_target_p95_ms,
                                               spread["overall"]["p95"]),
        "models": _per_model(rows, spread["by_model"]),
        "prompt_versions": _per_version(rows),
        "users": _per_user(session, pilot, rows, window["days"]),
        "usage": _usage(rows, pilot),
    }


def _rollup_frame(session: so.Session, pilot: Pilot, start: date | None, end: date | None) -> pd.DataFrame:
    where = [DailyRollup.pilot_id == pilot.id]
    if start:
        where.append(DailyRollup.day >= start)
    if end:
        where.append(DailyRollup.day <= end)
    # The day comes back raw (a string on SQLite) and is parsed once per distinct day, not per row.
    columns = [sa.type_coerce(DailyRollup.day, sa.String)] + [getattr(DailyRollup, n) for n in ROLLUP_COLUMNS[1:]]
    rows = raw_rows(session, sa.select(*columns).where(*where))
    # Built column by column: from_records inspects every row object, three times slower.
    frame = pd.DataFrame(dict(zip(ROLLUP_COLUMNS, zip(*rows)))) if rows else pd.DataFrame(columns=list(ROLLUP_COLUMNS))
    frame["day"] = frame["day"].map({value: as_day(value) for value in frame["day"].unique()})
    for key in ("model", "prompt_version", "external_user_id"):
        frame[key] = frame[key].astype(object).where(frame[key].notna(), NO_KEY)
    return frame


def _day_rollups(session: so.Session, pilot: Pilot, start: date | None, end: date | None) -> list[DayRollup]:
    where = [DayRollup.pilot_id == pilot.id]
    if start:
        where.append(DayRollup.day >= start)
    if end:
        where.append(DayRollup.day <= end)
    return list(session.scalars(sa.select(DayRollup).where(*where).order_by(DayRollup.day)))


def _window(rows: pd.DataFrame) -> dict[str, Any]:
    """docs/design.md's window in days: first to last day with an interaction, inclusive."""
    if rows.empty:
        return {"start": None, "end": None, "days": 0}
    first, last = rows["day"].min(), rows["day"].max()
    return {"start": first, "end": last, "days": window_days(first, last)}


def _latency(days: list[DayRollup]) -> dict[str, Any]:
    """p50/p95/p99 overall and per model, within 1 %, from the days' merged latency sketches
    (the days of the date range, if one is chosen): no interaction row is read."""
    by_model: dict[str, dict[str, int]] = {}
    for day in days:
        for model, counts in (day.latency_sketch or {}).items():
            key = NO_KEY if model == NO_MODEL else model
            by_model[key] = sketch.merge(by_model.get(key), counts)
    return {
        "overall": sketch.percentiles(sketch.merge(*by_model.values())),
        "by_model": {model: sketch.percentiles(counts) for model, counts in by_model.items()},
    }


def _feedback(totals: pd.Series) -> dict[str, Any]:
    return {
        "count": int(totals["feedback_count"]),
        "positive": int(totals["feedback_positive"]),
        "negative": int(totals["feedback_negative"]),
        "mean_rating": _ratio(float(totals["rating_sum"]), int(totals["rating_count"])),
    }


def _per_day(rows: pd.DataFrame, days: list[DayRollup], window: dict[str, Any]) -> list[dict[str, Any]]:
    """Every calendar day of the window, idle days included, with the cumulative known cost."""
    if window["start"] is None:
        return []
    sums = rows.groupby("day")[SUMMED].sum()
    by_day = {d.day: d for d in days}
    result, cumulative = [], None
    for offset in range(window["days"]):
        day = window["start"] + timedelta(days=offset)
        numbers = sums.loc[day] if day in sums.index else None
        interactions = int(numbers["interactions"]) if numbers is not None else 0
        failures = int(numbers["failures"]) if numbers is not None else 0
        known = int(numbers["known_cost"]) if numbers is not None else 0
        # An idle day cost nothing; a day whose every cost is unknown has an unknown cost, not $0.
        cost = known_cost(numbers["cost_usd"] if numbers is not None else None, known, interactions)
        if cost is not None and (known or cumulative is not None):
            cumulative = (cumulative or 0.0) + cost
        stored = by_day.get(day)
        result.append({
            "day": day,
            "interactions": interactions,
            "failures": failures,
            "error_rate": _ratio(failures, interactions),
            "cost_usd": cost,
            "cumulative_cost_usd": cumulative,
            "unknown_cost": interactions - known,
            "feedback_positive": int(numbers["feedback_positive"]) if numbers is not None else 0,
            "feedback_negative": int(numbers["feedback_negative"]) if numbers is not None else 0,
            "latency_p50": stored.latency_p50 if stored else None,
            "latency_p95": stored.latency_p95 if stored else None,
            "latency_p99": stored.latency_p99 if stored else None,
            "ttft_p95": stored.ttft_p95 if stored else None,
        })
    return result


def _group_numbers(sums: dict[str, Any]) -> dict[str, Any]:
    """The numbers every table row has, from one group's summed rollup columns."""
    interactions, failures = int(sums["interactions"]), int(sums["failures"])
    fallbacks, known = int(sums["fallbacks"]), int(sums["known_cost"])
    cost = float(sums["cost_usd"]) if known else None
    return {
        "interactions": interactions,
        "failures": failures,
        "error_rate": _ratio(failures, interactions),
        "fallback_coverage": _ratio(fallbacks, failures),
        "cost_usd": cost,
        "per_request_usd": _ratio(cost, known),
        "unknown_cost_interactions": interactions - known,
        "feedback_positive": int(sums["feedback_positive"]),
        "feedback_negative": int(sums["feedback_negative"]),
        "mean_rating": _ratio(float(sums["rating_sum"]), int(sums["rating_count"])),
    }


def _group_sums(rows: pd.DataFrame, key: str) -> dict[Any, dict[str, Any]]:
    """Summed rollup columns per value of `key` — one vectorised groupby (per-group pandas calls
    cost about a millisecond each, which fifty users turn into a slow page)."""
    if rows.empty:
        return {}
    sums = rows.groupby(key, sort=False)[SUMMED].sum()
    return {(None if value == NO_KEY else value): record for value, record in zip(sums.index, sums.to_dict("records"))}


def _per_model(rows: pd.DataFrame, latency_by_model: dict[Any, dict]) -> list[dict[str, Any]]:
    total = int(rows["interactions"].sum()) if not rows.empty else 0
    result = []
    for model, sums in _group_sums(rows, "model").items():
        numbers = _group_numbers(sums)
        result.append({"model": model, **numbers, "share": _ratio(numbers["interactions"], total),
                       "latency_ms": latency_by_model.get(NO_KEY if model is None else model,
                                                          {"p50": None, "p95": None, "p99": None})})
    return sorted(result, key=lambda r: (-r["interactions"], str(r["model"])))


def _per_version(rows: pd.DataFrame) -> list[dict[str, Any]]:
    if rows.empty:
        return []
    span = rows.groupby("prompt_version", sort=False)["day"].agg(["min", "max"])
    result = []
    for version, sums in _group_sums(rows, "prompt_version").items():
        first, last = span.loc[NO_KEY if version is None else version]
        result.append({"prompt_version": version, **_group_numbers(sums), "first_day": first, "last_day": last})
    return sorted(result, key=lambda r: (r["first_day"], str(r["prompt_version"])))


def _per_user(session: so.Session, pilot: Pilot, rows: pd.DataFrame, span_days: int) -> list[dict[str, Any]]:
    """Per user id: usage against the daily limit, failures, cost per month over the window, feedback."""
    if rows.empty:
        return []
    enrolled = set(session.scalars(sa.select(Membership.external_id).where(Membership.pilot_id == pilot.id, ENROLLED)))
    limit = pilot.daily_request_limit
    per_day = rows.groupby(["external_user_id", "day"], sort=False)["interactions"].sum()
    days = per_day.groupby(level=0).agg(["size", "max"])
    over = (per_day > limit).groupby(level=0).sum() if limit is not None else None
    result = []
    for user, sums in _group_sums(rows, "external_user_id").items():
        key = NO_KEY if user is None else user
        numbers = _group_numbers(sums)
        result.append({
            "user": user, "enrolled": user in enrolled, **numbers,
            "active_days": int(days.at[key, "size"]), "max_per_day": int(days.at[key, "max"]),
            "days_over_limit": int(over.at[key]) if over is not None and user is not None else 0,
            "cost_per_month_usd": per_month(numbers["cost_usd"], span_days),
        })
    return sorted(result, key=lambda r: (-r["interactions"], str(r["user"])))


def _usage(rows: pd.DataFrame, pilot: Pilot) -> dict[str, Any]:
    known_users = rows[rows["external_user_id"] != NO_KEY] if not rows.empty else rows
    if known_users.empty:
        return usage_from_counts([], pilot.daily_request_limit)
    per_user_day = known_users.groupby(["external_user_id", "day"])["interactions"].sum()
    return usage_from_counts([(user, day, int(n)) for (user, day), n in per_user_day.items()],
                             pilot.daily_request_limit)


def _merged_histogram(days: list[DayRollup]) -> dict[int, int]:
    merged: dict[int, int] = {}
    for day in days:
        for key, count in (day.latency_histogram or {}).items():
            merged[int(key)] = merged.get(int(key), 0) + int(count)
    return merged


def display_histogram(counts: dict[int, int], target: float | None, p95: float | None,
                      bars: int = 24) -> dict[str, Any]:
    """Re-bin the 100 ms counts into about `bars` round-width bins reaching half again past the p95
    and a quarter past the target; the slow tail (timeouts…) goes into a last 'and above' bin, so
    a few 30 s timeouts do not squash the shape of the rest."""
    if not counts:
        return {"bins": [], "overflow": False}
    reach = max([value for value in ((p95 or 0) * 1.5, (target or 0) * 1.25) if value]
                or [LATENCY_BIN_MS * (max(counts) + 1)])
    width = int(nice_step(reach / bars, LATENCY_BIN_MS))  # whole multiples of the stored 100 ms bins
    edges = int(math.ceil(reach / width))
    totals = [0] * edges
    overflow = 0
    for bin_index, count in counts.items():
        low = bin_index * LATENCY_BIN_MS
        position = int(low // width)
        if position >= edges or bin_index >= LATENCY_LAST_BIN:
            overflow += count
        else:
            totals[position] += count
    bins = [(i * width, (i + 1) * width, totals[i]) for i in range(edges)]
    if overflow:
        bins.append((edges * width, (edges + 1) * width, overflow))
    return {"bins": bins, "overflow": bool(overflow)}


def cost_numbers(session: so.Session, pilot: Pilot, *, refresh_first: bool = True) -> dict[str, Any]:
    """The report's cost section for the whole pilot, from the (refreshed) rollup: quick at any size."""
    if refresh_first:
        refresh(session, pilot)
    rows = _rollup_frame(session, pilot, None, None)
    window = _window(rows)
    active = int(rows.loc[rows["external_user_id"] != NO_KEY, "external_user_id"].nunique()) if not rows.empty else 0
    known = int(rows["known_cost"].sum()) if not rows.empty else 0
    interactions = int(rows["interactions"].sum()) if not rows.empty else 0
    cost = cost_from_totals(pilot, float(rows["cost_usd"].sum()) if known else None, known, interactions - known,
                            active, window["days"])
    return {**cost, "active_users": active, "window_days": window["days"], "known_cost_interactions": known,
            "interactions": interactions}
