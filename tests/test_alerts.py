"""Alert rules: metric values over the window by hand, firing once per window, the CLI, and the
checklist's monitoring items reacting to the rules."""
from datetime import datetime, timedelta

import pandas as pd
import pytest
import sqlalchemy as sa

from pilot.alerts.services import AlertError, add_rule, evaluate_alerts, metric_value, set_rule_enabled
from pilot.models import AlertChannel, AlertDelivery, AlertEvent, AuditEvent
from pilot.models.base import utcnow
from pilot.readiness import build_report
from tests.readiness_data import add_interaction

NOW = datetime(2026, 3, 10, 12, 0)


@pytest.fixture()
def recent(db, world):
    """Four interactions in the last 24 h and one older one that no 24 h window sees."""
    pilot = world.pilot
    add_interaction(db, pilot, "old", at=NOW - timedelta(hours=30), status="error", latency=99999.0, cost=100.0)
    add_interaction(db, pilot, "r1", at=NOW - timedelta(hours=20), latency=1000.0, cost=0.10)
    add_interaction(db, pilot, "r2", at=NOW - timedelta(hours=10), status="error", latency=2000.0, cost=0.20)
    add_interaction(db, pilot, "r3", at=NOW - timedelta(hours=1), latency=4000.0, cost=None)
    add_interaction(db, pilot, "r4", at=NOW, status="timeout", latency=None, cost=0.30)
    db.session.commit()
    return pilot


def test_metric_values_by_hand(db, recent):
    since = NOW - timedelta(hours=24)
    assert metric_value(db.session, recent, "error_rate", since, NOW) == 2 / 4
    assert metric_value(db.session, recent, "p95_latency_ms", since, NOW) == pytest.approx(
        pd.Series([1000.0, 2000.0, 4000.0]).quantile(0.95), abs=1e-9)
    assert metric_value(db.session, recent, "daily_cost_usd", since, NOW) == pytest.approx(0.60, abs=1e-9)
    assert metric_value(db.session, recent, "cost_per_request_usd", since, NOW) == pytest.approx(0.60 / 3, abs=1e-9)
    # a 48 h window sees the old one too; daily cost is the window's cost per day
    since_48 = NOW - timedelta(hours=48)
    assert metric_value(db.session, recent, "daily_cost_usd", since_48, NOW) == pytest.approx(100.60 / 2, abs=1e-9)
    empty_since = NOW + timedelta(hours=1)
    assert metric_value(db.session, recent, "error_rate", empty_since, empty_since + timedelta(hours=1)) is None
    assert metric_value(db.session, recent, "p95_latency_ms", empty_since, empty_since + timedelta(hours=1)) is None


def test_rules_fire_once_until_recovered(db, world, recent):
    rule = add_rule(db.session, recent, world.lead, metric="error_rate", threshold=0.25, window_hours=24)
    quiet = add_rule(db.session, recent, world.lead, metric="cost_per_request_usd", threshold=1.0, window_hours=24)
    checks = evaluate_alerts(db.session, recent, NOW)
    db.session.commit()
    by_rule = {check.rule.id: check for check in checks}
    assert by_rule[rule.id].fired is not None and by_rule[rule.id].value == 0.5
    assert by_rule[quiet.id].fired is None and not by_rule[quiet.id].crossed
    event = db.session.scalar(sa.select(AlertEvent))
    assert event.value == 0.5 and event.message == "Error rate 50.00% is above 25.00% over the last 24 h."
    again = evaluate_alerts(db.session, recent, NOW + timedelta(hours=2))
    assert again[0].crossed and again[0].fired is None  # firing already: no second alert
    add_interaction(db, recent, "r5", at=NOW + timedelta(hours=25), status="error")
    later = evaluate_alerts(db.session, recent, NOW + timedelta(hours=25))
    assert later[0].crossed and later[0].fired is None  # still above a day later: still no storm
    quiet_day = evaluate_alerts(db.session, recent, NOW + timedelta(hours=80))  # nothing measured: unchanged
    assert quiet_day[0].value is None and rule.firing
    assert db.session.scalar(sa.select(sa.func.count(AlertEvent.id))) == 1


def test_disabled_rules_are_skipped_and_audited(db, world, recent):
    rule = add_rule(db.session, recent, world.lead, metric="error_rate", threshold=0.0, window_hours=24)
    set_rule_enabled(db.session, recent, rule.id, False, world.lead)
    assert evaluate_alerts(db.session, recent, NOW) == []
    actions = db.session.scalars(sa.select(AuditEvent.action).order_by(AuditEvent.id)).all()
    assert actions[-2:] == ["alert.rule_add", "alert.rule_disable"]
    with pytest.raises(AlertError):
        set_rule_enabled(db.session, world.other_pilot, rule.id, True, world.other_lead)


@pytest.mark.parametrize("kwargs", [
    dict(metric="nope", threshold=1.0, window_hours=24), dict(metric="error_rate", threshold=1.5, window_hours=24),
    dict(metric="daily_cost_usd", threshold=-1.0, window_hours=24),
    dict(metric="daily_cost_usd", threshold=float("inf"), window_hours=24),
    dict(metric="daily_cost_usd", threshold=1.0, window_hours=0),
    dict(metric="daily_cost_usd", threshold=1.0, window_hours=10_000),
])
def test_bad_rules_are_refused(db, world, kwargs):
    with pytest.raises(AlertError):
        add_rule(db.session, world.pilot, world.lead, **kwargs)


def test_monitoring_items_follow_the_rules(db, world, recent):
    def statuses():
        return {i["key"]: i["status"] for i in build_report(db.session, recent, NOW)["checklist"]}

    recent.daily_request_limit = 100
    recent.max_error_rate = 0.6
    db.session.commit()
    before = statuses()
    assert before["monitoring.cost_alerts"] == "fail" and before["cost.usage_limits"] == "warn"
    add_rule(db.session, recent, world.lead, metric="daily_cost_usd", threshold=10.0, window_hours=24)
    add_rule(db.session, recent, world.lead, metric="error_rate", threshold=0.5, window_hours=24)
    db.session.commit()
    assert statuses()["monitoring.cost_alerts"] == "fail"  # rules that reach nobody
    channel = AlertChannel(pilot_id=recent.id, kind="email", target="ops@example.com", secret="")
    db.session.add(channel)
    db.session.flush()
    db.session.add(AlertDelivery(pilot_id=recent.id, channel_id=channel.id, is_test=True, status="sent", attempts=1))
    db.session.commit()
    after = statuses()
    assert after["monitoring.cost_alerts"] == "warn"  # 1 of 5 interactions of unknown cost (20%)
    assert after["cost.usage_limits"] == "pass"
    assert after["monitoring.error_rate"] == "pass"  # 3 of 5 = 60% ≤ 60%, with an alert


def test_a_channel_works_when_its_most_recent_finished_delivery_succeeded(db, world, recent):
    from pilot.alerts.channels import working_channels

    def channel(enabled=True):
        row = AlertChannel(pilot_id=recent.id, kind="email", target="ops@example.com", secret="", enabled=enabled)
        db.session.add(row)
        db.session.flush()
        return row

    def deliver(row, *outcomes):
        for outcome in outcomes:
            db.session.add(AlertDelivery(pilot_id=recent.id, channel_id=row.id, is_test=True, status=outcome,
                                         attempts=1))
            db.session.flush()

    email = channel()
    assert working_channels(db.session, recent) == 0
    deliver(email, "sent")
    assert working_channels(db.session, recent) == 1
    deliver(email, "failed")  # worked once, broken since: an alert now reaches nobody
    assert working_channels(db.session, recent) == 0
    deliver(email, "sent", "pending")  # fixed; a delivery still being tried does not count either way
    assert working_channels(db.session, recent) == 1
    webhook, off = channel(), channel(enabled=False)
    deliver(webhook, "failed", "sent")
    deliver(off, "sent")
    assert working_channels(db.session, recent) == 2  # the disabled channel never counts
    assert working_channels(db.session, world.other_pilot) == 0


def test_checklist_fails_again_when_the_only_channel_starts_failing(db, world, recent):
    def statuses():
        return {i["key"]: (i["status"], i["evidence"]) for i in build_report(db.session, recent, NOW)["checklist"]}

    recent.daily_request_limit = 100
    add_rule(db.session, recent, world.lead, metric="daily_cost_usd", threshold=10.0, window_hours=24)
    channel = AlertChannel(pilot_id=recent.id, kind="email", target="ops@example.com", secret="")
    db.session.add(channel)
    db.session.flush()
    db.session.add(AlertDelivery(pilot_id=recent.id, channel_id=channel.id, is_test=True, status="sent", attempts=1))
    db.session.commit()
    assert statuses()["cost.usage_limits"][0] == "pass"
    db.session.add(AlertDelivery(pilot_id=recent.id, channel_id=channel.id, status="failed", attempts=4))
    db.session.commit()
    after = statuses()
    assert after["cost.usage_limits"][0] == "warn" and after["monitoring.cost_alerts"][0] == "fail"
    for key in ("cost.usage_limits", "monitoring.cost_alerts"):
        assert "no enabled alert channel's most recent delivery succeeded" in after[key][1]


def test_cli_alerts(runner, db, world, recent):
    add_interaction(db, recent, "now", at=utcnow() - timedelta(hours=2), status="error")
    add_rule(db.session, recent, world.lead, metric="error_rate", threshold=0.0, window_hours=24 * 30)
    db.session.commit()
    result = runner.invoke(args=["pilot", "alerts", "alpha"])
    assert result.exit_code == 0 and "error_rate over 720 h" in result.output and "FIRED" in result.output
    result = runner.invoke(args=["pilot", "alerts", "alpha"])
    assert "alerted already" in result.output
    result = runner.invoke(args=["pilot", "alerts", "beta"])
    assert result.exit_code == 0 and "No enabled alert rules" in result.output
    result = runner.invoke(args=["pilot", "alerts", "ghost"])
    assert result.exit_code != 0 and "No pilot 'ghost'" in result.output
