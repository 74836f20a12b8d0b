"""pilot.metrics: each definition's SQL form selects exactly the rows its Python form accepts, on
the test database (SQLite, or PostgreSQL with TEST_DATABASE_URL), and both follow docs/design.md."""
from datetime import date, datetime

import pytest
import sqlalchemy as sa

from pilot import metrics
from pilot.models import Feedback, Interaction
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
