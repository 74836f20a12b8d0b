import pytest
import sqlalchemy as sa

from pilot.models import ApiKey, AuditEvent
from pilot.pilots.services import PilotError, change_status, update_settings
from pilot.pilots.settings import SettingError


def test_update_settings_validates_and_audits(db, world):
    changed = update_settings(db.session, world.pilot, {"max_participants": "40", "allowed_domains": "Docs.Example.com, *.acme.example"}, world.lead)
    db.session.commit()
    assert changed == {"max_participants": 40, "allowed_domains": "acme.example,docs.example.com"}
    event = db.session.scalar(sa.select(AuditEvent).where(AuditEvent.action == "pilot.settings"))
    assert event.before == {"max_participants": 50, "allowed_domains": ""} and event.actor_id == world.lead.id


@pytest.mark.parametrize("changes,message", [
    ({"max_participants": "ten"}, "max_participants must be a whole number"),
    ({"max_error_rate": "1.5"}, "max_error_rate must be between 0 and 1"),
    ({"sampling_rate": "nan"}, "sampling_rate must be between"),
    ({"target_users": "99999999999999"}, "target_users must be between"),
    ({"min_participants": "60"}, "min_participants must not be above max_participants"),
    ({"colour": "blue"}, "unknown setting 'colour'"),
])
def test_bad_settings_are_refused_and_nothing_changes(db, world, changes, message):
    with pytest.raises(SettingError, match=message):
        update_settings(db.session, world.pilot, changes, world.lead)
    assert world.pilot.max_participants == 50 and world.pilot.min_participants == 10


def test_settings_page_saves_and_reports_errors(client_as, world, db):
    client = client_as("lead")
    response = client.post("/pilots/alpha/settings", data={"latency_target_p95_ms": "2500", "planned_price_per_user_month": "9.5"})
    assert response.status_code == 302
    assert world.pilot.latency_target_p95_ms == 2500 and world.pilot.planned_price_per_user_month == 9.5
    response = client.post("/pilots/alpha/settings", data={"abandon_ms": "-3"}, follow_redirects=True)
    assert "abandon_ms must be between" in response.get_data(as_text=True)
    assert world.pilot.abandon_ms == 4000


def test_lifecycle_moves_forward_only_along_allowed_paths(db, world):
    change_status(db.session, world.pilot, "enrolling", world.lead)
    change_status(db.session, world.pilot, "running", world.lead)
    with pytest.raises(PilotError, match="cannot move to draft"):
        change_status(db.session, world.pilot, "draft", world.lead)
    change_status(db.session, world.pilot, "closed", world.lead)
    assert world.pilot.status == "closed"


def test_api_key_is_shown_once_and_stored_hashed(client_as, world, db):
    page = client_as("lead").post("/pilots/alpha/api-keys", data={"name": "feature"}).get_data(as_text=True)
    key = db.session.scalar(sa.select(ApiKey))
    secret = page.split('id="new-key">')[1].split("<")[0]
    assert secret.startswith("pk_") and secret.startswith(key.prefix)
    assert secret not in key.key_hash and len(key.key_hash) == 64
    assert secret not in client_as("lead").get("/pilots/alpha/settings").get_data(as_text=True)


def test_revoking_another_pilots_key_is_404(client_as, world, db):
    from pilot.pilots.services import mint_api_key

    key, _ = mint_api_key(db.session, world.other_pilot, world.other_lead)
    db.session.commit()
    assert client_as("lead").post(f"/pilots/alpha/api-keys/{key.id}/revoke").status_code == 404
    assert key.revoked_at is None


def test_audit_events_cannot_be_changed_or_deleted(db, world):
    update_settings(db.session, world.pilot, {"max_participants": "40"}, world.lead)
    db.session.commit()
    event = db.session.scalar(sa.select(AuditEvent).where(AuditEvent.action == "pilot.settings"))
    event.action = "something.else"
    with pytest.raises(ValueError, match="append-only"):
        db.session.commit()
    db.session.rollback()
    db.session.delete(event)
    with pytest.raises(ValueError, match="append-only"):
        db.session.commit()
    db.session.rollback()
