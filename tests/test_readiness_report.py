"""The readiness report: docs/design.md's keys, every number equal to a hand computation, the facts
behind each checklist rule, and the verdict with a reason for each failing item."""
from datetime import date, datetime, timedelta

import pandas as pd
import pytest

from pilot.analytics.summary import pilot_summary
from pilot.readiness import build_report
from pilot.readiness.checklist import CHECKLIST_KEYS
from pilot.readiness.facts import gather_facts
from tests.readiness_data import LATENCIES, TOTAL_COST, load_sample

DESIGN_KEYS = ["pilot", "generated_at", "window", "participants", "interactions", "latency_ms", "cost", "feedback",
               "flags", "checklist", "verdict", "sign_off"]
SEED_KEYS = [
    "reliability.validation_layer", "reliability.graceful_fallback", "reliability.human_review",
    "reliability.error_messages", "performance.streaming", "performance.caching", "performance.model_tiering",
    "performance.latency_targets", "cost.per_user_month", "cost.margin_at_scale", "cost.model_selection",
    "cost.usage_limits", "monitoring.latency", "monitoring.error_rate", "monitoring.cost_alerts",
    "monitoring.quality_sampling", "scaling.stateless", "scaling.rate_limits", "scaling.prompt_versioning",
    "scaling.rollback",
]
NOW = datetime(2026, 3, 10, 12, 0)


@pytest.fixture()
def sample(db, world):
    load_sample(db, world.pilot)
    return world.pilot


def test_top_level_keys_are_design_keys_in_order(db, sample):
    report = build_report(db.session, sample, NOW)
    assert list(report)[:len(DESIGN_KEYS)] == DESIGN_KEYS
    assert report["pilot"] == "alpha" and report["generated_at"] == "2026-03-10T12:00:00Z"
    assert report["sign_off"] is None
    assert isinstance(report["verdict_reasons"], list)


def test_measured_sections_are_the_shared_summary(db, sample):
    report = build_report(db.session, sample, NOW)
    summary = pilot_summary(db.session, sample)
    for key in ("window", "participants", "interactions", "latency_ms", "cost", "feedback", "flags"):
        assert report[key] == summary[key]


def test_every_number_equals_a_hand_computation(db, sample):
    r = build_report(db.session, sample, NOW)
    assert r["window"] == {"start": "2026-03-01T09:00:00Z", "end": "2026-03-04T23:00:00Z", "days": 4}
    assert r["participants"] == {"enrolled": 2, "active": 3, "min": 2, "max": 50}
    assert r["interactions"] == {"total": 7, "failures": 4, "error_rate": 4 / 7, "fallback_coverage": 1 / 4}
    series = pd.Series(LATENCIES)
    for name, q in (("p50", 0.5), ("p95", 0.95), ("p99", 0.99)):
        assert r["latency_ms"][name] == pytest.approx(series.quantile(q), abs=1e-9)
    # sorted: 100, 200, 1000, 1500, 3000, 4500 → p95 at position 4.75
    assert r["latency_ms"]["p95"] == pytest.approx(3000 + 0.75 * 1500, abs=1e-9)
    per_user_month = TOTAL_COST / 3 / 4 * 30
    cost = r["cost"]
    assert cost["total_usd"] == pytest.approx(TOTAL_COST, abs=1e-9)
    assert cost["per_request_usd"] == pytest.approx(TOTAL_COST / 6, abs=1e-9)
    assert cost["per_active_user_per_month_usd"] == pytest.approx(per_user_month, abs=1e-9)
    assert cost["margin_per_user_month"] == pytest.approx(5 - per_user_month, abs=1e-9)
    assert cost["margin_pct"] == pytest.approx((5 - per_user_month) / 5, abs=1e-9)
    assert cost["projected_monthly_usd_at_target"] == pytest.approx(per_user_month * 1000, abs=1e-9)
    assert cost["unknown_cost_interactions"] == 1
    assert r["feedback"] == {"count": 3, "positive": 1, "negative": 2, "mean_rating": 2.0}
    assert r["flags"] == {"open": 3, "confirmed": 2, "dismissed": 1,
                          "by_reason": {"ai_error": 2, "fallback_served": 1, "invalid_format": 1, "quality_sample": 2}}


def test_numbers_are_not_rounded(db, sample):
    r = build_report(db.session, sample, NOW)
    assert r["interactions"]["error_rate"] == 0.5714285714285714


def test_facts_equal_hand_counts(db, sample):
    f = gather_facts(db.session, sample, pilot_summary(db.session, sample))
    assert f.ok_interactions == 3
    assert f.delivered_invalid == 2  # e6 empty output, e2 invalid_format
    assert (f.fallbacks, f.fallback_with_message, f.errors_with_message) == (1, 1, 1)  # e7's "" is no message
    assert (f.rate_limited, f.rate_limit_fallbacks) == (1, 1)  # e4's fallback names the 429
    assert (f.high_flags, f.high_flags_reviewed, f.sample_flags, f.sample_flags_reviewed) == (3, 2, 2, 1)
    assert f.ttft_recorded_ok == 3
    assert f.ttft_p95 == pytest.approx(pd.Series([200.0, 300.0, 900.0]).quantile(0.95), abs=1e-9)
    assert (f.input_tokens, f.cached_input_tokens) == (5400, 1500)
    assert (f.hashed_inputs, f.distinct_inputs) == (7, 5)
    assert (f.latency_recorded, f.prompt_versioned, f.prompt_versions) == (6, 6, 2)
    # limit 1 a day: user-1 on 03-01 (2) and 03-04 (2) are over; 5 user-days in all
    assert (f.user_days, f.user_days_over_limit, f.users_over_limit) == (5, 2, 1)
    models = {m.model: m for m in f.models}
    assert (models["m-big"].interactions, models["m-big"].known_cost_interactions, models["m-big"].bad) == (3, 3, 2)
    assert models["m-big"].cost_usd == pytest.approx(0.035, abs=1e-9)
    assert (models["m-small"].interactions, models["m-small"].known_cost_interactions, models["m-small"].bad) == (4, 3, 3)
    assert models["m-small"].cost_per_request == pytest.approx(0.015 / 3, abs=1e-9)
    assert f.alert_metrics == frozenset()


def test_checklist_has_the_twenty_seed_items_in_order(db, sample):
    checklist = build_report(db.session, sample, NOW)["checklist"]
    assert [item["key"] for item in checklist] == SEED_KEYS == list(CHECKLIST_KEYS)
    assert [item["section"] for item in checklist] == ["Reliability"] * 4 + ["Performance"] * 4 + ["Cost"] * 4 + \
        ["Monitoring"] * 4 + ["Scaling"] * 4
    for item in checklist:
        assert {"key", "section", "title", "auto_status", "status", "evidence", "attestation"} <= set(item)
        assert item["status"] in ("pass", "warn", "fail", "unknown") and item["evidence"]


def test_checklist_statuses_on_the_sample(db, sample):
    statuses = {item["key"]: item["auto_status"] for item in build_report(db.session, sample, NOW)["checklist"]}
    assert statuses == {
        "reliability.validation_layer": "fail",  # 2 of 3 ok outputs invalid
        "reliability.graceful_fallback": "fail",  # 1 of 4 failures
        "reliability.human_review": "fail",  # 2 of 3 high flags reviewed (< 75%)
        "reliability.error_messages": "warn",  # 2 of 4 (= 50%)
        "performance.streaming": "pass",  # p95 TTFT 840 ms
        "performance.caching": "pass",  # 1500 / 5400 = 27.8% cached
        "performance.model_tiering": "warn",  # no model reaches 20 interactions
        "performance.latency_targets": "fail",  # 4125 ms > 1.25 × 3000
        "cost.per_user_month": "fail",  # 1 of 7 unknown cost (14%)
        "cost.margin_at_scale": "pass",  # 97.5%
        "cost.model_selection": "unknown",  # no two models in real use
        "cost.usage_limits": "warn",  # limit set, users over it
        "monitoring.latency": "warn",  # 6 of 7 report latency
        "monitoring.error_rate": "fail",  # 57% > 1.5 × 5%
        "monitoring.cost_alerts": "fail",  # no rule
        "monitoring.quality_sampling": "warn",  # 1 of 2 samples reviewed
        "scaling.stateless": "unknown",
        "scaling.rate_limits": "fail",  # 1 of 7 rate_limited
        "scaling.prompt_versioning": "fail",  # 6 of 7 name a version, none registered
        "scaling.rollback": "unknown",
    }


def test_a_no_go_reason_for_each_failing_item(db, sample):
    report = build_report(db.session, sample, NOW)
    failing = {item["key"] for item in report["checklist"] if item["status"] == "fail"}
    assert len(failing) == 9
    assert report["verdict"] == "no-go"
    fail_reasons = [reason for reason in report["verdict_reasons"] if reason["kind"] == "fail"]
    assert {reason["key"] for reason in fail_reasons} == failing
    assert len(fail_reasons) == len(failing)
    titles = {item["key"]: item["title"] for item in report["checklist"]}
    for reason in fail_reasons:
        assert titles[reason["key"]] in reason["message"]
    unknown = {item["key"] for item in report["checklist"] if item["status"] == "unknown"}
    assert {r["key"] for r in report["verdict_reasons"] if r["kind"] == "unknown"} == unknown
    assert report["verdict_reasons"][-1]["kind"] == "unsigned"


def test_empty_pilot_is_not_go(db, world):
    report = build_report(db.session, world.pilot, NOW)
    assert report["verdict"] == "no-go"  # no usage limit and no cost alert are failures even without data
    statuses = {item["key"]: item["status"] for item in report["checklist"]}
    assert statuses["performance.latency_targets"] == "unknown"
    assert statuses["cost.usage_limits"] == "fail" and statuses["monitoring.cost_alerts"] == "fail"
    kinds = [reason["kind"] for reason in report["verdict_reasons"]]
    assert "participants" in kinds  # 2 enrolled, minimum 10


def test_exemption_window_is_inclusive_and_then_expires(db, sample):
    from pilot.readiness.attestations import attest

    today = NOW.date()
    attest(db.session, sample, None, key="monitoring.cost_alerts", status="fail", note="Budget alerts in the "
           "provider console until our own alerts ship", exempt_until=today + timedelta(days=1), today=today,
           owner="Ops")
    db.session.commit()
    on_last_day = build_report(db.session, sample, NOW + timedelta(days=1))
    item = next(i for i in on_last_day["checklist"] if i["key"] == "monitoring.cost_alerts")
    assert item["exempt"] and not item["blocking"] and item["status"] == "fail"
    assert "monitoring.cost_alerts" not in {r["key"] for r in on_last_day["verdict_reasons"]}
    after = build_report(db.session, sample, NOW + timedelta(days=2))
    item = next(i for i in after["checklist"] if i["key"] == "monitoring.cost_alerts")
    assert not item["exempt"] and item["blocking"] and item["attestation"]["in_force"] is False
    assert "monitoring.cost_alerts" in {r["key"] for r in after["verdict_reasons"] if r["kind"] == "fail"}


def test_attestation_decides_only_unknown_items(db, sample):
    from pilot.readiness.attestations import attest

    today = NOW.date()
    attest(db.session, sample, None, key="scaling.stateless", status="pass", note="Sessions in PostgreSQL",
           today=today)
    attest(db.session, sample, None, key="monitoring.cost_alerts", status="pass", note="trust me", today=today)
    db.session.commit()
    items = {i["key"]: i for i in build_report(db.session, sample, NOW)["checklist"]}
    assert items["scaling.stateless"]["auto_status"] == "unknown" and items["scaling.stateless"]["status"] == "pass"
    assert items["scaling.stateless"]["attestation"]["note"] == "Sessions in PostgreSQL"
    assert items["monitoring.cost_alerts"]["status"] == "fail"  # a measurement is not overruled
    assert items["monitoring.cost_alerts"]["attestation"]["status"] == "pass"


def test_newest_attestation_wins(db, sample):
    from pilot.models import ChecklistAttestation
    from pilot.readiness.attestations import attest

    today = NOW.date()
    attest(db.session, sample, None, key="scaling.rollback", status="pass", note="tested", today=today)
    db.session.commit()
    newer = attest(db.session, sample, None, key="scaling.rollback", status="fail", note="rollback broke", today=today)
    newer.attested_at = datetime(2099, 1, 1)
    db.session.commit()
    items = {i["key"]: i for i in build_report(db.session, sample, NOW)["checklist"]}
    assert items["scaling.rollback"]["status"] == "fail"
    reason = next(r for r in build_report(db.session, sample, NOW)["verdict_reasons"] if r["key"] == "scaling.rollback")
    assert reason["kind"] == "fail" and "rollback broke" in reason["message"]
    assert db.session.query(ChecklistAttestation).count() == 2  # append-only


@pytest.mark.parametrize("enrolled_min,enrolled_max,ok", [(2, 2, True), (3, 50, False), (1, 1, False)])
def test_participant_bounds(db, sample, enrolled_min, enrolled_max, ok):
    sample.min_participants, sample.max_participants = enrolled_min, enrolled_max
    db.session.commit()
    kinds = [r["kind"] for r in build_report(db.session, sample, NOW)["verdict_reasons"]]
    assert ("participants" not in kinds) is ok


def test_attestation_validation(db, sample):
    from pilot.readiness.attestations import AttestationError, attest

    today = date(2026, 3, 10)
    bad = [
        dict(key="no.such", status="pass", note="x"),
        dict(key="scaling.rollback", status="unknown", note="x"),
        dict(key="scaling.rollback", status="pass", note="   "),
        dict(key="scaling.rollback", status="pass", note="x", link="javascript:alert(1)"),
        dict(key="scaling.rollback", status="pass", note="x", link="https://" + "a" * 600),
        dict(key="scaling.rollback", status="pass", note="x", exempt_until=today - timedelta(days=1)),
        dict(key="scaling.rollback", status="pass", note="x", exempt_until=today + timedelta(days=400)),
        dict(key="scaling.rollback", status="pass", note="x" * 10_001),
    ]
    for kwargs in bad:
        with pytest.raises(AttestationError):
            attest(db.session, sample, None, today=today, **kwargs)


def test_latency_histogram_counts(db, sample):
    histogram = build_report(db.session, sample, NOW)["series"]["latency_histogram"]
    # upper = max(1.25 × p95 4125, 2 × target 3000) = 6000 → 500 ms bins, 12 of them
    assert histogram["bin_width_ms"] == 500 and len(histogram["counts"]) == 12
    assert histogram["counts"][0] == 2 and histogram["counts"][2] == 1 and histogram["counts"][3] == 1
    assert histogram["counts"][6] == 1 and histogram["counts"][9] == 1 and histogram["over"] == 0
    assert sum(histogram["counts"]) == len(LATENCIES)


@pytest.mark.parametrize("key", SEED_KEYS)
def test_any_failing_item_gives_its_no_go_reason(key):
    from pilot.readiness.report import verdict_for, verdict_reasons

    checklist = [{"key": k, "title": k.upper(), "status": "fail" if k == key else "pass",
                  "auto_status": "fail" if k == key else "pass", "evidence": f"evidence of {k}", "attestation": None,
                  "blocking": k == key} for k in SEED_KEYS]
    reasons = verdict_reasons(checklist, {"enrolled": 10, "min": 10, "max": 50}, signed=True)
    assert reasons == [{"kind": "fail", "key": key, "message": f"Failing: {key.upper()} — evidence of {key}"}]
    assert verdict_for(reasons) == "no-go"


@pytest.mark.parametrize("settings,configured", [
    ({}, False), ({"output_format": "none"}, False), ({"output_format": "json"}, True),
    ({"output_format": "regex", "output_regex": ""}, False), ({"output_format": "regex", "output_regex": "^OK"}, True),
])
def test_format_rule_configured_reads_the_flagging_settings(db, sample, settings, configured):
    from pilot.readiness.facts import format_rule_configured

    sample.rule_settings = settings
    assert format_rule_configured(sample) is configured


def test_bad_and_delivered_invalid_count_each_interaction_once(db, world):
    """`bad` per model joins from the ratings and delivered-invalid from the flags: an interaction
    rated negative twice, or failed and rated negative, or empty and flagged, still counts once."""
    from pilot.models import Feedback, Flag
    from pilot.readiness.facts import interaction_counts
    from tests.readiness_data import add_interaction

    pilot = world.pilot
    twice = add_interaction(db, pilot, "twice", model="m", latency=100.0, ttft=50.0)
    failed = add_interaction(db, pilot, "failed", model="m", status="error", latency=200.0)
    empty = add_interaction(db, pilot, "empty", model="m", output_chars=0)
    add_interaction(db, pilot, "fine", model="m", latency=300.0)
    db.session.flush()
    db.session.add_all([
        Feedback(pilot_id=pilot.id, interaction_id=twice.id, thumbs="down"),
        Feedback(pilot_id=pilot.id, interaction_id=twice.id, rating=1, thumbs="down"),
        Feedback(pilot_id=pilot.id, interaction_id=failed.id, rating=2),
        Feedback(pilot_id=pilot.id, interaction_id=empty.id, thumbs="up"),
        Flag(pilot_id=pilot.id, interaction_id=empty.id, kind="failure", reason="invalid_format", severity="medium"),
    ])
    db.session.flush()
    facts = gather_facts(db.session, pilot, pilot_summary(db.session, pilot))
    (usage,) = facts.models
    assert (usage.model, usage.interactions, usage.bad) == ("m", 4, 2)  # twice (once) + failed (once)
    assert facts.delivered_invalid == 1  # empty, though also flagged
    report = build_report(db.session, pilot, NOW)
    assert report["latency_ms"]["p50"] == 200.0 and report["series"]["latency_histogram"]["over"] == 0
    assert interaction_counts(db.session, pilot)["total"] == report["interactions"]["total"] == 4
