from datetime import timedelta

import pytest
import sqlalchemy as sa

from pilot.enrollment import services
from pilot.enrollment.services import EnrollmentError
from pilot.models import AuditEvent, Membership, User
from tests.factories import add_member, make_user


def test_invite_token_is_hashed_and_single_use(db, world):
    invite = services.invite(db.session, world.pilot, email="new@example.com", actor=world.lead)
    db.session.commit()
    assert invite.membership.invite_token_hash != invite.token and invite.token not in invite.membership.invite_token_hash
    membership = services.accept_invite(db.session, invite.token, consent=True, name="New Person", password="a good password")
    db.session.commit()
    assert membership.status == "active" and membership.consent_at is not None
    assert membership.user.email == "new@example.com" and membership.user.name == "New Person"
    with pytest.raises(EnrollmentError, match="already been used"):
        services.accept_invite(db.session, invite.token, consent=True, name="Again", password="a good password")


def test_consent_is_required(db, world):
    invite = services.invite(db.session, world.pilot, email="new@example.com")
    with pytest.raises(EnrollmentError, match="agree"):
        services.accept_invite(db.session, invite.token, consent=False, name="N", password="a good password")
    assert invite.membership.status == "invited"


def test_expired_invite_is_refused(db, world):
    invite = services.invite(db.session, world.pilot, email="late@example.com", ttl=timedelta(seconds=-1))
    with pytest.raises(EnrollmentError, match="expired"):
        services.find_invite(db.session, invite.token)


def test_cap_is_enforced_with_a_clear_message(db, world):
    world.pilot.max_participants = 3  # two participants already enrolled
    services.invite(db.session, world.pilot, external_id="third")
    with pytest.raises(EnrollmentError, match="The pilot is full: it has 3 participants"):
        services.invite(db.session, world.pilot, external_id="fourth")
    # Staff do not take participant seats.
    services.invite(db.session, world.pilot, external_id="extra-reviewer", role="reviewer")


def test_removed_participants_free_their_seat(db, world):
    world.pilot.max_participants = 2
    with pytest.raises(EnrollmentError):
        services.invite(db.session, world.pilot, external_id="third")
    services.set_member_status(db.session, world.pilot, world.participant_membership.id, "removed", world.lead)
    services.invite(db.session, world.pilot, external_id="third")


def test_duplicate_external_id_refused(db, world):
    with pytest.raises(EnrollmentError, match="already enrolled"):
        services.invite(db.session, world.pilot, external_id="user-1")


def test_existing_account_is_linked_and_must_log_in(db, world):
    existing = make_user("known@example.com")
    invite = services.invite(db.session, world.pilot, external_id="k-1", email="known@example.com")
    assert invite.membership.user_id == existing.id
    with pytest.raises(EnrollmentError, match="log in first"):
        services.accept_invite(db.session, invite.token, consent=True, name="K", password="whatever123")
    membership = services.accept_invite(db.session, invite.token, consent=True, current_user=existing)
    assert membership.user_id == existing.id and membership.status == "active"


def test_invite_for_someone_else_is_refused_to_a_logged_in_user(db, world):
    invite = services.invite(db.session, world.pilot, external_id="x", email="someone@example.com")
    with pytest.raises(EnrollmentError, match="is for someone@example.com"):
        services.accept_invite(db.session, invite.token, consent=True, current_user=world.other_lead)


def test_last_lead_cannot_be_removed(db, world):
    lead_membership = db.session.scalar(sa.select(Membership).where(Membership.user_id == world.lead.id))
    with pytest.raises(EnrollmentError, match="at least one lead"):
        services.set_member_status(db.session, world.pilot, lead_membership.id, "removed", world.admin)


def test_member_of_other_pilot_cannot_be_changed(db, world):
    other = add_member(world.other_pilot, None, external_id="b-1")
    with pytest.raises(EnrollmentError, match="No such member"):
        services.set_member_status(db.session, world.pilot, other.id, "paused", world.lead)


def test_csv_import_keeps_good_rows_and_reports_bad_ones(db, world):
    text = ("external_id,email,role\n"
            "c-1,c1@example.com,participant\n"
            "c-2,not-an-email,participant\n"
            "user-1,,participant\n"
            "c-3,,wizard\n"
            ",c4@example.com,\n")
    result = services.import_csv(db.session, world.pilot, text, world.lead)
    db.session.commit()
    assert [inv.membership.external_id for inv in result.invites] == ["c-1", "c4@example.com"]
    assert [line for line, _ in result.errors] == [3, 4, 5]
    assert "not an email" in result.errors[0][1] and "already enrolled" in result.errors[1][1] and "Unknown role" in result.errors[2][1]
    assert db.session.scalar(sa.select(sa.func.count(Membership.id)).where(Membership.external_id == "c-2")) == 0


def test_csv_without_known_columns(db, world):
    result = services.import_csv(db.session, world.pilot, "name\nBob\n", world.lead)
    assert result.invites == [] and result.errors[0][0] == 1


def test_invite_page_flow_creates_account_with_consent(client, db, world):
    invite = services.invite(db.session, world.pilot, email="web@example.com")
    db.session.commit()
    page = client.get(f"/invite/{invite.token}")
    assert page.status_code == 200 and b"are logged for this pilot" in page.data
    refused = client.post(f"/invite/{invite.token}", data={"name": "Web", "password": "long password"})
    assert b"agree" in refused.data and db.session.scalar(sa.select(User).where(User.email == "web@example.com")) is None
    accepted = client.post(f"/invite/{invite.token}", data={"name": "Web", "password": "long password", "consent": "y"})
    assert accepted.status_code == 302
    user = db.session.scalar(sa.select(User).where(User.email == "web@example.com"))
    assert user is not None and user.check_password("long password")
    again = client.get(f"/invite/{invite.token}")
    assert again.status_code == 410 and b"already been used" in again.data
    assert db.session.scalar(sa.select(sa.func.count(AuditEvent.id)).where(AuditEvent.action == "membership.accept")) == 1


def test_expired_invite_page_creates_nothing(client, db, world):
    invite = services.invite(db.session, world.pilot, email="late@example.com", ttl=timedelta(seconds=-5))
    db.session.commit()
    response = client.post(f"/invite/{invite.token}", data={"name": "L", "password": "long password", "consent": "y"})
    assert response.status_code == 410 and b"expired" in response.data
    assert db.session.scalar(sa.select(User).where(User.email == "late@example.com")) is None


def test_roster_page_shows_invite_links_and_counts(client_as, db, world):
    page = client_as("lead").post("/pilots/alpha/participants/invite", data={"email": "r@example.com", "role": "participant"})
    text = page.get_data(as_text=True)
    assert "/invite/" in text and "r@example.com" in text


def test_roster_import_via_page(client_as, db, world):
    import io

    data = {"file": (io.BytesIO(b"external_id,email\nz-1,z1@example.com\nz-2,bad\n"), "people.csv")}
    page = client_as("lead").post("/pilots/alpha/participants/import", data=data, content_type="multipart/form-data")
    text = page.get_data(as_text=True)
    assert "Line 3" in text and "z-1" in text


def test_reviewer_sees_roster_without_management_buttons(client_as, world):
    page = client_as("reviewer").get("/pilots/alpha/participants").get_data(as_text=True)
    assert "user-1" in page and "Create invite link" not in page
