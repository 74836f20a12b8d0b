"""The team's side: all feedback with filters, report status back to the participant, screenshots
only for the reporter and the pilot's team."""
import io
from datetime import datetime

import pytest
import sqlalchemy as sa

from pilot.feedback.services import ReportError, set_report_status
from pilot.models import AuditEvent, Feedback, Report
from tests.participant_helpers import make_interaction, png_bytes, upload_dir  # noqa: F401

TEAM = "/pilots/alpha/feedback"


def _rate(db, world, interaction, membership, thumbs=None, rating=None, comment="", when=None):
    feedback = Feedback(pilot_id=world.pilot.id, interaction_id=interaction.id, membership_id=membership.id,
                        external_user_id=membership.external_id, thumbs=thumbs, rating=rating, comment=comment,
                        source="ui")
    if when:
        feedback.created_at = feedback.updated_at = when
    db.session.add(feedback)
    db.session.commit()
    return feedback


def _report(db, world, membership, **columns):
    report = Report(pilot_id=world.pilot.id, membership_id=membership.id, **{"kind": "problem", **columns})
    db.session.add(report)
    db.session.commit()
    return report


# --- Access -----------------------------------------------------------------------------------

def test_anonymous_is_sent_to_login(client, world):
    assert client.get(TEAM).headers["Location"].startswith("/login?next=")


@pytest.mark.parametrize("who", ["participant", "other_lead"])
def test_participants_and_other_pilots_are_forbidden(client_as, world, db, who):
    interaction = make_interaction(world.pilot, "e-1")
    report = _report(db, world, world.participant_membership, description="d")
    client = client_as(who)
    assert client.get(TEAM).status_code == 403
    assert client.get(f"{TEAM}/interactions/{interaction.id}").status_code == 403
    assert client.post(f"/pilots/alpha/reports/{report.id}/status", data={"status": "fixed"}).status_code == 403


@pytest.mark.parametrize("who", ["reviewer", "lead", "admin"])
def test_team_sees_the_page_and_the_nav_link(client_as, world, who):
    html = client_as(who).get(TEAM).get_data(as_text=True)
    assert "<h1>Feedback</h1>" in html
    assert 'href="/pilots/alpha/feedback"' in html  # base.html's nav link now shows


def test_interaction_of_another_pilot_is_404(client_as, world):
    beta = make_interaction(world.other_pilot, "beta-1")
    assert client_as("lead").get(f"{TEAM}/interactions/{beta.id}").status_code == 404


# --- Lists and filters ----------------------------------------------------------------------

def test_everything_is_listed_and_negative_feedback_links_to_its_interaction(client_as, world, db):
    bad = make_interaction(world.pilot, "e-bad", question="What is my card limit?")
    good = make_interaction(world.pilot, "e-good", user="user-2", question="Opening hours?")
    _rate(db, world, bad, world.participant_membership, thumbs="down", comment="Wrong <b>limit</b>")
    _rate(db, world, good, world.other_participant_membership, thumbs="up", rating=5)
    _report(db, world, world.participant_membership, problem_type="wrong_answer", interaction_id=bad.id,
            description="It said €5,000")
    _report(db, world, world.other_participant_membership, kind="idea", description="Show my transactions")
    html = client_as("reviewer").get(TEAM).get_data(as_text=True)
    assert f'href="/pilots/alpha/feedback/interactions/{bad.id}" class="negative-link"' in html
    assert "Wrong &lt;b&gt;limit&lt;/b&gt;" in html
    assert "It said €5,000" in html and "Show my transactions" in html
    detail = client_as("reviewer").get(f"{TEAM}/interactions/{bad.id}").get_data(as_text=True)
    assert "What is my card limit?" in detail and "It said €5,000" in detail and "Wrong &lt;b&gt;limit" in detail


def test_filters(client_as, world, db):
    one = make_interaction(world.pilot, "e-1", question="Q one")
    two = make_interaction(world.pilot, "e-2", user="user-2", question="Q two")
    _rate(db, world, one, world.participant_membership, thumbs="down", rating=1, comment="c-neg",
          when=datetime(2026, 5, 1, 12))
    _rate(db, world, two, world.other_participant_membership, thumbs="up", rating=4, comment="c-pos",
          when=datetime(2026, 5, 3, 12))
    _report(db, world, world.participant_membership, kind="praise", description="r-praise")
    _report(db, world, world.other_participant_membership, problem_type="too_slow", description="r-slow",
            status="acknowledged")
    lead = client_as("lead")

    def shown(query):
        html = lead.get(f"{TEAM}?{query}").get_data(as_text=True)
        return {marker for marker in ("c-neg", "c-pos", "r-praise", "r-slow") if marker in html}

    assert shown("") == {"c-neg", "c-pos", "r-praise", "r-slow"}
    assert shown("type=negative") == {"c-neg"}
    assert shown("type=positive") == {"c-pos"}
    assert shown("type=praise") == {"r-praise"}
    assert shown("type=problem") == {"r-slow"}
    assert shown("rating=4") == {"c-pos"}
    assert shown(f"participant={world.participant_membership.id}") == {"c-neg", "r-praise"}
    assert shown("status=acknowledged") == {"r-slow"}
    assert shown("date_from=2026-05-02&type=positive") == {"c-pos"}
    assert shown("date_to=2026-05-02&type=negative") == {"c-neg"}
    assert shown("date_to=2026-05-02&type=positive") == set()


@pytest.mark.parametrize("query,message", [
    ("rating=9", "rating: choose 1 to 5"), ("type=<script>", "type: choose"),
    ("date_from=yesterday", "date from: use a date like"), ("participant=abc", "participant: choose"),
    ("status=done", "status: choose"),
])
def test_bad_filters_are_named_not_crashes(client_as, world, query, message):
    response = client_as("lead").get(f"{TEAM}?{query}")
    assert response.status_code == 200
    assert message in response.get_data(as_text=True)
    assert "<script>" not in response.get_data(as_text=True)


def test_ratings_are_paginated(client_as, world, db):
    for n in range(30):
        interaction = make_interaction(world.pilot, f"e-{n}")
        _rate(db, world, interaction, world.participant_membership, thumbs="up", comment=f"comment-{n:02d}",
              when=datetime(2026, 5, 1, 0, n))
    lead = client_as("lead")
    first = lead.get(f"{TEAM}?type=positive").get_data(as_text=True)
    assert "comment-29" in first and "comment-04" not in first and "Page 1 of 2" in first
    second = lead.get(f"{TEAM}?type=positive&ratings_page=2").get_data(as_text=True)
    assert "comment-04" in second and "comment-29" not in second


# --- Status back to the participant -----------------------------------------------------------

def test_team_acknowledges_and_the_participant_sees_it(client_as, world, db):
    report = _report(db, world, world.participant_membership, problem_type="too_slow", description="slow!")
    response = client_as("reviewer").post(f"/pilots/alpha/reports/{report.id}/status",
                                          data={"status": "acknowledged", "note": "Looking into it", "back": TEAM})
    assert response.status_code == 302 and response.headers["Location"].endswith(f"{TEAM}#r-{report.id}")
    db.session.refresh(report)
    assert (report.status, report.team_note) == ("acknowledged", "Looking into it")
    event = db.session.scalar(sa.select(AuditEvent).where(AuditEvent.action == "report.status"))
    assert event.before == {"status": "new", "team_note": ""}
    assert event.after == {"status": "acknowledged", "team_note": "Looking into it"}
    assert event.actor_id == world.reviewer.id
    html = client_as("participant").get("/pilots/alpha/me").get_data(as_text=True)
    assert "badge acknowledged" in html and "Looking into it" in html


def test_status_back_link_cannot_leave_the_pilot(client_as, world, db):
    report = _report(db, world, world.participant_membership, description="x")
    response = client_as("lead").post(f"/pilots/alpha/reports/{report.id}/status",
                                      data={"status": "fixed", "back": "https://evil.example/"})
    assert response.headers["Location"] == f"{TEAM}#r-{report.id}"


@pytest.mark.parametrize("data,message", [
    ({"status": "done"}, "status: choose new, acknowledged, fixed, wont_fix"),
    ({"status": "fixed", "note": "n" * 2001}, "note: at most 2,000 characters"),
])
def test_bad_status_changes_are_explained(client_as, world, db, data, message):
    report = _report(db, world, world.participant_membership, description="x")
    response = client_as("lead").post(f"/pilots/alpha/reports/{report.id}/status", data=data, follow_redirects=True)
    assert message in response.get_data(as_text=True)
    db.session.refresh(report)
    assert report.status == "new"


def test_another_pilots_report_cannot_be_changed(client_as, world, db):
    report = Report(pilot_id=world.other_pilot.id, kind="idea", description="beta idea")
    db.session.add(report)
    db.session.commit()
    assert client_as("lead").post(f"/pilots/alpha/reports/{report.id}/status", data={"status": "fixed"}).status_code == 404
    with pytest.raises(ReportError, match="not found"):
        set_report_status(db.session, world.pilot, report.id, "fixed", "", actor=None)


# --- Screenshots ----------------------------------------------------------------------------

@pytest.fixture()
def report_with_screenshot(client_as, world, db, upload_dir):
    response = client_as("participant").post("/pilots/alpha/me/report", content_type="multipart/form-data", data={
        "problem_type": "other", "description": "look", "screenshot": (io.BytesIO(png_bytes()), "../../etc/passwd.png")})
    assert response.status_code == 302
    return db.session.scalar(sa.select(Report))


@pytest.mark.parametrize("who", ["participant", "reviewer", "lead", "admin"])
def test_screenshot_is_served_to_reporter_and_team(client_as, report_with_screenshot, who):
    response = client_as(who).get(f"/pilots/alpha/reports/{report_with_screenshot.id}/screenshot")
    assert response.status_code == 200
    assert response.data == png_bytes()
    assert response.headers["Content-Type"] == "image/png"
    assert response.headers["X-Content-Type-Options"] == "nosniff"
    assert response.headers["Content-Disposition"] == f"inline; filename=report-{report_with_screenshot.id}.png"
    assert "no-store" in response.headers["Cache-Control"]


def test_screenshot_is_hidden_from_everyone_else(client, client_as, world, report_with_screenshot):
    path = f"/pilots/alpha/reports/{report_with_screenshot.id}/screenshot"
    assert client_as("other_participant").get(path).status_code == 404
    assert client_as("other_lead").get(path).status_code == 403
    assert client_as("other_lead").get(f"/pilots/beta/reports/{report_with_screenshot.id}/screenshot").status_code == 404
    assert client.get(path).status_code == 302  # anonymous → login
    # The stored file is not under the static folder, so no URL serves it without these checks.
    assert client.get(f"/static/{report_with_screenshot.screenshot_path}").status_code == 404


def test_a_tampered_stored_path_cannot_escape_the_upload_folder(client_as, world, db, report_with_screenshot):
    report_with_screenshot.screenshot_path = "../../../../etc/passwd"
    db.session.commit()
    assert client_as("lead").get(f"/pilots/alpha/reports/{report_with_screenshot.id}/screenshot").status_code == 404


def test_summary_cards_count_by_design_md(client_as, world, db):
    one = make_interaction(world.pilot, "e-1")
    two = make_interaction(world.pilot, "e-2", user="user-2")
    _rate(db, world, one, world.participant_membership, thumbs="down", rating=1)
    _rate(db, world, two, world.other_participant_membership, rating=4)
    _report(db, world, world.participant_membership, description="x")
    _report(db, world, world.participant_membership, description="y", status="fixed")
    from pilot.feedback.team import summary

    numbers = summary(db.session, world.pilot)
    assert (numbers.ratings, numbers.positive, numbers.negative, numbers.mean_rating) == (2, 1, 1, 2.5)
    assert numbers.reports_by_status == {"new": 1, "acknowledged": 0, "fixed": 1, "wont_fix": 0}
