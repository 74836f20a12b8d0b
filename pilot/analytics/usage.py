"""Usage per user per day against the pilot's `daily_request_limit`, and flag counts per reason and day."""
from __future__ import annotations

from datetime import date
from typing import Any

import sqlalchemy as sa
from sqlalchemy import orm as so

from pilot.analytics.frames import flag_filter, interaction_filter
from pilot.metrics import as_day, day_of
from pilot.models import Flag, Interaction, Pilot
from pilot.models.flags import FLAG_STATUSES


def usage_against_limit(session: so.Session, pilot: Pilot, *, start: date | None = None,
                        end: date | None = None) -> dict[str, Any]:
    """Interactions per user per UTC day. A day is over the limit when it has more interactions
    than `daily_request_limit` (the limit itself is allowed). Interactions without a user id
    cannot count against anyone's limit and are left out."""
    day = day_of(Interaction.occurred_at)
    rows = session.execute(
        sa.select(Interaction.external_user_id, day.label("day"), sa.func.count(Interaction.id))
        .where(*interaction_filter(pilot, start, end), Interaction.external_user_id.is_not(None))
        .group_by(Interaction.external_user_id, day)
    ).all()
    return usage_from_counts([(user, as_day(d), n) for user, d, n in rows], pilot.daily_request_limit)


def usage_from_counts(per_user_day: list[tuple[str, date, int]], limit: int | None) -> dict[str, Any]:
    """The usage section from (user, day, interactions) triples (shared with the dashboard rollup)."""
    users: dict[str, dict[str, Any]] = {}
    for user, _day, count in per_user_day:
        entry = users.setdefault(user, {"user": user, "interactions": 0, "active_days": 0, "max_per_day": 0,
                                        "days_over": 0})
        entry["interactions"] += count
        entry["active_days"] += 1
        entry["max_per_day"] = max(entry["max_per_day"], count)
        if limit is not None and count > limit:
            entry["days_over"] += 1
    ordered = sorted(users.values(), key=lambda u: (-u["max_per_day"], u["user"]))
    return {
        "limit": limit,
        "user_days": len(per_user_day),
        "days_over": sum(u["days_over"] for u in ordered),
        "users_over": sum(1 for u in ordered if u["days_over"]),
        "max_per_user_day": max((u["max_per_day"] for u in ordered), default=0),
        "users": ordered,
    }


def flag_counts(session: so.Session, pilot: Pilot, *, start: date | None = None,
                end: date | None = None) -> dict[str, Any]:
    """Flags per reason (by status) and per day of the flagged interaction (by reason)."""
    day = day_of(Interaction.occurred_at)
    rows = session.execute(
        sa.select(day.label("day"), Flag.kind, Flag.reason, Flag.status, sa.func.count(Flag.id))
        .join(Interaction, Interaction.id == Flag.interaction_id)
        .where(*flag_filter(pilot, start, end))
        .group_by(day, Flag.kind, Flag.reason, Flag.status)
    ).all()
    return flag_counts_from_rows([(as_day(d), kind, reason, status, n) for d, kind, reason, status, n in rows])


def flag_counts_from_rows(rows: list[tuple[date, str, str, str, int]]) -> dict[str, Any]:
    """Fold (day, kind, reason, status, count) rows into per-reason and per-day counts."""
    by_reason: dict[str, dict[str, Any]] = {}
    by_day: dict[str, dict[str, Any]] = {}
    for day, kind, reason, status, count in rows:
        entry = by_reason.setdefault(reason, {"reason": reason, "kind": kind, "total": 0,
                                              **{s: 0 for s in FLAG_STATUSES}})
        entry[status] = entry.get(status, 0) + count
        entry["total"] += count
        day_entry = by_day.setdefault(day.isoformat(), {"day": day.isoformat(), "total": 0, "by_reason": {}})
        day_entry["total"] += count
        day_entry["by_reason"][reason] = day_entry["by_reason"].get(reason, 0) + count
    return {
        "by_reason": sorted(by_reason.values(), key=lambda e: (-e["total"], e["reason"])),
        "by_day": [by_day[key] for key in sorted(by_day)],
    }
