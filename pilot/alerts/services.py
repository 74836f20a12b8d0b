"""Alert rules and their evaluation.

A rule watches one metric over the last `window_hours` (by the interactions' `occurred_at`):
`error_rate` (failures ÷ interactions), `p95_latency_ms` (linear interpolation, like the report),
`daily_cost_usd` (known cost in the window ÷ window days) or `cost_per_request_usd` (known cost ÷
interactions with known cost). It fires when the value is above the threshold. One event per rule
per window: a rule that fired within its window does not fire again until the window has passed,
so evaluating on every page load does not flood the log.
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import datetime, timedelta

import pandas as pd
import sqlalchemy as sa
from sqlalchemy import orm as so

from pilot import audit
from pilot.models import AlertEvent, AlertRule, Interaction, Pilot, User
from pilot.models.base import utcnow

METRICS = {
    "error_rate": "Error rate",
    "p95_latency_ms": "p95 latency (ms)",
    "daily_cost_usd": "Cost per day (USD)",
    "cost_per_request_usd": "Cost per request (USD)",
}
MAX_WINDOW_HOURS = 24 * 31
MAX_THRESHOLD = 1e12


class AlertError(ValueError):
    """An alert rule that cannot be accepted; the message names the field."""


@dataclass(frozen=True)
class AlertCheck:
    """One rule's value over its window, and the event it fired now (if any)."""

    rule: AlertRule
    value: float | None
    crossed: bool
    fired: AlertEvent | None


def add_rule(session: so.Session, pilot: Pilot, actor: User | None, *, metric: str, threshold: float,
             window_hours: int) -> AlertRule:
    """Validate and add an enabled rule, audited; the caller commits."""
    if metric not in METRICS:
        raise AlertError(f"metric must be one of {', '.join(METRICS)}")
    if not isinstance(threshold, (int, float)) or not math.isfinite(threshold) or not 0 <= threshold <= MAX_THRESHOLD:
        raise AlertError("threshold must be a number between 0 and 10^12")
    if metric == "error_rate" and threshold > 1:
        raise AlertError("threshold for error_rate is a share between 0 and 1")
    if not isinstance(window_hours, int) or not 1 <= window_hours <= MAX_WINDOW_HOURS:
        raise AlertError(f"window_hours must be a whole number between 1 and {MAX_WINDOW_HOURS}")
    rule = AlertRule(pilot_id=pilot.id, metric=metric, threshold=float(threshold), window_hours=window_hours,
                     enabled=True)
    session.add(rule)
    session.flush()
    audit.record(session, "alert.rule_add", actor=actor, pilot=pilot, target_type="alert_rule", target_id=rule.id,
                 after={"metric": metric, "threshold": rule.threshold, "window_hours": window_hours})
    return rule


def set_rule_enabled(session: so.Session, pilot: Pilot, rule_id: int, enabled: bool, actor: User | None) -> AlertRule:
    rule = session.get(AlertRule, rule_id)
    if rule is None or rule.pilot_id != pilot.id:
        raise AlertError("No such alert rule in this pilot.")
    if rule.enabled != enabled:
        audit.record(session, "alert.rule_enable" if enabled else "alert.rule_disable", actor=actor, pilot=pilot,
                     target_type="alert_rule", target_id=rule.id, before={"enabled": rule.enabled},
                     after={"enabled": enabled})
        rule.enabled = enabled
    return rule


def rules_for(session: so.Session, pilot: Pilot) -> list[AlertRule]:
    return list(session.scalars(sa.select(AlertRule).where(AlertRule.pilot_id == pilot.id).order_by(AlertRule.id)))


def metric_value(session: so.Session, pilot: Pilot, metric: str, since: datetime, until: datetime) -> float | None:
    """The metric over interactions that occurred in (since, until]; None when there is nothing to measure."""
    in_window = (Interaction.pilot_id == pilot.id, Interaction.occurred_at > since, Interaction.occurred_at <= until)
    if metric == "p95_latency_ms":
        values = session.scalars(
            sa.select(Interaction.latency_ms).where(*in_window, Interaction.latency_ms.is_not(None))
        ).all()
        return float(pd.Series(values, dtype="float64").quantile(0.95)) if values else None
    total, failures, cost, known = session.execute(
        sa.select(sa.func.count(Interaction.id), sa.func.count(Interaction.id).filter(Interaction.status != "ok"),
                  sa.func.sum(Interaction.cost_usd), sa.func.count(Interaction.cost_usd)).where(*in_window)
    ).one()
    if metric == "error_rate":
        return failures / total if total else None
    if metric == "daily_cost_usd":
        if total and not known:
            return None  # traffic, but every cost unknown: not "zero"
        return float(cost or 0.0) / ((until - since).total_seconds() / 86400)
    if metric == "cost_per_request_usd":
        return float(cost) / known if known else None
    raise AlertError(f"unknown metric '{metric}'")


def _fired_within(session: so.Session, rule: AlertRule, since: datetime) -> bool:
    return session.scalar(
        sa.select(sa.func.count(AlertEvent.id)).where(AlertEvent.rule_id == rule.id, AlertEvent.triggered_at > since)
    ) > 0


def describe(metric: str, value: float) -> str:
    if metric == "error_rate":
        return f"{value * 100:.2f}%"
    if metric == "p95_latency_ms":
        return f"{value:,.0f} ms"
    return f"${value:,.4f}"


def evaluate_alerts(session: so.Session, pilot: Pilot, now: datetime | None = None) -> list[AlertCheck]:
    """Check every enabled rule; record an AlertEvent for each newly crossed one (caller commits)."""
    now = now or utcnow()
    checks = []
    for rule in rules_for(session, pilot):
        if not rule.enabled:
            continue
        since = now - timedelta(hours=rule.window_hours)
        value = metric_value(session, pilot, rule.metric, since, now)
        crossed = value is not None and value > rule.threshold
        fired = None
        if crossed and not _fired_within(session, rule, since):
            fired = AlertEvent(pilot_id=pilot.id, rule_id=rule.id, value=value, triggered_at=now,
                               message=f"{METRICS[rule.metric]} {describe(rule.metric, value)} is above "
                                       f"{describe(rule.metric, rule.threshold)} over the last {rule.window_hours} h.")
            session.add(fired)
        checks.append(AlertCheck(rule, value, crossed, fired))
    session.flush()
    return checks


def recent_events(session: so.Session, pilot: Pilot, limit: int = 20) -> list[AlertEvent]:
    return list(session.scalars(
        sa.select(AlertEvent).where(AlertEvent.pilot_id == pilot.id)
        .order_by(AlertEvent.triggered_at.desc(), AlertEvent.id.desc()).limit(limit)
    ))
