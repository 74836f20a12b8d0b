"""Alert rules and their evaluation.

A rule watches one metric over the last `window_hours` (by the interactions' `occurred_at`):
`error_rate` (failures ÷ interactions), `p95_latency_ms` (linear interpolation, like the report),
`slow_rate` (share of calls with a latency over the pilot's abandonment threshold `abandon_ms`),
`daily_cost_usd` (known cost in the window ÷ window days), `cost_per_request_usd` (known cost ÷
interactions with known cost), and two per-user rules, `user_requests_per_day` and
`user_cost_per_day_usd` (the busiest or dearest user's requests or known cost in the window ÷ window
days). Every value is an SQL aggregate. A rule fires when its value is above the threshold, and then
not again until an evaluation finds it at or below the threshold (recovered): no alert storm, however
often the worker evaluates.
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import datetime, timedelta

import sqlalchemy as sa
from sqlalchemy import orm as so

from pilot import audit
from pilot import formatting as fmt
from pilot.access import belongs_to
from pilot.analytics.percentiles import percentile
from pilot.metrics import FAILED, known_cost
from pilot.models import AlertEvent, AlertRule, Interaction, Pilot, User
from pilot.models.base import utcnow

METRICS = {
    "error_rate": "Error rate",
    "p95_latency_ms": "p95 latency (ms)",
    "slow_rate": "Share of slow calls (over the abandonment threshold)",
    "daily_cost_usd": "Cost per day (USD)",
    "cost_per_request_usd": "Cost per request (USD)",
    "user_requests_per_day": "Requests per user per day (busiest user)",
    "user_cost_per_day_usd": "Cost per user per day (USD, dearest user)",
}
SHARE_METRICS = frozenset({"error_rate", "slow_rate"})
PER_USER_METRICS = frozenset({"user_requests_per_day", "user_cost_per_day_usd"})
MAX_WINDOW_HOURS = 24 * 31
MAX_THRESHOLD = 1e12


class AlertError(ValueError):
    """An alert rule that cannot be accepted; the message names the field."""


@dataclass(frozen=True)
class Measure:
    """A metric's value over a window and, for per-user metrics, whose value it is."""

    value: float | None
    user: str | None = None


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
    if metric in SHARE_METRICS and threshold > 1:
        raise AlertError(f"threshold for {metric} is a share between 0 and 1")
    if not isinstance(window_hours, int) or not 1 <= window_hours <= MAX_WINDOW_HOURS:
        raise AlertError(f"window_hours must be a whole number between 1 and {MAX_WINDOW_HOURS}")
    rule = AlertRule(pilot_id=pilot.id, metric=metric, threshold=float(threshold), window_hours=window_hours,
                     enabled=True, firing=False)
    session.add(rule)
    session.flush()
    audit.record(session, "alert.rule_add", actor=actor, pilot=pilot, target_type="alert_rule", target_id=rule.id,
                 after={"metric": metric, "threshold": rule.threshold, "window_hours": window_hours})
    return rule


def set_rule_enabled(session: so.Session, pilot: Pilot, rule_id: int, enabled: bool, actor: User | None) -> AlertRule:
    rule = session.get(AlertRule, rule_id)
    if not belongs_to(rule, pilot):
        raise AlertError("No such alert rule in this pilot.")
    if rule.enabled != enabled:
        audit.record(session, "alert.rule_enable" if enabled else "alert.rule_disable", actor=actor, pilot=pilot,
                     target_type="alert_rule", target_id=rule.id, before={"enabled": rule.enabled},
                     after={"enabled": enabled})
        rule.enabled = enabled
        rule.firing = False  # a rule switched back on starts from a clean state
    return rule


def rules_for(session: so.Session, pilot: Pilot) -> list[AlertRule]:
    return list(session.scalars(sa.select(AlertRule).where(AlertRule.pilot_id == pilot.id).order_by(AlertRule.id)))


def measure(session: so.Session, pilot: Pilot, metric: str, since: datetime, until: datetime) -> Measure:
    """The metric over interactions that occurred in (since, until]; value None when nothing to measure."""
    in_window = [Interaction.pilot_id == pilot.id, Interaction.occurred_at > since, Interaction.occurred_at <= until]
    days = (until - since).total_seconds() / 86400
    if metric == "p95_latency_ms":
        return Measure(percentile(session, in_window, 0.95))
    if metric == "slow_rate":
        timed, slow = session.execute(
            sa.select(sa.func.count(Interaction.latency_ms),
                      sa.func.count(Interaction.id).filter(Interaction.latency_ms > pilot.abandon_ms)).where(*in_window)
        ).one()
        return Measure(slow / timed if timed else None)
    if metric in PER_USER_METRICS:
        amount = sa.func.count(Interaction.id) if metric == "user_requests_per_day" else sa.func.sum(Interaction.cost_usd)
        row = session.execute(
            sa.select(Interaction.external_user_id, amount.label("amount")).where(*in_window)
            .group_by(Interaction.external_user_id).having(amount.is_not(None))
            .order_by(amount.desc(), Interaction.external_user_id).limit(1)
        ).first()
        return Measure(float(row.amount) / days, row.external_user_id) if row is not None else Measure(None)
    total, failures, cost, known = session.execute(
        sa.select(sa.func.count(Interaction.id), sa.func.count(Interaction.id).filter(FAILED),
                  sa.func.sum(Interaction.cost_usd), sa.func.count(Interaction.cost_usd)).where(*in_window)
    ).one()
    if metric == "error_rate":
        return Measure(failures / total if total else None)
    if metric == "daily_cost_usd":
        cost = known_cost(cost, known, total)  # traffic, but every cost unknown: None, not "zero"
        return Measure(cost / days if cost is not None else None)
    if metric == "cost_per_request_usd":
        return Measure(float(cost) / known if known else None)
    raise AlertError(f"unknown metric '{metric}'")


def metric_value(session: so.Session, pilot: Pilot, metric: str, since: datetime, until: datetime) -> float | None:
    return measure(session, pilot, metric, since, until).value


def describe(metric: str, value: float) -> str:
    if metric in SHARE_METRICS:
        return fmt.pct(value, 2)
    if metric == "p95_latency_ms":
        return fmt.ms(value)
    if metric == "user_requests_per_day":
        return f"{fmt.number(value, 1)} requests"
    return fmt.usd(value, 4)


def _message(rule: AlertRule, found: Measure) -> str:
    who = f" (user {found.user})" if found.user is not None else ""
    return (f"{METRICS[rule.metric]} {describe(rule.metric, found.value)}{who} is above "
            f"{describe(rule.metric, rule.threshold)} over the last {rule.window_hours} h.")


def _start_firing(session: so.Session, rule: AlertRule) -> bool:
    """Flip the rule to firing in one conditional UPDATE, so two evaluations at once fire it once."""
    flipped = session.execute(
        sa.update(AlertRule).where(AlertRule.id == rule.id, AlertRule.firing.is_(False))
        .values(firing=True).execution_options(synchronize_session=False)
    ).rowcount == 1
    session.refresh(rule, ["firing"])
    return flipped


def current_values(session: so.Session, pilot: Pilot, now: datetime | None = None) -> dict[int, float | None]:
    """Each enabled rule's value now, without firing anything (what the page shows)."""
    now = now or utcnow()
    return {rule.id: metric_value(session, pilot, rule.metric, now - timedelta(hours=rule.window_hours), now)
            for rule in rules_for(session, pilot) if rule.enabled}


def evaluate_alerts(session: so.Session, pilot: Pilot, now: datetime | None = None) -> list[AlertCheck]:
    """Check every enabled rule: record an AlertEvent for each that crossed while not firing, mark
    recovered the ones back at or below their threshold (caller commits)."""
    now = now or utcnow()
    checks = []
    for rule in rules_for(session, pilot):
        if not rule.enabled:
            continue
        found = measure(session, pilot, rule.metric, now - timedelta(hours=rule.window_hours), now)
        crossed = found.value is not None and found.value > rule.threshold
        fired = None
        if crossed and _start_firing(session, rule):
            fired = AlertEvent(pilot_id=pilot.id, rule_id=rule.id, value=found.value, triggered_at=now,
                               message=_message(rule, found))
            session.add(fired)
        elif found.value is not None and not crossed and rule.firing:
            rule.firing = False  # recovered: the next crossing fires again
        checks.append(AlertCheck(rule, found.value, crossed, fired))
    session.flush()
    return checks


def recent_events(session: so.Session, pilot: Pilot, limit: int = 20) -> list[AlertEvent]:
    return list(session.scalars(
        sa.select(AlertEvent).where(AlertEvent.pilot_id == pilot.id)
        .order_by(AlertEvent.triggered_at.desc(), AlertEvent.id.desc()).limit(limit)
    ))
