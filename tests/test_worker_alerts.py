"""The background worker for real (RQ on the shared Redis, under a random queue name per test run)
and its in-process fallback; alert rules, channels and deliveries; invite email; the job pages."""
from __future__ import annotations

import secrets
from datetime import timedelta

import pytest
import sqlalchemy as sa
from redis import Redis
from rq import Queue, SimpleWorker
from rq.cron import CronScheduler

from pilot.alerts import channels
from pilot.alerts.services import add_rule, evaluate_alerts, metric_value
from pilot.models import (
    AlertChannel,
    AlertDelivery,
    AlertEvent,
    AlertRule,
    AuditEvent,
    BackgroundJob,
    LiveVerdict,
    Membership,
)
from pilot.models.base import utcnow
from pilot.readiness import build_report
from pilot.worker import queue as worker_queue
from pilot.worker.cron_config import register_all
from pilot.worker.jobs import evaluate_all_alerts, evaluate_pilot_alerts
from tests.readiness_data import add_interaction
from tests.worker_helpers import SmtpSink, WebhookReceiver, free_port

REDIS_URL = "redis://127.0.0.1:6379/0"
RUN_PREFIX = f"pilot-test-{secrets.token_hex(4)}"  # other helpers' runs share this Redis


def _redis_up() -> bool:
    try:
        return Redis.from_url(REDIS_URL, socket_connect_timeout=0.5).ping()
    except Exception:  # noqa: BLE001
        return False


@pytest.fixture()
def rq_queue(app):
    """Point the app at Redis with a queue of its own; empty and delete it afterwards."""
    if not _redis_up():
        pytest.skip("Redis is not running on 127.0.0.1:6379")
    name = f"{RUN_PREFIX}-{secrets.token_hex(3)}"
    old = app.config["REDIS_URL"], app.config["WORKER_QUEUE"]
    app.config["REDIS_URL"], app.config["WORKER_QUEUE"] = REDIS_URL, name
    worker_queue._down_until.clear()
    connection = Redis.from_url(REDIS_URL)
    queue = Queue(name, connection=connection)
    yield queue
    queue.delete(delete_jobs=True)
    for key in connection.scan_iter(f"rq:*{name}*"):  # its registries (finished, failed, scheduled…)
        connection.delete(key)
    app.config["REDIS_URL"], app.config["WORKER_QUEUE"] = old


def run_worker(queue: Queue) -> None:
    """A real RQ worker, in this process (the test's app context), until the queue is empty."""
    SimpleWorker([queue], connection=queue.connection).work(burst=True)


@pytest.fixture()
def webhook():
    receivers = []

    def make(**kwargs):
        receivers.append(WebhookReceiver(**kwargs))
        return receivers[-1]
    yield make
    for receiver in receivers:
        receiver.close()


@pytest.fixture()
def smtp(app):
    sink = SmtpSink()
    old = app.config["SMTP_HOST"], app.config["SMTP_PORT"]
    app.config["SMTP_HOST"], app.config["SMTP_PORT"] = "127.0.0.1", sink.port
    yield sink
    app.config["SMTP_HOST"], app.config["SMTP_PORT"] = old
    sink.close()


def _failing_pilot(db, pilot):
    """Three errors in four calls in the last hour: an error_rate rule at 0.5 fires."""
    now = utcnow()
    for i, status in enumerate(("error", "error", "error", "ok")):
        add_interaction(db, pilot, f"w{i}", at=now - timedelta(minutes=30 + i), status=status, latency=100.0 * (i + 1))
    rule = add_rule(db.session, pilot, None, metric="error_rate", threshold=0.5, window_hours=1)
    db.session.commit()
    return rule


def _webhook_channel(db, pilot, receiver):
    new = channels.add_channel(db.session, pilot, None, kind="webhook", target=receiver.url)
    receiver.secret = new.secret
    db.session.commit()
    return new.channel


# ---- the real worker --------------------------------------------------------------------------

def test_rq_cron_alert_evaluation_reaches_a_signed_webhook(db, world, rq_queue, webhook):
    """RQ's cron scheduler queues the evaluation; a real worker evaluates, fires once, and the
    delivery job POSTs a body whose HMAC the receiver verifies."""
    _failing_pilot(db, world.pilot)
    receiver = webhook()
    _webhook_channel(db, world.pilot, receiver)
    scheduler = CronScheduler(connection=rq_queue.connection)
    register_all(scheduler.register, rq_queue.name)
    assert [job.name for job in scheduler.enqueue_jobs()] == ["pilot-alerts", "pilot-live-verdicts"]
    assert rq_queue.count == 2
    run_worker(rq_queue)  # evaluate_all_alerts → evaluate_pilot_alerts → deliver_alert, all through Redis
    assert rq_queue.count == 0
    event = db.session.scalar(sa.select(AlertEvent))
    assert event is not None and event.value == 0.75
    assert db.session.scalar(sa.select(sa.func.count(LiveVerdict.pilot_id))) == 2  # the five-minute job ran too
    assert len(receiver.received) == 1 and receiver.received[0]["verified"]
    body = receiver.received[0]["body"]
    assert body["rule"] == "error_rate" and body["threshold"] == 0.5 and body["window_hours"] == 1
    assert "Error rate 75.00% is above 50.00% over the last 1 h." in body["text"]
    assert body["evidence_url"].endswith("/pilots/alpha/readiness#alerts")
    delivery = db.session.scalar(sa.select(AlertDelivery))
    db.session.refresh(delivery)
    assert (delivery.status, delivery.attempts) == ("sent", 1)
    # the next minute: still above, already firing, nothing new is sent
    evaluate_all_alerts()
    run_worker(rq_queue)
    assert db.session.scalar(sa.select(sa.func.count(AlertEvent.id))) == 1 and len(receiver.received) == 1


def test_rq_retries_a_failing_webhook_and_records_each_attempt(db, world, rq_queue, webhook):
    receiver = webhook(fail_first=2)
    channel = _webhook_channel(db, world.pilot, receiver)
    delivery = channels.test_delivery(db.session, world.pilot, channel.id, None)
    db.session.commit()
    from pilot.worker.jobs import deliver_alert

    assert worker_queue.enqueue(deliver_alert, delivery.id, retry=True) == "queued"
    run_worker(rq_queue)  # retry intervals are 0 under TestConfig, so the burst worker runs all attempts
    db.session.refresh(delivery)
    assert (delivery.status, delivery.attempts, delivery.error) == ("sent", 3, "")
    assert len(receiver.received) == 3 and all(r["verified"] for r in receiver.received)


def test_a_webhook_that_keeps_failing_ends_failed_after_the_last_retry(db, world, rq_queue, webhook):
    receiver = webhook(fail_first=100)
    channel = _webhook_channel(db, world.pilot, receiver)
    delivery = channels.test_delivery(db.session, world.pilot, channel.id, None)
    db.session.commit()
    from pilot.worker.jobs import deliver_alert

    worker_queue.enqueue(deliver_alert, delivery.id, retry=True)
    run_worker(rq_queue)
    db.session.refresh(delivery)
    assert (delivery.status, delivery.attempts) == ("failed", 4) and "HTTP 500" in delivery.error
    assert len(receiver.received) == 4
    assert channels.working_channels(db.session, world.pilot) == 0


def test_ingest_queues_one_rollup_refresh_and_the_worker_runs_it(db, world, rq_queue, api_key, client):
    from pilot.models import RollupState

    for i in range(2):
        response = client.post("/api/v1/interactions", headers={"Authorization": f"Bearer {api_key}"},
                               json={"event_id": f"ev-{i}", "user": "user-1", "status": "ok", "latency_ms": 10})
        assert response.status_code in (200, 201, 202), response.get_data(as_text=True)
    assert rq_queue.count == 1  # the second batch found the first refresh still waiting
    run_worker(rq_queue)
    state = db.session.scalar(sa.select(RollupState).where(RollupState.pilot_id == world.pilot.id))
    assert state is not None and state.refreshed_at is not None


def test_readyz_reports_the_queue(client, rq_queue, app):
    queue = client.get("/readyz").get_json()["queue"]
    assert queue["mode"] == "rq" and queue["redis"] == "ok" and queue["queue"] == rq_queue.name
    assert queue["queued"] == 0 and isinstance(queue["workers"], int)


# ---- the in-process fallback -----------------------------------------------------------------

def test_without_redis_jobs_run_in_process(db, world, client, app, webhook, caplog):
    receiver = webhook()
    _webhook_channel(db, world.pilot, receiver)
    _failing_pilot(db, world.pilot)
    assert client.get("/readyz").get_json()["queue"] == {"mode": "in-process", "redis": "not configured"}
    assert evaluate_pilot_alerts(world.pilot.id) == 1
    assert len(receiver.received) == 1 and receiver.received[0]["verified"]


def test_an_unreachable_redis_falls_back_and_says_so(db, world, client, app, webhook):
    old = app.config["REDIS_URL"]
    app.config["REDIS_URL"] = f"redis://127.0.0.1:{free_port()}/0"  # nothing listens there
    worker_queue._down_until.clear()
    try:
        assert client.get("/readyz").get_json()["queue"] == {"mode": "in-process", "redis": "unreachable"}
        receiver = webhook()
        channel = _webhook_channel(db, world.pilot, receiver)
        from pilot.worker.jobs import deliver_alert

        delivery = channels.test_delivery(db.session, world.pilot, channel.id, None)
        db.session.commit()
        assert worker_queue.enqueue(deliver_alert, delivery.id, retry=True) == "ran"
        assert len(receiver.received) == 1
    finally:
        app.config["REDIS_URL"] = old


# ---- rules ----------------------------------------------------------------------------------

def test_per_user_and_slow_rate_metrics_by_hand(db, world):
    pilot = world.pilot  # abandon_ms defaults to 4000
    now = utcnow()
    add_interaction(db, pilot, "a1", user="ann", at=now - timedelta(hours=1), latency=5000.0, cost=0.50)
    add_interaction(db, pilot, "a2", user="ann", at=now - timedelta(hours=2), latency=100.0, cost=0.25)
    add_interaction(db, pilot, "a3", user="ann", at=now - timedelta(hours=3), latency=None, cost=None)
    add_interaction(db, pilot, "b1", user="bob", at=now - timedelta(hours=1), latency=4500.0, cost=2.00)
    add_interaction(db, pilot, "old", user="cy", at=now - timedelta(hours=30), latency=9000.0, cost=9.0)
    db.session.commit()
    since = now - timedelta(hours=24)
    assert metric_value(db.session, pilot, "slow_rate", since, now) == 2 / 3  # of the calls with a latency
    assert metric_value(db.session, pilot, "user_requests_per_day", since, now) == 3.0  # ann
    assert metric_value(db.session, pilot, "user_cost_per_day_usd", since, now) == 2.0  # bob
    assert metric_value(db.session, pilot, "user_requests_per_day", now - timedelta(hours=48), now) == 1.5
    rule = add_rule(db.session, pilot, None, metric="user_cost_per_day_usd", threshold=1.0, window_hours=24)
    fired = [c.fired for c in evaluate_alerts(db.session, pilot) if c.fired]
    assert fired and fired[0].rule_id == rule.id and "(user bob)" in fired[0].message


def test_a_rule_fires_again_only_after_it_recovered(db, world):
    rule = _failing_pilot(db, world.pilot)
    now = utcnow()
    assert evaluate_alerts(db.session, world.pilot, now)[0].fired is not None
    assert evaluate_alerts(db.session, world.pilot, now + timedelta(minutes=1))[0].fired is None  # still firing
    db.session.refresh(rule)
    assert rule.firing
    for i in range(10):  # many good calls: 3 errors in 14 is under half
        add_interaction(db, world.pilot, f"ok{i}", at=now - timedelta(minutes=5), status="ok")
    db.session.commit()
    check = evaluate_alerts(db.session, world.pilot, now + timedelta(minutes=2))[0]
    assert not check.crossed and check.fired is None and not rule.firing  # recovered
    for i in range(20):
        add_interaction(db, world.pilot, f"bad{i}", at=now - timedelta(minutes=4), status="error")
    db.session.commit()
    assert evaluate_alerts(db.session, world.pilot, now + timedelta(minutes=3))[0].fired is not None
    assert db.session.scalar(sa.select(sa.func.count(AlertEvent.id))) == 2


# ---- email -----------------------------------------------------------------------------------

def test_alert_email_names_rule_value_threshold_window_and_evidence(db, world, smtp):
    _failing_pilot(db, world.pilot)
    channels.add_channel(db.session, world.pilot, None, kind="email", target="ops@example.com, Lead@Example.com")
    db.session.commit()
    assert evaluate_pilot_alerts(world.pilot.id) == 1
    assert len(smtp.messages) == 1
    message = smtp.messages[0]
    assert sorted(message["to"]) == ["Lead@example.com", "ops@example.com"]
    for text in ("Rule: error_rate", "Value: 75.00%", "Threshold: 50.00%", "Window: last 1 h",
                 "/pilots/alpha/readiness#alerts"):
        assert text in message["data"]
    assert db.session.scalar(sa.select(AlertDelivery.status)) == "sent"


def test_invites_are_emailed_and_can_be_resent(db, world, client_as, smtp):
    lead = client_as("lead")
    page = lead.post("/pilots/alpha/participants/invite", data={"email": "new@example.com", "role": "participant"})
    html = page.get_data(as_text=True)
    assert "Invite emailed to new@example.com" in html and "/invite/" in html  # the link stays copyable
    assert len(smtp.messages) == 1 and smtp.messages[0]["to"] == ["new@example.com"]
    first_link = html.split("/invite/")[1].split("<")[0]
    assert first_link in smtp.messages[0]["data"]
    member = db.session.scalar(sa.select(Membership).where(Membership.email == "new@example.com"))
    assert member.invite_emailed_at is not None
    roster = lead.get("/pilots/alpha/participants").get_data(as_text=True)
    assert "expires" in roster and "emailed" in roster and "Resend" in roster
    resent = lead.post(f"/pilots/alpha/participants/{member.id}/resend").get_data(as_text=True)
    assert "the old link no longer works" in resent and len(smtp.messages) == 2
    assert first_link not in smtp.messages[1]["data"]
    assert client_as("reviewer").post(f"/pilots/alpha/participants/{member.id}/resend").status_code == 403


def test_without_smtp_the_invite_is_a_link_only(db, world, client_as):
    html = client_as("lead").post("/pilots/alpha/participants/invite",
                                  data={"email": "x@example.com", "role": "participant"}).get_data(as_text=True)
    assert "/invite/" in html and "Email is not configured" in html


# ---- invite form fixes -----------------------------------------------------------------------

def test_an_empty_invite_form_creates_no_seat(db, world, client_as):
    before = db.session.scalar(sa.select(sa.func.count(Membership.id)))
    html = client_as("lead").post("/pilots/alpha/participants/invite", data={"email": "", "external_id": "  ",
                                  "role": "participant"}, follow_redirects=True).get_data(as_text=True)
    assert "give at least one" in html
    assert db.session.scalar(sa.select(sa.func.count(Membership.id))) == before


def test_a_closed_pilot_takes_no_invites(db, world, client_as):
    world.pilot.status = "closed"
    db.session.commit()
    html = client_as("lead").post("/pilots/alpha/participants/invite", data={"email": "late@example.com",
                                  "role": "participant"}, follow_redirects=True).get_data(as_text=True)
    assert "The pilot is closed" in html
    assert db.session.scalar(sa.select(Membership.id).where(Membership.email == "late@example.com")) is None


def test_enrolled_counts_accepted_participants_and_invited_apart(db, world, client_as):
    from pilot.enrollment.services import invite
    from pilot.metrics import participant_counts

    accepted = participant_counts(db.session, world.pilot)["enrolled"]
    invite(db.session, world.pilot, email="pending@example.com")
    db.session.commit()
    assert participant_counts(db.session, world.pilot) == {"enrolled": accepted, "invited": 1}
    assert build_report(db.session, world.pilot)["participants"]["enrolled"] == accepted
    roster = client_as("lead").get("/pilots/alpha/participants").get_data(as_text=True)
    assert f"<strong>{accepted}</strong> participant(s) enrolled" in roster and "<strong>1</strong> invited" in roster


# ---- channels: who may, what is accepted, what the checklist makes of them ---------------------------

def test_only_leads_configure_channels_and_send_tests(db, world, client_as, webhook):
    receiver = webhook()
    channel = _webhook_channel(db, world.pilot, receiver)
    for who in ("reviewer", "participant"):
        client = client_as(who)
        assert client.post("/pilots/alpha/alerts/channels", data={"kind": "email", "target": "a@b.c"}).status_code == 403
        assert client.post(f"/pilots/alpha/alerts/channels/{channel.id}/test").status_code == 403
        assert client.post(f"/pilots/alpha/alerts/channels/{channel.id}/remove").status_code == 403
        assert client.post("/pilots/alpha/alerts", data={"metric": "error_rate", "threshold": "0.1"}).status_code == 403
    assert client_as("other_lead").post(f"/pilots/alpha/alerts/channels/{channel.id}/test").status_code == 403
    assert receiver.received == []
    assert db.session.scalar(sa.select(sa.func.count(AlertChannel.id))) == 1


def test_webhook_urls_are_validated_and_the_secret_shown_once(db, world, client_as):
    lead = client_as("lead")
    for bad in ("javascript:alert(1)", "file:///etc/passwd", "ftp://x.example", "http://", "http://a b.example"):
        html = lead.post("/pilots/alpha/alerts/channels", data={"kind": "webhook", "target": bad},
                         follow_redirects=True).get_data(as_text=True)
        assert "Channel not added: target:" in html
    assert "is not an email address" in lead.post("/pilots/alpha/alerts/channels", data={
        "kind": "email", "target": "<script>x</script>"}, follow_redirects=True).get_data(as_text=True)
    assert db.session.scalar(sa.select(sa.func.count(AlertChannel.id))) == 0
    html = lead.post("/pilots/alpha/alerts/channels", data={"kind": "webhook",
                     "target": "https://hooks.example.com/services/T0/B0/tokenpart"}).get_data(as_text=True)
    channel = db.session.scalar(sa.select(AlertChannel))
    assert channel.secret and channel.secret in html and "shown once" in html
    for who in ("lead", "reviewer"):  # a Slack webhook's path is a credential: pages show the host only
        page = client_as(who).get("/pilots/alpha/alerts").get_data(as_text=True)
        assert channel.secret not in page and "tokenpart" not in page and "https://hooks.example.com/…" in page
    audit = db.session.scalar(sa.select(AuditEvent).where(AuditEvent.action == "alert.channel_add"))
    assert channel.secret not in str(audit.after)


def test_monitoring_items_pass_only_after_a_delivery_reached_a_channel(db, world, client_as, webhook):
    now = utcnow()
    for i in range(20):
        add_interaction(db, world.pilot, f"m{i}", at=now - timedelta(hours=1), latency=100.0, cost=0.01)
    for metric, threshold in (("error_rate", 0.5), ("p95_latency_ms", 5000), ("daily_cost_usd", 100)):
        add_rule(db.session, world.pilot, None, metric=metric, threshold=threshold, window_hours=24)
    db.session.commit()

    def statuses():
        items = {i["key"]: i["status"] for i in build_report(db.session, world.pilot)["checklist"]}
        return [items[k] for k in ("monitoring.latency", "monitoring.error_rate", "monitoring.cost_alerts")]
    assert statuses() == ["warn", "warn", "fail"]  # rules, but no channel
    receiver = webhook(fail_first=100)
    channel = _webhook_channel(db, world.pilot, receiver)
    html = client_as("lead").post(f"/pilots/alpha/alerts/channels/{channel.id}/test",
                                  follow_redirects=True).get_data(as_text=True)
    assert "Test alert failed" in html
    assert statuses() == ["warn", "warn", "fail"]  # a channel that was never reached does not count
    receiver.fail_first = 0
    html = client_as("lead").post(f"/pilots/alpha/alerts/channels/{channel.id}/test",
                                  follow_redirects=True).get_data(as_text=True)
    assert "Test alert sent." in html and receiver.received[-1]["body"]["test"] is True
    assert statuses() == ["pass", "pass", "pass"]


def test_a_page_view_fires_nothing(db, world, client_as):
    _failing_pilot(db, world.pilot)
    assert "firing" not in client_as("reviewer").get("/pilots/alpha/alerts").get_data(as_text=True)
    assert db.session.scalar(sa.select(sa.func.count(AlertEvent.id))) == 0
    assert db.session.scalar(sa.select(AlertRule.firing)) is False


# ---- tracked jobs: re-flag and PDF ---------------------------------------------------------------

def test_reflag_runs_as_a_job_with_progress(db, world, client_as):
    for i in range(5):
        add_interaction(db, world.pilot, f"r{i}", status="error")
    db.session.commit()
    response = client_as("lead").post("/pilots/alpha/flags/reflag")
    assert response.status_code == 302 and "/pilots/alpha/jobs/" in response.location
    job = db.session.scalar(sa.select(BackgroundJob))
    assert (job.kind, job.status, job.progress) == ("reflag", "done", 100)
    assert "Re-evaluated 5 interactions" in job.message
    state = client_as("reviewer").get(f"/pilots/alpha/jobs/{job.id}.json").get_json()
    assert state["status"] == "done" and state["progress"] == 100
    assert client_as("other_lead").get(f"/pilots/alpha/jobs/{job.id}.json").status_code == 403
    assert client_as("lead").get(f"/pilots/beta/jobs/{job.id}.json").status_code in (403, 404)


def test_reflag_job_in_the_real_worker(db, world, client_as, rq_queue):
    add_interaction(db, world.pilot, "r1", status="error")
    db.session.commit()
    client_as("lead").post("/pilots/alpha/flags/reflag")
    job = db.session.scalar(sa.select(BackgroundJob))
    assert job.status == "queued" and rq_queue.count == 1
    assert "Waiting for the worker" in client_as("lead").get(f"/pilots/alpha/jobs/{job.id}").get_data(as_text=True)
    run_worker(rq_queue)
    db.session.refresh(job)
    assert (job.status, job.progress) == ("done", 100)


def test_pdf_is_rendered_by_a_job_and_downloaded(db, world, client_as):
    pytest.importorskip("weasyprint")
    response = client_as("reviewer").post("/pilots/alpha/readiness/pdf")
    assert response.status_code == 302
    job = db.session.scalar(sa.select(BackgroundJob))
    if job.status == "failed" and "Pango" in job.message:
        pytest.skip(job.message)
    assert job.status == "done", job.message
    state = client_as("reviewer").get(f"/pilots/alpha/jobs/{job.id}.json").get_json()
    download = client_as("reviewer").get(state["download_url"])
    assert download.status_code == 200 and download.data.startswith(b"%PDF")
    assert client_as("participant").get(state["download_url"]).status_code == 403
    assert client_as("reviewer").post("/pilots/alpha/readiness/pdf", data={"number": "99"}).status_code == 404


def test_hostile_user_ids_reach_slack_text_escaped(db, world, webhook):
    """A per-user alert names the user; in the Slack `text` field `<`, `>` and `&` are escaped, so an
    id like `<!channel>` cannot ping a whole Slack channel; the JSON fields keep it as it is."""
    now = utcnow()
    for i in range(3):
        add_interaction(db, world.pilot, f"h{i}", user="<!channel> & ☃\u202e", at=now - timedelta(minutes=5))
    add_rule(db.session, world.pilot, None, metric="user_requests_per_day", threshold=1, window_hours=24)
    db.session.commit()
    receiver = webhook()
    _webhook_channel(db, world.pilot, receiver)
    assert evaluate_pilot_alerts(world.pilot.id) == 1
    body = receiver.received[0]["body"]
    assert receiver.received[0]["verified"]
    assert "&lt;!channel&gt; &amp; ☃" in body["text"] and "<!channel>" not in body["text"]
    assert "(user <!channel> & ☃\u202e)" in body["summary"]


def test_a_webhook_redirect_is_not_followed(db, world, webhook):
    """The server POSTs only to the URL a lead gave: a 3xx to elsewhere is a failed attempt."""
    elsewhere = webhook()
    receiver = webhook(redirect_to=elsewhere.url)
    channel = _webhook_channel(db, world.pilot, receiver)
    delivery = channels.test_delivery(db.session, world.pilot, channel.id, None)
    db.session.commit()
    from pilot.worker.jobs import deliver_alert

    worker_queue.enqueue(deliver_alert, delivery.id, retry=True)
    db.session.refresh(delivery)
    assert delivery.status == "failed" and "HTTP 307" in delivery.error
    assert len(receiver.received) == 4 and elsewhere.received == []


def test_alert_and_invite_forms_need_csrf(db, world, client_as, csrf_on):
    channel = AlertChannel(pilot_id=world.pilot.id, kind="email", target="ops@example.com", secret="")
    db.session.add(channel)
    db.session.commit()
    lead = client_as("lead")
    assert lead.post("/pilots/alpha/alerts/channels", data={"kind": "email", "target": "a@example.com"}).status_code == 400
    assert lead.post(f"/pilots/alpha/alerts/channels/{channel.id}/test").status_code == 400
    assert lead.post(f"/pilots/alpha/alerts/channels/{channel.id}/remove").status_code == 400
    assert lead.post("/pilots/alpha/readiness/pdf").status_code == 400
    member = world.participant_membership
    assert lead.post(f"/pilots/alpha/participants/{member.id}/resend").status_code == 400
    assert db.session.scalar(sa.select(sa.func.count(AlertDelivery.id))) == 0
    assert db.session.scalar(sa.select(sa.func.count(AlertChannel.id))) == 1


def test_only_the_newest_pdfs_are_kept(db, world, client_as):
    from pilot.models import BackgroundJob as Job
    from pilot.worker.tracking import KEEP_RESULTS, has_result, start

    done = []
    for _ in range(KEEP_RESULTS + 1):
        job = start(db.session, world.pilot, "report_pdf", lambda job_id: None, None)
        job.status, job.result = "done", b"%PDF-fake"
        db.session.commit()
        done.append(job)
    oldest = db.session.get(Job, done[0].id)
    assert not has_result(db.session, oldest) and "Expired" in oldest.message
    assert all(has_result(db.session, job) for job in done[1:])
    assert "download_url" not in client_as("reviewer").get(f"/pilots/alpha/jobs/{oldest.id}.json").get_json()
    assert client_as("reviewer").get(f"/pilots/alpha/jobs/{oldest.id}/download").status_code == 409


_RAN_BY_NAME: list[tuple[int, str]] = []


def record_job_call(number: int, word: str) -> None:
    """A job named by dotted string in the test below."""
    _RAN_BY_NAME.append((number, word))


def test_a_job_named_by_dotted_string_runs_in_process_without_redis(db, app):
    """Capabilities name jobs by string so they never import pilot.worker.jobs; the in-process
    fallback must resolve the name exactly as RQ does."""
    assert app.config["REDIS_URL"] == ""
    assert worker_queue.job_function("pilot.worker.jobs.deliver_alert").__module__ == "pilot.worker.jobs"
    _RAN_BY_NAME.clear()
    assert worker_queue.enqueue(f"{__name__}.record_job_call", 7, "seven") == "ran"
    assert _RAN_BY_NAME == [(7, "seven")]


def test_a_job_named_by_dotted_string_runs_in_the_rq_worker(db, world, rq_queue, webhook):
    receiver = webhook()
    channel = _webhook_channel(db, world.pilot, receiver)
    delivery = channels.test_delivery(db.session, world.pilot, channel.id, None)
    db.session.commit()
    assert worker_queue.enqueue("pilot.worker.jobs.deliver_alert", delivery.id, retry=True) == "queued"
    run_worker(rq_queue)
    db.session.refresh(delivery)
    assert (delivery.status, len(receiver.received)) == ("sent", 1)
