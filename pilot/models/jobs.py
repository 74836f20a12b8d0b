"""Background jobs people wait for (re-flag, PDF): their progress and result, kept in the database
so the page can show them whichever process ran the job (an RQ worker or the in-process fallback)."""
from __future__ import annotations

from datetime import datetime
from typing import Any, Optional

import sqlalchemy as sa
from sqlalchemy import orm as so

from pilot.extensions import db
from pilot.models.base import utcnow


class BackgroundJob(db.Model):
    """kind: reflag or report_pdf; status: queued, running, done or failed."""

    __tablename__ = "background_job"
    __table_args__ = (sa.Index("ix_background_job_pilot_kind", "pilot_id", "kind"),)

    id: so.Mapped[int] = so.mapped_column(primary_key=True)
    pilot_id: so.Mapped[int] = so.mapped_column(sa.ForeignKey("pilot.id", ondelete="CASCADE"))
    kind: so.Mapped[str] = so.mapped_column(sa.String(16))
    status: so.Mapped[str] = so.mapped_column(sa.String(16), default="queued")
    progress: so.Mapped[int] = so.mapped_column(default=0)  # per cent
    message: so.Mapped[str] = so.mapped_column(sa.Text, default="")
    params: so.Mapped[dict[str, Any]] = so.mapped_column(sa.JSON, default=dict)
    result: so.Mapped[Optional[bytes]] = so.mapped_column(sa.LargeBinary, deferred=True)  # read on download only
    created_by_id: so.Mapped[Optional[int]] = so.mapped_column(sa.ForeignKey("user.id"))
    created_at: so.Mapped[datetime] = so.mapped_column(default=utcnow)
    finished_at: so.Mapped[Optional[datetime]]
