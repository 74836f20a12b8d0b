"""Finding flags: the queue's filters, its order (severity, then impact), paging and neighbours.

Impact of a flag = how many flags of the pilot share its reason and its input (same
normalised-input hash): a failure that hits the same question forty times comes before a
one-off of the same severity.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from typing import Any

import sqlalchemy as sa
from sqlalchemy import orm as so

from pilot.flagging import UNSAFE_PROBLEM_TYPES
from pilot.metrics import is_negative, is_positive
from pilot.models import Feedback, Flag, Interaction, Membership, Pilot, Report, User
from pilot.models.feedback import REPORT_STATUSES
from pilot.models.flags import FLAG_STATUSES
from pilot.pagination import clamp_page, last_page

PER_PAGE = 50
STATUS_CHOICES = FLAG_STATUSES + ("all",)
ASSIGNEE_CHOICES = ("", "me", "none")


@dataclass
class Filters:
    """The queue's GET parameters, validated (pilot.review.forms.QueueFilterForm reads them).
    Unknown values are reported, not obeyed."""

    kind: str = ""
    reason: str = ""
    severity: str = ""
    status: str = "open"
    model: str = ""
    prompt_version: str = ""
    participant: str = ""
    date_from: date | None = None
    date_to: date | None = None
    assignee: str = ""
    escalated: bool = False
    errors: list[str] = field(default_factory=list)

    def as_args(self) -> dict[str, str]:
        """Back to GET parameters (for links that keep the filters)."""
        args = {name: getattr(self, name) for name in ("kind", "reason", "severity", "status", "model",
                                                       "prompt_version", "participant", "assignee")}
        args.update(date_from=self.date_from.isoformat() if self.date_from else "",
                    date_to=self.date_to.isoformat() if self.date_to else "",
                    escalated="1" if self.escalated else "")
        return {name: value for name, value in args.items() if value}


def _conditions(pilot: Pilot, filters: Filters, me: User | None) -> list:
    conditions = [Flag.pilot_id == pilot.id]
    for name, column in (("kind", Flag.kind), ("reason", Flag.reason), ("severity", Flag.severity),
                         ("model", Interaction.model), ("prompt_version", Interaction.prompt_version),
                         ("participant", Interaction.external_user_id)):
        value = getattr(filters, name)
        if value:
            conditions.append(column == value)
    if filters.status and filters.status != "all":
        conditions.append(Flag.status == filters.status)
    if filters.date_from:
        conditions.append(Interaction.occurred_at >= datetime.combine(filters.date_from, datetime.min.time()))
    if filters.date_to:
        conditions.append(Interaction.occurred_at < datetime.combine(filters.date_to + timedelta(days=1), datetime.min.time()))
    if filters.assignee == "me" and me is not None:
        conditions.append(Flag.assignee_id == me.id)
    elif filters.assignee == "none":
        conditions.append(Flag.assignee_id.is_(None))
    if filters.escalated:
        conditions.append(Flag.escalated.is_(True))
    return conditions


def _impact_subquery(pilot: Pilot):
    """Flags per (reason, input hash) in the pilot."""
    input_key = sa.func.coalesce(Interaction.input_hash, "")
    return (
        sa.select(Flag.reason.label("reason"), input_key.label("input_key"), sa.func.count(Flag.id).label("impact"))
        .join(Interaction, Interaction.id == Flag.interaction_id)
        .where(Flag.pilot_id == pilot.id)
        .group_by(Flag.reason, input_key)
        .subquery()
    )


def _ordered(pilot: Pilot, filters: Filters, me: User | None, *columns):
    impact = _impact_subquery(pilot)
    severity_rank = sa.case((Flag.severity == "high", 3), (Flag.severity == "medium", 2), else_=1)
    return (
        sa.select(*columns, sa.func.coalesce(impact.c.impact, 1).label("impact"))
        .select_from(Flag)
        .join(Interaction, Interaction.id == Flag.interaction_id)
        .outerjoin(impact, sa.and_(impact.c.reason == Flag.reason,
                                   impact.c.input_key == sa.func.coalesce(Interaction.input_hash, "")))
        .where(*_conditions(pilot, filters, me))
        .order_by(severity_rank.desc(), sa.func.coalesce(impact.c.impact, 1).desc(),
                  Interaction.occurred_at.desc(), Flag.id.desc())
    )


OUTPUT_PREVIEW_CHARS = 300


@dataclass
class QueueRow:
    flag: Flag
    interaction: Interaction
    impact: int
    output_preview: str | None = None  # the first characters of the answer (the full text stays unloaded)
    feedback: list[tuple[str, str]] = field(default_factory=list)  # (badge class, "down" / "up" / "2★")


@dataclass
class QueuePage:
    rows: list[QueueRow]
    total: int
    page: int
    pages: int


def queue_page(session: so.Session, pilot: Pilot, filters: Filters, me: User | None, page: int = 1,
               per_page: int | None = None) -> QueuePage:
    """One page of the queue, most severe and most widespread first."""
    per_page = per_page or PER_PAGE
    total = session.scalar(
        sa.select(sa.func.count(Flag.id)).select_from(Flag).join(Interaction, Interaction.id == Flag.interaction_id)
        .where(*_conditions(pilot, filters, me))
    ) or 0
    pages, page = last_page(total, per_page), clamp_page(page, total, per_page)  # the count skips the impact join
    preview = sa.func.substr(Interaction.output_text, 1, OUTPUT_PREVIEW_CHARS).label("output_preview")
    statement = (_ordered(pilot, filters, me, Flag, Interaction, preview)
                 .options(so.defer(Interaction.output_text), so.selectinload(Flag.assignee))
                 .limit(per_page).offset((page - 1) * per_page))
    rows = [QueueRow(flag, interaction, impact, output)
            for flag, interaction, output, impact in session.execute(statement).all()]
    _attach_feedback(session, rows)
    return QueuePage(rows, total, page, pages)


def matching_flag_ids(session: so.Session, pilot: Pilot, filters: Filters, me: User | None,
                      limit: int) -> list[int]:
    """The ids of every flag the filter matches (across all pages), at most `limit` + 1 of them
    so the caller can tell "too many" apart."""
    return list(session.scalars(
        sa.select(Flag.id).select_from(Flag).join(Interaction, Interaction.id == Flag.interaction_id)
        .where(*_conditions(pilot, filters, me)).order_by(Flag.id).limit(limit + 1)
    ))


def _attach_feedback(session: so.Session, rows: list[QueueRow]) -> None:
    """Short badges for the users' ratings of each row's interaction (one query). Words, not
    emoji: not every reviewer's machine has an emoji font."""
    ids = [row.interaction.id for row in rows]
    if not ids:
        return
    summary: dict[int, list[tuple[str, str]]] = {}
    for interaction_id, thumbs, rating in session.execute(
        sa.select(Feedback.interaction_id, Feedback.thumbs, Feedback.rating).where(Feedback.interaction_id.in_(ids))
    ):
        marks = summary.setdefault(interaction_id, [])
        if thumbs:
            marks.append(("fail" if is_negative(thumbs, None) else "pass", thumbs))
        if rating is not None:
            marks.append(("fail" if is_negative(None, rating) else "pass" if is_positive(None, rating) else "unknown",
                          f"{rating}★"))
    for row in rows:
        row.feedback = summary.get(row.interaction.id, [])


def neighbours(session: so.Session, pilot: Pilot, filters: Filters, me: User | None,
               flag_id: int) -> tuple[int | None, int | None, int, int]:
    """(previous id, next id, position, total) of a flag in the filtered queue, reading ids only."""
    ids = list(session.scalars(_ordered(pilot, filters, me, Flag.id).limit(20_000)))
    if flag_id not in ids:
        return None, (ids[0] if ids else None), 0, len(ids)
    index = ids.index(flag_id)
    previous = ids[index - 1] if index > 0 else None
    following = ids[index + 1] if index + 1 < len(ids) else None
    return previous, following, index + 1, len(ids)


def filter_choices(session: so.Session, pilot: Pilot) -> dict[str, list[str]]:
    """Distinct models, prompt versions and participants among the pilot's flagged interactions."""
    def distinct(column) -> list[str]:
        return [value for value in session.scalars(
            sa.select(column).distinct().join(Flag, Flag.interaction_id == Interaction.id)
            .where(Flag.pilot_id == pilot.id, column.is_not(None)).order_by(column).limit(500)
        )]

    return {"model": distinct(Interaction.model), "prompt_version": distinct(Interaction.prompt_version),
            "participant": distinct(Interaction.external_user_id)}


# A participant's report of harm about no interaction cannot be a flag (a flag is about one
# interaction), so the queue lists it apart until the team answers it: "new" is open, any answer
# the participant sees (the team feedback page's statuses) handles it.
OPEN_REPORT_STATUS = "new"
HANDLED_REPORT_STATUSES = tuple(status for status in REPORT_STATUSES if status != OPEN_REPORT_STATUS)
UNLINKED_REPORTS_SHOWN = 50


def _unlinked_harm_conditions(pilot: Pilot) -> list:
    return [Report.pilot_id == pilot.id, Report.kind == "problem", Report.problem_type.in_(UNSAFE_PROBLEM_TYPES),
            Report.interaction_id.is_(None), Report.status == OPEN_REPORT_STATUS]


def unlinked_harm_reports(session: so.Session, pilot: Pilot,
                          limit: int = UNLINKED_REPORTS_SHOWN) -> list[tuple[Report, Membership | None]]:
    """Open reports of harm tied to no interaction, newest first, with the reporter's membership."""
    return [tuple(row) for row in session.execute(
        sa.select(Report, Membership).outerjoin(Membership, Membership.id == Report.membership_id)
        .where(*_unlinked_harm_conditions(pilot)).order_by(Report.created_at.desc(), Report.id.desc()).limit(limit)
    ).all()]


def unlinked_harm_report_count(session: so.Session, pilot: Pilot) -> int:
    return session.scalar(sa.select(sa.func.count(Report.id)).where(*_unlinked_harm_conditions(pilot))) or 0


def queue_counts(session: so.Session, pilot: Pilot) -> dict[str, Any]:
    """Open / confirmed / dismissed totals, open by severity, and open escalations. Open reports of
    harm tied to no interaction count as open and high (`harm_reports`: how many of them)."""
    by_status = dict(session.execute(
        sa.select(Flag.status, sa.func.count(Flag.id)).where(Flag.pilot_id == pilot.id).group_by(Flag.status)
    ).all())
    open_by_severity = dict(session.execute(
        sa.select(Flag.severity, sa.func.count(Flag.id)).where(Flag.pilot_id == pilot.id, Flag.status == "open")
        .group_by(Flag.severity)
    ).all())
    escalated = session.scalar(sa.select(sa.func.count(Flag.id)).where(
        Flag.pilot_id == pilot.id, Flag.status == "open", Flag.escalated.is_(True))) or 0
    harm_reports = unlinked_harm_report_count(session, pilot)
    if harm_reports:
        by_status["open"] = by_status.get("open", 0) + harm_reports
        open_by_severity["high"] = open_by_severity.get("high", 0) + harm_reports
    return {"status": by_status, "open_by_severity": open_by_severity, "escalated": escalated,
            "harm_reports": harm_reports}
