"""Where a pilot's alerts go (channels) and what happened to each attempt to send one (deliveries)."""
from __future__ import annotations

from datetime import datetime
from typing import Optional

import sqlalchemy as sa
from sqlalchemy import orm as so

from pilot.extensions import db
from pilot.models.base import utcnow


class AlertChannel(db.Model):
    """An email list or a webhook URL. A webhook's signing secret is kept as it is (not hashed):
    the server needs it to sign every POST; it is shown to the lead once, when the channel is made."""

    __tablename__ = "alert_channel"

    id: so.Mapped[int] = so.mapped_column(primary_key=True)
    pilot_id: so.Mapped[int] = so.mapped_column(sa.ForeignKey("pilot.id", ondelete="CASCADE"), index=True)
    kind: so.Mapped[str] = so.mapped_column(sa.String(16))
    target: so.Mapped[str] = so.mapped_column(sa.String(2000))
    secret: so.Mapped[str] = so.mapped_column(sa.String(128), default="")
    enabled: so.Mapped[bool] = so.mapped_column(default=True)
    created_at: so.Mapped[datetime] = so.mapped_column(default=utcnow)
    created_by_id: so.Mapped[Optional[int]] = so.mapped_column(sa.ForeignKey("user.id"))

    @property
    def display_target(self) -> str:
        """What pages show: a webhook URL's path can be a credential (a Slack webhook's is), so only
        its scheme and host are shown."""
        if self.kind != "webhook":
            return self.target
        scheme, _, rest = self.target.partition("://")
        host = rest.split("/", 1)[0].rsplit("@", 1)[-1]
        return f"{scheme}://{host}/…"


class AlertDelivery(db.Model):
    """One alert (or test alert) sent to one channel, with its outcome after the last attempt:
    pending (not tried yet, or waiting for a retry), sent, or failed (after the last retry)."""

    __tablename__ = "alert_delivery"
    __table_args__ = (sa.Index("ix_alert_delivery_channel_status", "channel_id", "status"),)

    id: so.Mapped[int] = so.mapped_column(primary_key=True)
    pilot_id: so.Mapped[int] = so.mapped_column(sa.ForeignKey("pilot.id", ondelete="CASCADE"), index=True)
    channel_id: so.Mapped[int] = so.mapped_column(sa.ForeignKey("alert_channel.id", ondelete="CASCADE"))
    event_id: so.Mapped[Optional[int]] = so.mapped_column(sa.ForeignKey("alert_event.id", ondelete="CASCADE"))
    is_test: so.Mapped[bool] = so.mapped_column(default=False)
    status: so.Mapped[str] = so.mapped_column(sa.String(16), default="pending")
    attempts: so.Mapped[int] = so.mapped_column(default=0)
    error: so.Mapped[str] = so.mapped_column(sa.Text, default="")
    created_at: so.Mapped[datetime] = so.mapped_column(default=utcnow)
    delivered_at: so.Mapped[Optional[datetime]]

    channel: so.Mapped[AlertChannel] = so.relationship()
