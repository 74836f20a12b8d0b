"""Breakdowns per day, model, prompt version and participant; usage against the limit; flag counts.
Every expected number below is worked out by hand from tests/analytics_data.py."""
from datetime import date

import pandas as pd
import pytest

from pilot.analytics.breakdowns import breakdown
from pilot.analytics.frames import interaction_frame
from pilot.analytics.usage import flag_counts, usage_against_limit
from tests.analytics_data import HAIKU, SONNET, make_small_pilot

approx = lambda value: pytest.approx(value, abs=1e-9)  # noqa: E731


@pytest.fixture()
def pilot(db, world):
    return make_small_pilot(world)[0]


def q(values, share):
    """What pandas computes (linear interpolation), to compare with the hand computation."""
    return pd.Series(values, dtype="float64").quantile(share)


def test_per_day_fills_the_idle_day_and_matches_hand_numbers(db, pilot):
    days = breakdown(db.session, pilot, "day")
    assert [d["key"] for d in days] == ["2026-03-01", "2026-03-02", "2026-03-03"]
    first, idle, third = days

    assert (first["interactions"], first["failures"], first["fallbacks"]) == (3, 1, 0)
    assert first["error_rate"] == approx(1 / 3) and first["fallback_coverage"] == 0.0
    # latencies 200, 1000, 1500: p95 sits 0.9 of the way from 1000 to 1500
    assert first["latency_ms"] == {"p50": 1000.0, "p95": approx(1450.0), "p99": approx(1490.0)}
    assert first["latency_ms"]["p95"] == approx(q([1000, 1500, 200], 0.95))
    assert first["ttft_ms"] == {"p50": 250.0, "p95": approx(295.0), "p99": approx(299.0)}
    assert first["cost_usd"] == approx(0.030) and first["per_request_usd"] == approx(0.010)
    assert first["unknown_cost_interactions"] == 0 and first["active_users"] == 2
    assert first["feedback"] == {"count": 3, "positive": 2, "negative": 1, "mean_rating": 4.5}

    assert idle["interactions"] == 0 and idle["error_rate"] is None and idle["cost_usd"] == 0.0
    assert idle["latency_ms"]["p95"] is None and idle["per_request_usd"] is None and idle["feedback"]["count"] == 0

    assert (third["interactions"], third["failures"], third["fallbacks"]) == (3, 2, 1)
    assert third["error_rate"] == approx(2 / 3) and third["fallback_coverage"] == 0.5
    assert third["latency_ms"] == {"p50": 3750.0, "p95": approx(4425.0), "p99": approx(4485.0)}
    assert third["ttft_ms"]["p50"] == 750.0 and third["ttft_ms"]["p95"] == approx(885.0)
    # 0.005 + 0.015 known over two interactions; the fallback's cost is unknown (not zero)
    assert third["cost_usd"] == approx(0.020) and third["per_request_usd"] == approx(0.010)
    assert third["unknown_cost_interactions"] == 1 and third["active_users"] == 3
    # rating 2 (negative), 3 (neither), thumbs up with 1 star (both)
    assert third["feedback"] == {"count": 3, "positive": 1, "negative": 2, "mean_rating": 2.0}


def test_per_model(db, pilot):
    haiku, sonnet = breakdown(db.session, pilot, "model")  # 3 each: ties sorted by name
    assert haiku["key"] == HAIKU and sonnet["key"] == SONNET

    assert (sonnet["interactions"], sonnet["failures"], sonnet["fallbacks"]) == (3, 1, 0)
    assert sonnet["fallback_coverage"] == 0.0
    assert sonnet["latency_ms"] == {"p50": 1250.0, "p95": approx(1475.0), "p99": approx(1495.0)}
    assert sonnet["cost_usd"] == approx(0.035) and sonnet["per_request_usd"] == approx(0.035 / 3)
    assert sonnet["feedback"] == {"count": 3, "positive": 2, "negative": 0, "mean_rating": 4.0}

    assert (haiku["interactions"], haiku["failures"], haiku["fallbacks"]) == (3, 2, 1)
    assert haiku["error_rate"] == approx(2 / 3) and haiku["fallback_coverage"] == 0.5
    assert haiku["latency_ms"] == {"p50": 3000.0, "p95": approx(4350.0), "p99": approx(4470.0)}
    assert haiku["ttft_ms"]["p50"] == 750.0
    assert haiku["cost_usd"] == approx(0.015) and haiku["per_request_usd"] == approx(0.0075)
    assert haiku["unknown_cost_interactions"] == 1
    assert haiku["feedback"] == {"count": 3, "positive": 1, "negative": 3, "mean_rating": 1.5}


def test_per_prompt_version(db, pilot):
    rows = {row["key"]: row for row in breakdown(db.session, pilot, "prompt_version")}
    assert set(rows) == {"v1", "v2"}
    assert rows["v2"]["error_rate"] == approx(2 / 3) and rows["v2"]["latency_ms"]["p95"] == approx(4425.0)
    assert rows["v1"]["cost_usd"] == approx(0.030) and rows["v1"]["feedback"]["positive"] == 2


def test_per_participant(db, pilot):
    user_1, user_2, stranger = breakdown(db.session, pilot, "participant")  # busiest first
    assert (user_1["key"], user_2["key"], stranger["key"]) == ("user-1", "user-2", "stranger")

    assert user_1["interactions"] == 3 and user_1["error_rate"] == 0.0 and user_1["fallback_coverage"] is None
    assert user_1["latency_ms"] == {"p50": 1500.0, "p95": approx(2850.0), "p99": approx(2970.0)}
    assert user_1["cost_usd"] == approx(0.045) and user_1["per_request_usd"] == approx(0.015)
    assert user_1["active_days"] == 2
    assert user_1["cost_per_month_usd"] == approx(0.045 / 3 * 30)  # window: 1–3 March, 3 days
    assert user_1["feedback"] == {"count": 3, "positive": 3, "negative": 1, "mean_rating": approx(10 / 3)}

    assert user_2["error_rate"] == 1.0 and user_2["fallback_coverage"] == 0.0
    assert user_2["latency_ms"] == {"p50": 200.0, "p95": 200.0, "p99": 200.0}
    assert user_2["ttft_ms"] == {"p50": None, "p95": None, "p99": None}
    assert user_2["per_request_usd"] == approx(0.0025) and user_2["cost_per_month_usd"] == approx(0.05)

    assert stranger["cost_usd"] is None and stranger["per_request_usd"] is None
    assert stranger["cost_per_month_usd"] is None and stranger["fallback_coverage"] == 1.0


def test_date_range_keeps_only_those_days(db, pilot):
    days = breakdown(db.session, pilot, "day", start=date(2026, 3, 3), end=date(2026, 3, 3))
    assert [d["key"] for d in days] == ["2026-03-03"]
    models = {row["key"]: row for row in breakdown(db.session, pilot, "model", start=date(2026, 3, 2))}
    assert models[SONNET]["interactions"] == 1 and models[HAIKU]["interactions"] == 2
    assert models[HAIKU]["feedback"]["count"] == 2  # ratings follow their interaction's day


def test_unknown_dimension_is_refused(db, pilot):
    with pytest.raises(ValueError, match="must be one of"):
        breakdown(db.session, pilot, "input_text")


def test_empty_pilot_has_empty_breakdowns(db, world):
    for by in ("day", "model", "prompt_version", "participant"):
        assert breakdown(db.session, world.pilot, by) == []
    assert usage_against_limit(db.session, world.pilot)["users"] == []
    assert flag_counts(db.session, world.pilot) == {"by_reason": [], "by_day": []}


def test_usage_against_the_daily_limit(db, pilot):
    pilot.daily_request_limit = 2  # user-1's two interactions on 1 March are allowed
    usage = usage_against_limit(db.session, pilot)
    assert usage["days_over"] == 0 and usage["users_over"] == 0
    assert usage["user_days"] == 5 and usage["max_per_user_day"] == 2

    pilot.daily_request_limit = 1
    usage = usage_against_limit(db.session, pilot)
    assert (usage["days_over"], usage["users_over"]) == (1, 1)
    assert usage["users"][0] == {"user": "user-1", "interactions": 3, "active_days": 2, "max_per_day": 2, "days_over": 1}

    pilot.daily_request_limit = None
    assert usage_against_limit(db.session, pilot)["days_over"] == 0


def test_flag_counts_per_reason_and_day(db, pilot):
    counts = flag_counts(db.session, pilot)
    assert counts["by_reason"][0] == {"reason": "ai_error", "kind": "failure", "total": 2, "open": 1,
                                      "confirmed": 1, "dismissed": 0}
    assert [(r["reason"], r["total"]) for r in counts["by_reason"][1:]] == [("fallback_served", 1), ("negative_feedback", 1)]
    assert counts["by_day"] == [
        {"day": "2026-03-01", "total": 1, "by_reason": {"ai_error": 1}},
        {"day": "2026-03-03", "total": 3, "by_reason": {"ai_error": 1, "fallback_served": 1, "negative_feedback": 1}},
    ]


def test_frames_never_load_text(db, pilot):
    with pytest.raises(ValueError, match="input_text"):
        interaction_frame(db.session, pilot, ["latency_ms", "input_text"])
    frame = interaction_frame(db.session, pilot, ["latency_ms", "cost_usd", "input_hash"])
    assert list(frame.columns) == ["latency_ms", "cost_usd", "input_hash"]
    assert frame["cost_usd"].isna().sum() == 1 and frame["latency_ms"].dtype == "float64"
