"""What pilot users tell the team: ratings of interactions, problem reports, general feedback."""
from __future__ import annotations

from datetime import datetime
from typing import Optional

import sqlalchemy as sa
from sqlalchemy import orm as so

from pilot.extensions import db
from pilot.models.base import BigIntPK, utcnow

REPORT_KINDS = ("problem", "issue", "idea", "praise")
PROBLEM_TYPES = ("wrong_answer", "harmful", "too_slow", "not_understood", "other")
REPORT_STATUSES = ("new", "acknowledged", "fixed", "wont_fix")


class Feedback(db.Model):
    """A rating of one interaction: thumbs and/or 1–5 stars, with an optional comment."""

    __tablename__ = "feedback"
    __table_args__ = (
        sa.Index("ix_feedback_pilot_time", "pilot_id", "created_at"),
        sa.Index("ix_feedback_interaction", "interaction_id"),
        sa.Index("ix_feedback_pilot_updated", "pilot_id", "updated_at"),  # changes by time (the team page)
    )

    id: so.Mapped[int] = so.mapped_column(BigIntPK, primary_key=True)
    pilot_id: so.Mapped[int] = so.mapped_column(sa.ForeignKey("pilot.id", ondelete="CASCADE"))
    interaction_id: so.Mapped[int] = so.mapped_column(sa.ForeignKey("interaction.id", ondelete="CASCADE"))
    membership_id: so.Mapped[Optional[int]] = so.mapped_column(
        sa.ForeignKey("membership.id", ondelete="SET NULL")
    )
    external_user_id: so.Mapped[Optional[str]] = so.mapped_column(sa.String(255))
    thumbs: so.Mapped[Optional[str]] = so.mapped_column(sa.String(4))
    rating: so.Mapped[Optional[int]]
    comment: so.Mapped[str] = so.mapped_column(sa.Text, default="")
    source: so.Mapped[str] = so.mapped_column(sa.String(8), default="api")
    created_at: so.Mapped[datetime] = so.mapped_column(default=utcnow)
    updated_at: so.Mapped[datetime] = so.mapped_column(default=utcnow, onupdate=utcnow)

    interaction: so.Mapped["Interaction"] = so.relationship()  # noqa: F821
    membership: so.Mapped[Optional["Membership"]] = so.relationship()  # noqa: F821


class Report(db.Model):
    """A problem report (optionally about one interaction) or general feedback, with a status
    the team sets so the participant sees that someone listened."""

    __tablename__ = "report"
    __table_args__ = (sa.Index("ix_report_pilot_status", "pilot_id", "status"),)

    id: so.Mapped[int] = so.mapped_column(BigIntPK, primary_key=True)
    pilot_id: so.Mapped[int] = so.mapped_column(sa.ForeignKey("pilot.id", ondelete="CASCADE"))
    interaction_id: so.Mapped[Optional[int]] = so.mapped_column(
        sa.ForeignKey("interaction.id", ondelete="SET NULL")
    )
    membership_id: so.Mapped[Optional[int]] = so.mapped_column(
        sa.ForeignKey("membership.id", ondelete="SET NULL")
    )
    kind: so.Mapped[str] = so.mapped_column(sa.String(16), default="problem")
    problem_type: so.Mapped[Optional[str]] = so.mapped_column(sa.String(32))
    description: so.Mapped[str] = so.mapped_column(sa.Text, default="")
    screenshot_path: so.Mapped[Optional[str]] = so.mapped_column(sa.String(255))
    screenshot_mime: so.Mapped[Optional[str]] = so.mapped_column(sa.String(64))
    status: so.Mapped[str] = so.mapped_column(sa.String(16), default="new")
    team_note: so.Mapped[str] = so.mapped_column(sa.Text, default="")
    created_at: so.Mapped[datetime] = so.mapped_column(default=utcnow)
    updated_at: so.Mapped[datetime] = so.mapped_column(default=utcnow, onupdate=utcnow)

    interaction: so.Mapped[Optional["Interaction"]] = so.relationship()  # noqa: F821
    membership: so.Mapped[Optional["Membership"]] = so.relationship()  # noqa: F821
