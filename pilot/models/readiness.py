"""The launch decision: checklist attestations, signed report snapshots and alerts."""
from __future__ import annotations

from datetime import date, datetime
from typing import Any, Optional

import sqlalchemy as sa
from sqlalchemy import orm as so

from pilot.extensions import db
from pilot.models.base import utcnow

CHECK_STATUSES = ("pass", "warn", "fail", "unknown")
VERDICTS = ("go", "no-go", "incomplete")


class ChecklistAttestation(db.Model):
    """A lead's word on one checklist item. Append-only: the newest row per key is in force."""

    __tablename__ = "checklist_attestation"
    __table_args__ = (sa.Index("ix_checklist_attestation_pilot_key", "pilot_id", "key"),)

    id: so.Mapped[int] = so.mapped_column(primary_key=True)
    pilot_id: so.Mapped[int] = so.mapped_column(sa.ForeignKey("pilot.id", ondelete="CASCADE"))
    key: so.Mapped[str] = so.mapped_column(sa.String(64))
    status: so.Mapped[str] = so.mapped_column(sa.String(8))
    note: so.Mapped[str] = so.mapped_column(sa.Text, default="")
    link: so.Mapped[str] = so.mapped_column(sa.String(500), default="")
    owner: so.Mapped[str] = so.mapped_column(sa.String(200), default="", server_default="")
    exempt_until: so.Mapped[Optional[date]]
    attested_by_id: so.Mapped[Optional[int]] = so.mapped_column(sa.ForeignKey("user.id"))
    attested_at: so.Mapped[datetime] = so.mapped_column(default=utcnow)

    attested_by: so.Mapped[Optional["User"]] = so.relationship()  # noqa: F821


class ReadinessReport(db.Model):
    """An immutable snapshot of the readiness report; only the sign-off fields are set later."""

    __tablename__ = "readiness_report"
    __table_args__ = (sa.UniqueConstraint("pilot_id", "number"),)

    id: so.Mapped[int] = so.mapped_column(primary_key=True)
    pilot_id: so.Mapped[int] = so.mapped_column(sa.ForeignKey("pilot.id", ondelete="CASCADE"))
    number: so.Mapped[int]
    payload: so.Mapped[dict[str, Any]] = so.mapped_column(sa.JSON)
    verdict: so.Mapped[str] = so.mapped_column(sa.String(16))
    created_at: so.Mapped[datetime] = so.mapped_column(default=utcnow)
    created_by_id: so.Mapped[Optional[int]] = so.mapped_column(sa.ForeignKey("user.id"))
    signed_by_id: so.Mapped[Optional[int]] = so.mapped_column(sa.ForeignKey("user.id"))
    signed_at: so.Mapped[Optional[datetime]]
    sign_note: so.Mapped[str] = so.mapped_column(sa.Text, default="")
    # Distinct lead signatures this snapshot needs, frozen when it is taken. `signed_by`/`signed_at`
    # are set when the last of them signs (the quorum); each signature is a ReadinessSignature.
    required_signers: so.Mapped[int] = so.mapped_column(default=1, server_default="1")

    created_by: so.Mapped[Optional["User"]] = so.relationship(foreign_keys=[created_by_id])  # noqa: F821
    signed_by: so.Mapped[Optional["User"]] = so.relationship(foreign_keys=[signed_by_id])  # noqa: F821
    signatures: so.Mapped[list["ReadinessSignature"]] = so.relationship(
        order_by="ReadinessSignature.id", back_populates="report")


# What a snapshot is: frozen when it is taken. Only the sign-off columns are set later, once.
FROZEN_COLUMNS = ("pilot_id", "number", "payload", "created_at", "created_by_id", "required_signers")


@sa.event.listens_for(ReadinessReport, "before_update")
def _snapshots_are_immutable(mapper, connection, target: ReadinessReport) -> None:
    """The ORM refuses to rewrite a snapshot's frozen columns, or anything of a signed one."""
    state = sa.inspect(target)
    changed = [name for name in FROZEN_COLUMNS if state.attrs[name].history.has_changes()]
    if changed:
        raise ValueError(f"report snapshots are immutable ({', '.join(changed)} changed)")
    stored_signature = connection.scalar(
        sa.select(ReadinessReport.signed_at).where(ReadinessReport.id == target.id)
    )
    if stored_signature is not None:
        raise ValueError("a signed report cannot be changed")


class ReadinessSignature(db.Model):
    """One lead's signature on a report snapshot; a lead signs a snapshot at most once."""

    __tablename__ = "readiness_signature"
    __table_args__ = (sa.UniqueConstraint("report_id", "user_id"),)

    id: so.Mapped[int] = so.mapped_column(primary_key=True)
    report_id: so.Mapped[int] = so.mapped_column(sa.ForeignKey("readiness_report.id", ondelete="CASCADE"))
    user_id: so.Mapped[int] = so.mapped_column(sa.ForeignKey("user.id"))
    signed_at: so.Mapped[datetime] = so.mapped_column(default=utcnow)
    note: so.Mapped[str] = so.mapped_column(sa.Text, default="")

    report: so.Mapped[ReadinessReport] = so.relationship(back_populates="signatures")
    user: so.Mapped["User"] = so.relationship()  # noqa: F821


class AlertRule(db.Model):
    """A threshold on a pilot metric (error rate, p95 latency, daily cost…)."""

    __tablename__ = "alert_rule"

    id: so.Mapped[int] = so.mapped_column(primary_key=True)
    pilot_id: so.Mapped[int] = so.mapped_column(sa.ForeignKey("pilot.id", ondelete="CASCADE"), index=True)
    metric: so.Mapped[str] = so.mapped_column(sa.String(64))
    threshold: so.Mapped[float] = so.mapped_column(sa.Float(precision=53))
    window_hours: so.Mapped[int] = so.mapped_column(default=24)
    enabled: so.Mapped[bool] = so.mapped_column(default=True)
    created_at: so.Mapped[datetime] = so.mapped_column(default=utcnow)
    # True from the evaluation that fired until one that finds the metric back under the threshold:
    # a rule does not fire again until it has recovered.
    firing: so.Mapped[bool] = so.mapped_column(default=False)


class AlertEvent(db.Model):
    """One time an alert rule fired."""

    __tablename__ = "alert_event"

    id: so.Mapped[int] = so.mapped_column(primary_key=True)
    pilot_id: so.Mapped[int] = so.mapped_column(sa.ForeignKey("pilot.id", ondelete="CASCADE"), index=True)
    rule_id: so.Mapped[int] = so.mapped_column(sa.ForeignKey("alert_rule.id", ondelete="CASCADE"))
    value: so.Mapped[float] = so.mapped_column(sa.Float(precision=53))
    message: so.Mapped[str] = so.mapped_column(sa.Text, default="")
    triggered_at: so.Mapped[datetime] = so.mapped_column(default=utcnow)


class LiveVerdict(db.Model):
    """The live report's verdict per pilot, computed in the background (pilot.readiness.live) so
    the overview and the pilot list show it without building the report in the request.

    `source` is what it was computed from (newest ids and counts of everything the report reads,
    and the day): the worker recomputes only when that changed. `newest_received_at` is the newest
    interaction's arrival it saw, so a page tells "new data since" with one indexed max().
    """

    __tablename__ = "live_verdict"

    pilot_id: so.Mapped[int] = so.mapped_column(sa.ForeignKey("pilot.id", ondelete="CASCADE"), primary_key=True)
    computed_at: so.Mapped[datetime] = so.mapped_column(default=utcnow)
    verdict: so.Mapped[str] = so.mapped_column(sa.String(16))
    verdict_label: so.Mapped[str] = so.mapped_column(sa.String(64))  # "go with 2 exemptions"
    reasons: so.Mapped[list[Any]] = so.mapped_column(sa.JSON, default=list)  # the reasons' messages, in order
    interactions: so.Mapped[int] = so.mapped_column(default=0)
    newest_interaction_id: so.Mapped[Optional[int]] = so.mapped_column(sa.BigInteger)
    newest_received_at: so.Mapped[Optional[datetime]]
    source: so.Mapped[dict[str, Any]] = so.mapped_column(sa.JSON, default=dict)
