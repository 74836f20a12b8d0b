"""The participant's own page: only their data, ratings, problem reports, general feedback."""
import io
import re

import pytest
import sqlalchemy as sa

from pilot.models import Feedback, Report
from tests.participant_helpers import JPEG_HEAD, WEBP_HEAD, make_interaction, png_bytes, upload_dir  # noqa: F401

ME = "/pilots/alpha/me"


# --- Access ----------------------------------------------------------------------------------

@pytest.mark.parametrize("path", [ME, f"{ME}/report", f"{ME}/feedback", f"{ME}/export.json", f"{ME}/leave"])
def test_anonymous_is_sent_to_login(client, world, path):
    response = client.get(path)
    assert response.status_code == 302
    assert response.headers["Location"].startswith("/login?next=")


@pytest.mark.parametrize("path", [ME, f"{ME}/report", f"{ME}/export.json"])
def test_lead_of_another_pilot_is_forbidden(client_as, path):
    assert client_as("other_lead").get(path).status_code == 403


def test_unknown_pilot_is_404(client_as):
    assert client_as("participant").get("/pilots/nope/me").status_code == 404


def test_landing_sends_participants_to_their_page(client_as):
    response = client_as("participant").get("/pilots/alpha/start")
    assert response.status_code == 302 and response.headers["Location"].endswith("/pilots/alpha/me")


def test_admin_without_membership_sees_an_empty_page_and_cannot_rate(client_as, world):
    interaction = make_interaction(world.pilot, "e-1")
    admin = client_as("admin")
    page = admin.get(ME)
    assert page.status_code == 200
    assert "not a participant" in page.get_data(as_text=True)
    assert admin.post(f"{ME}/interactions/{interaction.id}/rating", data={"thumbs": "up"}).status_code == 403
    assert admin.get(f"{ME}/export.json").status_code == 403


# --- Only their own interactions ----------------------------------------------------------------

def test_home_lists_only_own_interactions_newest_first(client_as, world):
    make_interaction(world.pilot, "mine-old", question="older question", minutes_ago=30)
    make_interaction(world.pilot, "mine-new", question="newer question", minutes_ago=1)
    make_interaction(world.pilot, "linked", user=None, question="linked by membership",
                     membership_id=world.participant_membership.id)
    make_interaction(world.pilot, "theirs", user="user-2", question="someone else's question")
    make_interaction(world.other_pilot, "other-pilot", user="user-1", question="other pilot's question")
    html = client_as("participant").get(ME).get_data(as_text=True)
    assert "someone else&#39;s question" not in html and "someone else's question" not in html
    assert "other pilot" not in html
    assert "linked by membership" in html
    assert html.index("newer question") < html.index("older question")
    other = client_as("other_participant").get(ME).get_data(as_text=True)
    assert "someone else" in other and "newer question" not in other


def test_home_paginates(client_as, world):
    for n in range(23):
        make_interaction(world.pilot, f"e-{n}", question=f"question number {n:02d}", minutes_ago=n)
    participant = client_as("participant")
    first = participant.get(ME).get_data(as_text=True)
    assert "question number 00" in first and "question number 19" in first and "question number 20" not in first
    assert "Page 1 of 2" in first
    second = participant.get(f"{ME}?page=2").get_data(as_text=True)
    assert "question number 22" in second and "question number 00" not in second
    assert participant.get(f"{ME}?page=abc").status_code == 200
    assert "question number 22" in participant.get(f"{ME}?page=999").get_data(as_text=True)


def test_outputs_are_escaped_with_whitespace_kept_and_long_text_folded(client_as, world):
    hostile = "<script>alert('x')</script>\n  indented line\n<img src=x onerror=alert(1)>"
    long_answer = "line\n" * 40 + "THE-END"
    make_interaction(world.pilot, "xss", question="hi", answer=hostile, minutes_ago=1)
    make_interaction(world.pilot, "long", question="tell me more", answer=long_answer)
    html = client_as("participant").get(ME).get_data(as_text=True)
    assert "<script>alert" not in html and "<img src=x" not in html
    assert "&lt;script&gt;alert(&#39;x&#39;)&lt;/script&gt;\n  indented line" in html
    assert re.search(r'<details class="longtext">.*?Show all \(', html, re.S)
    assert "THE-END" in html  # the whole text is one tap away


def test_last_seen_is_recorded_for_the_roster(client_as, world, db):
    assert world.participant_membership.last_seen_at is None
    client_as("participant").get(ME)
    db.session.refresh(world.participant_membership)
    assert world.participant_membership.last_seen_at is not None


# --- Rating -----------------------------------------------------------------------------------

def test_rate_then_change_the_rating(client_as, world, db):
    interaction = make_interaction(world.pilot, "e-1")
    participant = client_as("participant")
    url = f"{ME}/interactions/{interaction.id}/rating"
    response = participant.post(url, data={"thumbs": "down", "rating": "2", "comment": "wrong limit", "page": "1"})
    assert response.status_code == 302
    assert response.headers["Location"].endswith(f"#i-{interaction.id}")
    participant.post(url, data={"thumbs": "up", "rating": "5", "comment": ""})
    rows = db.session.scalars(sa.select(Feedback)).all()
    assert [(f.thumbs, f.rating, f.comment, f.source, f.membership_id) for f in rows] == [
        ("up", 5, "", "ui", world.participant_membership.id)]
    html = participant.get(ME).get_data(as_text=True)
    assert 'value="up" checked' in html and 'value="5" checked' in html


def test_rating_in_place_answers_json(client_as, world, db):
    interaction = make_interaction(world.pilot, "e-1")
    url = f"{ME}/interactions/{interaction.id}/rating"
    participant = client_as("participant")
    ok = participant.post(url, data={"thumbs": "up"}, headers={"Accept": "application/json"})
    assert ok.status_code == 200 and ok.get_json()["saved"] is True
    bad = participant.post(url, data={"rating": "9"}, headers={"Accept": "application/json"})
    assert bad.status_code == 400 and "rating" in bad.get_json()["error"]


@pytest.mark.parametrize("data,message", [
    ({"rating": "9"}, "rating must be a whole number from 1 to 5"),
    ({"rating": "four"}, "rating must be a whole number from 1 to 5"),
    ({"thumbs": "sideways"}, "thumbs must be"),
    ({"comment": "just a comment"}, "give thumbs"),
    ({"thumbs": "up", "comment": "x" * 5001}, "comment must be at most 5,000 characters"),
])
def test_bad_ratings_get_a_clear_message_and_store_nothing(client_as, world, db, data, message):
    interaction = make_interaction(world.pilot, "e-1")
    participant = client_as("participant")
    response = participant.post(f"{ME}/interactions/{interaction.id}/rating", data=data, follow_redirects=True)
    assert message in response.get_data(as_text=True)
    assert db.session.scalar(sa.select(sa.func.count(Feedback.id))) == 0


def test_cannot_rate_another_participants_or_another_pilots_interaction(client_as, world, db):
    theirs = make_interaction(world.pilot, "theirs", user="user-2")
    other_pilot = make_interaction(world.other_pilot, "beta-1", user="user-1")
    participant = client_as("participant")
    for interaction in (theirs, other_pilot):
        assert participant.post(f"{ME}/interactions/{interaction.id}/rating", data={"thumbs": "up"}).status_code == 404
    assert participant.post(f"{ME}/interactions/999999/rating", data={"thumbs": "up"}).status_code == 404
    assert db.session.scalar(sa.select(sa.func.count(Feedback.id))) == 0


def test_rating_form_needs_csrf(client_as, world, db, csrf_on):
    interaction = make_interaction(world.pilot, "e-1")
    participant = client_as("participant")
    assert participant.post(f"{ME}/interactions/{interaction.id}/rating", data={"thumbs": "up"}).status_code == 400
    html = participant.get(ME).get_data(as_text=True)
    token = re.search(r'name="csrf_token" value="([^"]+)"', html).group(1)
    response = participant.post(f"{ME}/interactions/{interaction.id}/rating", data={"thumbs": "up", "csrf_token": token})
    assert response.status_code == 302
    assert db.session.scalar(sa.select(sa.func.count(Feedback.id))) == 1


# --- Problem reports ----------------------------------------------------------------------------

def _report(client, **data):
    return client.post(f"{ME}/report", data=data, content_type="multipart/form-data")


def test_report_a_problem_with_a_screenshot(client_as, world, db, upload_dir):
    interaction = make_interaction(world.pilot, "e-1")
    participant = client_as("participant")
    form = participant.get(f"{ME}/report?interaction={interaction.id}").get_data(as_text=True)
    assert "How do I reset my card PIN?" in form
    response = _report(participant, interaction=str(interaction.id), problem_type="wrong_answer",
                       description="It gave the wrong PIN menu.", screenshot=(io.BytesIO(png_bytes()), "my screen.png"))
    assert response.status_code == 302
    report = db.session.scalar(sa.select(Report))
    assert (report.kind, report.problem_type, report.interaction_id, report.status) == (
        "problem", "wrong_answer", interaction.id, "new")
    assert report.screenshot_mime == "image/png"
    assert "my screen" not in report.screenshot_path and report.screenshot_path.startswith(f"{world.pilot.id}/")
    assert (upload_dir / report.screenshot_path).read_bytes() == png_bytes()
    home = participant.get(ME).get_data(as_text=True)
    assert "Wrong answer" in home and "It gave the wrong PIN menu." in home and "badge new" in home


@pytest.mark.parametrize("head,mime", [(JPEG_HEAD, "image/jpeg"), (WEBP_HEAD, "image/webp")])
def test_jpeg_and_webp_are_accepted_by_their_bytes(client_as, world, db, upload_dir, head, mime):
    response = _report(client_as("participant"), problem_type="other", description="see image",
                       screenshot=(io.BytesIO(head), "shot.bin"))
    assert response.status_code == 302
    assert db.session.scalar(sa.select(Report.screenshot_mime)) == mime


@pytest.mark.parametrize("data,filename,message", [
    (b"GIF89a" + b"\x00" * 20, "x.gif", "only PNG, JPEG or WebP"),
    (b"<svg onload=alert(1)>", "evil.png", "only PNG, JPEG or WebP"),  # the name lies
    (b"%PDF-1.7", "doc.jpg", "only PNG, JPEG or WebP"),
    (b"", "empty.png", "the file is empty"),
])
def test_bad_uploads_are_refused_by_content(client_as, world, db, upload_dir, data, filename, message):
    response = _report(client_as("participant"), problem_type="other", description="see image",
                       screenshot=(io.BytesIO(data), filename))
    assert response.status_code == 400
    assert message in response.get_data(as_text=True)
    assert db.session.scalar(sa.select(sa.func.count(Report.id))) == 0
    assert not upload_dir.exists() or not any(upload_dir.rglob("*.*"))


def test_oversize_upload_gets_a_clear_message_and_keeps_the_text(client_as, world, db, upload_dir, app):
    big = png_bytes() + b"\x00" * app.config["UPLOAD_MAX_BYTES"]
    response = _report(client_as("participant"), problem_type="too_slow", description="keep me",
                       screenshot=(io.BytesIO(big), "big.png"))
    body = response.get_data(as_text=True)
    assert response.status_code == 400
    assert "larger than 5 MB" in body and "keep me" in body
    assert db.session.scalar(sa.select(sa.func.count(Report.id))) == 0


def test_upload_over_the_request_limit_is_a_form_message_not_a_crash(client_as, world, db, upload_dir, app):
    huge = b"\x89PNG\r\n\x1a\n" + b"\x00" * (app.config["MAX_CONTENT_LENGTH"] + 10)
    response = _report(client_as("participant"), problem_type="too_slow", description="x",
                       screenshot=(io.BytesIO(huge), "huge.png"))
    assert response.status_code == 413
    assert "far larger than 5 MB" in response.get_data(as_text=True)


@pytest.mark.parametrize("data,messages", [
    ({"problem_type": "wrong_answer", "description": ""}, ["description: please say what happened"]),
    ({"problem_type": "bogus", "description": "x"}, ["type: choose what went wrong"]),
    ({"description": "x" * 5001}, ["type: choose", "description: at most 5,000 characters (yours has 5,001)"]),
])
def test_bad_reports_name_every_field(client_as, world, db, upload_dir, data, messages):
    response = _report(client_as("participant"), **data)
    body = response.get_data(as_text=True)
    assert response.status_code == 400
    for message in messages:
        assert message in body
    assert db.session.scalar(sa.select(sa.func.count(Report.id))) == 0


def test_cannot_report_on_someone_elses_interaction(client_as, world, db, upload_dir):
    theirs = make_interaction(world.pilot, "theirs", user="user-2", question="private question of user 2")
    other_pilot = make_interaction(world.other_pilot, "beta", user="user-1")
    participant = client_as("participant")
    for interaction in (theirs, other_pilot):
        page = participant.get(f"{ME}/report?interaction={interaction.id}")
        assert page.status_code == 404 and "private question" not in page.get_data(as_text=True)
        response = _report(participant, interaction=str(interaction.id), problem_type="other", description="x")
        assert response.status_code == 404
    assert participant.get(f"{ME}/report?interaction=abc").status_code == 404
    assert db.session.scalar(sa.select(sa.func.count(Report.id))) == 0


def test_report_without_an_interaction(client_as, world, db, upload_dir):
    response = _report(client_as("participant"), problem_type="harmful", description="It said something rude.")
    assert response.status_code == 302
    report = db.session.scalar(sa.select(Report))
    assert report.interaction_id is None and report.problem_type == "harmful"


# --- General feedback ---------------------------------------------------------------------------

@pytest.mark.parametrize("kind", ["issue", "idea", "praise"])
def test_general_feedback_is_typed(client_as, world, db, kind):
    response = client_as("participant").post(f"{ME}/feedback", data={"kind": kind, "description": "My thoughts"})
    assert response.status_code == 302
    report = db.session.scalar(sa.select(Report))
    assert (report.kind, report.problem_type, report.membership_id) == (kind, None, world.participant_membership.id)


@pytest.mark.parametrize("data,message", [
    ({"kind": "rant", "description": "x"}, "kind: choose issue, idea or praise"),
    ({"kind": "problem", "description": "x"}, "type: choose what went wrong"),
    ({"kind": "idea", "description": "   "}, "description: please write a few words"),
    ({"kind": "idea", "description": "é" * 5001}, "at most 5,000 characters"),
])
def test_bad_general_feedback_is_explained(client_as, world, db, data, message):
    response = client_as("participant").post(f"{ME}/feedback", data=data)
    assert response.status_code == 400
    assert message in response.get_data(as_text=True)
    assert db.session.scalar(sa.select(sa.func.count(Report.id))) == 0


def test_participant_sees_only_their_own_reports_and_the_teams_answer(client_as, world, db):
    db.session.add_all([
        Report(pilot_id=world.pilot.id, membership_id=world.participant_membership.id, kind="idea",
               description="mine: dark mode", status="acknowledged", team_note="Planned for <b>May</b>"),
        Report(pilot_id=world.pilot.id, membership_id=world.other_participant_membership.id, kind="issue",
               description="theirs: login is slow"),
    ])
    db.session.commit()
    html = client_as("participant").get(ME).get_data(as_text=True)
    assert "mine: dark mode" in html and "theirs" not in html
    assert "badge acknowledged" in html and "Planned for &lt;b&gt;May&lt;/b&gt;" in html
