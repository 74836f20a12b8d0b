"""Pilots, their members, their ingestion keys and the audit trail."""
from __future__ import annotations

from datetime import datetime
from typing import Any, Optional

import sqlalchemy as sa
from sqlalchemy import orm as so

from pilot.extensions import db
from pilot.models.base import BigIntPK, utcnow

ROLES = ("participant", "reviewer", "lead")
ROLE_RANK = {role: rank for rank, role in enumerate(ROLES)}
PILOT_STATUSES = ("draft", "enrolling", "running", "closed")
MEMBERSHIP_STATUSES = ("invited", "active", "paused", "removed")


class Pilot(db.Model):
    """One AI feature's pilot, with the targets its readiness report is measured against."""

    __tablename__ = "pilot"

    id: so.Mapped[int] = so.mapped_column(primary_key=True)
    slug: so.Mapped[str] = so.mapped_column(sa.String(64), unique=True)
    name: so.Mapped[str] = so.mapped_column(sa.String(200))
    description: so.Mapped[str] = so.mapped_column(sa.Text, default="")
    status: so.Mapped[str] = so.mapped_column(sa.String(16), default="draft")
    created_at: so.Mapped[datetime] = so.mapped_column(default=utcnow)

    # Targets and limits (docs/design.md `pilot settings`).
    min_participants: so.Mapped[int] = so.mapped_column(default=10)
    max_participants: so.Mapped[int] = so.mapped_column(default=50)
    latency_target_p95_ms: so.Mapped[float] = so.mapped_column(default=3000.0)
    abandon_ms: so.Mapped[float] = so.mapped_column(default=4000.0)
    max_error_rate: so.Mapped[float] = so.mapped_column(default=0.05)
    planned_price_per_user_month: so.Mapped[Optional[float]]
    target_users: so.Mapped[Optional[int]]
    daily_request_limit: so.Mapped[Optional[int]]
    sampling_rate: so.Mapped[float] = so.mapped_column(default=0.05)
    allowed_domains: so.Mapped[str] = so.mapped_column(sa.Text, default="")
    # The launch decision: distinct lead signatures a snapshot needs (None: 2 with two or more
    # leads, else 1) and the longest exemption a lead may grant, in days.
    required_signers: so.Mapped[Optional[int]]
    max_exemption_days: so.Mapped[int] = so.mapped_column(default=30, server_default="30")
    # Flagging rule settings (output format, length bounds, refusal phrases, thresholds…),
    # owned by pilot.flagging, which supplies the defaults for missing keys.
    rule_settings: so.Mapped[dict[str, Any]] = so.mapped_column(sa.JSON, default=dict)

    memberships: so.Mapped[list["Membership"]] = so.relationship(back_populates="pilot")

    def __repr__(self) -> str:
        return f"<Pilot {self.slug}>"


class Membership(db.Model):
    """A person's role in one pilot; an invite until accepted, with consent recorded."""

    __tablename__ = "membership"
    __table_args__ = (
        sa.UniqueConstraint("pilot_id", "external_id"),
        sa.UniqueConstraint("pilot_id", "user_id"),
        sa.Index("ix_membership_pilot_status", "pilot_id", "status"),
    )

    id: so.Mapped[int] = so.mapped_column(primary_key=True)
    pilot_id: so.Mapped[int] = so.mapped_column(sa.ForeignKey("pilot.id", ondelete="CASCADE"))
    user_id: so.Mapped[Optional[int]] = so.mapped_column(sa.ForeignKey("user.id"))
    external_id: so.Mapped[str] = so.mapped_column(sa.String(255))
    email: so.Mapped[Optional[str]] = so.mapped_column(sa.String(254))
    role: so.Mapped[str] = so.mapped_column(sa.String(16), default="participant")
    status: so.Mapped[str] = so.mapped_column(sa.String(16), default="invited")
    invite_token_hash: so.Mapped[Optional[str]] = so.mapped_column(sa.String(64), unique=True)
    invite_expires_at: so.Mapped[Optional[datetime]]
    invite_emailed_at: so.Mapped[Optional[datetime]]  # the last time the invite link went out by email
    invited_by_id: so.Mapped[Optional[int]] = so.mapped_column(sa.ForeignKey("user.id"))
    consent_at: so.Mapped[Optional[datetime]]
    created_at: so.Mapped[datetime] = so.mapped_column(default=utcnow)
    last_seen_at: so.Mapped[Optional[datetime]]
    left_at: so.Mapped[Optional[datetime]]

    pilot: so.Mapped[Pilot] = so.relationship(back_populates="memberships")
    user: so.Mapped[Optional["User"]] = so.relationship(  # noqa: F821
        back_populates="memberships", foreign_keys=[user_id]
    )

    def has_role(self, role: str) -> bool:
        """True when this membership's role is `role` or above it."""
        return ROLE_RANK[self.role] >= ROLE_RANK[role]

    def __repr__(self) -> str:
        return f"<Membership {self.external_id} {self.role} in {self.pilot_id}>"


class ApiKey(db.Model):
    """An ingestion key for one pilot: only its SHA-256 is stored, the prefix is shown."""

    __tablename__ = "api_key"

    id: so.Mapped[int] = so.mapped_column(primary_key=True)
    pilot_id: so.Mapped[int] = so.mapped_column(sa.ForeignKey("pilot.id", ondelete="CASCADE"), index=True)
    name: so.Mapped[str] = so.mapped_column(sa.String(100), default="")
    prefix: so.Mapped[str] = so.mapped_column(sa.String(16))
    key_hash: so.Mapped[str] = so.mapped_column(sa.String(64), unique=True)
    created_at: so.Mapped[datetime] = so.mapped_column(default=utcnow)
    created_by_id: so.Mapped[Optional[int]] = so.mapped_column(sa.ForeignKey("user.id"))
    last_used_at: so.Mapped[Optional[datetime]]
    revoked_at: so.Mapped[Optional[datetime]]

    pilot: so.Mapped[Pilot] = so.relationship()


class AuditEvent(db.Model):
    """Append-only record of who changed what; rows are never updated or deleted."""

    __tablename__ = "audit_event"
    __table_args__ = (sa.Index("ix_audit_event_pilot_time", "pilot_id", "created_at"),)

    id: so.Mapped[int] = so.mapped_column(BigIntPK, primary_key=True)
    pilot_id: so.Mapped[Optional[int]] = so.mapped_column(sa.ForeignKey("pilot.id", ondelete="CASCADE"))
    actor_id: so.Mapped[Optional[int]] = so.mapped_column(sa.ForeignKey("user.id"))
    action: so.Mapped[str] = so.mapped_column(sa.String(64))
    target_type: so.Mapped[str] = so.mapped_column(sa.String(64), default="")
    target_id: so.Mapped[Optional[str]] = so.mapped_column(sa.String(64))
    before: so.Mapped[Optional[dict[str, Any]]] = so.mapped_column(sa.JSON)
    after: so.Mapped[Optional[dict[str, Any]]] = so.mapped_column(sa.JSON)
    created_at: so.Mapped[datetime] = so.mapped_column(default=utcnow)

    actor: so.Mapped[Optional["User"]] = so.relationship()  # noqa: F821


@sa.event.listens_for(AuditEvent, "before_update")
@sa.event.listens_for(AuditEvent, "before_delete")
def _audit_events_are_append_only(mapper, connection, target: AuditEvent) -> None:
    """The audit log is evidence: the ORM refuses to change or delete a recorded event."""
    raise ValueError("audit events are append-only")
