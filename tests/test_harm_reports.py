"""Reports of harm that point at no interaction (issue 10): no flag can carry them (a flag is about
one interaction), so the review queue lists them apart, counts them as open and high, and lets the
team mark them handled through the report's own status, audited. Participants never see the list."""
from __future__ import annotations

import sqlalchemy as sa

from pilot.access import may_handle_report, may_see_unlinked_reports
from pilot.feedback.services import create_report
from pilot.models import AuditEvent, Flag, Report
from pilot.review.queue import queue_counts, unlinked_harm_reports
from tests.readiness_data import add_interaction

QUEUE = "/pilots/alpha/review"
HOSTILE = "It said <script>alert(1)</script> & told me to hurt myself"


def _harm_report(db, world, *, description=HOSTILE, problem_type="harmful", interaction=None, screenshot=False):
    report = create_report(db.session, world.pilot, world.participant_membership, kind="problem",
                           problem_type=problem_type, description=description, interaction=interaction,
                           screenshot_path="shot.png" if screenshot else None,
                           screenshot_mime="image/png" if screenshot else None)
    db.session.commit()
    return report


def test_a_harm_report_without_an_interaction_is_listed_in_the_queue(db, world, client_as):
    report = _harm_report(db, world, screenshot=True)
    _harm_report(db, world, problem_type="too_slow", description="Slow this morning")  # not harm: not listed
    linked = _harm_report(db, world, description="Unsafe advice here", interaction=add_interaction(db, world.pilot, "ev"))
    assert db.session.scalar(sa.select(sa.func.count(Flag.id))) == 1  # only the linked one is a flag

    assert [r.id for r, _ in unlinked_harm_reports(db.session, world.pilot)] == [report.id]
    assert linked.id not in [r.id for r, _ in unlinked_harm_reports(db.session, world.pilot)]
    for who in ("reviewer", "lead"):
        response = client_as(who).get(QUEUE)
        page = response.get_data(as_text=True)
        assert response.status_code == 200
        panel = page[page.index('id="harm-reports"'):page.index("</section>", page.index('id="harm-reports"'))]
        assert "Reports of harm not tied to an interaction" in panel
        assert "user-1" in panel and "Harmful or unsafe" in panel and f"#{report.id}" in panel
        assert "&lt;script&gt;alert(1)&lt;/script&gt; &amp; told me" in panel and "<script>alert(1)" not in page
        assert f"/pilots/alpha/reports/{report.id}/screenshot" in panel
        assert f"/pilots/alpha/feedback?type=problem&amp;status=new#r-{report.id}" in panel
        assert "Mark handled" in panel and "Slow this morning" not in panel


def test_the_open_count_includes_them_as_high(db, world, client_as):
    _harm_report(db, world)
    counts = queue_counts(db.session, world.pilot)
    assert counts["harm_reports"] == 1
    assert counts["open_by_severity"]["high"] == 1 and counts["status"]["open"] == 1
    page = client_as("reviewer").get(QUEUE).get_data(as_text=True)
    high_card = page[page.index("Open · high"):page.index("Open · medium")]
    assert '<div class="value">1</div>' in high_card and "1 report(s) of harm without an interaction" in high_card


def test_marking_one_handled_answers_the_participant_is_audited_and_empties_the_panel(db, world, client_as):
    report = _harm_report(db, world)
    response = client_as("reviewer").post(f"/pilots/alpha/reports/{report.id}/status", data={
        "status": "acknowledged", "note": "We are looking into it.", "back": QUEUE})
    assert response.status_code == 302 and response.headers["Location"].endswith(f"{QUEUE}#r-{report.id}")
    db.session.expire_all()
    report = db.session.get(Report, report.id)
    assert (report.status, report.team_note) == ("acknowledged", "We are looking into it.")
    event = db.session.scalar(sa.select(AuditEvent).where(AuditEvent.action == "report.status"))
    assert event.actor_id == world.reviewer.id and event.target_id == str(report.id)
    assert (event.before["status"], event.after["status"]) == ("new", "acknowledged")
    assert unlinked_harm_reports(db.session, world.pilot) == []
    assert queue_counts(db.session, world.pilot)["harm_reports"] == 0
    page = client_as("lead").get(QUEUE).get_data(as_text=True)
    assert 'id="harm-reports"' not in page


def test_a_bad_status_is_refused_with_the_field_named(db, world, client_as):
    report = _harm_report(db, world)
    client = client_as("reviewer")
    response = client.post(f"/pilots/alpha/reports/{report.id}/status", data={"status": "done", "back": QUEUE})
    assert response.status_code == 302
    assert "Not saved: status: choose" in client.get(QUEUE).get_data(as_text=True)
    db.session.expire_all()
    assert db.session.get(Report, report.id).status == "new"


def test_participants_can_neither_see_nor_handle_them(db, world, client_as):
    report = _harm_report(db, world)
    participant = client_as("participant")
    assert participant.get(QUEUE).status_code == 403
    response = participant.post(f"/pilots/alpha/reports/{report.id}/status", data={"status": "fixed", "back": QUEUE})
    assert response.status_code == 403
    db.session.expire_all()
    assert db.session.get(Report, report.id).status == "new"
    assert not may_see_unlinked_reports(world.participant, world.pilot)
    assert not may_handle_report(world.participant, report, world.pilot)
    assert may_see_unlinked_reports(world.reviewer, world.pilot) and may_handle_report(world.reviewer, report, world.pilot)
    assert not may_handle_report(world.other_lead, report, world.other_pilot)  # another pilot's team
    assert client_as("other_lead").get(QUEUE).status_code == 403


def test_another_pilots_reports_stay_out_of_the_panel(db, world):
    _harm_report(db, world)
    assert unlinked_harm_reports(db.session, world.other_pilot) == []
    assert queue_counts(db.session, world.other_pilot)["harm_reports"] == 0
