"""The live verdict computed in the background (pilot.readiness.live, LiveVerdict) and shown on
the overview and the pilot list beside the newest snapshot's signature state (issue 10)."""
from __future__ import annotations

from datetime import timedelta

import pytest
import sqlalchemy as sa

from pilot.extensions import db as _db
from pilot.models import LiveVerdict, Pilot
from pilot.models.base import utcnow
from pilot.readiness import build_report, live
from pilot.readiness.attestations import attest
from pilot.readiness.decision import pilot_decisions
from pilot.readiness.snapshots import create_snapshot, sign_snapshot
from pilot.worker import queue as worker_queue
from pilot.worker.jobs import refresh_live_verdict, refresh_live_verdicts
from tests.factories import add_member, make_user
from tests.readiness_data import add_interaction, load_sample
from tests.test_readiness_snapshots import make_ready
from tests.test_worker_alerts import rq_queue, run_worker  # noqa: F401  rq_queue is a fixture

TODAY = utcnow().date()


def _row(db, pilot) -> LiveVerdict | None:
    db.session.expire_all()
    return db.session.get(LiveVerdict, pilot.id)


def _arrive(db, pilot, event_id: str, seconds_later: int = 5):
    """An interaction that arrived after everything so far (received_at strictly later)."""
    interaction = add_interaction(db, pilot, event_id)
    interaction.received_at = utcnow() + timedelta(seconds=seconds_later)
    db.session.commit()
    return interaction


# ---- the job -----------------------------------------------------------------------------------

def test_job_stores_the_same_verdict_as_build_report(db, world):
    load_sample(db, world.pilot)
    db.session.commit()
    assert refresh_live_verdict(world.pilot.id) is True
    row = _row(db, world.pilot)
    report = build_report(db.session, world.pilot)
    assert row.verdict == report["verdict"] == "no-go"
    assert row.verdict_label == report["verdict_label"]
    assert row.reasons == [reason["message"] for reason in report["verdict_reasons"]] and len(row.reasons) > 3
    assert row.interactions == report["interactions"]["total"] == 7
    newest = db.session.execute(sa.text("SELECT max(id), max(received_at) FROM interaction WHERE pilot_id = :p"),
                                {"p": world.pilot.id}).one()
    assert row.newest_interaction_id == newest[0] and row.newest_received_at is not None
    assert row.source["interaction_count"] == 7 and row.source["day"] == TODAY.isoformat()
    assert refresh_live_verdict(987654) is False  # a pilot that is gone: nothing to do


def test_job_skips_a_pilot_whose_data_has_not_changed(db, world, monkeypatch):
    assert refresh_live_verdict(world.pilot.id) is True
    first = _row(db, world.pilot).computed_at
    built = []
    monkeypatch.setattr(live, "build_report", lambda *args, **kw: built.append(1) or build_report(*args, **kw))
    assert refresh_live_verdict(world.pilot.id) is False and built == []
    assert _row(db, world.pilot).computed_at == first

    _arrive(db, world.pilot, "new-1")  # an interaction arrives
    assert refresh_live_verdict(world.pilot.id) is True and built == [1]
    assert _row(db, world.pilot).interactions == 1
    assert refresh_live_verdict(world.pilot.id) is False

    attest(db.session, world.pilot, world.lead, key="scaling.stateless", status="pass",
           note="state in PostgreSQL", today=TODAY)  # a lead's attestation changes the report too
    db.session.commit()
    assert refresh_live_verdict(world.pilot.id) is True and built == [1, 1]
    assert refresh_live_verdict(world.pilot.id, force=True) is True  # forced

    later = utcnow() + live.RECOMPUTE_AFTER + timedelta(minutes=1)  # rules that look at recent days move on
    assert live.refresh(db.session, world.pilot, now=later) is True


def test_scheduled_run_covers_every_open_pilot_in_process_without_redis(db, world):
    world.other_pilot.status = "closed"
    db.session.commit()
    assert worker_queue.get_queue() is None  # no Redis in the test config: enqueue runs here
    assert refresh_live_verdicts() == 2
    assert _row(db, world.pilot) is not None and _row(db, world.other_pilot) is not None
    assert refresh_live_verdicts() == 1  # a closed pilot with a verdict is left alone


def test_worker_command_without_redis_refreshes_live_verdicts(app, db, world, monkeypatch):
    """`pilot worker` without Redis: alerts every minute and live verdicts in the same loop."""
    import time

    from pilot.worker import jobs

    class Stop(Exception):
        pass

    def stop(seconds):
        raise Stop(seconds)

    monkeypatch.setattr(jobs, "_app", app)
    monkeypatch.setattr(time, "sleep", stop)
    result = app.test_cli_runner().invoke(args=["pilot", "worker"])
    assert isinstance(result.exception, Stop) and result.exception.args == (60,)
    assert "No Redis" in result.output
    assert _row(db, world.pilot) is not None and _row(db, world.other_pilot) is not None


def test_creating_a_snapshot_stores_the_live_verdict_it_built(db, world):
    snapshot = create_snapshot(db.session, world.pilot, world.lead)
    db.session.commit()
    row = _row(db, world.pilot)
    assert row is not None and row.computed_at == snapshot.created_at
    assert row.reasons == [reason["message"] for reason in snapshot.payload["verdict_reasons"]]
    assert worker_queue.refresh_live_verdict_soon(world.pilot.id) == "skipped"  # no Redis: the schedule does it


# ---- the pages ---------------------------------------------------------------------------------

def test_overview_and_list_without_a_verdict_say_it_is_being_computed(db, world, client_as):
    overview = client_as("lead").get("/pilots/alpha").get_data(as_text=True)
    assert "Verdict being computed" in overview and 'href="/pilots/alpha/readiness"' in overview
    assert "No report yet" in overview
    listing = client_as("reviewer").get("/").get_data(as_text=True)
    assert listing.count("Verdict being computed") == 1  # the reviewer is in alpha only
    assert db.session.scalar(sa.select(sa.func.count()).select_from(LiveVerdict)) == 0  # a GET writes nothing


def test_overview_and_list_show_the_live_verdict_reasons_and_time(db, world, client_as):
    load_sample(db, world.pilot)
    db.session.commit()
    refresh_live_verdict(world.pilot.id)
    row = _row(db, world.pilot)
    overview = client_as("lead").get("/pilots/alpha").get_data(as_text=True)
    panel = overview[overview.index('id="decision"'):overview.index("</section>", overview.index('id="decision"'))]
    assert '<span class="badge no-go">no-go</span>' in panel
    assert f"as of <time datetime=\"{row.computed_at.isoformat()}Z\" data-local>{row.computed_at:%Y-%m-%d %H:%M} UTC" \
        in panel
    shown = [reason for reason in row.reasons if reason.replace("<", "&lt;").replace(">", "&gt;")
             .replace('"', "&#34;").replace("'", "&#39;") in panel]
    assert shown == row.reasons[:3]
    assert f"and {len(row.reasons) - 3} more" in panel
    assert "new data since" not in panel and "No report yet" in panel

    listing = client_as("lead").get("/").get_data(as_text=True)
    assert '<span class="badge no-go">no-go</span>' in listing
    assert f"{row.computed_at:%Y-%m-%d %H:%M} UTC" in listing and f"(+{len(row.reasons) - 1})" in listing


def test_reasons_are_escaped_on_the_overview_and_the_list(db, world, client_as):
    make_ready(db, world.pilot, world.lead)
    attest(db.session, world.pilot, world.lead, key="scaling.stateless", status="fail",
           note="<script>alert(1)</script> sessions kept in memory", today=TODAY)
    db.session.commit()
    refresh_live_verdict(world.pilot.id)
    assert _row(db, world.pilot).reasons[0].endswith("<script>alert(1)</script> sessions kept in memory")
    for page in (client_as("lead").get("/pilots/alpha"), client_as("lead").get("/")):
        text = page.get_data(as_text=True)
        assert "<script>alert(1)</script>" not in text
        assert "attested as failing: &lt;script&gt;alert(1)&lt;/script&gt; sessions kept in memory" in text


def test_new_data_marks_the_live_verdict_and_an_older_snapshot_outdated(db, world, client_as):
    second = make_user("second-lead@example.com", name="Second Lead")
    add_member(world.pilot, second, "lead", external_id="second-lead")
    snapshot = create_snapshot(db.session, world.pilot, world.lead)
    sign_snapshot(db.session, world.pilot, snapshot, world.lead, "")
    db.session.commit()
    overview = client_as("lead").get("/pilots/alpha").get_data(as_text=True)
    assert "live, as of" in overview and "report #1" in overview
    assert "1 of 2 signatures, waiting for Second Lead" in overview
    assert "outdated" not in overview and "new data since" not in overview

    _arrive(db, world.pilot, "after-snapshot")
    overview = client_as("reviewer").get("/pilots/alpha").get_data(as_text=True)
    assert "new data since" in overview and ">outdated</span>" in overview
    listing = client_as("lead").get("/").get_data(as_text=True)
    assert "new data since" in listing and ">outdated</span>" in listing

    refresh_live_verdict(world.pilot.id)  # the worker catches up: the live verdict is current again
    overview = client_as("lead").get("/pilots/alpha").get_data(as_text=True)
    assert "new data since" not in overview and ">outdated</span>" in overview  # the snapshot stays older


def test_participants_see_no_verdict(db, world, client_as):
    refresh_live_verdicts()
    create_snapshot(db.session, world.pilot, world.lead)
    db.session.commit()
    listing = client_as("participant").get("/").get_data(as_text=True)
    for text in ("live, as of", "Verdict being computed", "report #1", "No lead has signed", "Launch decision:"):
        assert text not in listing
    assert client_as("participant").get("/pilots/alpha").status_code in (302, 403)
    assert client_as("reviewer").get("/pilots/alpha").status_code == 200


def test_decisions_of_many_pilots_take_one_query(app, db, world):
    second = make_user("second-lead@example.com", name="Second Lead")
    add_member(world.pilot, second, "lead", external_id="second-lead")
    for pilot, lead in ((world.pilot, world.lead), (world.other_pilot, world.other_lead)):
        snapshot = create_snapshot(db.session, pilot, lead)
        sign_snapshot(db.session, pilot, snapshot, lead, "")
    db.session.commit()

    def statements(pilot_ids) -> int:
        db.session.expunge_all()  # nothing loaded before: every snapshot, signature and signer is read here
        pilots = list(db.session.scalars(sa.select(Pilot).where(Pilot.id.in_(pilot_ids))))
        seen = []
        listener = lambda *args: seen.append(args[2])  # noqa: E731
        sa.event.listen(_db.engine, "before_cursor_execute", listener)
        try:
            decisions = pilot_decisions(db.session, pilots)
        finally:
            sa.event.remove(_db.engine, "before_cursor_execute", listener)
        assert all(d.live is not None and d.snapshot is not None for d in decisions.values())
        return len(seen)

    alpha, beta = world.pilot.id, world.other_pilot.id
    one, both = statements([alpha]), statements([alpha, beta])
    assert one == both <= 3, (one, both)  # the decisions, the snapshots' signatures with signers, the waiting leads
    pilots = list(db.session.scalars(sa.select(Pilot).where(Pilot.id.in_([alpha, beta]))))
    decisions = pilot_decisions(db.session, pilots)
    assert decisions[alpha].snapshot.pending == ["Second Lead"] and decisions[alpha].snapshot.signers == ["lead"]
    assert decisions[beta].snapshot.complete is True


@pytest.mark.parametrize("who", ["lead", "reviewer"])
def test_team_members_see_the_live_verdict_in_the_list(db, world, client_as, who):
    refresh_live_verdicts()
    listing = client_as(who).get("/").get_data(as_text=True)
    assert "live, as of" in listing and "No report yet" in listing
    row = _row(db, world.pilot)
    assert row.reasons[0].replace("'", "&#39;") in listing and row.reasons[-1].startswith("No lead has signed")


def test_signing_queues_a_refresh_that_a_real_worker_runs(db, world, client_as, rq_queue):
    """With Redis: the sign route queues one refresh (one at a time per pilot), an RQ worker runs it."""
    create_snapshot(db.session, world.pilot, world.lead)
    db.session.commit()
    _arrive(db, world.pilot, "before-signing")
    before = _row(db, world.pilot).computed_at
    response = client_as("lead").post("/pilots/alpha/readiness/reports/1/sign", data={"note": "ok"})
    assert response.status_code == 302 and rq_queue.count == 1
    assert worker_queue.refresh_live_verdict_soon(world.pilot.id) == "already queued"
    run_worker(rq_queue)
    row = _row(db, world.pilot)
    assert row.computed_at > before and row.interactions == 1 and rq_queue.count == 0
