"""The prompt registry: prompts, their numbered versions, movable labels, and the events behind them.

`prompt_version` holds every version string the pilot has seen or registered. A row with a
`prompt_id` is a *registered* version (number, template, model, author); a row without one is a
label an interaction named that nobody registered (ingestion records those at first sight).
A registered version's string is `<prompt name>@<number>`: what an interaction sends as its
`prompt_version` to link to it (pilot.prompts.naming).
"""
from __future__ import annotations

from datetime import datetime
from typing import Any, Optional

import sqlalchemy as sa
from sqlalchemy import orm as so

from pilot.extensions import db
from pilot.models.base import utcnow

LABEL_PRODUCTION = "production"
LABEL_CANDIDATE = "candidate"
REGRESSION_VERDICTS = ("better", "same", "worse")


class Prompt(db.Model):
    """A named prompt of one pilot; `rollout_pct` is the share of users served its candidate."""

    __tablename__ = "prompt"
    __table_args__ = (sa.UniqueConstraint("pilot_id", "name"),)

    id: so.Mapped[int] = so.mapped_column(primary_key=True)
    pilot_id: so.Mapped[int] = so.mapped_column(sa.ForeignKey("pilot.id", ondelete="CASCADE"))
    name: so.Mapped[str] = so.mapped_column(sa.String(64))
    description: so.Mapped[str] = so.mapped_column(sa.Text, default="")
    rollout_pct: so.Mapped[float] = so.mapped_column(sa.Float(precision=53), default=0.0)
    created_at: so.Mapped[datetime] = so.mapped_column(default=utcnow)


class PromptVersion(db.Model):
    """A prompt version string of the pilot: registered (prompt_id set, immutable) or only seen."""

    __tablename__ = "prompt_version"
    __table_args__ = (
        sa.UniqueConstraint("pilot_id", "version"),
        sa.UniqueConstraint("prompt_id", "number"),
    )

    id: so.Mapped[int] = so.mapped_column(primary_key=True)
    pilot_id: so.Mapped[int] = so.mapped_column(sa.ForeignKey("pilot.id", ondelete="CASCADE"))
    version: so.Mapped[str] = so.mapped_column(sa.String(100))
    description: so.Mapped[str] = so.mapped_column(sa.Text, default="")
    first_seen_at: so.Mapped[datetime] = so.mapped_column(default=utcnow)
    prompt_id: so.Mapped[Optional[int]] = so.mapped_column(sa.ForeignKey("prompt.id", ondelete="CASCADE"))
    number: so.Mapped[Optional[int]]
    template: so.Mapped[Optional[str]] = so.mapped_column(sa.Text)
    model: so.Mapped[Optional[str]] = so.mapped_column(sa.String(200))
    params: so.Mapped[Optional[dict[str, Any]]] = so.mapped_column(sa.JSON)
    author_id: so.Mapped[Optional[int]] = so.mapped_column(sa.ForeignKey("user.id", ondelete="SET NULL"))
    created_at: so.Mapped[Optional[datetime]]

    prompt: so.Mapped[Optional[Prompt]] = so.relationship()
    author: so.Mapped[Optional["User"]] = so.relationship()  # noqa: F821

    @property
    def registered(self) -> bool:
        return self.prompt_id is not None


class PromptLabel(db.Model):
    """Where a label (`production`, `candidate`, any name) of a prompt points now."""

    __tablename__ = "prompt_label"
    __table_args__ = (sa.UniqueConstraint("prompt_id", "label"),)

    id: so.Mapped[int] = so.mapped_column(primary_key=True)
    prompt_id: so.Mapped[int] = so.mapped_column(sa.ForeignKey("prompt.id", ondelete="CASCADE"))
    label: so.Mapped[str] = so.mapped_column(sa.String(64))
    version_id: so.Mapped[int] = so.mapped_column(sa.ForeignKey("prompt_version.id", ondelete="CASCADE"))
    updated_at: so.Mapped[datetime] = so.mapped_column(default=utcnow)

    version: so.Mapped[PromptVersion] = so.relationship()


class PromptEvent(db.Model):
    """The label history: every version created, label moved, rollout changed, promotion and rollback.

    kind: created | label | promote | rollback | rollout. Append-only, like the audit log."""

    __tablename__ = "prompt_event"
    __table_args__ = (sa.Index("ix_prompt_event_pilot_kind", "pilot_id", "kind"),)

    id: so.Mapped[int] = so.mapped_column(primary_key=True)
    pilot_id: so.Mapped[int] = so.mapped_column(sa.ForeignKey("pilot.id", ondelete="CASCADE"))
    prompt_id: so.Mapped[int] = so.mapped_column(sa.ForeignKey("prompt.id", ondelete="CASCADE"), index=True)
    kind: so.Mapped[str] = so.mapped_column(sa.String(16))
    label: so.Mapped[str] = so.mapped_column(sa.String(64), default="")
    from_version_id: so.Mapped[Optional[int]] = so.mapped_column(
        sa.ForeignKey("prompt_version.id", ondelete="SET NULL"))
    to_version_id: so.Mapped[Optional[int]] = so.mapped_column(sa.ForeignKey("prompt_version.id", ondelete="SET NULL"))
    from_pct: so.Mapped[Optional[float]] = so.mapped_column(sa.Float(precision=53))
    to_pct: so.Mapped[Optional[float]] = so.mapped_column(sa.Float(precision=53))
    reason: so.Mapped[str] = so.mapped_column(sa.Text, default="")
    actor_id: so.Mapped[Optional[int]] = so.mapped_column(sa.ForeignKey("user.id", ondelete="SET NULL"))
    created_at: so.Mapped[datetime] = so.mapped_column(default=utcnow)

    prompt: so.Mapped[Prompt] = so.relationship()
    from_version: so.Mapped[Optional[PromptVersion]] = so.relationship(foreign_keys=[from_version_id])
    to_version: so.Mapped[Optional[PromptVersion]] = so.relationship(foreign_keys=[to_version_id])
    actor: so.Mapped[Optional["User"]] = so.relationship()  # noqa: F821


class RegressionItem(db.Model):
    """One real input of a prompt's regression set, its replayed output and the reviewer's verdict."""

    __tablename__ = "regression_item"
    __table_args__ = (sa.UniqueConstraint("prompt_id", "interaction_id"),)

    id: so.Mapped[int] = so.mapped_column(primary_key=True)
    prompt_id: so.Mapped[int] = so.mapped_column(sa.ForeignKey("prompt.id", ondelete="CASCADE"))
    interaction_id: so.Mapped[int] = so.mapped_column(sa.ForeignKey("interaction.id", ondelete="CASCADE"))
    stratum: so.Mapped[str] = so.mapped_column(sa.String(200), default="")
    confirmed_failure: so.Mapped[bool] = so.mapped_column(default=False)
    created_at: so.Mapped[datetime] = so.mapped_column(default=utcnow)
    replay_version: so.Mapped[Optional[str]] = so.mapped_column(sa.String(100))
    replay_output: so.Mapped[Optional[str]] = so.mapped_column(sa.Text)
    replayed_at: so.Mapped[Optional[datetime]]
    verdict: so.Mapped[Optional[str]] = so.mapped_column(sa.String(8))
    reviewer_id: so.Mapped[Optional[int]] = so.mapped_column(sa.ForeignKey("user.id", ondelete="SET NULL"))
    reviewed_at: so.Mapped[Optional[datetime]]

    interaction: so.Mapped["Interaction"] = so.relationship()  # noqa: F821
