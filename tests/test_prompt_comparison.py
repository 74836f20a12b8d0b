"""Comparison statistics, and the regression set's build, export and import."""
from __future__ import annotations

import csv
import io
import json
import math

import numpy as np
import pytest

from pilot.extensions import db as _db
from pilot.models import Flag, Interaction
from pilot.models.base import utcnow
from pilot.prompts import comparison, registry, regression


def test_wilson_matches_the_textbook_values():
    low, high = comparison.wilson(10, 100)
    assert low == pytest.approx(0.0552, abs=1e-4) and high == pytest.approx(0.1744, abs=1e-4)
    assert comparison.wilson(0, 50)[0] == pytest.approx(0.0, abs=1e-12) and comparison.wilson(0, 0) == (None, None)


def test_two_proportion_test_and_bootstrap_are_deterministic():
    assert comparison.two_proportion_p(10, 100, 30, 100) < 0.001
    assert comparison.two_proportion_p(10, 100, 11, 100) > 0.5
    rng = np.random.default_rng(1)
    a, b = rng.normal(1000, 100, 500), rng.normal(1300, 100, 500)
    first = comparison.bootstrap_difference(a, b, "q0.95")
    assert first == comparison.bootstrap_difference(a, b, "q0.95") and first[0] > 0


def _add(version: str, n: int, failures: int, start: int = 0):
    for i in range(n):
        _db.session.add(Interaction(pilot_id=1, event_id=f"{version}-{start + i}", occurred_at=utcnow(),
                                    prompt_version=version, status="error" if i < failures else "ok",
                                    latency_ms=1000.0 + i, input_text=f"how do I freeze my card {i}",
                                    input_chars=25, output_text=f"old answer {i}", cost_usd=0.01))


def test_comparison_says_worse_on_errors_in_plain_words(world):
    registry.create_version(_db.session, world.pilot, "s", "t1")
    registry.create_version(_db.session, world.pilot, "s", "t2")
    _add("s@1", 200, 4)
    _add("s@2", 200, 40)
    _db.session.commit()
    result = comparison.compare(_db.session, world.pilot, "s@1", "s@2")
    errors = next(f for f in result.figures if f.key == "error_rate")
    assert errors.direction == "worse" and errors.words == "s@2 is worse on error rate, 95 % confident."
    assert result.verdict.startswith("s@2 is worse than s@1 on error rate")
    assert result.daily["error_rate"]["s@2"] == [0.2]


def test_too_little_traffic_draws_no_verdict(world):
    _add("s@1", 5, 0)
    _add("s@2", 5, 5)
    _db.session.commit()
    assert comparison.compare(_db.session, world.pilot, "s@1", "s@2").verdict.startswith("Too little traffic")


def test_regression_build_export_import_and_tally(world, client_as):
    version = registry.create_version(_db.session, world.pilot, "s", "t1")
    _add("s@1", 60, 0)
    _db.session.add(Interaction(pilot_id=1, event_id="evil", occurred_at=utcnow(), prompt_version="s@1",
                                input_text="=HYPERLINK(\"http://x\")", input_chars=20, output_text="-2+3"))
    _db.session.flush()
    failed = _db.session.query(Interaction).filter_by(event_id="s@1-59").one()
    _db.session.add(Flag(pilot_id=1, interaction_id=failed.id, kind="failure", reason="refusal", severity="medium",
                         status="confirmed"))
    _db.session.commit()
    added = regression.build(_db.session, world.pilot, version.prompt, "s@1", 10, world.lead)
    _db.session.commit()
    assert 10 <= added <= 12 and regression.size_of(_db.session, version.prompt)["confirmed_failures"] == 1
    lead = client_as("lead")
    jsonl = lead.get("/pilots/alpha/prompts/s/regression.jsonl").data.decode().splitlines()
    ids = [json.loads(line)["id"] for line in jsonl]
    assert "s@1-59" in ids
    regression.build(_db.session, world.pilot, version.prompt, "s@1", 1000, world.lead)
    _db.session.commit()
    rows = list(csv.DictReader(io.StringIO(lead.get("/pilots/alpha/prompts/s/regression.csv").data.decode())))
    evil = next(row for row in rows if row["id"] == "evil")
    assert evil["input"].startswith("'=") and evil["old_output"] == "'-2+3"

    lines = [json.dumps({"id": ids[0], "output": "new one"}), "{not json", json.dumps({"id": ids[1]}),
             json.dumps({"id": "nobody", "output": "x"}), json.dumps({"id": ids[2], "output": "new two"})]
    upload = {"file": (io.BytesIO("\n".join(lines).encode()), "replay.jsonl"), "version": "s@2"}
    answer = lead.post("/pilots/alpha/prompts/s/regression/import", data=upload, content_type="multipart/form-data",
                       follow_redirects=True)
    page = answer.data.decode()
    assert "Imported 2 replayed outputs" in page
    assert "line 2: not JSON" in page and "line 3: output: required" in page and "line 4: id: &#39;nobody&#39;" in page
    items = regression.items_of(_db.session, version.prompt, replayed_only=True)
    assert len(items) == 2
    reviewer = client_as("reviewer")
    assert reviewer.post(f"/pilots/alpha/prompts/s/regression/{items[0].id}", data={"verdict": "worse"}).status_code == 302
    assert reviewer.post(f"/pilots/alpha/prompts/s/regression/{items[1].id}", data={"verdict": "meh"}).status_code == 400
    assert client_as("participant").post(f"/pilots/alpha/prompts/s/regression/{items[1].id}",
                                         data={"verdict": "same"}).status_code == 403
    assert comparison.regression_tally(_db.session, version.prompt.id, "s@2") == \
        {"better": 0, "same": 0, "worse": 1, "unreviewed": 1}


# --- every figure against a hand computation ------------------------------------------------------
# Two versions of prompt "s", 40 interactions each:
#   s@1: latency 100, 110, …, 490 ms; TTFT 50, 60, …, 140 ms on the first 10 only; cost 0, 0.001, 0.002,
#        0.003 repeating on the first 36, unknown on the last 4; 2 errors (0, 1), 1 fallback (2).
#   s@2: latency 200, 220, …, 980 ms; TTFT 100, 105, …, 195 ms on the first 20; cost 0.002 on all 40;
#        8 errors (0–7), 3 fallbacks (8–10).
# Feedback (negative = thumbs down or rating ≤ 2, counted once per interaction):
#   s@1: #3 thumbs down twice, #4 rating 2, #5 rating 5, #6 rating 4, #7 rating 3, #8 thumbs up
#        → negative on 2 interactions; ratings 2, 5, 4, 3.
#   s@2: #0–9 thumbs down, #10 rating 1, #11 rating 2, #12 rating 5, #13 rating 2
#        → negative on 13 interactions; ratings 1, 2, 5, 2.
# Flags (one per interaction and reason): s@1 #0 refusal confirmed, #1 refusal dismissed → refusal on 2,
#        confirmed 1.
#        s@2 #0–4 refusal confirmed, #5 refusal open, #20–22 pii (edge_case, one confirmed),
#        #23 a reason with markup → refusal 6, pii 3, confirmed failures 5 (pii is not a failure).
HOSTILE_REASON = "<b>x</b>&"


def _figures_fixture(world):
    from pilot.models import Feedback

    session = _db.session
    registry.create_version(session, world.pilot, "s", "t1")
    registry.create_version(session, world.pilot, "s", "t2")
    rows = {}
    for version, base, step, ttft_count, ttft_base, ttft_step in (("s@1", 100, 10, 10, 50, 10),
                                                                 ("s@2", 200, 20, 20, 100, 5)):
        for i in range(40):
            if version == "s@1":
                status = "error" if i < 2 else "fallback" if i == 2 else "ok"
                cost = 0.001 * (i % 4) if i < 36 else None
            else:
                status = "error" if i < 8 else "fallback" if i < 11 else "ok"
                cost = 0.002
            rows[version, i] = Interaction(
                pilot_id=world.pilot.id, event_id=f"{version}-{i}", occurred_at=utcnow(), prompt_version=version,
                status=status, latency_ms=float(base + step * i),
                ttft_ms=float(ttft_base + ttft_step * i) if i < ttft_count else None,
                cost_usd=cost, input_text=f"q{i}", input_chars=2, output_text=f"a{i}")
    session.add_all(rows.values())
    session.flush()

    def feedback(version, i, thumbs=None, rating=None):
        session.add(Feedback(pilot_id=world.pilot.id, interaction_id=rows[version, i].id, thumbs=thumbs, rating=rating))

    def flag(version, i, reason, status="open", kind="failure"):
        session.add(Flag(pilot_id=world.pilot.id, interaction_id=rows[version, i].id, kind=kind, reason=reason,
                         severity="medium", status=status))

    feedback("s@1", 3, thumbs="down")
    feedback("s@1", 3, thumbs="down")
    for i, rating in ((4, 2), (5, 5), (6, 4), (7, 3)):
        feedback("s@1", i, rating=rating)
    feedback("s@1", 8, thumbs="up")
    for i in range(10):
        feedback("s@2", i, thumbs="down")
    for i, rating in ((10, 1), (11, 2), (12, 5), (13, 2)):
        feedback("s@2", i, rating=rating)
    flag("s@1", 0, "refusal", "confirmed")
    flag("s@1", 1, "refusal", "dismissed")
    for i in range(5):
        flag("s@2", i, "refusal", "confirmed")
    flag("s@2", 5, "refusal")
    for i in (20, 21, 22):
        flag("s@2", i, "pii", "confirmed" if i == 20 else "open", kind="edge_case")
    flag("s@2", 23, HOSTILE_REASON, kind="edge_case")
    session.commit()


def test_every_figure_matches_a_hand_computation(world):
    _figures_fixture(world)
    result = comparison.compare(_db.session, world.pilot, "s@1", "s@2")
    figures = {f.key: f for f in result.figures}
    assert result.counts == {"s@1": 40, "s@2": 40}
    # linear percentiles: position (n − 1)·q between the sorted values
    assert (figures["latency_p50"].a, figures["latency_p50"].b) == pytest.approx((295.0, 590.0))  # 290..300, 580..600
    assert (figures["latency_p95"].a, figures["latency_p95"].b) == pytest.approx((470.5, 941.0))  # 37.05 of 39
    assert (figures["ttft_p95"].a, figures["ttft_p95"].b) == pytest.approx((135.5, 190.25))  # 8.55 of 9, 18.05 of 19
    assert (figures["ttft_p95"].a_count, figures["ttft_p95"].b_count) == (10, 20)  # only calls that streamed
    # cost per request: mean over the requests of known cost
    cost = figures["cost_per_request"]
    assert (cost.a, cost.b, cost.a_count, cost.b_count) == (pytest.approx(0.0015), pytest.approx(0.002), 36, 40)
    rates = {"error_rate": (3, 11),  # the project's failure: any status but ok, fallbacks included
             "fallback_rate": (1, 3), "negative_feedback_rate": (2, 13),
             "confirmed_failure_rate": (1, 5), "flag_rate:refusal": (2, 6), "flag_rate:pii": (0, 3),
             f"flag_rate:{HOSTILE_REASON}": (0, 1)}
    for key, (x_a, x_b) in rates.items():
        figure = figures[key]
        assert (figure.kind, figure.a_count, figure.b_count) == ("rate", x_a, x_b), key
        assert (figure.a, figure.b) == (pytest.approx(x_a / 40), pytest.approx(x_b / 40)), key
        assert figure.a_interval == comparison.wilson(x_a, 40) and figure.b_interval == comparison.wilson(x_b, 40)
        assert figure.p_value == comparison.two_proportion_p(x_a, 40, x_b, 40), key
    # error rate by hand: pooled 14/80, z = (0.275 − 0.075) / √(0.175·0.825·(1/40 + 1/40)) = 2.354
    assert figures["error_rate"].p_value == pytest.approx(0.0186, abs=5e-4)
    assert set(figures) == {"error_rate", "fallback_rate", "latency_p50", "latency_p95", "ttft_p95", "cost_per_request",
                            "negative_feedback_rate", "mean_rating", "confirmed_failure_rate", "flag_rate:refusal",
                            "flag_rate:pii", f"flag_rate:{HOSTILE_REASON}"}
    # mean rating: 3.5 (s = √(5/3)) and 2.5 (s = √3) on 4 ratings each, normal intervals
    rating = figures["mean_rating"]
    assert (rating.a, rating.b, rating.a_count, rating.b_count) == (3.5, 2.5, 4, 4)
    assert rating.a_interval == pytest.approx((3.5 - 1.959964 * (5 / 3 / 4) ** 0.5, 3.5 + 1.959964 * (5 / 3 / 4) ** 0.5))
    assert rating.b_interval == pytest.approx((2.5 - 1.959964 * (3 / 4) ** 0.5, 2.5 + 1.959964 * (3 / 4) ** 0.5))
    spread = (5 / 3 / 4 + 3 / 4) ** 0.5
    assert rating.difference_interval == pytest.approx((-1 - 1.959964 * spread, -1 + 1.959964 * spread))
    assert rating.p_value == pytest.approx(math.erfc(1 / spread / math.sqrt(2)))
    # the daily series agree with the totals
    assert result.daily["interactions"] == {"s@1": [40], "s@2": [40]}
    assert result.daily["negative_rate"] == {"s@1": [2 / 40], "s@2": [13 / 40]}
    assert result.daily["p95_latency_ms"] == {"s@1": [pytest.approx(470.5)], "s@2": [pytest.approx(941.0)]}


def test_verdicts_are_corrected_for_judging_many_figures_at_once(world):
    """The error rates differ at p ≈ 0.02 on their own, which is no evidence once eleven other figures are
    judged too (Holm); the latencies and negative feedback differ far beyond that."""
    _figures_fixture(world)
    result = comparison.compare(_db.session, world.pilot, "s@1", "s@2")
    figures = {f.key: f for f in result.figures}
    tested = [f for f in result.figures if f.adjusted_p is not None]
    assert result.tested == len(tested) == 12  # every figure has data on at least one side
    assert figures["error_rate"].p_value < 0.05 and figures["error_rate"].direction == "same"
    assert figures["error_rate"].words == "No clear difference on error rate."
    for key in ("latency_p50", "latency_p95", "negative_feedback_rate"):
        assert figures[key].direction == "worse", key
        assert figures[key].words == f"s@2 is worse on {figures[key].title.lower()}, 95 % confident."
    assert figures["mean_rating"].direction == "same"  # −1 ± 2.1: four ratings a side tell little
    # Holm by hand: sorted p-values times (m − rank), made non-decreasing, capped at 1
    ordered = sorted(tested, key=lambda f: f.p_value)
    running = 0.0
    for rank, figure in enumerate(ordered):
        running = max(running, min(1.0, (len(ordered) - rank) * figure.p_value))
        assert figure.adjusted_p == pytest.approx(running), figure.key
    assert result.verdict.startswith("s@2 is worse than s@1 on latency p50, latency p95")
    assert "error rate" not in result.verdict and result.verdict.endswith("95 % confident.")


def test_holm_adjustment():
    assert comparison.holm([0.01, 0.04, 0.03, 0.005]) == pytest.approx([0.03, 0.06, 0.06, 0.02])
    assert comparison.holm([0.5]) == [0.5] and comparison.holm([]) == []
    assert comparison.holm([0.9, 0.8]) == pytest.approx([1.0, 1.0])


def test_figures_without_enough_values_draw_no_verdict(world):
    """One TTFT value on a side cannot be bootstrapped: that figure says so instead of "no difference"."""
    _add("s@1", 40, 0)
    _add("s@2", 40, 0)
    _db.session.flush()
    _db.session.query(Interaction).filter_by(event_id="s@1-0").one().ttft_ms = 100.0
    for i in range(10):
        _db.session.query(Interaction).filter_by(event_id=f"s@2-{i}").one().ttft_ms = 300.0 + i
    _db.session.commit()
    ttft = next(f for f in comparison.compare(_db.session, world.pilot, "s@1", "s@2").figures if f.key == "ttft_p95")
    assert (ttft.a, ttft.direction, ttft.words) == (100.0, "unclear", "Not enough data on time to first token p95 to tell.")


def test_compare_page_with_real_traffic_shows_every_figure_escaped(world, client_as):
    _figures_fixture(world)
    page = client_as("reviewer").get("/pilots/alpha/prompts/s/compare?a=1&b=2")
    assert page.status_code == 200
    html = page.data.decode()
    for title in ("Error rate", "Fallback rate", "Latency p50", "Latency p95", "Time to first token p95",
                  "Cost per request", "Negative feedback", "Mean rating (1–5)", "Confirmed failures (reviewed)",
                  "Flag rate: refusal", "Flag rate: pii"):
        assert f"<td>{title}</td>" in html, title
    assert "<b>x</b>" not in html and "Flag rate: &lt;b&gt;x&lt;/b&gt;&amp;" in html
    for shown in ("295 ms", "590 ms", "470 ms", "941 ms", "136 ms", "190 ms", "$0.00150", "$0.00200",  # whole ms
                  "3.50", "2.50", "7.5%", "27.5%", "5.0%", "32.5%", "12.5%"):
        assert shown in html, shown
    assert "s@2 is worse than s@1 on latency p50" in html
    assert 'id="multiple-comparisons">12 figures are judged together' in html and "Holm" in html
    assert html.count("<svg") >= 4  # the daily charts
