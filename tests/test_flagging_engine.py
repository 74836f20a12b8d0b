"""The rule engine against the database: ingest hook, feedback hook, pilot-wide rules, re-flag."""
from __future__ import annotations

from datetime import timedelta

import pytest
import sqlalchemy as sa

from pilot.extensions import db
from pilot.feedback.services import record_feedback
from pilot.flagging.engine import reflag
from pilot.flagging.services import replace_scenarios, run_reflag, update_rule_settings
from pilot.flagging.settings import RuleSettingError
from pilot.models import AuditEvent, Flag, Interaction, Membership
from pilot.review import services as review
from tests.flagging_helpers import START, flags_of, make_interactions, reasons_of


@pytest.fixture()
def pilot(world):
    world.pilot.sampling_rate = 0.0  # no random samples unless a test asks for them
    db.session.commit()
    return world.pilot


def test_ingest_hook_stores_flags_with_kind_severity_and_detail(pilot):
    ok, failed, slow = make_interactions(pilot, [
        {}, {"status": "timeout", "output_text": "", "error_message": "no answer within 30 s"}, {"latency_ms": 5210.0},
    ])
    assert reasons_of(ok) == set()
    flag = db.session.scalar(sa.select(Flag).where(Flag.interaction_id == failed.id))
    assert (flag.kind, flag.reason, flag.severity, flag.status) == ("failure", "ai_error", "high", "open")
    assert flag.detail == "status timeout: no answer within 30 s"
    assert db.session.scalar(sa.select(Flag.detail).where(Flag.interaction_id == slow.id)) == \
        "latency 5,210 ms > 4,000 ms threshold"


def test_one_flag_per_interaction_and_reason(pilot):
    from pilot import flagging

    (row,) = make_interactions(pilot, [{"status": "error", "output_text": ""}])
    flagging.evaluate_new_interactions(db.session, pilot, [row])
    flagging.evaluate_new_interactions(db.session, pilot, [row])
    db.session.commit()
    assert db.session.scalar(sa.select(sa.func.count(Flag.id)).where(Flag.interaction_id == row.id)) == 1


def test_cost_outlier_uses_the_pilots_median(pilot):
    rows = make_interactions(pilot, [{"cost_usd": 0.001} for _ in range(24)] + [{"cost_usd": 0.004}, {"cost_usd": 0.02}])
    assert "cost_outlier" in reasons_of(rows[-1])
    assert "cost_outlier" not in reasons_of(rows[-2])  # 4× the median is under the default 5×


def test_cost_outlier_needs_enough_priced_interactions(pilot):
    rows = make_interactions(pilot, [{"cost_usd": 0.001}, {"cost_usd": 0.5}])
    assert "cost_outlier" not in reasons_of(rows[-1])


def test_usage_limit_counts_the_users_utc_day_across_batches(pilot):
    pilot.daily_request_limit = 3
    db.session.commit()
    day = START.replace(hour=10)
    first = make_interactions(pilot, [{"occurred_at": day + timedelta(minutes=n)} for n in range(2)])
    second = make_interactions(pilot, [{"occurred_at": day + timedelta(minutes=n)} for n in range(2, 5)]
                               + [{"occurred_at": day + timedelta(days=1)}, {"external_user_id": "user-2", "occurred_at": day}])
    flagged = [row for row in first + second if "usage_limit_exceeded" in reasons_of(row)]
    assert [row.occurred_at.minute for row in flagged] == [3, 4]
    detail = db.session.scalar(sa.select(Flag.detail).where(Flag.interaction_id == flagged[0].id))
    assert detail == f"request #4 of 'user-1' on {day.date()} (UTC) is over the daily limit of 3"


def test_usage_limit_off_without_a_limit(pilot):
    rows = make_interactions(pilot, [{} for _ in range(5)])
    assert not any("usage_limit_exceeded" in reasons_of(row) for row in rows)


def test_unenrolled_user_and_removed_members(pilot, world):
    world.other_participant_membership.status = "removed"
    db.session.commit()
    member, removed, stranger, anonymous = make_interactions(pilot, [
        {"external_user_id": "user-1"}, {"external_user_id": "user-2"}, {"external_user_id": "qa-shared"},
        {"external_user_id": None},
    ])
    assert "unenrolled_user" not in reasons_of(member)
    assert "unenrolled_user" in reasons_of(removed)
    assert "unenrolled_user" in reasons_of(stranger)
    assert "unenrolled_user" not in reasons_of(anonymous)


def test_unenrolled_user_knows_invited_members(pilot):
    db.session.add(Membership(pilot=pilot, external_id="invited-1", role="participant", status="invited"))
    db.session.commit()
    (row,) = make_interactions(pilot, [{"external_user_id": "invited-1"}])
    assert "unenrolled_user" not in reasons_of(row)


def test_unknown_model_from_the_price_table(pilot):
    known, unknown = make_interactions(pilot, [
        {"model": "claude-sonnet-4-6-20260301"}, {"model": "acme-finetune-v0", "cost_usd": None, "cost_source": "unknown"},
    ])
    assert "unknown_model" not in reasons_of(known)
    assert "unknown_model" in reasons_of(unknown)


def test_unanticipated_input_follows_scenario_edits(pilot, world):
    replace_scenarios(db.session, pilot, "How do I freeze my debit card?\nWhat is the daily transfer limit?", world.lead)
    db.session.commit()
    near, far = make_interactions(pilot, [{"input_text": "how do I freeze my debit card please"},
                                          {"input_text": "Is bitcoin a good investment right now?"}])
    assert "unanticipated_input" not in reasons_of(near)
    assert "unanticipated_input" in reasons_of(far)
    # Once the team anticipates it, new inputs like it are no longer flagged (the cache is refreshed).
    replace_scenarios(db.session, pilot, "How do I freeze my debit card?\nIs bitcoin a good investment?", world.lead)
    db.session.commit()
    (again,) = make_interactions(pilot, [{"input_text": "Is bitcoin a good investment right now?"}])
    assert "unanticipated_input" not in reasons_of(again)


def test_unanticipated_input_off_without_scenarios(pilot):
    (row,) = make_interactions(pilot, [{"input_text": "Is bitcoin a good investment right now?"}])
    assert "unanticipated_input" not in reasons_of(row)


def test_rule_settings_drive_the_rules(pilot, world):
    update_rule_settings(db.session, pilot, {"output_format": "json", "max_output_chars": "20",
                                             "long_input_chars": "10"}, world.lead)
    db.session.commit()
    (row,) = make_interactions(pilot, [{"input_text": "A rather long question", "output_text": "Plain text that is long"}])
    assert {"invalid_format", "length_out_of_range", "long_input"} <= reasons_of(row)


def test_bad_rule_settings_name_the_field_and_change_nothing(pilot, world):
    with pytest.raises(RuleSettingError) as error:
        update_rule_settings(db.session, pilot, {"output_format": "regex", "output_regex": "(unclosed"}, world.lead)
    assert error.value.field == "output_regex" and "not a valid regular expression" in str(error.value)
    with pytest.raises(RuleSettingError) as error:
        update_rule_settings(db.session, pilot, {"min_output_chars": "100", "max_output_chars": "10"}, world.lead)
    assert error.value.field == "min_output_chars"
    with pytest.raises(RuleSettingError, match="cost_outlier_factor"):
        update_rule_settings(db.session, pilot, {"cost_outlier_factor": "nan"}, world.lead)
    assert pilot.rule_settings == {}


def test_rule_settings_changes_are_audited(pilot, world):
    update_rule_settings(db.session, pilot, {"long_input_chars": "2000"}, world.lead)
    db.session.commit()
    event = db.session.scalar(sa.select(AuditEvent).where(AuditEvent.action == "flagging.settings"))
    assert event.before == {"long_input_chars": 4000} and event.after == {"long_input_chars": 2000}
    assert event.actor_id == world.lead.id


# --- feedback -----------------------------------------------------------------------------

def test_negative_feedback_flag_follows_the_rating(pilot, world):
    (row,) = make_interactions(pilot, [{}])
    record_feedback(db.session, pilot, row, thumbs="down", rating=None, comment="Wrong limit",
                    membership=world.participant_membership)
    db.session.commit()
    detail = db.session.scalar(sa.select(Flag.detail).where(Flag.interaction_id == row.id, Flag.reason == "negative_feedback"))
    assert detail == "thumbs down from 'user-1': “Wrong limit”"
    record_feedback(db.session, pilot, row, thumbs="up", rating=None, membership=world.participant_membership)
    db.session.commit()
    assert "negative_feedback" not in reasons_of(row)


@pytest.mark.parametrize("rating,flagged", [(1, True), (2, True), (3, False), (5, False)])
def test_negative_feedback_ratings(pilot, world, rating, flagged):
    (row,) = make_interactions(pilot, [{}])
    record_feedback(db.session, pilot, row, thumbs=None, rating=rating, membership=world.participant_membership)
    db.session.commit()
    assert ("negative_feedback" in reasons_of(row)) is flagged


def test_a_reviewed_negative_feedback_flag_survives_a_changed_rating(pilot, world):
    (row,) = make_interactions(pilot, [{}])
    record_feedback(db.session, pilot, row, thumbs="down", rating=None, membership=world.participant_membership)
    db.session.commit()
    flag = db.session.scalar(sa.select(Flag).where(Flag.interaction_id == row.id))
    review.confirm(db.session, flag, world.reviewer, category="hallucination", severity="high", note="wrong limit",
                   actor_is_lead=False)
    record_feedback(db.session, pilot, row, thumbs="up", rating=None, membership=world.participant_membership)
    db.session.commit()
    assert db.session.get(Flag, flag.id).status == "confirmed"


# --- re-flag ------------------------------------------------------------------------------

def test_reflag_is_idempotent(pilot):
    make_interactions(pilot, [{}, {"status": "error", "output_text": ""}, {"latency_ms": 9000.0}], flag=False)
    first = reflag(db.session, pilot)
    db.session.commit()
    before = flags_of(pilot)
    second = reflag(db.session, pilot)
    db.session.commit()
    assert first.added == 2
    assert (second.added, second.removed, second.refreshed) == (0, 0, 0)
    assert flags_of(pilot) == before


def test_reflag_matches_what_ingest_flagged(pilot):
    pilot.sampling_rate = 0.3
    pilot.daily_request_limit = 2
    db.session.commit()
    make_interactions(pilot, [{}, {"latency_ms": 9000.0}, {"output_text": "I can't help with that."}, {}, {}, {}])
    before = flags_of(pilot)
    result = reflag(db.session, pilot)
    db.session.commit()
    assert (result.added, result.removed) == (0, 0)
    assert flags_of(pilot) == before


def test_reflag_applies_new_settings_and_keeps_review_decisions(pilot, world):
    slow, slower, fine = make_interactions(pilot, [{"latency_ms": 5000.0}, {"latency_ms": 7000.0}, {"latency_ms": 3000.0}])
    confirmed = db.session.scalar(sa.select(Flag).where(Flag.interaction_id == slow.id))
    review.confirm(db.session, confirmed, world.reviewer, category="too_slow", severity="high", note="users wait",
                   actor_is_lead=False)
    db.session.commit()
    # Raise the threshold above both: the confirmed flag stays, the untouched one goes.
    pilot.abandon_ms = 8000.0
    result = run_reflag(db.session, pilot, actor=world.lead)
    db.session.commit()
    assert reasons_of(slow) == {"slow_response"} and reasons_of(slower) == set()
    kept = db.session.get(Flag, confirmed.id)
    assert (kept.status, kept.category, kept.note, kept.severity) == ("confirmed", "too_slow", "users wait", "high")
    assert (result.removed, result.kept_reviewed) == (1, 1)
    # Lower it below all three: the missing flags come back, the decision is still intact.
    pilot.abandon_ms = 2000.0
    result = run_reflag(db.session, pilot, actor=world.lead)
    db.session.commit()
    assert result.added == 2 and reasons_of(fine) == {"slow_response"}
    assert db.session.get(Flag, confirmed.id).detail == "latency 5,000 ms > 4,000 ms threshold"  # untouched
    assert db.session.scalar(sa.select(sa.func.count(AuditEvent.id)).where(AuditEvent.action == "flagging.reflag")) == 2


def test_reflag_refreshes_the_detail_of_untouched_flags(pilot):
    (row,) = make_interactions(pilot, [{"latency_ms": 5000.0}])
    pilot.abandon_ms = 4500.0
    result = reflag(db.session, pilot)
    db.session.commit()
    assert result.refreshed == 1
    assert db.session.scalar(sa.select(Flag.detail).where(Flag.interaction_id == row.id)) == \
        "latency 5,000 ms > 4,500 ms threshold"


def test_reflag_keeps_the_same_quality_sample(pilot):
    pilot.sampling_rate = 0.5
    db.session.commit()
    make_interactions(pilot, [{} for _ in range(40)])
    sampled = flags_of(pilot)
    assert 5 < len(sampled) < 35
    reflag(db.session, pilot)
    reflag(db.session, pilot)
    db.session.commit()
    assert flags_of(pilot) == sampled


def test_reflag_only_touches_its_pilot(pilot, world):
    world.other_pilot.sampling_rate = 0.0
    make_interactions(world.other_pilot, [{"latency_ms": 9000.0, "external_user_id": None}])
    pilot.abandon_ms = 1.0
    reflag(db.session, pilot)
    db.session.commit()
    other = flags_of(world.other_pilot)
    assert len(other) == 1
    world.other_pilot.abandon_ms = 100_000.0
    make_interactions(pilot, [{"latency_ms": 9000.0}])
    reflag(db.session, pilot)
    db.session.commit()
    assert flags_of(world.other_pilot) == other


def test_a_thousand_item_batch_takes_a_few_queries(pilot, world, app):
    pilot.daily_request_limit = 50
    replace_scenarios(db.session, pilot, "How do I freeze my card?", world.lead)
    db.session.commit()
    statements = []

    def count(conn, cursor, statement, *args):
        statements.append(statement)

    rows = make_interactions(pilot, [{"external_user_id": f"user-{n % 7}", "latency_ms": 100.0 * (n % 60)}
                                     for n in range(1000)], flag=False)
    # As in ingestion, the batch's objects are loaded (make_interactions committed, which expired them).
    rows = db.session.scalars(sa.select(Interaction).where(Interaction.pilot_id == pilot.id)).all()
    from pilot import flagging

    sa.event.listen(db.engine, "before_cursor_execute", count)
    try:
        flagging.evaluate_new_interactions(db.session, pilot, rows)
        db.session.flush()
    finally:
        sa.event.remove(db.engine, "before_cursor_execute", count)
    db.session.commit()
    assert len(statements) <= 12, statements
    assert db.session.scalar(sa.select(sa.func.count(Flag.id))) > 100


def test_cli_reflag(runner, pilot):
    make_interactions(pilot, [{"status": "error", "output_text": ""}], flag=False)
    result = runner.invoke(args=["pilot", "reflag", "alpha"])
    assert result.exit_code == 0, result.output
    assert "1 flags added" in result.output
    again = runner.invoke(args=["pilot", "reflag", "alpha"])
    assert "0 flags added, 0 removed, 0 refreshed" in again.output
    assert runner.invoke(args=["pilot", "reflag", "nope"]).exit_code == 1


def test_usage_limit_ranks_a_late_batch_among_the_users_whole_day(pilot):
    """A batch older than what is stored is ranked among all of the user's interactions that day
    (the rule counts the rows before the batch's earliest time, then ranks the rest): the same
    flags as when the day arrived in order, for the rows of the batch being evaluated."""
    pilot.daily_request_limit = 2
    db.session.commit()
    day = START.replace(hour=8)
    later = make_interactions(pilot, [{"occurred_at": day + timedelta(hours=n)} for n in (4, 5)])
    assert not any("usage_limit_exceeded" in reasons_of(row) for row in later)  # ranks 1 and 2 when they came
    earlier = make_interactions(pilot, [{"occurred_at": day + timedelta(hours=n)} for n in (1, 2, 3)]
                                + [{"occurred_at": day - timedelta(hours=9)}])  # the day before: rank 1 there
    assert [("usage_limit_exceeded" in reasons_of(row)) for row in earlier] == [False, False, True, False]
    detail = db.session.scalar(sa.select(Flag.detail).where(Flag.interaction_id == earlier[2].id))
    assert detail == f"request #3 of 'user-1' on {day.date()} (UTC) is over the daily limit of 2"


def test_usage_limit_counts_rows_stored_before_the_batch_on_its_first_day(pilot):
    """A batch across midnight: its first day counts the user's earlier rows of that day, the next day starts at 1."""
    pilot.daily_request_limit = 3
    db.session.commit()
    day = START.replace(hour=20)
    make_interactions(pilot, [{"occurred_at": day + timedelta(minutes=n)} for n in range(2)]
                      + [{"external_user_id": "user-2", "occurred_at": day}])
    batch = make_interactions(pilot, [{"occurred_at": day + timedelta(hours=3, minutes=n)} for n in range(2)]
                              + [{"occurred_at": day + timedelta(hours=5, minutes=n)} for n in range(4)])
    flagged = [row.occurred_at for row in batch if "usage_limit_exceeded" in reasons_of(row)]
    assert flagged == [day + timedelta(hours=3, minutes=1), day + timedelta(hours=5, minutes=3)]
