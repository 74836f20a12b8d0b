"""Decision integrity: quorum sign-off, exemptions, attestations against measurements, review
coverage that ignores bulk decisions, participant reports in the review queue."""
from __future__ import annotations

import re
from datetime import timedelta

import pytest
import sqlalchemy as sa

from pilot.feedback.services import create_report
from pilot.flagging.engine import reflag
from pilot.models import AuditEvent, Flag, ReadinessSignature
from pilot.models.base import utcnow
from pilot.pilots.services import update_settings
from pilot.pilots.settings import SettingError
from pilot.readiness import build_report
from pilot.readiness.attestations import AttestationError, attest
from pilot.readiness.snapshots import (
    NotAllowedToSign,
    SnapshotError,
    create_snapshot,
    required_signers,
    sign_snapshot,
    snapshot_json,
)
from pilot.review import services as review
from tests.factories import add_member, make_user
from tests.readiness_data import add_interaction
from tests.test_readiness_snapshots import make_ready

TODAY = utcnow().date()


@pytest.fixture()
def two_leads(db, world):
    """The world's pilot with a second lead, ready to sign."""
    second = make_user("second-lead@example.com", name="Second Lead")
    add_member(world.pilot, second, "lead", external_id="second-lead")
    make_ready(db, world.pilot, world.lead)
    return second


# ---- quorum -------------------------------------------------------------------------------

def test_required_signers_defaults_to_two_with_two_leads(db, world, two_leads):
    assert required_signers(db.session, world.other_pilot) == 1
    assert required_signers(db.session, world.pilot) == 2
    world.pilot.required_signers = 1  # set while the pilot had one lead: two leads still need two signatures
    assert required_signers(db.session, world.pilot) == 2
    world.pilot.required_signers = 3
    assert required_signers(db.session, world.pilot) == 3


def test_one_of_two_leads_cannot_lower_the_quorum_to_sign_alone(db, world, two_leads):
    with pytest.raises(SettingError, match="at least 2 while the pilot has two or more leads"):
        update_settings(db.session, world.pilot, {"required_signers": "1"}, actor=world.lead)
    assert world.pilot.required_signers is None
    update_settings(db.session, world.other_pilot, {"required_signers": "1"}, actor=world.lead)  # one lead: allowed
    assert world.other_pilot.required_signers == 1


def test_go_needs_two_distinct_leads_and_each_signature_is_audited(db, world, two_leads):
    snapshot = create_snapshot(db.session, world.pilot, world.lead)
    sign_snapshot(db.session, world.pilot, snapshot, world.lead, "looks right")
    db.session.commit()
    served = snapshot_json(snapshot)
    assert served["verdict"] == "incomplete" and snapshot.signed_at is None
    waiting = [r for r in served["verdict_reasons"] if r["kind"] == "unsigned"][0]["message"]
    assert "1 of 2 lead signatures" in waiting and "Second Lead" in waiting  # the first signer sees who else
    assert served["sign_off"]["complete"] is False and len(served["sign_off"]["signatures"]) == 1

    with pytest.raises(SnapshotError, match="already signed"):  # one lead signing twice
        sign_snapshot(db.session, world.pilot, snapshot, world.lead, "again")
    sign_snapshot(db.session, world.pilot, snapshot, two_leads, "agreed")
    db.session.commit()
    served = snapshot_json(snapshot)
    assert served["verdict"] == "go" and snapshot.verdict == "go" and served["sign_off"]["complete"] is True
    assert [s["signed_by"] for s in served["sign_off"]["signatures"]] == ["lead", "Second Lead"]
    events = db.session.scalars(sa.select(AuditEvent).where(AuditEvent.action == "readiness.sign")
                                .order_by(AuditEvent.id)).all()
    assert [(e.actor_id, e.after["signatures"], e.after["complete"]) for e in events] == [
        (world.lead.id, 1, False), (two_leads.id, 2, True)]
    with pytest.raises(SnapshotError, match="already signed by lead, Second Lead"):
        sign_snapshot(db.session, world.pilot, snapshot, two_leads, "third time")


def test_admin_who_is_not_a_lead_cannot_sign(db, world):
    make_ready(db, world.pilot, world.lead)
    snapshot = create_snapshot(db.session, world.pilot, world.lead)
    for outsider in (world.admin, world.reviewer, world.participant, world.other_lead):
        with pytest.raises(NotAllowedToSign):
            sign_snapshot(db.session, world.pilot, snapshot, outsider, "")
    assert db.session.scalar(sa.select(sa.func.count(ReadinessSignature.id))) == 0
    add_member(world.pilot, world.admin, "lead", external_id="admin-as-lead")
    sign_snapshot(db.session, world.pilot, snapshot, world.admin, "as a lead of this pilot")
    assert snapshot.signed_at is not None


def test_sign_route_denies_admin_non_lead_and_reviewer(db, world, client_as):
    make_ready(db, world.pilot, world.lead)
    create_snapshot(db.session, world.pilot, world.lead)
    db.session.commit()
    assert client_as("admin").post("/pilots/alpha/readiness/reports/1/sign", data={"note": "x"}).status_code == 403
    assert client_as("reviewer").post("/pilots/alpha/readiness/reports/1/sign", data={"note": "x"}).status_code == 403
    assert client_as("participant").post("/pilots/alpha/readiness/reports/1/sign").status_code == 403
    assert db.session.scalar(sa.select(sa.func.count(ReadinessSignature.id))) == 0


def test_page_after_signing_shows_the_signed_verdict_and_why_live_is_unsigned(db, world, two_leads, client_as):
    lead = client_as("lead")
    lead.post("/pilots/alpha/readiness/reports")
    response = lead.post("/pilots/alpha/readiness/reports/1/sign", data={"note": "ok"}, follow_redirects=True)
    page = response.get_data(as_text=True)
    assert "1 of 2 signatures" in page and "Still to sign: Second Lead" in page
    assert "live report below stays unsigned by design" in page


def test_live_reasons_point_at_the_signed_snapshot_instead_of_saying_nobody_signed(db, world, client_as):
    """A pilot with blockers, its report signed anyway (signatures record acceptance, the verdict
    stays): the live reasons keep their blockers but no longer say that no lead has signed."""
    lead = client_as("lead")
    assert "No lead has signed" in lead.get("/pilots/alpha/readiness").get_data(as_text=True)
    lead.post("/pilots/alpha/readiness/reports")
    page = lead.post("/pilots/alpha/readiness/reports/1/sign", data={"note": "ok"},
                     follow_redirects=True).get_data(as_text=True)
    live = page.split('id="signed-verdict"', 1)[1].split("</section>", 1)[1]  # the live report's part
    assert "No lead has signed" not in live
    assert 'the decision on record is <a href="#signed-verdict">report #1</a> above' in live


def test_required_signers_setting_is_validated(db, world):
    update_settings(db.session, world.pilot, {"required_signers": "3"}, actor=world.lead)
    assert world.pilot.required_signers == 3
    update_settings(db.session, world.pilot, {"required_signers": ""}, actor=world.lead)
    assert world.pilot.required_signers is None
    for bad in ("0", "21", "two", "1e9"):
        with pytest.raises(SettingError, match="required_signers"):
            update_settings(db.session, world.pilot, {"required_signers": bad}, actor=world.lead)
    with pytest.raises(SettingError, match="max_exemption_days"):
        update_settings(db.session, world.pilot, {"max_exemption_days": "400"}, actor=world.lead)


def test_cli_sets_required_signers(app, db, world):
    runner = app.test_cli_runner()
    result = runner.invoke(args=["pilot", "settings", "alpha", "required_signers=2"])
    assert result.exit_code == 0, result.output
    db.session.expire_all()
    assert world.pilot.required_signers == 2
    result = runner.invoke(args=["pilot", "settings", "alpha", "required_signers=-1"])
    assert result.exit_code != 0 and "required_signers" in result.output


# ---- exemptions ---------------------------------------------------------------------------

def _exempt(db, world, **overrides):
    values = dict(key="scaling.rollback", status="fail", note="Rollback drill booked for launch week",
                  owner="Platform team", exempt_until=TODAY + timedelta(days=7), today=TODAY)
    values.update(overrides)
    return attest(db.session, world.pilot, world.lead, **values)


@pytest.mark.parametrize("overrides,field,message", [
    ({"note": "x"}, "note", "at least 20 characters"),
    ({"note": "   short reason      "}, "note", "at least 20 characters"),
    ({"owner": "", "link": ""}, "owner", "evidence link or an owner"),
    ({"exempt_until": TODAY + timedelta(days=31)}, "exempt_until", "within 30 days"),
    ({"exempt_until": TODAY - timedelta(days=1)}, "exempt_until", "today or later"),
    ({"owner": "o" * 201}, "owner", "at most 200"),
])
def test_bad_exemptions_are_refused(db, world, overrides, field, message):
    with pytest.raises(AttestationError, match=message) as error:
        _exempt(db, world, **overrides)
    assert error.value.field == field


def test_exemption_limit_is_per_pilot_and_a_link_can_replace_the_owner(db, world):
    world.pilot.max_exemption_days = 10
    with pytest.raises(AttestationError, match="within 10 days"):
        _exempt(db, world, exempt_until=TODAY + timedelta(days=11))
    row = _exempt(db, world, owner="", link="https://tracker.example/ROLL-1", exempt_until=TODAY + timedelta(days=10))
    assert row.link and row.owner == ""


def test_exemptions_are_listed_in_every_format_with_who_why_until(db, world):
    from pilot.readiness.exports import render_report

    _exempt(db, world)
    db.session.commit()
    report = build_report(db.session, world.pilot)
    [exemption] = report["exemptions"]
    assert exemption["granted_by"] == "lead" and exemption["owner"] == "Platform team"
    assert exemption["reason"] == "Rollback drill booked for launch week"
    assert exemption["until"] == (TODAY + timedelta(days=7)).isoformat()
    html = render_report(report, "html").decode()
    first_page = html[:html.index("checklist") if "checklist" in html else len(html)]
    assert "Rollback drill booked for launch week" in html and "Platform team" in html
    assert "exemption" in first_page.lower()


def test_a_go_with_exemptions_says_so(db, world):
    make_ready(db, world.pilot, world.lead)
    _exempt(db, world)
    db.session.commit()
    snapshot = create_snapshot(db.session, world.pilot, world.lead)
    sign_snapshot(db.session, world.pilot, snapshot, world.lead, "")
    assert snapshot_json(snapshot)["verdict_label"] == "go with 1 exemption"


# ---- attestations against measurements ----------------------------------------------------

def test_attesting_pass_on_a_measured_fail_is_refused(db, world):
    report = build_report(db.session, world.pilot)
    measured = next(i for i in report["checklist"] if i["key"] == "monitoring.cost_alerts")
    assert measured["auto_status"] == "fail"  # no cost alert rule
    for status in ("pass", "warn"):
        with pytest.raises(AttestationError, match="exempt the item") as error:
            attest(db.session, world.pilot, world.lead, key="monitoring.cost_alerts", status=status,
                   note="we have alerts", measured_status="fail", today=TODAY)
        assert error.value.field == "status"
    attest(db.session, world.pilot, world.lead, key="monitoring.cost_alerts", status="fail",
           note="agreed, still missing", measured_status="fail", today=TODAY)
    attest(db.session, world.pilot, world.lead, key="scaling.stateless", status="pass",
           note="state in PostgreSQL", measured_status="unknown", today=TODAY)


def test_refused_attestation_keeps_what_was_typed_next_to_the_field(db, world, client_as):
    response = client_as("lead").post("/pilots/alpha/readiness/attest", data={
        "key": "monitoring.cost_alerts", "status": "pass", "note": "Budget <b>alerts</b> in the console",
        "link": "https://console.example/budgets", "owner": "Finance"})
    page = response.get_data(as_text=True)
    assert response.status_code == 422
    assert 'id="error-status-monitoring.cost_alerts"' in page and "exempt the item" in page
    assert "Budget &lt;b&gt;alerts&lt;/b&gt; in the console</textarea>" in page
    assert 'value="https://console.example/budgets"' in page and 'value="Finance"' in page
    assert '<option value="pass" selected>' in page


# ---- review coverage -----------------------------------------------------------------------

def _high_flags(db, world, count):
    flags = []
    for n in range(count):
        interaction = add_interaction(db, world.pilot, f"ev-{n}")
        db.session.flush()
        flag = Flag(pilot_id=world.pilot.id, interaction_id=interaction.id, kind="failure", reason="ai_error",
                    severity="high")
        db.session.add(flag)
        flags.append(flag)
    db.session.commit()
    return flags


def test_bulk_decisions_do_not_count_as_reviews(db, world):
    flags = _high_flags(db, world, 4)
    review.bulk(db.session, world.pilot, [f.id for f in flags[:3]], "dismiss", world.reviewer, actor_is_lead=False)
    review.confirm(db.session, flags[3], world.reviewer, category="other", actor_is_lead=False)
    db.session.commit()
    assert [f.decided_in_bulk for f in flags] == [True, True, True, False]
    item = next(i for i in build_report(db.session, world.pilot)["checklist"] if i["key"] == "reliability.human_review")
    assert item["auto_status"] == "fail"
    assert "1 of 4 high-severity flags reviewed individually" in item["evidence"]
    assert "3 more closed in a bulk action" in item["evidence"]
    bulk_event = db.session.scalar(sa.select(AuditEvent).where(AuditEvent.action == "flag.dismiss")
                                   .order_by(AuditEvent.id))
    assert bulk_event.after["in_bulk"] is True
    review.reopen(db.session, flags[0], world.reviewer, actor_is_lead=False)
    review.dismiss(db.session, flags[0], world.reviewer, actor_is_lead=False)
    assert flags[0].decided_in_bulk is False


# ---- participant reports ------------------------------------------------------------------

def test_harmful_report_about_an_interaction_flags_it_high(db, world):
    interaction = add_interaction(db, world.pilot, "ev-harm")
    report = create_report(db.session, world.pilot, world.participant_membership, kind="problem",
                           problem_type="harmful", description="It told me to mix bleach and ammonia",
                           interaction=interaction)
    db.session.commit()
    flag = db.session.scalar(sa.select(Flag).where(Flag.reason == "participant_report"))
    assert flag.severity == "high" and flag.report_id == report.id and flag.status == "open"
    assert "bleach" in flag.detail
    reflag(db.session, world.pilot)  # the rules never produce it, and a re-flag keeps it
    db.session.commit()
    assert db.session.get(Flag, flag.id) is not None


def test_any_report_about_an_interaction_flags_it_and_a_new_one_reopens(db, world):
    interaction = add_interaction(db, world.pilot, "ev-wrong")
    create_report(db.session, world.pilot, world.participant_membership, kind="problem", problem_type="wrong_answer",
                  description="Wrong opening hours", interaction=interaction)
    flag = db.session.scalar(sa.select(Flag).where(Flag.reason == "participant_report"))
    assert flag.severity == "medium"
    review.dismiss(db.session, flag, world.reviewer, actor_is_lead=False)
    second = create_report(db.session, world.pilot, world.other_participant_membership, kind="problem",
                           problem_type="harmful", description="Also unsafe advice", interaction=interaction)
    assert flag.status == "open" and flag.severity == "high" and flag.report_id == second.id
    assert db.session.scalar(sa.select(sa.func.count(Flag.id)).where(Flag.reason == "participant_report")) == 1


def test_general_feedback_and_reports_without_interaction_make_no_flag(db, world):
    create_report(db.session, world.pilot, world.participant_membership, kind="idea", description="Dark mode")
    create_report(db.session, world.pilot, world.participant_membership, kind="problem", problem_type="too_slow",
                  description="Slow today")
    assert db.session.scalar(sa.select(sa.func.count(Flag.id))) == 0


def test_flag_detail_links_to_the_report_and_participants_cannot_see_it(db, world, client_as):
    interaction = add_interaction(db, world.pilot, "ev-link")
    report = create_report(db.session, world.pilot, world.participant_membership, kind="problem",
                           problem_type="harmful", description="Unsafe <script>x</script>", interaction=interaction)
    db.session.commit()
    flag = db.session.scalar(sa.select(Flag).where(Flag.reason == "participant_report"))
    page = client_as("reviewer").get(f"/pilots/alpha/review/{flag.id}").get_data(as_text=True)
    assert f"Participant report #{report.id}" in page and f"#r-{report.id}" in page
    assert re.search(r'<option (selected )?value="unsafe"( selected)?>', page).group(0) != '<option value="unsafe">'
    assert "<script>x</script>" not in page
    assert client_as("participant").get(f"/pilots/alpha/review/{flag.id}").status_code == 403


# ---- overview and pilot list ----------------------------------------------------------------

def test_overview_and_pilot_list_show_the_newest_report_decision(db, world, two_leads, client_as):
    overview = client_as("lead").get("/pilots/alpha").get_data(as_text=True)
    assert "Launch decision:" in overview and "No report yet" in overview
    snapshot = create_snapshot(db.session, world.pilot, world.lead)
    sign_snapshot(db.session, world.pilot, snapshot, world.lead, "")
    db.session.commit()
    overview = client_as("reviewer").get("/pilots/alpha").get_data(as_text=True)
    assert "report #1" in overview and "1 of 2 signatures, waiting for Second Lead" in overview
    assert "incomplete" in overview
    sign_snapshot(db.session, world.pilot, snapshot, two_leads, "")
    db.session.commit()
    listing = client_as("lead").get("/").get_data(as_text=True)
    assert "Launch decision" in listing and "signed by lead, Second Lead" in listing
    participant_list = client_as("participant").get("/").get_data(as_text=True)
    assert "signed by" not in participant_list and "report #1" not in participant_list
    assert client_as("participant").get("/pilots/alpha").status_code in (302, 403)
