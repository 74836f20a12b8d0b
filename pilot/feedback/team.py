"""The team's view of what participants said: filtered, paginated lists and a few counts."""
from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from typing import Any

import sqlalchemy as sa
from sqlalchemy import orm as so

from pilot.metrics import FEEDBACK_NEGATIVE, FEEDBACK_POSITIVE, feedback_counts
from pilot.models import Feedback, Interaction, Membership, Pilot, Report
from pilot.models.feedback import REPORT_KINDS, REPORT_STATUSES

RATING_TYPES = ("positive", "negative", "up", "down")
TYPE_CHOICES = {
    "": "Everything",
    "negative": "Negative ratings",
    "positive": "Positive ratings",
    "problem": "Problem reports",
    "issue": "Issues",
    "idea": "Ideas",
    "praise": "Praise",
}
PREVIEW_CHARS = 140

ID_CONVERTER = "int"  # every <int:…> route is bounded by pilot.access.MAX_ID (bigger ids are 404s)


@dataclass
class FeedbackFilters:
    """The filters of the team's feedback page (pilot.feedback.forms.FeedbackFilterForm reads them)."""

    type: str = ""
    rating: int | None = None
    participant: int | None = None
    status: str = ""
    date_from: date | None = None
    date_to: date | None = None
    errors: list[str] = field(default_factory=list)

    @property
    def shows_ratings(self) -> bool:
        return self.type in ("",) + RATING_TYPES and not self.status

    @property
    def shows_reports(self) -> bool:
        return self.type in ("",) + REPORT_KINDS and self.rating is None

    def query_args(self, **override: Any) -> dict[str, Any]:
        """The filters as query-string arguments (for pager links)."""
        args = {"type": self.type, "rating": self.rating, "participant": self.participant, "status": self.status,
                "date_from": self.date_from, "date_to": self.date_to}
        args.update(override)
        return {k: v for k, v in args.items() if v not in (None, "")}


def _date_range(column: sa.ColumnElement, filters: FeedbackFilters) -> list[sa.ColumnElement]:
    conditions = []
    if filters.date_from:
        conditions.append(column >= datetime.combine(filters.date_from, time.min))
    if filters.date_to and filters.date_to < date.max:  # "to 9999-12-31" is no limit at all
        conditions.append(column < datetime.combine(filters.date_to + timedelta(days=1), time.min))
    return conditions


def ratings_statement(session: so.Session, pilot: Pilot, filters: FeedbackFilters) -> sa.Select:
    """Ratings with who gave them and a preview of the question, newest first."""
    statement = (
        sa.select(Feedback, Membership, sa.func.substr(Interaction.input_text, 1, PREVIEW_CHARS), Interaction.event_id)
        .join(Interaction, Interaction.id == Feedback.interaction_id)
        .outerjoin(Membership, Membership.id == Feedback.membership_id)
        .where(Feedback.pilot_id == pilot.id)
        .order_by(Feedback.updated_at.desc(), Feedback.id.desc())
    )
    if filters.type == "negative":
        statement = statement.where(FEEDBACK_NEGATIVE)
    elif filters.type == "positive":
        statement = statement.where(FEEDBACK_POSITIVE)
    elif filters.type in ("up", "down"):
        statement = statement.where(Feedback.thumbs == filters.type)
    if filters.rating is not None:
        statement = statement.where(Feedback.rating == filters.rating)
    if filters.participant is not None:
        external_id = session.scalar(sa.select(Membership.external_id).where(
            Membership.id == filters.participant, Membership.pilot_id == pilot.id))
        who = Feedback.membership_id == filters.participant
        if external_id is not None:
            who = sa.or_(who, Feedback.external_user_id == external_id)
        statement = statement.where(who)
    return statement.where(*_date_range(Feedback.updated_at, filters))


def reports_statement(pilot: Pilot, filters: FeedbackFilters) -> sa.Select:
    """Problem reports and general feedback with their reporter, newest first."""
    statement = (
        sa.select(Report, Membership)
        .outerjoin(Membership, Membership.id == Report.membership_id)
        .where(Report.pilot_id == pilot.id)
        .order_by(Report.created_at.desc(), Report.id.desc())
    )
    if filters.type in REPORT_KINDS:
        statement = statement.where(Report.kind == filters.type)
    if filters.status:
        statement = statement.where(Report.status == filters.status)
    if filters.participant is not None:
        statement = statement.where(Report.membership_id == filters.participant)
    return statement.where(*_date_range(Report.created_at, filters))


@dataclass
class FeedbackSummary:
    ratings: int
    positive: int
    negative: int
    mean_rating: float | None
    reports_by_status: dict[str, int]


def summary(session: so.Session, pilot: Pilot) -> FeedbackSummary:
    """Counts for the cards at the top of the page: the readiness report's feedback numbers (same
    definitions, same query) and the reports by status, aggregated in SQL."""
    ratings = feedback_counts(session, pilot)
    by_status = dict(session.execute(
        sa.select(Report.status, sa.func.count(Report.id)).where(Report.pilot_id == pilot.id).group_by(Report.status)
    ).all())
    return FeedbackSummary(ratings["count"], ratings["positive"], ratings["negative"], ratings["mean_rating"],
                           {status: by_status.get(status, 0) for status in REPORT_STATUSES})


def participant_choices(session: so.Session, pilot: Pilot) -> list[tuple[int, str]]:
    """(membership id, label) of every participant, for the participant filter."""
    rows = session.execute(
        sa.select(Membership.id, Membership.external_id).where(
            Membership.pilot_id == pilot.id, Membership.role == "participant").order_by(Membership.external_id)
    ).all()
    return [(membership_id, external_id) for membership_id, external_id in rows]


def interaction_feedback(session: so.Session, interaction: Interaction) -> tuple[list[Feedback], list[Report]]:
    """Every rating and report about one interaction, for its page."""
    ratings = session.scalars(sa.select(Feedback).where(Feedback.interaction_id == interaction.id)
                              .options(so.selectinload(Feedback.membership)).order_by(Feedback.id)).all()
    reports = session.scalars(sa.select(Report).where(Report.interaction_id == interaction.id)
                              .options(so.selectinload(Report.membership)).order_by(Report.id)).all()
    return list(ratings), list(reports)
