"""The readiness page and its forms: who may see and do what, CSRF, bad input, escaping."""
import re
from datetime import timedelta

import pytest
import sqlalchemy as sa

from pilot.models import AlertRule, AuditEvent, ChecklistAttestation, ReadinessReport
from pilot.models.base import utcnow
from pilot.readiness.snapshots import create_snapshot
from pilot.worker.jobs import evaluate_pilot_alerts
from tests.readiness_data import add_interaction, load_sample

PAGE = "/pilots/alpha/readiness"
READ_PATHS = [PAGE, "/pilots/alpha/readiness.json", "/pilots/alpha/readiness.csv", "/pilots/alpha/readiness.html",
              "/pilots/alpha/export/interactions.csv", "/pilots/alpha/export/flags.csv", "/pilots/alpha/export/users.csv"]
LEAD_POSTS = [
    ("/pilots/alpha/readiness/attest", {"key": "scaling.rollback", "status": "pass", "note": "tested"}),
    ("/pilots/alpha/readiness/reports", {}),
    ("/pilots/alpha/readiness/reports/1/sign", {"note": "ok"}),
    ("/pilots/alpha/alerts", {"metric": "error_rate", "threshold": "0.1", "window_hours": "24"}),
    ("/pilots/alpha/alerts/1/enabled", {"enabled": "0"}),
]


@pytest.fixture()
def with_snapshot(db, world):
    create_snapshot(db.session, world.pilot, world.lead)
    db.session.add(AlertRule(pilot_id=world.pilot.id, metric="error_rate", threshold=0.5, window_hours=24))
    db.session.commit()


def _state(db):
    return (db.session.scalar(sa.select(sa.func.count(ChecklistAttestation.id))),
            db.session.scalar(sa.select(sa.func.count(ReadinessReport.id))),
            db.session.scalar(sa.select(ReadinessReport.signed_at)),
            db.session.scalar(sa.select(sa.func.count(AlertRule.id))),
            db.session.scalar(sa.select(AlertRule.enabled)))


@pytest.mark.parametrize("path", READ_PATHS + ["/pilots/alpha/readiness/reports/1.json"])
def test_anonymous_goes_to_login(client, with_snapshot, path):
    response = client.get(path)
    assert response.status_code == 302 and response.headers["Location"].startswith("/login?next=")


@pytest.mark.parametrize("who", ["participant", "other_lead"])
@pytest.mark.parametrize("path", READ_PATHS + ["/pilots/alpha/readiness/reports/1.json", "/pilots/alpha/readiness/reports/1.pdf"])
def test_participants_and_other_leads_cannot_read(client_as, with_snapshot, who, path):
    assert client_as(who).get(path).status_code == 403


@pytest.mark.parametrize("path", READ_PATHS)
def test_reviewer_reads_everything(client_as, with_snapshot, path):
    assert client_as("reviewer").get(path).status_code == 200


def test_reviewer_sees_no_forms(client_as, with_snapshot):
    page = client_as("reviewer").get(PAGE).get_data(as_text=True)
    assert "Attest or exempt" not in page and "Create report snapshot" not in page and "Sign report" not in page
    assert "Add alert rule" not in page and "Launch readiness" in page


def test_lead_sees_forms_with_csrf_tokens(client_as, with_snapshot, csrf_on):
    page = client_as("lead").get(PAGE).get_data(as_text=True)
    assert page.count("Attest or exempt") == 20
    assert "Create report snapshot" in page and "Sign report #1" in page and "Add alert rule" in page
    forms = re.findall(r"<form method=\"post\".*?</form>", page, re.S)
    assert len(forms) >= 24 and all('name="csrf_token"' in form for form in forms)


@pytest.mark.parametrize("who", ["reviewer", "participant", "other_lead"])
@pytest.mark.parametrize("path,data", LEAD_POSTS)
def test_lead_actions_are_refused_to_others(db, client_as, with_snapshot, who, path, data):
    before = _state(db)
    assert client_as(who).post(path, data=data).status_code == 403
    db.session.expire_all()
    assert _state(db) == before


@pytest.mark.parametrize("path,data", LEAD_POSTS)
def test_lead_posts_need_csrf(db, client_as, with_snapshot, csrf_on, path, data):
    before = _state(db)
    assert client_as("lead").post(path, data=data).status_code == 400
    db.session.expire_all()
    assert _state(db) == before


def test_lead_attests_exempts_snapshots_and_signs(db, world, client_as):
    lead = client_as("lead")
    response = lead.post("/pilots/alpha/readiness/attest", data={
        "key": "scaling.stateless", "status": "pass", "note": "State in PostgreSQL", "link": "https://wiki.example/arch"})
    assert response.status_code == 302 and response.headers["Location"].endswith("#item-scaling.stateless")
    until = (utcnow().date() + timedelta(days=10)).isoformat()
    lead.post("/pilots/alpha/readiness/attest", data={"key": "monitoring.cost_alerts", "status": "fail",
                                                      "note": "Provider budget alerts meanwhile", "exempt_until": until,
                                                      "owner": "Ops on-call"})
    page = lead.get(PAGE).get_data(as_text=True)
    assert "State in PostgreSQL" in page and 'href="https://wiki.example/arch"' in page
    assert f"until {until}" in page and "exempt</span>" in page
    assert lead.post("/pilots/alpha/readiness/reports").status_code == 302
    assert lead.post("/pilots/alpha/readiness/reports/1/sign", data={"note": "Looked at it"}).status_code == 302
    page = lead.get(PAGE).get_data(as_text=True)
    assert "Signed by lead" in page and "Looked at it" in page
    actions = set(db.session.scalars(sa.select(AuditEvent.action)))
    assert {"readiness.attest", "readiness.exempt", "readiness.snapshot", "readiness.sign"} <= actions
    again = lead.post("/pilots/alpha/readiness/reports/1/sign", data={"note": "twice"}, follow_redirects=True)
    assert "already signed" in again.get_data(as_text=True)


@pytest.mark.parametrize("data,message", [
    ({"key": "scaling.rollback", "status": "pass", "note": ""}, "note is required"),
    ({"key": "scaling.rollback", "status": "maybe", "note": "x"}, "status must be one of"),
    ({"key": "nope", "status": "pass", "note": "x"}, "not a checklist item"),
    ({"key": "scaling.rollback", "status": "pass", "note": "x", "link": "javascript:alert(1)"}, "http"),
    ({"key": "scaling.rollback", "status": "pass", "note": "x", "exempt_until": "2001-01-01"}, "today or later"),
    ({"key": "scaling.rollback", "status": "pass", "note": "x", "exempt_until": "soon"}, "YYYY-MM-DD"),
    ({"key": "scaling.rollback", "status": "pass", "note": "x" * 1_000_000}, "at most"),
])
def test_bad_attestations_are_refused_clearly(db, client_as, data, message):
    response = client_as("lead").post("/pilots/alpha/readiness/attest", data=data)
    assert response.status_code == 422 and message in response.get_data(as_text=True)
    assert db.session.scalar(sa.select(sa.func.count(ChecklistAttestation.id))) == 0


@pytest.mark.parametrize("data,message", [
    ({"metric": "vibes", "threshold": "1", "window_hours": "24"}, "metric must be one of"),
    ({"metric": "error_rate", "threshold": "lots", "window_hours": "24"}, "threshold must be a number"),
    ({"metric": "error_rate", "threshold": "2", "window_hours": "24"}, "between 0 and 1"),
    ({"metric": "daily_cost_usd", "threshold": "nan", "window_hours": "24"}, "threshold must be a number"),
    ({"metric": "daily_cost_usd", "threshold": "1e400", "window_hours": "24"}, "threshold must be a number"),
    ({"metric": "daily_cost_usd", "threshold": "5", "window_hours": "0"}, "window_hours"),
    ({"metric": "daily_cost_usd", "threshold": "5", "window_hours": "1.5"}, "window_hours"),
])
def test_bad_alert_rules_are_refused_clearly(db, client_as, data, message):
    response = client_as("lead").post("/pilots/alpha/alerts", data=data, follow_redirects=True)
    assert response.status_code == 200 and message in response.get_data(as_text=True)
    assert db.session.scalar(sa.select(sa.func.count(AlertRule.id))) == 0


def test_sign_unknown_report_is_404(client_as, world):
    assert client_as("lead").post("/pilots/alpha/readiness/reports/9/sign", data={"note": ""}).status_code == 404
    assert client_as("lead").get("/pilots/alpha/readiness/reports/9.json").status_code == 404


def test_other_pilots_snapshot_is_not_reachable(db, world, client_as):
    create_snapshot(db.session, world.other_pilot, world.other_lead)
    db.session.commit()
    assert client_as("lead").get("/pilots/alpha/readiness/reports/1.json").status_code == 404
    assert client_as("lead").post("/pilots/alpha/readiness/reports/1/sign", data={}).status_code == 404
    assert db.session.scalar(sa.select(ReadinessReport.signed_at)) is None


HOSTILE = '<script>alert("x")</script><img src=x onerror=alert(1)>'


def test_hostile_text_is_escaped_in_page_and_html_report(db, world, client_as):
    for n in range(25):
        add_interaction(db, world.pilot, f"h{n}", model=HOSTILE, latency=100.0, cost=0.001, input_tokens=10,
                        output_tokens=10, input_hash=str(n), prompt_version=HOSTILE)
        add_interaction(db, world.pilot, f"g{n}", model="plain-model", latency=100.0, cost=0.0001, input_tokens=10,
                        output_tokens=10, input_hash=f"g{n}")
    db.session.commit()
    lead = client_as("lead")
    lead.post("/pilots/alpha/readiness/attest", data={"key": "scaling.stateless", "status": "pass", "note": HOSTILE,
                                                      "link": 'https://x.example/"><script>alert(2)</script>'})
    lead.post("/pilots/alpha/readiness/reports")
    lead.post("/pilots/alpha/readiness/reports/1/sign", data={"note": HOSTILE})
    for path in (PAGE, "/pilots/alpha/readiness.html", "/pilots/alpha/readiness/reports/1.html"):
        body = lead.get(path).get_data(as_text=True)
        assert "<script>" not in body and "<img src=x" not in body, path
        assert "&lt;script&gt;" in body, path
    report_html = lead.get("/pilots/alpha/readiness.html")
    assert "default-src 'none'" in report_html.headers["Content-Security-Policy"]


def test_page_shows_verdict_reasons_and_alert_events(db, world, client_as):
    load_sample(db, world.pilot)
    add_interaction(db, world.pilot, "recent", at=utcnow() - timedelta(hours=1), status="error", latency=10.0)
    db.session.add(AlertRule(pilot_id=world.pilot.id, metric="error_rate", threshold=0.5, window_hours=24))
    db.session.commit()
    assert "Error rate 100.00%" not in client_as("reviewer").get(PAGE).get_data(as_text=True)  # a view fires nothing
    evaluate_pilot_alerts(world.pilot.id)  # the worker's every-minute job
    page = client_as("reviewer").get(PAGE).get_data(as_text=True)
    assert "no-go" in page and "Failing: Graceful fallback when AI fails" in page
    assert "Error rate 100.00% is above 50.00% over the last 24 h." in page


def test_overlong_sign_note_is_refused(db, world, client_as):
    create_snapshot(db.session, world.pilot, world.lead)
    db.session.commit()
    response = client_as("lead").post("/pilots/alpha/readiness/reports/1/sign", data={"note": "x" * 1_000_000},
                                      follow_redirects=True)
    assert response.status_code == 200 and "note must be at most 10,000 characters" in response.get_data(as_text=True)
    db.session.expire_all()
    assert db.session.scalar(sa.select(ReadinessReport.signed_at)) is None


@pytest.mark.parametrize("path", [
    "/pilots/alpha/readiness/reports/99999999999999999999.json", "/pilots/alpha/readiness/reports/0.json",
    "/api/v1/pilots/alpha/reports/99999999999999999999", "/api/v1/pilots/alpha/reports/-1",
])
def test_huge_or_silly_report_numbers_are_404(client_as, world, path):
    assert client_as("lead").get(path).status_code == 404


def test_huge_ids_in_posts_are_404(client_as, world):
    lead = client_as("lead")
    assert lead.post("/pilots/alpha/readiness/reports/99999999999999999999/sign", data={}).status_code == 404
    assert lead.post("/pilots/alpha/alerts/99999999999999999999/enabled", data={}).status_code == 404
    assert lead.post("/pilots/alpha/alerts/12345/enabled", data={}).status_code == 404
