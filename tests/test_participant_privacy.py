"""Consent and privacy: a participant downloads their own data and can leave, which erases their
personal details but keeps the anonymous numbers the readiness report needs."""
import io
import json

import sqlalchemy as sa

from pilot.models import AuditEvent, Feedback, Flag, Interaction, Membership, Report, User
from tests.factories import PASSWORD, add_member
from tests.participant_helpers import make_interaction, png_bytes, upload_dir  # noqa: F401

ME = "/pilots/alpha/me"


def test_export_holds_only_their_own_data(client_as, world, db):
    mine = make_interaction(world.pilot, "e-mine", question="my question", answer="my answer", session_id="s-1")
    theirs = make_interaction(world.pilot, "e-theirs", user="user-2", question="their question")
    make_interaction(world.other_pilot, "e-beta", user="user-1", question="beta question")
    db.session.add_all([
        Feedback(pilot_id=world.pilot.id, interaction_id=mine.id, membership_id=world.participant_membership.id,
                 external_user_id="user-1", thumbs="down", comment="bad"),
        Feedback(pilot_id=world.pilot.id, interaction_id=theirs.id, membership_id=world.other_participant_membership.id,
                 external_user_id="user-2", thumbs="up", comment="their comment"),
        Report(pilot_id=world.pilot.id, membership_id=world.participant_membership.id, kind="idea", description="my idea"),
        Report(pilot_id=world.pilot.id, membership_id=world.other_participant_membership.id, kind="idea",
               description="their idea"),
    ])
    db.session.commit()
    response = client_as("participant").get(f"{ME}/export.json")
    assert response.status_code == 200
    assert response.headers["Content-Disposition"] == 'attachment; filename="pilot-alpha-my-data.json"'
    data = response.get_json()
    assert data["membership"]["external_id"] == "user-1" and data["account"]["email"] == "participant@example.com"
    assert [(i["id"], i["input"], i["output"], i["session"]) for i in data["interactions"]] == [
        ("e-mine", "my question", "my answer", "s-1")]
    assert [(f["interaction"], f["thumbs"], f["comment"]) for f in data["feedback"]] == [("e-mine", "down", "bad")]
    assert [r["description"] for r in data["reports"]] == ["my idea"]
    assert "their" not in response.get_data(as_text=True) and "beta question" not in response.get_data(as_text=True)


def test_leave_needs_confirmation(client_as, world, db):
    response = client_as("participant").post(f"{ME}/leave", data={}, follow_redirects=True)
    assert "Tick the box" in response.get_data(as_text=True)
    db.session.refresh(world.participant_membership)
    assert world.participant_membership.status == "active"


def test_leaving_erases_personal_details_and_keeps_the_numbers(client_as, world, db, upload_dir):
    participant = client_as("participant")
    mine = make_interaction(world.pilot, "e-mine", question="my secret question", answer="private answer",
                            error_message="upstream said: my secret question", status="error")
    linked = make_interaction(world.pilot, "e-linked", user=None, membership_id=world.participant_membership.id)
    theirs = make_interaction(world.pilot, "e-theirs", user="user-2", question="their question")
    db.session.add(Flag(pilot_id=world.pilot.id, interaction_id=mine.id, kind="edge_case", reason="pii_in_input",
                        detail="email found: me@example.com", note="reviewer note"))
    participant.post(f"{ME}/interactions/{mine.id}/rating", data={"thumbs": "down", "rating": "1", "comment": "my words"})
    participant.post(f"{ME}/report", content_type="multipart/form-data", data={
        "interaction": str(mine.id), "problem_type": "wrong_answer", "description": "my description",
        "screenshot": (io.BytesIO(png_bytes()), "me.png")})
    report = db.session.scalar(sa.select(Report))
    stored = upload_dir / report.screenshot_path
    assert stored.exists()
    numbers_before = db.session.execute(sa.select(
        sa.func.count(Interaction.id), sa.func.sum(Interaction.input_tokens), sa.func.sum(Interaction.cost_usd),
        sa.func.count(sa.distinct(Interaction.external_user_id)))).one()

    response = participant.post(f"{ME}/leave", data={"confirm": "y"})
    assert response.status_code == 302 and response.headers["Location"].startswith("/login")

    membership = db.session.get(Membership, world.participant_membership.id)
    assert membership.status == "removed" and membership.left_at is not None
    assert membership.email is None and membership.user_id is None
    assert membership.external_id.startswith("left-")
    anonymous_id = membership.external_id
    for interaction in (db.session.get(Interaction, mine.id), db.session.get(Interaction, linked.id)):
        assert (interaction.input_text, interaction.output_text, interaction.input_hash, interaction.meta) == ("", "", None, {})
        assert interaction.external_user_id == anonymous_id and interaction.membership_id == membership.id
        assert interaction.input_tokens == 120 and interaction.cost_usd == 0.0015 and interaction.latency_ms == 900.0
    kept = db.session.get(Interaction, mine.id)
    assert kept.status == "error" and kept.error_message is None and kept.model == "claude-sonnet-4-6"
    assert db.session.get(Interaction, theirs.id).input_text == "their question"
    numbers_after = db.session.execute(sa.select(
        sa.func.count(Interaction.id), sa.func.sum(Interaction.input_tokens), sa.func.sum(Interaction.cost_usd),
        sa.func.count(sa.distinct(Interaction.external_user_id)))).one()
    assert tuple(numbers_after) == tuple(numbers_before)
    feedback = db.session.scalar(sa.select(Feedback))
    assert (feedback.thumbs, feedback.rating, feedback.comment, feedback.external_user_id) == ("down", 1, "", anonymous_id)
    report = db.session.scalar(sa.select(Report))
    assert (report.kind, report.problem_type, report.description, report.screenshot_path) == (
        "problem", "wrong_answer", "", None)
    assert not stored.exists()
    flag = db.session.scalar(sa.select(Flag).where(Flag.reason == "pii_in_input"))
    assert (flag.detail, flag.note, flag.reason) == ("", "reviewer note", "pii_in_input")
    # The thumbs down also raised negative_feedback, whose detail quoted the comment: blanked too.
    assert [f.detail for f in db.session.scalars(sa.select(Flag).where(Flag.reason == "negative_feedback"))] == [""]
    user = db.session.get(User, world.participant.id)
    assert not user.is_active_account and user.name == "" and user.email == f"{anonymous_id}@left.invalid"
    event = db.session.scalar(sa.select(AuditEvent).where(AuditEvent.action == "membership.leave"))
    assert event.after["anonymous_id"] == anonymous_id and event.after["interactions"] == 2
    assert "participant@example.com" not in json.dumps(event.after)
    # The old session no longer works, and the old password does not log in.
    assert participant.get(ME).status_code == 302
    assert "Wrong email or password" in client_as("admin").application.test_client().post(
        "/login", data={"email": "participant@example.com", "password": PASSWORD}).get_data(as_text=True)


def test_an_account_used_in_another_pilot_stays_active(client_as, world, db):
    add_member(world.other_pilot, world.participant, external_id="beta-user")
    response = client_as("participant").post(f"{ME}/leave", data={"confirm": "y"})
    assert response.status_code == 302 and response.headers["Location"] == "/"
    user = db.session.get(User, world.participant.id)
    assert user.is_active_account and user.email == "participant@example.com"
    assert db.session.get(Membership, world.participant_membership.id).status == "removed"
    assert client_as("participant").get(ME).status_code == 403  # no longer a member of alpha


def test_leads_and_reviewers_cannot_leave_from_here(client_as, world, db):
    response = client_as("reviewer").post(f"{ME}/leave", data={"confirm": "y"}, follow_redirects=True)
    assert "Only participants can leave" in response.get_data(as_text=True)
    reviewer = db.session.scalar(sa.select(Membership).where(Membership.user_id == world.reviewer.id))
    assert reviewer.status == "active"


def test_the_roster_no_longer_names_someone_who_left(client_as, world, db):
    client_as("participant").post(f"{ME}/leave", data={"confirm": "y"})
    roster = client_as("lead").get("/pilots/alpha/participants").get_data(as_text=True)
    assert "participant@example.com" not in roster and "user-1" not in roster
    assert "left-" in roster
