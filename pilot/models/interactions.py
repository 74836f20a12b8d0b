"""What the AI feature under test reports: interactions and model prices (prompt versions: pilot.models.prompts)."""
from __future__ import annotations

from datetime import datetime
from typing import Any, Optional

import sqlalchemy as sa
from sqlalchemy import orm as so

from pilot.extensions import db
from pilot.models.base import BigIntPK, utcnow

INTERACTION_STATUSES = ("ok", "error", "timeout", "rate_limited", "fallback")
COST_SOURCES = ("reported", "computed", "unknown")
SOURCES = ("api", "otlp", "ui")
# The seed's mid-2026 prices, USD per million tokens (input, output); migration 0001 inserts them.
DEFAULT_PRICES = {
    "claude-sonnet-4-6": (3.0, 15.0),
    "gpt-5.2": (10.0, 40.0),
    "claude-haiku-4-5": (0.25, 1.25),
}


class Interaction(db.Model):
    """One real call of the AI feature. (pilot, event_id) is unique: retries are duplicates."""

    __tablename__ = "interaction"
    __table_args__ = (
        sa.UniqueConstraint("pilot_id", "event_id"),
        sa.Index("ix_interaction_pilot_time", "pilot_id", "occurred_at"),
        # (pilot, user, time): a user's interactions of a day are one range (the daily-limit rule).
        sa.Index("ix_interaction_pilot_user_time", "pilot_id", "external_user_id", "occurred_at"),
        # (pilot, cost): the median cost is an index walk, not a sort of every cost.
        sa.Index("ix_interaction_pilot_cost", "pilot_id", "cost_usd"),
        sa.Index("ix_interaction_pilot_status", "pilot_id", "status"),
        sa.Index("ix_interaction_pilot_member", "pilot_id", "membership_id"),
        sa.Index("ix_interaction_pilot_trace", "pilot_id", "trace_id"),
        sa.Index("ix_interaction_pilot_response", "pilot_id", "response_id"),
        sa.Index("ix_interaction_pilot_input_hash", "pilot_id", "input_hash"),
        # Read-side index: recent arrivals by time (readiness snapshots, review grouping). No latency
        # index: the dashboard's percentiles come from per-day sketches (pilot.models.analytics).
        sa.Index("ix_interaction_pilot_received", "pilot_id", "received_at"),
    )

    id: so.Mapped[int] = so.mapped_column(BigIntPK, primary_key=True)
    pilot_id: so.Mapped[int] = so.mapped_column(sa.ForeignKey("pilot.id", ondelete="CASCADE"))
    event_id: so.Mapped[str] = so.mapped_column(sa.String(128))
    membership_id: so.Mapped[Optional[int]] = so.mapped_column(
        sa.ForeignKey("membership.id", ondelete="SET NULL")
    )
    external_user_id: so.Mapped[Optional[str]] = so.mapped_column(sa.String(255))
    session_id: so.Mapped[Optional[str]] = so.mapped_column(sa.String(255))
    occurred_at: so.Mapped[datetime]
    received_at: so.Mapped[datetime] = so.mapped_column(default=utcnow)
    model: so.Mapped[Optional[str]] = so.mapped_column(sa.String(200))
    prompt_version: so.Mapped[Optional[str]] = so.mapped_column(sa.String(100))
    input_text: so.Mapped[str] = so.mapped_column(sa.Text, default="")
    output_text: so.Mapped[str] = so.mapped_column(sa.Text, default="")
    # Lengths and a hash of the normalised input, so analytics never read the text itself.
    input_chars: so.Mapped[int] = so.mapped_column(default=0)
    output_chars: so.Mapped[int] = so.mapped_column(default=0)
    input_hash: so.Mapped[Optional[str]] = so.mapped_column(sa.String(64))
    input_tokens: so.Mapped[Optional[int]] = so.mapped_column(sa.BigInteger)
    cached_input_tokens: so.Mapped[int] = so.mapped_column(sa.BigInteger, default=0)
    # The part of input_tokens written to a prompt cache (priced at the cache-write price).
    cache_write_input_tokens: so.Mapped[int] = so.mapped_column(sa.BigInteger, default=0, server_default="0")
    output_tokens: so.Mapped[Optional[int]] = so.mapped_column(sa.BigInteger)
    tokens_estimated: so.Mapped[bool] = so.mapped_column(default=False)
    latency_ms: so.Mapped[Optional[float]]
    ttft_ms: so.Mapped[Optional[float]]
    status: so.Mapped[str] = so.mapped_column(sa.String(16), default="ok")
    error_message: so.Mapped[Optional[str]] = so.mapped_column(sa.Text)
    cost_usd: so.Mapped[Optional[float]] = so.mapped_column(sa.Float(precision=53))
    cost_source: so.Mapped[str] = so.mapped_column(sa.String(16), default="unknown")
    meta: so.Mapped[dict[str, Any]] = so.mapped_column("metadata", sa.JSON, default=dict)
    source: so.Mapped[str] = so.mapped_column(sa.String(8), default="api")
    # OTLP only: the trace and provider response id of the call's span(s), so spans of one call
    # that arrive in different requests merge into one row (pilot.ingest.merge).
    trace_id: so.Mapped[Optional[str]] = so.mapped_column(sa.String(32))
    response_id: so.Mapped[Optional[str]] = so.mapped_column(sa.String(200))

    membership: so.Mapped[Optional["Membership"]] = so.relationship()  # noqa: F821


class ModelPrice(db.Model):
    """USD per million tokens. pilot_id NULL is the global default table."""

    __tablename__ = "model_price"
    __table_args__ = (sa.Index("ix_model_price_pilot_model", "pilot_id", "model"),)

    id: so.Mapped[int] = so.mapped_column(primary_key=True)
    pilot_id: so.Mapped[Optional[int]] = so.mapped_column(sa.ForeignKey("pilot.id", ondelete="CASCADE"))
    model: so.Mapped[str] = so.mapped_column(sa.String(200))
    input_per_mtok: so.Mapped[float] = so.mapped_column(sa.Float(precision=53))
    cached_input_per_mtok: so.Mapped[Optional[float]] = so.mapped_column(sa.Float(precision=53))
    # Empty: 1.25 × input for Anthropic (claude*) models, the input price otherwise (pilot/pricing/table.py).
    cache_write_per_mtok: so.Mapped[Optional[float]] = so.mapped_column(sa.Float(precision=53))
    output_per_mtok: so.Mapped[float] = so.mapped_column(sa.Float(precision=53))
    effective_from: so.Mapped[Optional[datetime]]
    created_at: so.Mapped[datetime] = so.mapped_column(default=utcnow)

