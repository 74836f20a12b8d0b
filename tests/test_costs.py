"""Cost architecture: every what-if against a hand computation on tests/analytics_data.py.

Known cost 0.050 over 3 active users and 3 days: 0.05 / 3 / 3 × 30 = 1/6 per user per month;
planned price 5.00."""
from datetime import datetime

import pytest
from werkzeug.datastructures import MultiDict

from pilot.analytics.costs import CostInputs, cost_architecture
from pilot.analytics.duplicates import _near_earlier, exact_duplicates, near_duplicates
from pilot.analytics.forms import CostInputsForm
from pilot.models import ModelPrice
from pilot.models.base import utcnow
from tests.analytics_data import add_interactions, make_small_pilot

approx = lambda value: pytest.approx(value, abs=1e-9)  # noqa: E731
PER_USER = 0.05 / 3 / 3 * 30


@pytest.fixture()
def pilot(db, world):
    return make_small_pilot(world)[0]


def whatif(report, key):
    return next(w for w in report["whatifs"] if w["key"] == key)


def test_baseline_and_scale(db, pilot):
    report = cost_architecture(db.session, pilot, CostInputs(users=10_000))
    b = report["baseline"]
    assert b["total_usd"] == approx(0.05) and b["per_active_user_per_month_usd"] == approx(PER_USER)
    assert b["margin_per_user_month"] == approx(5 - PER_USER) and b["unknown_cost_interactions"] == 1
    assert report["scale"] == {"users": 10_000, "monthly_cost_usd": approx(PER_USER * 10_000),
                               "monthly_revenue_usd": 50_000.0, "monthly_margin_usd": approx(50_000 - PER_USER * 10_000),
                               "margin_pct": approx(1 - PER_USER / 5)}
    assert [row["users"] for row in report["scales"]] == [100, 1_000, 10_000, 100_000]
    assert report["scales"][0]["monthly_cost_usd"] == approx(PER_USER * 100)


def test_model_tiering(db, pilot):
    # Short = input ≤ 20 characters and answer ≤ 150 tokens: rows 2 (haiku, $0) and 4 (sonnet, $0.005),
    # 900 uncached input tokens and no output between them; cheapest for that mix is haiku at $0.25/M.
    report = cost_architecture(db.session, pilot, CostInputs(short_chars=20, short_output_tokens=150))
    tiering = whatif(report, "tiering")
    assert tiering["interactions"] == 2 and tiering["cheapest_model"] == "claude-haiku-4-5"
    assert tiering["current_usd"] == approx(0.005) and tiering["tiered_usd"] == approx(900 * 0.25 / 1e6)
    saving = 0.005 - 900 * 0.25 / 1e6
    assert tiering["saving_usd"] == approx(saving) and tiering["saving_share"] == approx(saving / 0.05)
    after = PER_USER * (1 - saving / 0.05)
    assert tiering["per_user_month_usd"] == approx(after) and tiering["margin_usd"] == approx(5 - after)
    assert tiering["at_scale"]["monthly_cost_usd"] == approx(after * 1_000)
    assert "at most 20 characters" in tiering["assumption"] and "150 tokens" in tiering["assumption"]


def test_tiering_with_nothing_short(db, pilot):
    tiering = whatif(cost_architecture(db.session, pilot, CostInputs(short_chars=0)), "tiering")
    assert tiering["saving_usd"] is None and tiering["per_user_month_usd"] is None and tiering["note"]


def test_exact_caching(db, pilot):
    # Six hashed inputs, three distinct ("how do i freeze my card?" ×3, "what is my iban" ×2, "write a poem").
    assert exact_duplicates(db.session, pilot) == {"interactions": 6, "distinct_inputs": 3, "share": 0.5}
    cache = whatif(cost_architecture(db.session, pilot, CostInputs()), "cache_exact")
    assert cache["saving_usd"] == approx(0.025) and cache["per_user_month_usd"] == approx(PER_USER / 2)


def test_near_duplicate_caching_on_the_full_sample(db, pilot):
    near = near_duplicates(db.session, pilot)
    # All six are sampled: rows 1, 4 and 5 repeat an earlier input exactly; no two distinct texts are near.
    assert near == {"sample": 6, "exact_share": 0.5, "near_share": 0.0, "threshold": 0.9}
    cache = whatif(cost_architecture(db.session, pilot, CostInputs()), "cache_near")
    assert cache["near_share"] == 0.0 and cache["saving_fraction"] == 0.5 and cache["saving_usd"] == approx(0.025)


def test_near_duplicates_are_found_and_scaled(db, world):
    rows = [("u", datetime(2026, 3, 1, h), "claude-haiku-4-5", "v", "ok", 100.0, None, 0.001, text) for h, text in
            enumerate(["How do I freeze my debit card?", "How do I freeze my debit card??", "Is bitcoin a good idea?",
                       "How do I freeze my debit card?"])]
    add_interactions(world.pilot, rows)
    world.pilot.planned_price_per_user_month = 5.0
    near = near_duplicates(db.session, world.pilot)
    assert near["exact_share"] == 0.25 and near["near_share"] == 0.25  # the '??' one is near the first
    cache = whatif(cost_architecture(db.session, world.pilot, CostInputs()), "cache_near")
    assert cache["saving_fraction"] == 0.5 and cache["saving_usd"] == approx(0.5 * 0.004)


def test_near_detection_itself():
    texts = ["How do I freeze my card?", "Where is my IBAN shown?", "Hi, how do I freeze my card?",
             "How do I freeze my credit card?", ""]
    # a greeting in front is the same question (0.93); "credit card" is another one (0.85)
    assert _near_earlier(texts, 0.9).tolist() == [False, False, True, False, False]
    assert _near_earlier(["", " "], 0.9).tolist() == [False, False]  # nothing to compare: no error


def test_a_smaller_sample_is_scaled_by_its_exact_undercount(db, world):
    texts = ["same question"] * 6 + [f"unique question number {n}" for n in range(6)]
    add_interactions(world.pilot, [("u", datetime(2026, 3, 1, 0, n), "m", "v", "ok", 1.0, None, 0.001, t)
                                   for n, t in enumerate(texts)])
    near = near_duplicates(db.session, world.pilot, sample_size=6, seed=3)
    assert near["sample"] == 6
    assert 0 <= near["exact_share"] <= 1 and near["near_share"] >= 0


def test_batching(db, pilot):
    batch = whatif(cost_architecture(db.session, pilot, CostInputs(batch_pct=40)), "batching")
    assert batch["saving_fraction"] == approx(0.2) and batch["saving_usd"] == approx(0.01)
    assert batch["per_user_month_usd"] == approx(PER_USER * 0.8) and "40 %" in batch["assumption"]
    assert whatif(cost_architecture(db.session, pilot, CostInputs()), "batching")["saving_usd"] == 0.0


def test_trimming(db, pilot):
    # Priced now: sonnet rows 0, 1, 4 → input (2300 × 3 + 500 × 3) / 1e6 = 0.0084, output 600 × 15 / 1e6 = 0.009;
    # haiku rows 2, 5 → input 400 × 0.25 / 1e6 = 0.0001, output 100 × 1.25 / 1e6 = 0.000125.
    input_share = 0.0085 / (0.0085 + 0.009125)
    trim = whatif(cost_architecture(db.session, pilot, CostInputs(trim_pct=20)), "trimming")
    assert trim["input_share"] == approx(input_share)
    assert trim["saving_usd"] == approx(0.2 * input_share * 0.05)
    assert trim["margin_pct"] == approx((5 - PER_USER * (1 - 0.2 * input_share)) / 5)


def test_without_a_price_there_is_no_margin(db, pilot):
    pilot.planned_price_per_user_month = None
    report = cost_architecture(db.session, pilot, CostInputs())
    assert report["scale"]["monthly_margin_usd"] is None and report["scale"]["monthly_cost_usd"] == approx(PER_USER * 1000)
    assert all(w["margin_usd"] is None for w in report["whatifs"])


def test_empty_pilot(db, world):
    report = cost_architecture(db.session, world.pilot, CostInputs())
    assert report["baseline"]["per_active_user_per_month_usd"] is None
    assert all(w["per_user_month_usd"] is None for w in report["whatifs"])


@pytest.mark.parametrize("args,field", [
    ({"users": "7"}, "users"), ({"users": "1e3"}, "users"), ({"short_chars": "-1"}, "short_chars"),
    ({"short_output_tokens": "2.5"}, "short_output_tokens"), ({"batch_pct": "101"}, "batch_pct"),
    ({"trim_pct": "nan"}, "trim_pct"), ({"trim_pct": "1e309"}, "trim_pct"), ({"trim_pct": "lots"}, "trim_pct"),
])
def test_bad_inputs_name_the_field_and_keep_the_default(app, args, field):
    with app.test_request_context():
        inputs, errors = CostInputsForm(MultiDict(args)).inputs()
    assert list(errors) == [field] and errors[field].startswith(f"{field}:")
    assert getattr(inputs, field) == getattr(CostInputs(), field)


def test_good_inputs(app):
    args = MultiDict({"users": "100,000", "short_chars": "80", "batch_pct": "12.5", "trim_pct": "0"})
    with app.test_request_context():
        inputs, errors = CostInputsForm(args).inputs()
    assert errors == {} and (inputs.users, inputs.short_chars, inputs.batch_pct, inputs.trim_pct) == (100_000, 80, 12.5, 0)


def test_cost_page_renders_and_escapes(client_as, db, pilot):
    db.session.add(ModelPrice(pilot_id=pilot.id, model="<script>alert(1)</script>", input_per_mtok=0.01,
                              output_per_mtok=0.01))
    db.session.commit()
    response = client_as("reviewer").get("/pilots/alpha/costs?users=10000&short_chars=20&short_output_tokens=150")
    page = response.get_data(as_text=True)
    assert response.status_code == 200
    assert "<script>alert(1)</script>" not in page and "&lt;script&gt;alert(1)&lt;/script&gt;" in page
    assert "Model tiering" in page and 'aria-current="true">10,000 users' in page and "Assumes:" in page


def test_cost_page_shows_bad_input_messages(client_as, pilot):
    page = client_as("lead").get("/pilots/alpha/costs?users=5&trim_pct=abc").get_data(as_text=True)
    assert "users: pick 100, 1,000, 10,000 or 100,000" in page and "trim_pct: must be a number" in page


def test_cost_page_of_an_empty_pilot(client_as, world):
    assert client_as("lead").get("/pilots/alpha/costs").status_code == 200


def test_measurements_are_cached_until_the_data_changes(db, pilot):
    from pilot.analytics.costs import measurements

    first = measurements(db.session, pilot, CostInputs())
    cost_architecture(db.session, pilot, CostInputs(users=100))  # refreshes the rollup: a new stamp
    db.session.commit()
    cached = measurements(db.session, pilot, CostInputs(batch_pct=50, trim_pct=5))  # same data, same thresholds
    assert measurements(db.session, pilot, CostInputs()) is cached
    new, = add_interactions(pilot, [("user-1", datetime(2026, 3, 3, 2), "claude-haiku-4-5", "v2", "ok", 10.0, None,
                                     0.5, "new question")], prefix="n")
    new.received_at = utcnow()  # it arrives now
    db.session.commit()
    report = cost_architecture(db.session, pilot, CostInputs())  # sees the new row, moves the stamp
    assert whatif(report, "cache_exact")["interactions"] == 7
    assert measurements(db.session, pilot, CostInputs()) is not cached
    assert first[1]["interactions"] == 6
