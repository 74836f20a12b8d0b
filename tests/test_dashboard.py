"""The dashboard's numbers come from the rollup yet equal the live report and hand-worked values; the
rollup follows new rows, re-ratings and flag reviews; the page is for the team only."""
import random
from datetime import date, datetime, timedelta

import pandas as pd
import pytest
import sqlalchemy as sa
from sqlalchemy import orm as so

from pilot.analytics import sketch
from pilot.analytics.dashboard import dashboard_numbers, display_histogram
from pilot.analytics.rollup import pending, refresh
from pilot.analytics.summary import pilot_summary
from pilot.models import Feedback, Flag, Interaction
from pilot.models.base import utcnow
from tests.analytics_data import HAIKU, SONNET, add_interactions, make_small_pilot

approx = lambda value: pytest.approx(value, abs=1e-9)  # noqa: E731
# The dashboard's percentiles come from latency sketches: within 1 % of the exact ones.
within_1pct = lambda value: pytest.approx(value, rel=sketch.RELATIVE_ACCURACY + 1e-12)  # noqa: E731


@pytest.fixture()
def small(db, world):
    return make_small_pilot(world)


def test_headline_numbers_equal_the_report(db, small):
    pilot, _ = small
    numbers = dashboard_numbers(db.session, pilot)
    report = pilot_summary(db.session, pilot)
    assert numbers["window"] == {"start": date(2026, 3, 1), "end": date(2026, 3, 3), "days": 3}
    assert numbers["window"]["days"] == report["window"]["days"]
    assert numbers["participants"] == report["participants"]
    assert numbers["interactions"] == {**report["interactions"], "max_error_rate": 0.05}
    assert numbers["latency_ms"]["target_p95"] == report["latency_ms"]["target_p95"]
    for key in ("p50", "p95", "p99"):
        assert numbers["latency_ms"][key] == within_1pct(report["latency_ms"][key])
    for key, value in report["cost"].items():
        assert numbers["cost"][key] == (approx(value) if isinstance(value, float) else value), key
    assert numbers["feedback"] == report["feedback"]
    assert {k: numbers["flags"][k] for k in ("open", "confirmed", "dismissed")} == \
        {k: report["flags"][k] for k in ("open", "confirmed", "dismissed")}
    assert {r["reason"]: r["total"] for r in numbers["flags"]["by_reason"]} == report["flags"]["by_reason"]


def test_tables_match_numbers_worked_out_by_hand(db, small):
    """The per-model and per-day tables against tests/analytics_data.py's rows, by hand (they were
    checked against pilot.analytics.breakdowns, a second copy of these formulas no page used)."""
    pilot, _ = small
    numbers = dashboard_numbers(db.session, pilot)
    assert [m["model"] for m in numbers["models"]] == [HAIKU, SONNET]
    haiku, sonnet = numbers["models"]
    # haiku: rows 2 (error, 200 ms, $0), 3 (fallback, 4500 ms, cost unknown), 5 (ok, 3000 ms, $0.015)
    assert haiku["interactions"] == 3 and haiku["error_rate"] == approx(2 / 3) and haiku["fallback_coverage"] == 0.5
    assert haiku["cost_usd"] == approx(0.015) and haiku["per_request_usd"] == approx(0.0075)
    assert haiku["unknown_cost_interactions"] == 1 and haiku["feedback_negative"] == 3
    assert haiku["latency_ms"] == {"p50": within_1pct(3000.0), "p95": within_1pct(4350.0), "p99": within_1pct(4470.0)}
    # sonnet: rows 0 (ok, 1000 ms, $0.010), 1 (ok, 1500 ms, $0.020), 4 (timeout, no latency, $0.005)
    assert sonnet["interactions"] == 3 and sonnet["error_rate"] == approx(1 / 3) and sonnet["fallback_coverage"] == 0.0
    assert sonnet["cost_usd"] == approx(0.035) and sonnet["per_request_usd"] == approx(0.035 / 3)
    assert sonnet["feedback_negative"] == 0
    assert sonnet["latency_ms"] == {"p50": within_1pct(1250.0), "p95": within_1pct(1475.0), "p99": within_1pct(1495.0)}
    assert haiku["share"] == 0.5

    days = numbers["days"]
    assert [d["day"] for d in days] == [date(2026, 3, 1), date(2026, 3, 2), date(2026, 3, 3)]
    assert [d["interactions"] for d in days] == [3, 0, 3]
    assert [d["latency_p95"] for d in days] == [within_1pct(1450.0), None, within_1pct(4425.0)]
    assert [d["feedback_negative"] for d in days] == [1, 0, 2]
    # cost per day and its running total: 0.03 on the 1st, nothing on the idle 2nd, 0.02 known on the 3rd
    assert [d["cost_usd"] for d in numbers["days"]] == [approx(0.03), 0.0, approx(0.02)]
    assert [d["cumulative_cost_usd"] for d in numbers["days"]] == [approx(0.03), approx(0.03), approx(0.05)]

    users = {row["user"]: row for row in numbers["users"]}
    assert users["user-1"]["cost_per_month_usd"] == approx(0.045 / 3 * 30)
    assert users["user-1"]["enrolled"] and not users["stranger"]["enrolled"]
    assert users["stranger"]["cost_usd"] is None and users["stranger"]["cost_per_month_usd"] is None
    versions = [v["prompt_version"] for v in numbers["prompt_versions"]]
    assert versions == ["v1", "v2"]


def test_a_day_whose_costs_are_all_unknown_is_not_zero(db, world):
    add_interactions(world.pilot, [("u", datetime(2026, 3, 1, 9), "mystery", "v1", "ok", 100.0, None, None, "q")])
    db.session.commit()
    day = dashboard_numbers(db.session, world.pilot)["days"][0]
    assert day["cost_usd"] is None and day["cumulative_cost_usd"] is None and day["unknown_cost"] == 1


def test_date_range(db, small):
    pilot, _ = small
    numbers = dashboard_numbers(db.session, pilot, start=date(2026, 3, 3), end=date(2026, 3, 3))
    assert numbers["window"]["days"] == 1 and numbers["interactions"]["total"] == 3
    assert numbers["participants"]["active"] == 3
    # the range's latency column: 4500 and 3000 → p95 = 3000 + 0.95 × 1500
    assert numbers["latency_ms"]["p95"] == within_1pct(4425.0)
    assert numbers["cost"]["total_usd"] == approx(0.02) and numbers["cost"]["unknown_cost_interactions"] == 1
    assert numbers["cost"]["per_active_user_per_month_usd"] == approx(0.02 / 3 / 1 * 30)
    haiku = next(m for m in numbers["models"] if m["model"] == HAIKU)
    assert haiku["latency_ms"]["p50"] == within_1pct(3750.0)
    assert dashboard_numbers(db.session, pilot, start=date(2027, 1, 1))["interactions"]["total"] == 0


def test_empty_pilot(db, world):
    numbers = dashboard_numbers(db.session, world.pilot)
    assert numbers["interactions"]["total"] == 0 and numbers["days"] == [] and numbers["models"] == []
    assert numbers["latency_ms"]["p95"] is None and numbers["cost"]["per_active_user_per_month_usd"] is None
    assert numbers["latency_histogram"] == {"bins": [], "overflow": False}


@pytest.mark.parametrize("n", [1, 2, 3, 10, 21, 101, 1000, 20000])
def test_sketch_percentiles_are_within_one_percent_of_the_exact_ones(n):
    """The bound docs/analytics.md states, on skewed data with repeats, zeros and a slow tail;
    and sketches of parts merge into the sketch of the whole."""
    rng = random.Random(n)
    values = [rng.choice([0.0, round(rng.lognormvariate(7, 0.9), 1), round(rng.uniform(1, 5), 3), 30_000.0])
              for _ in range(n)]
    exact = pd.Series(values).quantile([0.5, 0.95, 0.99]).tolist()
    whole = sketch.sketch_of(values)
    got = sketch.percentiles(whole)
    for value, expected in zip((got["p50"], got["p95"], got["p99"]), exact):
        assert abs(value - expected) <= sketch.RELATIVE_ACCURACY * expected + 1e-9
    assert sketch.merge(sketch.sketch_of(values[: n // 3]), sketch.sketch_of(values[n // 3:])) == whole
    assert sketch.count(whole) == n
    assert sketch.percentiles({}) == {"p50": None, "p95": None, "p99": None}


def test_refresh_recomputes_only_changed_days(db, small):
    pilot, items = small
    assert len(refresh(db.session, pilot)) == 3  # the first refresh computes every day, the idle one too
    db.session.commit()
    assert refresh(db.session, pilot) == []  # nothing changed: nothing recomputed, nothing written

    # A late interaction about 2 March arrives now.
    add_interactions(pilot, [("user-2", datetime(2026, 3, 2, 12), SONNET, "v2", "ok", 800.0, 100.0, 0.001, "hi")],
                     prefix="late")
    db.session.query(Interaction).filter(Interaction.event_id == "late0").update({"received_at": utcnow()})
    db.session.commit()
    assert refresh(db.session, pilot) == [date(2026, 3, 2)]
    db.session.commit()
    assert refresh(db.session, pilot) == []  # recomputed once, not again on every view within the look-back
    second = dashboard_numbers(db.session, pilot, refresh_first=False)["days"][1]
    assert second["interactions"] == 1 and second["latency_p95"] == within_1pct(800.0)

    # A participant changes a rating on 1 March: positive → negative.
    feedback = db.session.scalar(sa.select(Feedback).where(Feedback.interaction_id == items[0].id))
    feedback.thumbs, feedback.rating = "down", 1
    db.session.commit()
    assert date(2026, 3, 1) in refresh(db.session, pilot)
    db.session.commit()
    first = dashboard_numbers(db.session, pilot, refresh_first=False)["days"][0]
    assert (first["feedback_positive"], first["feedback_negative"]) == (1, 2)

    # A reviewer dismisses the open ai_error flag of 1 March.
    flag = db.session.scalar(sa.select(Flag).where(Flag.interaction_id == items[2].id))
    flag.status = "dismissed"
    db.session.commit()
    refresh(db.session, pilot)
    db.session.commit()
    numbers = dashboard_numbers(db.session, pilot, refresh_first=False)
    assert numbers["flags"]["open"] == 1 and numbers["flags"]["dismissed"] == 2
    assert numbers["feedback"] == pilot_summary(db.session, pilot)["feedback"]


def test_rows_committed_late_are_still_found(db, small):
    """A row received long ago but committed after the last refresh (by another session) is found:
    its (pilot, day) was recorded in its own transaction, whatever its timestamps say."""
    pilot, _ = small
    refresh(db.session, pilot)
    db.session.commit()
    with so.Session(db.engine) as other:
        other.add(Interaction(pilot_id=pilot.id, event_id="slow0", occurred_at=datetime(2026, 3, 3, 1),
                              received_at=datetime(2026, 3, 3, 1), latency_ms=50.0, status="ok"))
        other.commit()
    assert refresh(db.session, pilot) == [date(2026, 3, 3)]


def test_an_in_place_edit_of_an_old_row_reaches_the_dashboard(db, small):
    pilot, items = small
    refresh(db.session, pilot)
    db.session.commit()
    db.session.execute(sa.update(Interaction).where(Interaction.id == items[0].id).values(cost_usd=1.0))
    db.session.commit()
    assert dashboard_numbers(db.session, pilot)["cost"]["total_usd"] == approx(1.0 + 0.020 + 0.0 + 0.005 + 0.015)


def test_display_histogram_rebins_and_keeps_the_slow_tail_apart():
    counts = {0: 5, 1: 10, 9: 20, 35: 4, 300: 2, 600: 1}  # 100 ms bins; 600 = 60 s and slower
    result = display_histogram(counts, target=3000, p95=3500)
    bins = result["bins"]
    assert result["overflow"] and bins[-1][2] == 3  # 30 s and 60 s+ beyond the reach
    assert sum(c for _, _, c in bins) == 42
    assert bins[0] == (0, bins[0][1], 15) and bins[0][1] % 100 == 0
    assert bins[-2][1] >= 3500 * 1.5


def test_dashboard_page_shows_numbers_and_escapes_names(client_as, db, world):
    hostile = '<script>alert("model")</script>'
    add_interactions(world.pilot, [
        ("<img src=x onerror=alert(1)>", datetime(2026, 3, 1, 9), hostile, "<b>v</b>", "ok", 100.0, 10.0, 0.001, "q"),
    ])
    db.session.commit()
    page = client_as("reviewer").get("/pilots/alpha").get_data(as_text=True)
    assert "<script>alert" not in page and "<img src=x" not in page and "<b>v</b>" not in page
    assert "&lt;script&gt;alert(&#34;model&#34;)&lt;/script&gt;" in page or "&lt;script&gt;" in page
    assert "Interactions per day" in page and 'role="img"' in page


def test_dashboard_page_of_an_empty_pilot(client_as, world):
    response = client_as("lead").get("/pilots/alpha")
    assert response.status_code == 200
    assert "No data yet" in response.get_data(as_text=True)


@pytest.mark.parametrize("query,message", [
    ("?from=yesterday", "from: use a date like 2026-03-01"),
    ("?from=2026-03-05&to=2026-03-01", "to: must be on or after from"),
    ("?to=0001-01-01", "to: pick a date between"),
])
def test_bad_date_range_names_the_field(client_as, small, query, message):
    response = client_as("lead").get(f"/pilots/alpha{query}")
    assert response.status_code == 200
    assert message in response.get_data(as_text=True)


def test_date_range_on_the_page(client_as, small):
    page = client_as("lead").get("/pilots/alpha?from=2026-03-03&to=2026-03-03").get_data(as_text=True)
    assert "03 Mar 2026 – 03 Mar 2026 · 1 day with data" in page


def test_the_rollup_survives_a_day_boundary_refresh(db, world):
    """Rows around midnight land on their own UTC day."""
    pilot = world.pilot
    add_interactions(pilot, [
        ("u", datetime(2026, 3, 1, 23, 59, 59), SONNET, "v", "ok", 1.0, None, 0.1, "a"),
        ("u", datetime(2026, 3, 2, 0, 0, 0), SONNET, "v", "ok", 2.0, None, 0.2, "b"),
    ])
    db.session.commit()
    days = dashboard_numbers(db.session, pilot)["days"]
    assert [(d["day"], d["interactions"]) for d in days] == [(date(2026, 3, 1), 1), (date(2026, 3, 2), 1)]
    assert timedelta(days=1) == days[1]["day"] - days[0]["day"]


def test_rollup_command(runner, small):
    result = runner.invoke(args=["pilot", "rollup", "alpha"])
    assert result.exit_code == 0 and "Recomputed 3 day(s) of alpha." in result.output
    assert "alpha was up to date." in runner.invoke(args=["pilot", "rollup", "alpha"]).output
    assert "Recomputed 3 day(s)" in runner.invoke(args=["pilot", "rollup", "alpha", "--rebuild"]).output
    assert runner.invoke(args=["pilot", "rollup", "nope"]).exit_code == 1


def test_a_new_price_reprices_the_dashboard(db, world):
    """Re-pricing stored interactions (a lead adds a price) reaches the rollup that holds their costs."""
    from pilot.pricing.prices import add_price

    add_interactions(world.pilot, [("u", datetime(2026, 3, 1, 9), "acme-model", "v", "ok", 100.0, None, None, "q")])
    db.session.execute(sa.update(Interaction).values(input_tokens=1_000_000, cached_input_tokens=0, output_tokens=0))
    db.session.commit()
    assert dashboard_numbers(db.session, world.pilot)["cost"]["total_usd"] is None
    db.session.commit()
    add_price(db.session, world.pilot, model="acme-model", input_per_mtok="2", output_per_mtok="4",
              cached_input_per_mtok=None, effective_from=None, actor=world.lead)
    db.session.commit()
    assert dashboard_numbers(db.session, world.pilot)["cost"]["total_usd"] == approx(2.0)


def test_a_participant_who_leaves_disappears_from_the_user_table(db, small, world):
    """Leaving re-points their interactions to an anonymous id in place: the rollup must follow."""
    from pilot.participant.services import leave_pilot

    pilot, _ = small
    assert "user-1" in {u["user"] for u in dashboard_numbers(db.session, pilot)["users"]}
    db.session.commit()
    leave_pilot(db.session, world.participant_membership)
    db.session.commit()
    numbers = dashboard_numbers(db.session, pilot)
    users = {u["user"] for u in numbers["users"]}
    assert "user-1" not in users and any(u.startswith("left-") for u in users)
    assert numbers["interactions"]["total"] == 6  # the numbers stay


def test_flags_a_reflag_removes_leave_the_dashboard_too(db, small):
    """Re-flagging deletes open, untouched flags whose rule no longer fires: no stamp shows that."""
    from pilot.flagging.services import run_reflag

    pilot, items = small
    db.session.add(Flag(pilot_id=pilot.id, interaction_id=items[0].id, kind="failure", reason="slow_response",
                        status="open", created_at=items[0].occurred_at, updated_at=items[0].occurred_at))
    db.session.commit()
    before = {r["reason"]: r["total"] for r in dashboard_numbers(db.session, pilot)["flags"]["by_reason"]}
    db.session.commit()
    assert before.get("slow_response") == 1  # on a 1,000 ms answer: the rule does not fire on it
    result = run_reflag(db.session, pilot, actor=None)
    db.session.commit()
    assert result.removed >= 1
    assert pending(db.session, pilot)  # the deletions were captured: recomputed on the next view
    after = {r["reason"]: r["total"] for r in dashboard_numbers(db.session, pilot)["flags"]["by_reason"]}
    live = dict(db.session.execute(sa.select(Flag.reason, sa.func.count(Flag.id)).where(Flag.pilot_id == pilot.id)
                                   .group_by(Flag.reason)).all())
    assert after == live


def test_user_rows_open_their_flagged_interactions(client_as, small):
    page = client_as("reviewer").get("/pilots/alpha").get_data(as_text=True)
    assert 'href="/pilots/alpha/review?participant=user-1&amp;status=all"' in page
    assert client_as("reviewer").get("/pilots/alpha/review?participant=user-1&status=all").status_code == 200


def _rollup_rows(db, pilot):
    from pilot.models import DailyRollup, DayRollup

    daily = sorted(
        (r.day, r.model or "", r.prompt_version or "", r.external_user_id or "", r.interactions, r.failures,
         r.fallbacks, r.known_cost, round(r.cost_usd, 12), r.latency_count, r.feedback_count, r.feedback_positive,
         r.feedback_negative, r.rating_count, r.rating_sum)
        for r in db.session.scalars(sa.select(DailyRollup).where(DailyRollup.pilot_id == pilot.id)))
    per_day = sorted(
        (r.day, r.latency_p50, r.latency_p95, r.latency_p99, r.ttft_p50, r.ttft_p95, r.ttft_p99,
         r.latency_histogram, r.flags)
        for r in db.session.scalars(sa.select(DayRollup).where(DayRollup.pilot_id == pilot.id)))
    return daily, per_day


def test_days_recomputed_together_equal_days_recomputed_one_by_one(db, world):
    """A first refresh groups up to SPAN_DAYS days per query (by date()); a single changed day is
    grouped by plain columns. Both give the same rollup rows, midnight rows and empty days included."""
    from pilot.analytics.rollup import SPAN_DAYS, recompute

    pilot, rng = world.pilot, random.Random(4)
    first = datetime(2026, 3, 1)
    specs = []
    for n in range(300):
        day = rng.choice([d for d in range(SPAN_DAYS + 4) if d != 5])  # day 5 stays empty
        when = first + timedelta(days=day, seconds=rng.choice([0, 86_399, rng.randint(1, 86_398)]))
        specs.append((f"user-{rng.randint(1, 4)}", when, rng.choice([SONNET, HAIKU]), rng.choice(["v1", "v2", None]),
                      rng.choice(["ok", "ok", "ok", "error", "fallback"]), rng.choice([None, rng.uniform(50, 9000)]),
                      rng.choice([None, rng.uniform(10, 900)]), rng.choice([None, rng.uniform(0, 0.02)]), f"q{n % 7}"))
    items = add_interactions(pilot, specs)
    for item in items[::9]:
        db.session.add(Feedback(pilot_id=pilot.id, interaction_id=item.id, thumbs=rng.choice(["up", "down"]),
                                rating=rng.choice([None, 1, 5]), comment="", source="ui"))
    for item in items:
        if item.status == "error":
            db.session.add(Flag(pilot_id=pilot.id, interaction_id=item.id, kind="failure", reason="ai_error",
                                severity="high", status=rng.choice(["open", "dismissed"])))
    db.session.commit()
    assert len(refresh(db.session, pilot)) == SPAN_DAYS + 4
    db.session.commit()
    together = _rollup_rows(db, pilot)
    assert together[0] and len(together[1]) == SPAN_DAYS + 3

    for offset in range(SPAN_DAYS + 4):
        day = first.date() + timedelta(days=offset)
        recompute(db.session, pilot, day, day)
    db.session.commit()
    assert _rollup_rows(db, pilot) == together
    numbers = dashboard_numbers(db.session, pilot, refresh_first=False)
    assert numbers["interactions"]["total"] == 300 == pilot_summary(db.session, pilot)["interactions"]["total"]


def test_rows_added_by_id_range_equal_the_day_recomputed(db, world):
    """Bursts of new interactions (with flags and ratings of their own transaction) are added to
    the rollup by id range, without reading their days; the result equals recomputing the days,
    and a record naming the whole day wins over a range of the same refresh."""
    from pilot.models import RollupChange

    pilot, rng = world.pilot, random.Random(7)
    first = datetime(2026, 3, 1)

    def burst(n, tag):
        specs = [(f"user-{rng.randint(1, 4)}", first + timedelta(days=rng.randint(0, 3), seconds=rng.randint(0, 86_399)),
                  rng.choice([SONNET, HAIKU, None]), rng.choice(["v1", None]), rng.choice(["ok", "ok", "error"]),
                  rng.choice([None, rng.uniform(50, 9000)]), rng.choice([None, rng.uniform(10, 900)]),
                  rng.choice([None, rng.uniform(0, 0.02)]), f"q{i % 5}") for i in range(n)]
        items = add_interactions(pilot, specs, prefix=tag)
        for item in items[::4]:
            db.session.add(Feedback(pilot_id=pilot.id, interaction_id=item.id, thumbs=rng.choice(["up", "down"]),
                                    rating=rng.choice([None, 2, 5]), comment="", source="ui"))
        for item in items:
            if item.status == "error":
                db.session.add(Flag(pilot_id=pilot.id, interaction_id=item.id, kind="failure", reason="ai_error",
                                    severity="high", status="open"))
        db.session.commit()
        return items

    burst(120, "a")
    refresh(db.session, pilot)
    db.session.commit()
    burst(80, "b")
    records = db.session.execute(sa.select(RollupChange.first_id, RollupChange.last_id)
                                 .where(RollupChange.pilot_id == pilot.id)).all()
    assert records and all(first_id is not None for first_id, _ in records)  # ranges only, no day to recompute
    refresh(db.session, pilot)
    db.session.commit()
    items = burst(60, "c")
    db.session.execute(sa.update(Interaction).where(Interaction.id == items[0].id).values(status="timeout"))
    db.session.commit()  # that day is recomputed whole; the range's rows of other days are added
    refresh(db.session, pilot)
    db.session.commit()
    added = _rollup_rows(db, pilot)

    refresh(db.session, pilot, rebuild=True)
    db.session.commit()
    rebuilt = _rollup_rows(db, pilot)
    assert [row[:8] + row[9:] for row in added[0]] == [row[:8] + row[9:] for row in rebuilt[0]]
    assert [row[8] for row in added[0]] == [pytest.approx(row[8], abs=1e-12) for row in rebuilt[0]]
    assert added[1] == rebuilt[1]
    numbers = dashboard_numbers(db.session, pilot, refresh_first=False)
    assert numbers["interactions"]["total"] == 260 == pilot_summary(db.session, pilot)["interactions"]["total"]
    assert numbers["feedback"] == pilot_summary(db.session, pilot)["feedback"]
