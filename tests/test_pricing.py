from datetime import datetime

import pytest

from pilot.models import ModelPrice
from pilot.pricing.table import Price, PriceTable

T = datetime(2026, 7, 1, 12)


def table(*prices: Price) -> PriceTable:
    return PriceTable(list(prices))


def price(model, i, o, cached=None, since=None, pilot=False):
    return Price(model, i, cached, o, since, pilot)


def test_seed_example_sonnet_1000_in_500_out():
    # The seed: 1,000 input and 500 output tokens at Sonnet 4.6 prices ≈ $0.003 (exactly 0.0105).
    cost = table(price("claude-sonnet-4-6", 3, 15)).cost("claude-sonnet-4-6", T, 1000, 0, 500)
    assert cost.source == "computed"
    assert cost.usd == pytest.approx((1000 * 3 + 500 * 15) / 1e6, abs=1e-12)


def test_cached_tokens_are_priced_once_at_the_cached_rate():
    t = table(price("claude-sonnet-4-6", 3, 15, cached=0.3))
    cost = t.cost("claude-sonnet-4-6", T, 10_000, 8_000, 200)
    assert cost.usd == pytest.approx((2_000 * 3 + 8_000 * 0.3 + 200 * 15) / 1e6, abs=1e-12)


def test_cached_rate_defaults_to_input_price_and_cached_never_exceeds_input():
    t = table(price("gpt-5.2", 10, 40))
    assert t.cost("gpt-5.2", T, 1000, 400, 0).usd == pytest.approx(1000 * 10 / 1e6, abs=1e-12)
    assert t.cost("gpt-5.2", T, 1000, 5000, 0).usd == pytest.approx(1000 * 10 / 1e6, abs=1e-12)


def test_longest_prefix_wins():
    t = table(price("claude", 1, 1), price("claude-sonnet-4-6", 3, 15))
    assert t.match_name("claude-sonnet-4-6-20260301") == "claude-sonnet-4-6"
    assert t.match_name("claude-instant") == "claude"
    assert t.match_name("gpt-4o") is None


def test_reported_cost_wins_and_unknown_is_never_zero():
    t = table(price("gpt-5.2", 10, 40))
    assert t.cost("gpt-5.2", T, 10, 0, 10, reported_usd=0.5).usd == 0.5
    unknown = t.cost("mystery-model", T, 1000, 0, 1000)
    assert unknown.usd is None and unknown.source == "unknown"
    assert t.cost("gpt-5.2", T, None, 0, 10).source == "unknown"


def test_dated_rows_price_by_the_time_of_the_interaction():
    t = table(price("m", 1, 2), price("m", 5, 6, since=datetime(2026, 8, 1)))
    assert t.price_at("m", datetime(2026, 7, 31)).input_per_mtok == 1
    assert t.price_at("m", datetime(2026, 8, 1)).input_per_mtok == 5
    only_future = table(price("n", 1, 1, since=datetime(2027, 1, 1)))
    assert only_future.price_at("n", T) is None


def test_pilot_rows_beat_global_rows(db, world):
    db.session.add(ModelPrice(pilot_id=world.pilot.id, model="gpt-5.2", input_per_mtok=8, output_per_mtok=30))
    db.session.commit()
    mine = PriceTable.for_pilot(db.session, world.pilot)
    theirs = PriceTable.for_pilot(db.session, world.other_pilot)
    assert mine.price_at("gpt-5.2", T).input_per_mtok == 8
    assert theirs.price_at("gpt-5.2", T).input_per_mtok == 10
    assert mine.price_at("claude-haiku-4-5", T).output_per_mtok == 1.25
