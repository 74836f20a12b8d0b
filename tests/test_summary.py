"""Every number of the measured report sections equals a hand computation."""
from datetime import datetime

import pandas as pd
import pytest

from pilot.analytics.summary import pilot_summary
from pilot.models import Feedback, Flag, Interaction
from tests.factories import add_member


def add(db, pilot, n, *, user, at, status="ok", latency=None, cost=None):
    interaction = Interaction(pilot_id=pilot.id, event_id=f"e{n}", external_user_id=user, occurred_at=at,
                              status=status, latency_ms=latency, cost_usd=cost,
                              cost_source="unknown" if cost is None else "computed")
    db.session.add(interaction)
    return interaction


@pytest.fixture()
def data(db, world):
    pilot = world.pilot
    pilot.planned_price_per_user_month = 5.0
    pilot.target_users = 1000
    rows = [
        # (user, time, status, latency, cost)
        ("user-1", datetime(2026, 3, 1, 9), "ok", 1000.0, 0.010),
        ("user-1", datetime(2026, 3, 1, 23, 59), "ok", 1500.0, 0.020),
        ("user-2", datetime(2026, 3, 2, 0, 1), "error", 200.0, 0.0),
        ("stranger", datetime(2026, 3, 3, 12), "fallback", 4500.0, None),
        ("user-2", datetime(2026, 3, 4, 8), "timeout", None, 0.005),
        ("user-1", datetime(2026, 3, 4, 23), "ok", 3000.0, 0.015),
    ]
    items = [add(db, pilot, n, user=u, at=t, status=s, latency=lat, cost=c) for n, (u, t, s, lat, c) in enumerate(rows)]
    db.session.flush()
    db.session.add_all([
        Feedback(pilot_id=pilot.id, interaction_id=items[0].id, thumbs="up", rating=5),
        Feedback(pilot_id=pilot.id, interaction_id=items[1].id, rating=4),
        Feedback(pilot_id=pilot.id, interaction_id=items[2].id, thumbs="down"),
        Feedback(pilot_id=pilot.id, interaction_id=items[3].id, rating=2),
        Feedback(pilot_id=pilot.id, interaction_id=items[4].id, rating=3),
        Flag(pilot_id=pilot.id, interaction_id=items[2].id, kind="failure", reason="ai_error", status="open"),
        Flag(pilot_id=pilot.id, interaction_id=items[4].id, kind="failure", reason="ai_error", status="confirmed"),
        Flag(pilot_id=pilot.id, interaction_id=items[3].id, kind="failure", reason="fallback_served", status="dismissed"),
    ])
    add_member(pilot, None, external_id="removed-one", status="removed")
    add_member(pilot, None, external_id="invited-one", status="invited")
    db.session.commit()
    return pilot


def test_report_numbers_match_hand_computation(db, data):
    s = pilot_summary(db.session, data)
    assert s["window"] == {"start": "2026-03-01T09:00:00Z", "end": "2026-03-04T23:00:00Z", "days": 4}
    # user-1 and user-2 accepted: enrolled; invited-one has not (yet), the removed one no longer is.
    assert s["participants"] == {"enrolled": 2, "active": 3, "min": 10, "max": 50}
    assert s["interactions"] == {"total": 6, "failures": 3, "error_rate": 0.5, "fallback_coverage": 1 / 3}

    latencies = pd.Series([1000.0, 1500.0, 200.0, 4500.0, 3000.0])
    assert s["latency_ms"]["p50"] == latencies.quantile(0.5) == 1500.0
    assert s["latency_ms"]["p95"] == pytest.approx(latencies.quantile(0.95), abs=1e-9)
    assert s["latency_ms"]["p95"] == pytest.approx(3000 + 0.8 * 1500, abs=1e-9)  # linear interpolation
    assert s["latency_ms"]["p99"] == pytest.approx(3000 + 0.96 * 1500, abs=1e-9)
    assert s["latency_ms"]["target_p95"] == 3000.0

    total = 0.010 + 0.020 + 0.0 + 0.005 + 0.015
    per_user_month = total / 3 / 4 * 30
    cost = s["cost"]
    assert cost["total_usd"] == pytest.approx(total, abs=1e-9)
    assert cost["per_request_usd"] == pytest.approx(total / 5, abs=1e-9)  # 5 interactions with known cost
    assert cost["per_active_user_per_month_usd"] == pytest.approx(per_user_month, abs=1e-9)
    assert cost["margin_per_user_month"] == pytest.approx(5.0 - per_user_month, abs=1e-9)
    assert cost["margin_pct"] == pytest.approx((5.0 - per_user_month) / 5.0, abs=1e-9)
    assert cost["projected_monthly_usd_at_target"] == pytest.approx(per_user_month * 1000, abs=1e-9)
    assert cost["unknown_cost_interactions"] == 1
    assert cost["planned_price_per_user_month"] == 5.0 and cost["target_users"] == 1000

    assert s["feedback"] == {"count": 5, "positive": 2, "negative": 2, "mean_rating": pytest.approx((5 + 4 + 2 + 3) / 4)}
    assert s["flags"] == {"open": 1, "confirmed": 1, "dismissed": 1, "by_reason": {"ai_error": 2, "fallback_served": 1}}


def test_empty_pilot_has_no_made_up_numbers(db, world):
    s = pilot_summary(db.session, world.pilot)
    assert s["window"]["days"] == 0
    assert s["interactions"] == {"total": 0, "failures": 0, "error_rate": None, "fallback_coverage": None}
    assert s["latency_ms"]["p95"] is None
    assert s["cost"]["per_active_user_per_month_usd"] is None and s["cost"]["margin_pct"] is None
    assert s["feedback"]["mean_rating"] is None


def test_all_costs_unknown_is_not_zero(db, world):
    add(db, world.pilot, 1, user="user-1", at=datetime(2026, 3, 1), cost=None)
    db.session.commit()
    cost = pilot_summary(db.session, world.pilot)["cost"]
    assert cost["total_usd"] is None and cost["per_request_usd"] is None and cost["unknown_cost_interactions"] == 1
