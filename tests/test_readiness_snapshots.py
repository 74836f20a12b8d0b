"""Snapshots and sign-off: numbered, immutable, audited; go only with signature and bounds;
the readiness API with its denials."""
from datetime import datetime, timedelta

import pytest
import sqlalchemy as sa

from pilot.alerts.services import add_rule
from pilot.models import AlertChannel, AlertDelivery, AuditEvent, Feedback, Flag, ReadinessReport
from pilot.models.base import utcnow
from pilot.pilots.services import mint_api_key
from pilot.readiness import build_report
from pilot.readiness.attestations import attest
from pilot.readiness.checklist import CHECKLIST, CHECKLIST_KEYS
from pilot.readiness.snapshots import (
    SnapshotError,
    create_snapshot,
    get_snapshot,
    sign_snapshot,
    snapshot_json,
    staleness,
)
from tests.readiness_data import add_interaction, load_sample


def make_ready(db, pilot, lead):
    """An empty pilot where every item passes or is attested, bounds met: only the signature is missing."""
    pilot.min_participants = 2  # the world enrolls two participants
    pilot.daily_request_limit = 50
    add_rule(db.session, pilot, lead, metric="daily_cost_usd", threshold=20.0, window_hours=24)
    channel = AlertChannel(pilot_id=pilot.id, kind="email", target="ops@example.com", secret="")  # a test reached it
    db.session.add(channel)
    db.session.flush()
    db.session.add(AlertDelivery(pilot_id=pilot.id, channel_id=channel.id, is_test=True, status="sent", attempts=1))
    today = utcnow().date()
    report = build_report(db.session, pilot)
    for item in report["checklist"]:
        if item["status"] in ("unknown", "fail"):
            attest(db.session, pilot, lead, key=item["key"], status="pass", note=f"checked {item['key']}", today=today)
    db.session.commit()


def test_live_report_is_never_go_but_ready_to_sign(db, world):
    make_ready(db, world.pilot, world.lead)
    report = build_report(db.session, world.pilot)
    assert all(item["status"] == "pass" for item in report["checklist"])
    assert report["verdict"] == "incomplete"
    assert [reason["kind"] for reason in report["verdict_reasons"]] == ["unsigned"]


def test_signing_a_ready_snapshot_makes_it_go(db, world):
    make_ready(db, world.pilot, world.lead)
    snapshot = create_snapshot(db.session, world.pilot, world.lead)
    db.session.commit()
    assert snapshot.number == 1 and snapshot.verdict == "incomplete" and snapshot.payload["sign_off"] is None
    sign_snapshot(db.session, world.pilot, snapshot, world.lead, "Launch approved at the steering meeting")
    db.session.commit()
    served = snapshot_json(snapshot)
    assert served["verdict"] == "go" and snapshot.verdict == "go" and served["verdict_reasons"] == []
    assert served["sign_off"]["signed_by"] == world.lead.name
    assert served["sign_off"]["note"] == "Launch approved at the steering meeting"
    assert served["sign_off"]["signed_at"].endswith("Z")
    assert snapshot.payload["verdict"] == "incomplete"  # the frozen payload itself is untouched


def test_signature_does_not_make_out_of_bounds_or_failing_reports_go(db, world):
    make_ready(db, world.pilot, world.lead)
    world.pilot.min_participants = 3
    db.session.commit()
    snapshot = create_snapshot(db.session, world.pilot, world.lead)
    sign_snapshot(db.session, world.pilot, snapshot, world.lead, "")
    served = snapshot_json(snapshot)
    assert served["verdict"] == "incomplete" and [r["kind"] for r in served["verdict_reasons"]] == ["participants"]

    load_sample(db, world.pilot)
    failing = create_snapshot(db.session, world.pilot, world.lead)
    sign_snapshot(db.session, world.pilot, failing, world.lead, "seen")
    assert snapshot_json(failing)["verdict"] == "no-go"


def test_signed_report_does_not_change_when_data_arrives(db, world, client_as):
    load_sample(db, world.pilot)
    snapshot = create_snapshot(db.session, world.pilot, world.lead)
    sign_snapshot(db.session, world.pilot, snapshot, world.lead, "as it was")
    db.session.commit()
    lead = client_as("lead")
    before = lead.get("/api/v1/pilots/alpha/reports/1").get_json()
    html_before = lead.get("/pilots/alpha/readiness/reports/1.html").get_data(as_text=True)

    # New interactions, feedback, reviews, attestations, alert rules and settings afterwards.
    later = add_interaction(db, world.pilot, "late-1", at=datetime(2026, 3, 9), latency=99999.0, cost=5.0,
                            model="m-new", prompt_version="v9")
    db.session.flush()
    db.session.add(Feedback(pilot_id=world.pilot.id, interaction_id=later.id, rating=1))
    db.session.query(Flag).update({"status": "confirmed"})
    attest(db.session, world.pilot, world.lead, key="scaling.rollback", status="fail", note="broke", today=utcnow().date())
    add_rule(db.session, world.pilot, world.lead, metric="error_rate", threshold=0.1, window_hours=24)
    world.pilot.latency_target_p95_ms = 100.0
    world.pilot.planned_price_per_user_month = 1.0
    db.session.commit()

    after = lead.get("/api/v1/pilots/alpha/reports/1").get_json()
    assert after == before
    assert after["interactions"]["total"] == 7 and after["sign_off"]["note"] == "as it was"
    live = lead.get("/api/v1/pilots/alpha/readiness").get_json()
    assert live["interactions"]["total"] == 8 and live["latency_ms"]["target_p95"] == 100.0
    html_after = lead.get("/pilots/alpha/readiness/reports/1.html").get_data(as_text=True)
    # Same report; the page now also says that it is older than the data.
    assert "1 interaction arrived after it was taken" in html_after
    assert html_before.replace(" ", "").count("<tr>") == html_after.replace(" ", "").count("<tr>")


def test_snapshot_numbers_and_audit(db, world):
    first = create_snapshot(db.session, world.pilot, world.lead)
    second = create_snapshot(db.session, world.pilot, world.lead)
    other = create_snapshot(db.session, world.other_pilot, world.other_lead)
    db.session.commit()
    assert (first.number, second.number, other.number) == (1, 2, 1)
    assert get_snapshot(db.session, world.pilot, 2) is second
    assert get_snapshot(db.session, world.other_pilot, 2) is None
    sign_snapshot(db.session, world.pilot, first, world.lead, "older one")
    db.session.commit()
    actions = db.session.scalars(sa.select(AuditEvent.action).where(AuditEvent.pilot_id == world.pilot.id)
                                 .order_by(AuditEvent.id)).all()
    assert actions[-3:] == ["readiness.snapshot", "readiness.snapshot", "readiness.sign"]
    sign_event = db.session.scalar(sa.select(AuditEvent).where(AuditEvent.action == "readiness.sign"))
    assert sign_event.actor_id == world.lead.id and sign_event.target_id == "1" and sign_event.after["note"] == "older one"
    assert "report #2 is newer" in staleness(db.session, world.pilot, first)


def test_a_report_is_signed_once(db, world):
    snapshot = create_snapshot(db.session, world.pilot, world.lead)
    sign_snapshot(db.session, world.pilot, snapshot, world.lead, "first")
    with pytest.raises(SnapshotError, match="already signed"):
        sign_snapshot(db.session, world.pilot, snapshot, world.lead, "second")
    assert snapshot.sign_note == "first"
    with pytest.raises(SnapshotError, match="another pilot"):
        sign_snapshot(db.session, world.other_pilot, create_snapshot(db.session, world.pilot, world.lead),
                      world.other_lead, "")


# ---- API ------------------------------------------------------------------------------------

def test_api_with_pilot_key(db, world, client):
    _, secret = mint_api_key(db.session, world.pilot, world.lead)
    _, other_secret = mint_api_key(db.session, world.other_pilot, world.other_lead)
    create_snapshot(db.session, world.pilot, world.lead)
    db.session.commit()
    auth = {"Authorization": f"Bearer {secret}"}
    live = client.get("/api/v1/pilots/alpha/readiness", headers=auth)
    assert live.status_code == 200 and [i["key"] for i in live.get_json()["checklist"]] == list(CHECKLIST_KEYS)
    snap = client.get("/api/v1/pilots/alpha/reports/1", headers=auth)
    assert snap.status_code == 200 and snap.get_json()["report_number"] == 1
    assert client.get("/api/v1/pilots/alpha/reports", headers=auth).get_json()["reports"][0]["number"] == 1
    missing = client.get("/api/v1/pilots/alpha/reports/2", headers=auth)
    assert missing.status_code == 404 and "No report #2" in missing.get_json()["error"]
    for path in ("/api/v1/pilots/alpha/readiness", "/api/v1/pilots/alpha/reports/1"):
        assert client.get(path, headers={"Authorization": f"Bearer {other_secret}"}).status_code == 403
        assert client.get(path).status_code == 401
        assert client.get(path, headers={"Authorization": "Bearer nope"}).status_code == 401


@pytest.mark.parametrize("who,code", [("reviewer", 200), ("lead", 200), ("admin", 200), ("participant", 403),
                                      ("other_lead", 403)])
def test_api_with_session(db, world, client_as, who, code):
    create_snapshot(db.session, world.pilot, world.lead)
    db.session.commit()
    session_client = client_as(who)
    assert session_client.get("/api/v1/pilots/alpha/readiness").status_code == code
    assert session_client.get("/api/v1/pilots/alpha/reports/1").status_code == code


def test_api_snapshot_of_unknown_pilot_is_404(db, world, client_as):
    assert client_as("admin").get("/api/v1/pilots/nope/reports/1").status_code == 404


def test_payload_is_stored_as_it_was(db, world):
    load_sample(db, world.pilot)
    expected = build_report(db.session, world.pilot, datetime(2026, 3, 10))
    snapshot = create_snapshot(db.session, world.pilot, world.lead, now=datetime(2026, 3, 10))
    db.session.commit()
    db.session.expire_all()
    stored = db.session.scalar(sa.select(ReadinessReport).where(ReadinessReport.id == snapshot.id))
    assert stored.payload == expected  # floats round-trip exactly through the JSON column
    assert stored.created_at == datetime(2026, 3, 10)
    assert stored.payload["interactions"]["error_rate"] == 4 / 7


def test_exempt_item_does_not_block_a_go(db, world):
    make_ready(db, world.pilot, world.lead)
    today = utcnow().date()
    attest(db.session, world.pilot, world.lead, key="scaling.rollback", status="fail",
           note="Rollback drill scheduled after launch week", exempt_until=today + timedelta(days=7), today=today,
           owner="Platform team")
    db.session.commit()
    snapshot = create_snapshot(db.session, world.pilot, world.lead)
    sign_snapshot(db.session, world.pilot, snapshot, world.lead, "go with one exemption")
    served = snapshot_json(snapshot)
    assert served["verdict"] == "go" and served["verdict_label"] == "go with 1 exemption"
    assert served["exemptions"] == [{
        "key": "scaling.rollback", "title": next(i.title for i in CHECKLIST if i.key == "scaling.rollback"), "status": "fail", "granted_by": "lead",
        "granted_at": served["exemptions"][0]["granted_at"], "reason": "Rollback drill scheduled after launch week",
        "until": (today + timedelta(days=7)).isoformat(), "owner": "Platform team", "link": None}]
    item = next(i for i in served["checklist"] if i["key"] == "scaling.rollback")
    assert item["status"] == "fail" and item["exempt"] is True


def test_the_orm_refuses_to_rewrite_a_snapshot(db, world):
    snapshot = create_snapshot(db.session, world.pilot, world.lead)
    db.session.commit()
    snapshot.payload = {**snapshot.payload, "verdict": "go"}
    with pytest.raises(ValueError, match="immutable"):
        db.session.commit()
    db.session.rollback()
    sign_snapshot(db.session, world.pilot, snapshot, world.lead, "signed")
    db.session.commit()
    snapshot.sign_note = "edited later"
    with pytest.raises(ValueError, match="signed report cannot be changed"):
        db.session.commit()
    db.session.rollback()
    assert db.session.get(ReadinessReport, snapshot.id).sign_note == "signed"
