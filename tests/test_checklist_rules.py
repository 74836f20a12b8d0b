"""Each checklist rule's pass / warn / fail / unknown boundaries, on plain Facts (no database)."""
import pytest

from pilot.readiness import checklist as rules
from pilot.readiness.facts import Facts, ModelUsage

COST = {"total_usd": 1.0, "per_request_usd": 0.01, "per_active_user_per_month_usd": 1.0,
        "planned_price_per_user_month": None, "margin_per_user_month": None, "margin_pct": None,
        "target_users": None, "projected_monthly_usd_at_target": None, "unknown_cost_interactions": 0}


def facts(total=100, failures=0, fallbacks=0, p95=None, cost=None, **fields) -> Facts:
    summary = {
        "interactions": {"total": total, "failures": failures, "error_rate": failures / total if total else None,
                         "fallback_coverage": fallbacks / failures if failures else None},
        "latency_ms": {"p50": None, "p95": p95, "p99": None, "target_p95": 1000.0},
        "cost": {**COST, **(cost or {})},
    }
    values = dict(summary=summary, latency_target_p95_ms=1000.0, max_error_rate=0.05, planned_price_per_user_month=None,
                  target_users=None, daily_request_limit=None, sampling_rate=0.05, fallbacks=fallbacks)
    values.update(fields)
    return Facts(**values)


def status(rule, **kwargs) -> str:
    return rule(facts(**kwargs)).status


@pytest.mark.parametrize("invalid,configured,expected", [
    (10, True, "pass"), (11, True, "warn"), (50, True, "warn"), (51, True, "fail"), (0, False, "warn"), (51, False, "fail"),
])
def test_validation_layer(invalid, configured, expected):
    assert status(rules.validation_layer, ok_interactions=1000, delivered_invalid=invalid,
                  format_rule_configured=configured, total=1000) == expected


def test_validation_layer_unknown_without_successes():
    assert status(rules.validation_layer, total=0) == "unknown"
    assert status(rules.validation_layer, total=5, failures=5, ok_interactions=0) == "unknown"


@pytest.mark.parametrize("fallbacks,expected", [(10, "pass"), (8, "pass"), (7, "warn"), (5, "warn"), (4, "fail"), (0, "fail")])
def test_graceful_fallback(fallbacks, expected):
    assert status(rules.graceful_fallback, failures=10, fallbacks=fallbacks) == expected


def test_graceful_fallback_unknown_without_failures():
    assert status(rules.graceful_fallback, failures=0) == "unknown"


@pytest.mark.parametrize("reviewed,expected", [(20, "pass"), (19, "pass"), (18, "warn"), (15, "warn"), (14, "fail")])
def test_human_review(reviewed, expected):
    assert status(rules.human_review, high_flags=20, high_flags_reviewed=reviewed) == expected
    assert status(rules.human_review, high_flags=0) == "unknown"


@pytest.mark.parametrize("with_fallback,with_error,expected", [(4, 5, "pass"), (4, 4, "warn"), (0, 5, "warn"), (4, 0, "fail")])
def test_error_messages(with_fallback, with_error, expected):
    assert status(rules.error_messages, failures=10, fallback_with_message=with_fallback,
                  errors_with_message=with_error) == expected
    assert status(rules.error_messages, failures=0) == "unknown"


@pytest.mark.parametrize("recorded,p95,expected", [
    (100, 1500.0, "pass"), (100, 1500.1, "warn"), (100, 3000.0, "warn"), (100, 3000.1, "fail"),
    (50, 100.0, "pass"), (49, 100.0, "warn"),
])
def test_streaming(recorded, p95, expected):
    assert status(rules.streaming, ok_interactions=100, ttft_recorded_ok=recorded, ttft_p95=p95) == expected


def test_streaming_unknown_without_ttft():
    assert status(rules.streaming, ok_interactions=100, ttft_recorded_ok=0, ttft_p95=None) == "unknown"


@pytest.mark.parametrize("cached,distinct,expected", [
    (20, 10, "pass"),  # 20% from the cache, whatever repeats
    (19, 90, "pass"),  # 10% repeats: little to cache
    (19, 89, "warn"), (19, 70, "warn"), (19, 69, "fail"),
])
def test_caching(cached, distinct, expected):
    assert status(rules.caching, input_tokens=100, cached_input_tokens=cached, hashed_inputs=100,
                  distinct_inputs=distinct) == expected
    assert status(rules.caching, input_tokens=0) == "unknown"


def usage(model, count, known=None, cost=0.0, bad=0):
    return ModelUsage(model, count, count if known is None else known, cost, bad)


@pytest.mark.parametrize("models,expected", [
    ((), "unknown"),
    ((usage("a", 100),), "warn"),
    ((usage("a", 95), usage("b", 20)), "pass"),
    ((usage("a", 1000), usage("b", 52)), "warn"),  # 4.9%
    ((usage("a", 100), usage("b", 19)), "warn"),  # too few to count
])
def test_model_tiering(models, expected):
    assert status(rules.model_tiering, models=models) == expected


@pytest.mark.parametrize("p95,expected", [(None, "unknown"), (1000.0, "pass"), (1250.0, "warn"), (1250.01, "fail")])
def test_latency_targets(p95, expected):
    assert status(rules.latency_targets, p95=p95) == expected


@pytest.mark.parametrize("unknown,expected", [(0, "pass"), (1, "pass"), (2, "warn"), (5, "warn"), (6, "fail")])
def test_per_user_month(unknown, expected):
    assert status(rules.per_user_month, cost={"unknown_cost_interactions": unknown}) == expected


def test_per_user_month_uncomputable_fails_and_no_data_is_unknown():
    assert status(rules.per_user_month, cost={"per_active_user_per_month_usd": None, "unknown_cost_interactions": 100}) == "fail"
    assert status(rules.per_user_month, total=0) == "unknown"


@pytest.mark.parametrize("margin_pct,expected", [(0.5, "pass"), (0.49, "warn"), (0.2, "warn"), (0.19, "fail"), (-1.0, "fail")])
def test_margin_at_scale(margin_pct, expected):
    assert status(rules.margin_at_scale, planned_price_per_user_month=4.0, target_users=1000,
                  cost={"margin_pct": margin_pct, "margin_per_user_month": 4 * margin_pct,
                        "projected_monthly_usd_at_target": 10.0}) == expected


def test_margin_unknown_until_settings_and_cost():
    assert status(rules.margin_at_scale, planned_price_per_user_month=None, target_users=1000) == "unknown"
    assert status(rules.margin_at_scale, planned_price_per_user_month=4.0, target_users=None) == "unknown"
    assert status(rules.margin_at_scale, planned_price_per_user_month=4.0, target_users=10,
                  cost={"per_active_user_per_month_usd": None}) == "unknown"
    evidence = rules.margin_at_scale(facts(planned_price_per_user_month=None, target_users=None)).evidence
    assert "planned_price_per_user_month" in evidence and "target_users" in evidence


def test_free_product_margin_fails():
    assert status(rules.margin_at_scale, planned_price_per_user_month=0.0, target_users=10,
                  cost={"margin_pct": None, "margin_per_user_month": -1.0}) == "fail"


@pytest.mark.parametrize("models,expected", [
    ((usage("dear", 100, cost=10.0),), "unknown"),
    ((usage("dear", 100, cost=10.0, bad=5), usage("cheap", 100, cost=1.0, bad=9)), "pass"),  # cheaper but worse
    ((usage("dear", 100, cost=10.0, bad=5), usage("cheap", 100, cost=1.0, bad=5)), "warn"),  # cheaper, as good
    ((usage("dear", 100, cost=10.0, bad=5), usage("cheap", 100, cost=1.0, bad=2)), "warn"),
    ((usage("dear", 100, cost=10.0), usage("nocost", 100, known=0)), "unknown"),  # unknown cost cannot compare
])
def test_model_selection(models, expected):
    assert status(rules.model_selection, models=models) == expected


def test_model_selection_names_the_cheaper_model():
    evidence = rules.model_selection(facts(models=(usage("dear", 100, cost=10.0, bad=5),
                                                   usage("cheap", 100, cost=1.0, bad=5)))).evidence
    assert "cheap is 90.0% cheaper per request than dear" in evidence


@pytest.mark.parametrize("limit,over,metrics,channels,expected", [
    (None, 0, {"daily_cost_usd"}, 1, "fail"),
    (50, 0, {"daily_cost_usd"}, 1, "pass"),
    (50, 0, {"cost_per_request_usd"}, 1, "pass"),
    (50, 1, {"daily_cost_usd"}, 1, "warn"),
    (50, 0, {"error_rate"}, 1, "warn"),
    (50, 0, {"daily_cost_usd"}, 0, "warn"),  # a cost rule that reaches nobody
])
def test_usage_limits(limit, over, metrics, channels, expected):
    assert status(rules.usage_limits, daily_request_limit=limit, user_days_over_limit=over, users_over_limit=min(over, 1),
                  user_days=10, alert_metrics=frozenset(metrics), working_alert_channels=channels) == expected


def test_usage_limits_evidence_says_which_half_is_missing():
    def evidence(metrics, channels):
        return rules.usage_limits(facts(daily_request_limit=50, user_days_over_limit=0, users_over_limit=0,
                                        user_days=10, alert_metrics=frozenset(metrics),
                                        working_alert_channels=channels)).evidence

    assert "no cost alert rule is enabled" in evidence({"error_rate"}, 1)
    assert "a cost alert is enabled, but no enabled alert channel's most recent delivery succeeded" in evidence(
        {"daily_cost_usd"}, 0)
    assert "a cost alert is enabled and delivered" in evidence({"daily_cost_usd"}, 1)


@pytest.mark.parametrize("recorded,alert,expected", [
    (95, True, "pass"), (94, True, "warn"), (95, False, "warn"), (50, False, "warn"), (49, True, "fail"),
])
def test_latency_monitoring(recorded, alert, expected):
    metrics = frozenset({"p95_latency_ms"} if alert else set())
    assert status(rules.latency_monitoring, latency_recorded=recorded, alert_metrics=metrics,
                  working_alert_channels=1) == expected
    assert status(rules.latency_monitoring, total=0) == "unknown"


@pytest.mark.parametrize("failures,alert,expected", [
    (50, True, "pass"), (50, False, "warn"), (51, True, "warn"), (75, True, "warn"), (76, True, "fail"),
])
def test_error_rate_monitoring(failures, alert, expected):
    metrics = frozenset({"error_rate"} if alert else set())
    assert status(rules.error_rate_monitoring, total=1000, failures=failures, alert_metrics=metrics,
                  working_alert_channels=1) == expected
    assert status(rules.error_rate_monitoring, total=0) == "unknown"


@pytest.mark.parametrize("metrics,unknown,expected", [
    (set(), 0, "fail"), ({"p95_latency_ms"}, 0, "fail"), ({"daily_cost_usd"}, 5, "pass"), ({"daily_cost_usd"}, 6, "warn"),
])
def test_cost_alerts(metrics, unknown, expected):
    assert status(rules.cost_alerts, alert_metrics=frozenset(metrics), cost={"unknown_cost_interactions": unknown},
                  working_alert_channels=1) == expected


def test_monitoring_items_need_a_channel_that_a_delivery_reached():
    """An enabled rule that reaches nobody is not monitoring: without a working channel the
    three monitoring items and cost.usage_limits do not pass, and say why."""
    latency = rules.latency_monitoring(facts(latency_recorded=100, alert_metrics=frozenset({"p95_latency_ms"})))
    errors = rules.error_rate_monitoring(facts(total=1000, failures=0, alert_metrics=frozenset({"error_rate"})))
    cost = rules.cost_alerts(facts(alert_metrics=frozenset({"user_cost_per_day_usd"}),
                                   cost={"unknown_cost_interactions": 0}))
    limits = rules.usage_limits(facts(daily_request_limit=50, user_days_over_limit=0, users_over_limit=0,
                                      user_days=10, alert_metrics=frozenset({"daily_cost_usd"})))
    assert (latency.status, errors.status, cost.status, limits.status) == ("warn", "warn", "fail", "warn")
    for check in (latency, errors, cost, limits):
        assert "no enabled alert channel's most recent delivery succeeded" in check.evidence


@pytest.mark.parametrize("rate,samples,reviewed,total,expected", [
    (0.0, 10, 10, 100, "fail"), (0.05, 0, 0, 0, "unknown"), (0.05, 0, 0, 100, "warn"),
    (0.05, 10, 8, 100, "pass"), (0.05, 10, 7, 100, "warn"), (0.05, 10, 5, 100, "warn"), (0.05, 10, 4, 100, "fail"),
])
def test_quality_sampling(rate, samples, reviewed, total, expected):
    assert status(rules.quality_sampling, sampling_rate=rate, sample_flags=samples, sample_flags_reviewed=reviewed,
                  total=total) == expected


def test_attestation_only_items_are_always_unknown():
    full = facts(prompt_versions=3, total=1000)
    assert rules.stateless(full).status == "unknown" and rules.rollback(full).status == "unknown"
    assert "No prompt rollback recorded" in rules.rollback(full).evidence


@pytest.mark.parametrize("limited,fallbacks,expected", [
    (0, 0, "unknown"), (0, 3, "pass"), (5, 3, "warn"), (6, 0, "fail"),
])
def test_rate_limits(limited, fallbacks, expected):
    assert status(rules.rate_limits, total=1000, rate_limited=limited, rate_limit_fallbacks=fallbacks) == expected


@pytest.mark.parametrize("registered,expected", [(100, "pass"), (95, "pass"), (94, "warn"), (50, "warn"), (49, "fail")])
def test_prompt_versioning_counts_registered_versions_only(registered, expected):
    assert status(rules.prompt_versioning, prompt_versioned=100, prompt_registered=registered) == expected
    assert status(rules.prompt_versioning, total=0) == "unknown"
    evidence = rules.prompt_versioning(facts(prompt_versioned=90, prompt_registered=60)).evidence
    assert "60 of 100" in evidence and "30 name an unregistered one and 10 none" in evidence


def test_rollback_passes_only_when_the_restored_version_served_traffic():
    from datetime import datetime

    from pilot.readiness.facts import RollbackEvidence

    unserved = RollbackEvidence(7, "support", "support@2", "support@1", datetime(2026, 3, 1, 9, 30), 0)
    served = RollbackEvidence(5, "support", "support@3", "support@2", datetime(2026, 2, 1, 9, 30), 12)
    assert rules.rollback(facts(rollbacks=(unserved,))).status == "warn"
    check = rules.rollback(facts(rollbacks=(unserved, served)))
    assert check.status == "pass"
    assert "2 rollbacks" in check.evidence and "support@3 → support@2" in check.evidence and "event #5" in check.evidence


def test_every_rule_writes_a_sentence_with_its_numbers():
    f = facts(failures=10, fallbacks=3, p95=1234.0, high_flags=4, high_flags_reviewed=1)
    assert "3 of 10 failures" in rules.graceful_fallback(f).evidence
    assert "1,234 ms" in rules.latency_targets(f).evidence and "1,000 ms" in rules.latency_targets(f).evidence
    assert "1 of 4 high-severity flags" in rules.human_review(f).evidence
    for item in rules.CHECKLIST:
        check = item.rule(f)
        assert check.status in rules.STATUSES and check.evidence.endswith(".")
