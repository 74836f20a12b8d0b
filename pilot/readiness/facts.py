"""The measurements the checklist rules need beyond the report's own sections.

Everything here is a SQL aggregate (counts, sums, GROUP BY) except the time-to-first-token
percentile, which loads that one float column like the latency percentiles do. No text is read.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import pandas as pd
import sqlalchemy as sa
from sqlalchemy import orm as so

from pilot.alerts.channels import working_channels
from pilot.analytics.summary import latency_values, percentiles
from pilot.database import without_index
from pilot.metrics import AI_ERROR, FAILED, FEEDBACK_NEGATIVE, day_of
from pilot.models import AlertRule, Feedback, Flag, Interaction, Pilot, Prompt, PromptEvent, PromptVersion

REVIEWED_FLAG_STATUSES = ("confirmed", "dismissed")


@dataclass(frozen=True)
class ModelUsage:
    """One model's share of the pilot: traffic, known cost and how often it went badly."""

    model: str
    interactions: int
    known_cost_interactions: int
    cost_usd: float
    bad: int  # failed (status ≠ ok) or rated negative

    @property
    def cost_per_request(self) -> float | None:
        return self.cost_usd / self.known_cost_interactions if self.known_cost_interactions else None

    @property
    def bad_rate(self) -> float:
        return self.bad / self.interactions if self.interactions else 0.0


@dataclass(frozen=True)
class RollbackEvidence:
    """A recorded prompt rollback and how much traffic the version it restored served afterwards."""

    event_id: int
    prompt: str
    from_version: str
    to_version: str
    at: datetime
    served_after: int
    link: str = ""  # the event on the prompt's label history


@dataclass(frozen=True)
class Facts:
    """Plain numbers about one pilot; the checklist rules are pure functions of these."""

    summary: dict[str, Any]
    latency_target_p95_ms: float
    max_error_rate: float
    planned_price_per_user_month: float | None
    target_users: int | None
    daily_request_limit: int | None
    sampling_rate: float
    format_rule_configured: bool = False
    ok_interactions: int = 0
    delivered_invalid: int = 0  # status ok, yet the output was empty or failed the format rule
    fallbacks: int = 0
    fallback_with_message: int = 0
    errors_with_message: int = 0  # error/timeout/rate_limited with an error message recorded
    high_flags: int = 0
    high_flags_reviewed: int = 0  # decided by someone who opened the item (not in a bulk action)
    high_flags_bulk: int = 0  # closed in a bulk action: not a review
    sample_flags: int = 0
    sample_flags_reviewed: int = 0
    sample_flags_bulk: int = 0
    ttft_recorded_ok: int = 0
    ttft_p95: float | None = None
    input_tokens: int = 0
    cached_input_tokens: int = 0
    hashed_inputs: int = 0
    distinct_inputs: int = 0
    models: tuple[ModelUsage, ...] = ()
    latency_recorded: int = 0
    prompt_versioned: int = 0
    prompt_versions: int = 0
    rate_limited: int = 0
    rate_limit_fallbacks: int = 0
    user_days: int = 0
    user_days_over_limit: int = 0
    users_over_limit: int = 0
    alert_metrics: frozenset[str] = field(default_factory=frozenset)
    working_alert_channels: int = 0  # enabled channels whose most recent finished delivery succeeded
    prompt_registered: int = 0  # interactions naming a registered version (`name@N` of the prompt registry)
    rollbacks: tuple[RollbackEvidence, ...] = ()

    @property
    def total(self) -> int:
        return self.summary["interactions"]["total"]

    @property
    def failures(self) -> int:
        return self.summary["interactions"]["failures"]


COUNTED_FACTS = frozenset(("ok_interactions", "fallbacks", "fallback_with_message", "errors_with_message",
                           "rate_limited", "rate_limit_fallbacks", "ttft_recorded_ok", "latency_recorded",
                           "prompt_versioned", "prompt_versions", "input_tokens", "cached_input_tokens",
                           "hashed_inputs", "distinct_inputs"))


def interaction_counts(session: so.Session, pilot: Pilot) -> dict[str, Any]:
    """Every whole-pilot count the report needs, in one pass over the pilot's interactions: the
    checklist's counts plus `pilot_summary`'s interaction and cost totals (its
    `interaction_totals` keys), so the report does not scan the table once more for those."""
    I = Interaction  # noqa: E741 (short alias keeps the filter list readable)
    has_error_message = sa.and_(I.error_message.is_not(None), I.error_message != "")
    names_rate_limit = sa.or_(I.error_message.like("%429%"), sa.func.lower(I.error_message).like("%rate%limit%"))
    row = session.execute(
        sa.select(
            sa.func.count(I.id).label("total"),
            sa.func.count(I.id).filter(FAILED).label("failures"),
            sa.func.sum(I.cost_usd).label("total_usd"),
            sa.func.count(I.cost_usd).label("known"),
            sa.func.count(I.id).filter(I.cost_usd.is_(None)).label("unknown"),
            sa.func.count(I.id).filter(I.status == "ok").label("ok_interactions"),
            sa.func.count(I.id).filter(I.status == "ok", I.output_chars == 0).label("delivered_empty"),
            sa.func.count(I.id).filter(I.status == "fallback").label("fallbacks"),
            sa.func.count(I.id).filter(I.status == "fallback", I.output_chars > 0).label("fallback_with_message"),
            sa.func.count(I.id).filter(AI_ERROR, has_error_message).label("errors_with_message"),
            sa.func.count(I.id).filter(I.status == "rate_limited").label("rate_limited"),
            sa.func.count(I.id).filter(I.status == "fallback", names_rate_limit).label("rate_limit_fallbacks"),
            sa.func.count(I.id).filter(I.status == "ok", I.ttft_ms.is_not(None)).label("ttft_recorded_ok"),
            sa.func.count(I.latency_ms).label("latency_recorded"),
            sa.func.count(I.id).filter(I.prompt_version.is_not(None), I.prompt_version != "").label("prompt_versioned"),
            sa.func.count(sa.distinct(I.prompt_version)).label("prompt_versions"),
            sa.func.coalesce(sa.func.sum(I.input_tokens), 0).label("input_tokens"),
            sa.func.coalesce(sa.func.sum(I.cached_input_tokens).filter(I.input_tokens.is_not(None)), 0)
            .label("cached_input_tokens"),
            sa.func.count(I.input_hash).label("hashed_inputs"),
            sa.func.count(sa.distinct(I.input_hash)).label("distinct_inputs"),
        ).where(I.pilot_id == pilot.id)
    ).one()
    counts = dict(row._mapping)
    counts["input_tokens"] = int(counts["input_tokens"])
    counts["cached_input_tokens"] = int(counts["cached_input_tokens"])
    return counts


def _delivered_invalid(session: so.Session, pilot: Pilot, delivered_empty: int) -> int:
    """Interactions marked ok whose output was empty or failed the format rule: they reached users.

    `delivered_empty` (ok with no output) comes from the one pass over interactions; the
    non-empty ones with an invalid_format flag are counted from the flags, a join over the
    few flagged rows instead of an EXISTS probe per interaction."""
    flagged_non_empty = session.scalar(
        sa.select(sa.func.count(sa.distinct(Flag.interaction_id)))
        .join(Interaction, Interaction.id == Flag.interaction_id)
        .where(Flag.reason == "invalid_format", Interaction.pilot_id == pilot.id,
               Interaction.status == "ok", Interaction.output_chars != 0)
    ) or 0
    return delivered_empty + flagged_non_empty


def _flag_counts(session: so.Session, pilot: Pilot) -> dict[str, int]:
    """Flags decided one by one (a review) apart from those closed in a bulk action (not one)."""
    decided = Flag.status.in_(REVIEWED_FLAG_STATUSES)
    reviewed, bulk = sa.and_(decided, Flag.decided_in_bulk.is_(False)), sa.and_(decided, Flag.decided_in_bulk.is_(True))
    high, sample = Flag.severity == "high", Flag.reason == "quality_sample"
    row = session.execute(
        sa.select(
            sa.func.count(Flag.id).filter(high),
            sa.func.count(Flag.id).filter(high, reviewed),
            sa.func.count(Flag.id).filter(high, bulk),
            sa.func.count(Flag.id).filter(sample),
            sa.func.count(Flag.id).filter(sample, reviewed),
            sa.func.count(Flag.id).filter(sample, bulk),
        ).where(Flag.pilot_id == pilot.id)
    ).one()
    names = ("high_flags", "high_flags_reviewed", "high_flags_bulk",
             "sample_flags", "sample_flags_reviewed", "sample_flags_bulk")
    return dict(zip(names, row))


def model_usage(session: so.Session, pilot: Pilot) -> tuple[ModelUsage, ...]:
    """Per model: interactions, known cost, and failed-or-rated-negative interactions.

    Bad = failures (status ≠ ok) + the ok interactions with at least one negative rating; the
    second term is COUNT(DISTINCT) over a join from the ratings (a tenth of the rows), not a
    correlated EXISTS on feedback for every interaction."""
    model = without_index(session, Interaction.model)
    rows = session.execute(
        sa.select(
            model,
            sa.func.count(Interaction.id),
            sa.func.count(Interaction.cost_usd),
            sa.func.coalesce(sa.func.sum(Interaction.cost_usd), 0.0),
            sa.func.count(Interaction.id).filter(FAILED),
        )
        .where(Interaction.pilot_id == pilot.id, model.is_not(None))
        .group_by(model)
        .order_by(sa.func.count(Interaction.id).desc(), model)
    ).all()
    rated_negative_ok = dict(session.execute(
        sa.select(Interaction.model, sa.func.count(sa.distinct(Feedback.interaction_id)))
        .select_from(Feedback).join(Interaction, Interaction.id == Feedback.interaction_id)
        .where(Interaction.pilot_id == pilot.id, Interaction.model.is_not(None), Interaction.status == "ok",
               FEEDBACK_NEGATIVE)
        .group_by(Interaction.model)
    ).all())
    return tuple(ModelUsage(model, count, known, float(cost), failures + rated_negative_ok.get(model, 0))
                 for model, count, known, cost, failures in rows)


def _usage_over_limit(session: so.Session, pilot: Pilot) -> dict[str, int]:
    """User-days (UTC) and how many of them went over the pilot's daily request limit."""
    day = day_of(Interaction.occurred_at)
    user = without_index(session, Interaction.external_user_id)
    per_user_day = (
        sa.select(user.label("user"), day.label("day"), sa.func.count(Interaction.id).label("requests"))
        .where(Interaction.pilot_id == pilot.id, user.is_not(None))
        .group_by(user, day)
        .subquery()
    )
    limit = pilot.daily_request_limit
    over = per_user_day.c.requests > limit if limit is not None else sa.false()
    user_days, days_over, users_over = session.execute(
        sa.select(
            sa.func.count(),
            sa.func.count().filter(over),
            sa.func.count(sa.distinct(per_user_day.c.user)).filter(over),
        ).select_from(per_user_day)
    ).one()
    return {"user_days": user_days, "user_days_over_limit": days_over, "users_over_limit": users_over}


def enabled_alert_metrics(session: so.Session, pilot: Pilot) -> frozenset[str]:
    return frozenset(session.scalars(
        sa.select(AlertRule.metric).distinct().where(AlertRule.pilot_id == pilot.id, AlertRule.enabled.is_(True))
    ))


def format_rule_configured(pilot: Pilot) -> bool:
    """The flagging rule invalid_format is on: rule_settings `output_format` is `json`, or `regex`
    with an `output_regex` (pilot.flagging's settings; the default `none` checks nothing)."""
    settings = pilot.rule_settings or {}
    output_format = str(settings.get("output_format") or "none").lower()
    return output_format == "json" or (output_format == "regex" and bool(settings.get("output_regex")))


def prompt_registry_facts(session: so.Session, pilot: Pilot) -> dict[str, Any]:
    """Interactions naming a registered prompt version, and every recorded rollback with the
    traffic its restored version served after it (both SQL counts)."""
    registered = session.scalar(
        sa.select(sa.func.count(Interaction.id)).join(
            PromptVersion, sa.and_(PromptVersion.pilot_id == Interaction.pilot_id,
                                   PromptVersion.version == Interaction.prompt_version))
        .where(Interaction.pilot_id == pilot.id, PromptVersion.prompt_id.is_not(None))) or 0
    From, To = so.aliased(PromptVersion), so.aliased(PromptVersion)  # noqa: N806
    served = (sa.select(sa.func.count(Interaction.id))
              .where(Interaction.pilot_id == pilot.id, Interaction.prompt_version == To.version,
                     Interaction.occurred_at >= PromptEvent.created_at).correlate(PromptEvent, To).scalar_subquery())
    rows = session.execute(
        sa.select(PromptEvent.id, Prompt.name, From.version, To.version, PromptEvent.created_at, served)
        .join(Prompt, Prompt.id == PromptEvent.prompt_id).join(From, From.id == PromptEvent.from_version_id)
        .join(To, To.id == PromptEvent.to_version_id)
        .where(PromptEvent.pilot_id == pilot.id, PromptEvent.kind == "rollback")
        .order_by(PromptEvent.created_at.desc())).all()
    return {"prompt_registered": registered,
            "rollbacks": tuple(RollbackEvidence(*row, link=f"/pilots/{pilot.slug}/prompts/{row[1]}#event-{row[0]}")
                               for row in rows)}


def gather_facts(session: so.Session, pilot: Pilot, summary: dict[str, Any],
                 ttft_values: pd.Series | None = None, counts: dict[str, Any] | None = None) -> Facts:
    """Everything the checklist rules look at, for one pilot, from the current data.
    `ttft_values` (the non-null ttft_ms values) and `counts` (`interaction_counts`), when the
    caller has them already."""
    if ttft_values is None:
        ttft_values = latency_values(session, pilot, Interaction.ttft_ms)
    counts = counts if counts is not None else interaction_counts(session, pilot)
    delivered_empty = counts["delivered_empty"]
    return Facts(
        summary=summary,
        latency_target_p95_ms=pilot.latency_target_p95_ms,
        max_error_rate=pilot.max_error_rate,
        planned_price_per_user_month=pilot.planned_price_per_user_month,
        target_users=pilot.target_users,
        daily_request_limit=pilot.daily_request_limit,
        sampling_rate=pilot.sampling_rate,
        format_rule_configured=format_rule_configured(pilot),
        delivered_invalid=_delivered_invalid(session, pilot, delivered_empty),
        ttft_p95=percentiles(ttft_values)["p95"],
        models=model_usage(session, pilot),
        alert_metrics=enabled_alert_metrics(session, pilot),
        working_alert_channels=working_channels(session, pilot),
        **{name: value for name, value in counts.items() if name in COUNTED_FACTS},
        **_flag_counts(session, pilot),
        **_usage_over_limit(session, pilot),
        **prompt_registry_facts(session, pilot),
    )
