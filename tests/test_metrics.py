"""pilot.metrics: each definition's SQL form selects exactly the rows its Python form accepts, on
the test database (SQLite, or PostgreSQL with TEST_DATABASE_URL), and both follow docs/design.md."""
from datetime import date, datetime

import pytest
import sqlalchemy as sa

from pilot import metrics
from pilot.models import Feedback, Interaction, Membership
from tests.analytics_data import make_small_pilot


@pytest.fixture()
def small(db, world):
    return make_small_pilot(world)


def test_failed_is_any_status_but_ok_and_ai_error_is_error_timeout_rate_limited():
    assert [s for s in ("ok", "error", "timeout", "rate_limited", "fallback") if metrics.is_failed(s)] == [
        "error", "timeout", "rate_limited", "fallback"]
    assert [s for s in ("ok", "error", "timeout", "rate_limited", "fallback") if metrics.is_ai_error(s)] == [
        "error", "timeout", "rate_limited"]


def test_feedback_python_forms_follow_the_contract():
    assert metrics.is_negative("down", None) and metrics.is_negative(None, 2) and metrics.is_negative("up", 1)
    assert not metrics.is_negative("up", 3) and not metrics.is_negative(None, None)
    assert metrics.is_positive("up", None) and metrics.is_positive(None, 4) and metrics.is_positive("down", 5)
    assert not metrics.is_positive("down", 3) and not metrics.is_positive(None, None)


def test_sql_forms_select_what_the_python_forms_accept(db, small):
    pilot, items = small
    statuses = dict(db.session.execute(sa.select(Interaction.id, Interaction.status)
                                       .where(Interaction.pilot_id == pilot.id)).all())
    failed = set(db.session.scalars(sa.select(Interaction.id).where(Interaction.pilot_id == pilot.id, metrics.FAILED)))
    ai_error = set(db.session.scalars(sa.select(Interaction.id)
                                      .where(Interaction.pilot_id == pilot.id, metrics.AI_ERROR)))
    assert failed == {i for i, s in statuses.items() if metrics.is_failed(s)} and len(failed) == 3
    assert ai_error == {i for i, s in statuses.items() if metrics.is_ai_error(s)} and len(ai_error) == 2

    ratings = {f.id: (f.thumbs, f.rating) for f in db.session.scalars(
        sa.select(Feedback).where(Feedback.pilot_id == pilot.id))}
    negative = set(db.session.scalars(sa.select(Feedback.id).where(Feedback.pilot_id == pilot.id,
                                                                   metrics.FEEDBACK_NEGATIVE)))
    positive = set(db.session.scalars(sa.select(Feedback.id).where(Feedback.pilot_id == pilot.id,
                                                                   metrics.FEEDBACK_POSITIVE)))
    assert negative == {i for i, r in ratings.items() if metrics.is_negative(*r)} and len(negative) == 3
    assert positive == {i for i, r in ratings.items() if metrics.is_positive(*r)} and len(positive) == 3


def test_day_of_is_the_utc_calendar_day_on_this_database(db, small):
    pilot, _ = small
    days = db.session.scalars(sa.select(metrics.day_of(Interaction.occurred_at)).where(Interaction.pilot_id == pilot.id)
                              .distinct()).all()
    assert sorted(metrics.as_day(d) for d in days) == [date(2026, 3, 1), date(2026, 3, 3)]


def test_as_day_and_day_bounds():
    assert metrics.as_day("2026-03-01") == metrics.as_day(datetime(2026, 3, 1, 23, 59)) == date(2026, 3, 1)
    assert metrics.as_day(None) is None
    assert metrics.day_bounds(date(2026, 3, 1), date(2026, 3, 3)) == (datetime(2026, 3, 1), datetime(2026, 3, 4))
    assert metrics.day_bounds(None, None) == (None, None)


# ---- members: MEMBER (not removed), SEAT (a participant's seat), ENROLLED (accepted) ----------------

OTHERS = [("invited-1", "participant", "invited"), ("paused-1", "participant", "paused"),
          ("left-1", "participant", "removed"), ("rev-2", "reviewer", "invited"), ("rev-3", "reviewer", "active")]


def _members(db, world):
    """world's alpha (lead, reviewer, user-1 and user-2 active) plus OTHERS; one active participant in beta."""
    for external_id, role, status in OTHERS:
        db.session.add(Membership(pilot_id=world.pilot.id, external_id=external_id, role=role, status=status))
    db.session.add(Membership(pilot_id=world.other_pilot.id, external_id="beta-1", role="participant", status="active"))
    db.session.commit()
    return {external_id: (role, status) for external_id, role, status in db.session.execute(
        sa.select(Membership.external_id, Membership.role, Membership.status)
        .where(Membership.pilot_id == world.pilot.id))}


def test_member_seat_and_enrolled_in_sql_and_python(db, world):
    rows = _members(db, world)

    def selected(clause):
        return set(db.session.scalars(sa.select(Membership.external_id)
                                      .where(Membership.pilot_id == world.pilot.id, clause)))

    assert selected(metrics.ENROLLED) == {e for e, r in rows.items() if metrics.is_enrolled(*r)} == {
        "user-1", "user-2", "paused-1"}
    assert selected(metrics.SEAT) == {e for e, r in rows.items() if metrics.holds_seat(*r)} == {
        "user-1", "user-2", "paused-1", "invited-1"}
    members = selected(metrics.MEMBER)
    assert members == {e for e, (_, status) in rows.items() if metrics.is_member(status)}
    assert members == set(rows) - {"left-1"} and {"rev-2", "rev-3", "invited-1"} <= members
    assert metrics.participant_counts(db.session, world.pilot) == {"enrolled": 3, "invited": 1}
    assert metrics.seats_taken(db.session, world.pilot) == 4
    assert metrics.participant_counts(db.session, world.other_pilot) == {"enrolled": 1, "invited": 0}
    assert not metrics.is_member(None) and not metrics.is_enrolled("participant", None)
    assert not metrics.is_enrolled("lead", "active") and not metrics.holds_seat("participant", "removed")


def test_report_dashboard_and_roster_count_the_same_enrolled(db, world, client_as):
    """Invited-but-not-accepted, removed and non-participant members are not enrolled anywhere."""
    from pilot.analytics.dashboard import dashboard_numbers
    from pilot.analytics.summary import pilot_summary

    _members(db, world)
    at = datetime(2026, 3, 1, 12)
    db.session.add_all(Interaction(pilot_id=world.pilot.id, event_id=f"m{n}", external_user_id=user, occurred_at=at,
                                   received_at=at, status="ok")
                       for n, user in enumerate(["user-1", "paused-1", "invited-1", "left-1", "rev-3"]))
    db.session.commit()
    report = pilot_summary(db.session, world.pilot)["participants"]
    numbers = dashboard_numbers(db.session, world.pilot)
    assert report["enrolled"] == numbers["participants"]["enrolled"] == 3 and report["active"] == 5
    assert {u["user"]: u["enrolled"] for u in numbers["users"]} == {
        "user-1": True, "paused-1": True, "invited-1": False, "left-1": False, "rev-3": False}
    roster = client_as("lead").get("/pilots/alpha/participants").get_data(as_text=True)
    assert "<strong>3</strong> participant(s) enrolled" in roster and "<strong>1</strong> invited" in roster


# ---- window, cost per day, per month, histogram step ----------------------------------------------

def test_window_days():
    assert metrics.window_days(None, None) == 0 and metrics.window_days(date(2026, 3, 1), None) == 0
    assert metrics.window_days(datetime(2026, 3, 1, 0, 0), datetime(2026, 3, 1, 23, 59)) == 1  # a single day
    assert metrics.window_days(datetime(2026, 3, 1, 23, 59), datetime(2026, 3, 2, 0, 1)) == 2  # across midnight UTC
    assert metrics.window_days("2026-03-01", date(2026, 3, 3)) == 3  # SQLite's text day, PostgreSQL's date


def test_known_cost_is_never_zero_for_unknown_costs():
    assert metrics.known_cost(None, 0, 0) == 0.0  # no interactions: nothing spent
    assert metrics.known_cost(None, 0, 3) is None  # interactions, every cost unknown
    assert metrics.known_cost(0.0, 2, 2) == 0.0 and metrics.known_cost(0.03, 2, 3) == 0.03


def test_cost_per_day_by_utc_day(db, world):
    rows = [(datetime(2026, 3, 1, 23, 59, 59), 0.01), (datetime(2026, 3, 1, 8), 0.02),
            (datetime(2026, 3, 2, 0, 0, 1), None), (datetime(2026, 3, 4, 9), 0.0)]
    db.session.add_all(Interaction(pilot_id=world.pilot.id, event_id=f"c{n}", occurred_at=at, received_at=at,
                                   cost_usd=cost) for n, (at, cost) in enumerate(rows))
    db.session.commit()
    days = metrics.cost_per_day(db.session, world.pilot)
    assert [(d["day"], d["interactions"]) for d in days] == [("2026-03-01", 2), ("2026-03-02", 1), ("2026-03-04", 1)]
    assert days[0]["usd"] == pytest.approx(0.03) and days[1]["usd"] is None and days[2]["usd"] == 0.0
    assert metrics.cost_per_day(db.session, world.other_pilot) == []


def test_per_month():
    assert metrics.per_month(0.03, 3) == pytest.approx(0.3)  # one user's cost per month
    assert metrics.per_month(0.09, 3, users=3) == pytest.approx(0.3)  # per active user per month
    assert metrics.per_month(None, 3) is None and metrics.per_month(0.03, 0) is None
    assert metrics.per_month(0.03, 3, users=0) is None


def test_nice_step():
    assert metrics.nice_step(23) == 25 and metrics.nice_step(50) == 50 and metrics.nice_step(0.013) == 0.02
    assert metrics.nice_step(0) == 1.0 and metrics.nice_step(-5) == 1.0
    # multiples of the stored 100 ms bins: never narrower, and 250 is skipped
    assert metrics.nice_step(30, 100) == 100 and metrics.nice_step(240, 100) == 500
    assert metrics.nice_step(2400, 100) == 2500 and metrics.nice_step(101, 100) == 200


@pytest.mark.parametrize("values", [[5.0], [1.0, 9.0], [3.0, 1.0, 2.0, 10.0], [float(v % 17) * 1.5 for v in range(101)]])
def test_one_percentile_definition_is_pandas_linear_interpolation(values):
    """pilot.metrics.quantile is the definition every page uses; rank_position + interpolate (the
    two-neighbour form the alert query and the latency sketch use) give the same numbers."""
    import pandas as pd

    ordered = sorted(values)
    for share in (0.0, 0.025, 0.5, 0.95, 0.975, 0.99, 1.0):
        expected = pd.Series(values).quantile(share)
        assert metrics.quantile(values, share) == pytest.approx(expected, abs=1e-12)
        low, fraction = metrics.rank_position(share, len(values))
        high = ordered[low + 1] if low + 1 < len(ordered) else None
        assert metrics.interpolate(ordered[low], high, fraction) == pytest.approx(expected, abs=1e-12)
    assert list(metrics.percentiles(values).values()) == pytest.approx(
        pd.Series(values).quantile([0.5, 0.95, 0.99]).tolist(), abs=1e-12)
    assert metrics.quantile([[1.0, 2.0], [3.0, 5.0]], 0.5, axis=1).tolist() == [1.5, 4.0]  # the bootstrap's form
    assert metrics.percentiles([]) == {"p50": None, "p95": None, "p99": None}
