"""Automatic flags on interactions and the scenarios the team anticipated."""
from __future__ import annotations

from datetime import datetime
from typing import Optional

import sqlalchemy as sa
from sqlalchemy import orm as so

from pilot.extensions import db
from pilot.models.base import BigIntPK, utcnow

FLAG_KINDS = ("failure", "edge_case", "sample")
SEVERITIES = ("low", "medium", "high")
FLAG_STATUSES = ("open", "confirmed", "dismissed")
FLAG_CATEGORIES = ("hallucination", "wrong_format", "refusal", "unsafe", "too_slow", "too_expensive", "other")


class Flag(db.Model):
    """One reason an interaction deserves a look. One flag per (interaction, reason)."""

    __tablename__ = "flag"
    __table_args__ = (
        sa.UniqueConstraint("interaction_id", "reason"),
        sa.Index("ix_flag_pilot_status", "pilot_id", "status"),
        sa.Index("ix_flag_pilot_reason", "pilot_id", "reason"),
        sa.Index("ix_flag_pilot_updated", "pilot_id", "updated_at"),  # changes by time (review grouping)
    )

    id: so.Mapped[int] = so.mapped_column(BigIntPK, primary_key=True)
    pilot_id: so.Mapped[int] = so.mapped_column(sa.ForeignKey("pilot.id", ondelete="CASCADE"))
    interaction_id: so.Mapped[int] = so.mapped_column(sa.ForeignKey("interaction.id", ondelete="CASCADE"))
    kind: so.Mapped[str] = so.mapped_column(sa.String(16))
    reason: so.Mapped[str] = so.mapped_column(sa.String(32))
    severity: so.Mapped[str] = so.mapped_column(sa.String(8), default="medium")
    status: so.Mapped[str] = so.mapped_column(sa.String(16), default="open")
    detail: so.Mapped[str] = so.mapped_column(sa.Text, default="")
    category: so.Mapped[Optional[str]] = so.mapped_column(sa.String(32))
    note: so.Mapped[str] = so.mapped_column(sa.Text, default="")
    escalated: so.Mapped[bool] = so.mapped_column(default=False)
    assignee_id: so.Mapped[Optional[int]] = so.mapped_column(sa.ForeignKey("user.id"))
    reviewer_id: so.Mapped[Optional[int]] = so.mapped_column(sa.ForeignKey("user.id"))
    created_at: so.Mapped[datetime] = so.mapped_column(default=utcnow)
    updated_at: so.Mapped[datetime] = so.mapped_column(default=utcnow, onupdate=utcnow)
    reviewed_at: so.Mapped[Optional[datetime]]
    # A decision taken in a bulk action (the reviewer did not open the item): it closes the flag
    # but does not count as a human review in the readiness checklist.
    decided_in_bulk: so.Mapped[bool] = so.mapped_column(default=False, server_default=sa.false())
    # The participant's problem report behind a `participant_report` flag.
    report_id: so.Mapped[Optional[int]] = so.mapped_column(BigIntPK, sa.ForeignKey("report.id", ondelete="SET NULL"))

    interaction: so.Mapped["Interaction"] = so.relationship()  # noqa: F821
    report: so.Mapped[Optional["Report"]] = so.relationship()  # noqa: F821
    assignee: so.Mapped[Optional["User"]] = so.relationship(foreign_keys=[assignee_id])  # noqa: F821
    reviewer: so.Mapped[Optional["User"]] = so.relationship(foreign_keys=[reviewer_id])  # noqa: F821


class Scenario(db.Model):
    """An input the team anticipated; real inputs far from all of them are flagged."""

    __tablename__ = "scenario"

    id: so.Mapped[int] = so.mapped_column(primary_key=True)
    pilot_id: so.Mapped[int] = so.mapped_column(sa.ForeignKey("pilot.id", ondelete="CASCADE"), index=True)
    text: so.Mapped[str] = so.mapped_column(sa.Text)
    created_at: so.Mapped[datetime] = so.mapped_column(default=utcnow)
