"""The job functions RQ runs. Each takes ids, opens an app context of its own (unless it runs
in-process, inside one already), and hands the work to the capability's services."""
from __future__ import annotations

import contextlib
import logging
from typing import Iterator

import sqlalchemy as sa
from flask import current_app, has_app_context

from pilot.extensions import db
from pilot.models import BackgroundJob, Pilot
from pilot.models.base import utcnow
from pilot.worker.queue import enqueue, retry_policy

log = logging.getLogger(__name__)
_app = None


def worker_app():
    """The app a worker process runs jobs with, built once from the environment."""
    global _app
    if _app is None:
        from pilot import create_app

        _app = create_app()
    return _app


@contextlib.contextmanager
def job_context() -> Iterator[None]:
    """The caller's app context when there is one (in-process fallback, tests), else one of the
    worker's app (a fresh database session per job)."""
    if has_app_context():
        yield
        return
    with worker_app().app_context():
        try:
            yield
        finally:
            db.session.remove()


def evaluate_all_alerts() -> int:
    """Every minute (RQ cron): queue one evaluation per pilot that has an enabled rule."""
    from pilot.models import AlertRule

    with job_context():
        pilot_ids = db.session.scalars(sa.select(AlertRule.pilot_id).distinct().where(AlertRule.enabled.is_(True))).all()
        db.session.rollback()
        for pilot_id in pilot_ids:
            enqueue(evaluate_pilot_alerts, pilot_id)
        return len(pilot_ids)


def evaluate_and_send(session, pilot: Pilot) -> list:
    """Evaluate the pilot's rules, commit, and queue a delivery of each alert that fired to every
    enabled channel. Returns the checks (the CLI prints them)."""
    from pilot.alerts.channels import deliveries_for_event
    from pilot.alerts.services import evaluate_alerts

    checks = evaluate_alerts(session, pilot)
    deliveries = [d.id for check in checks if check.fired is not None
                  for d in deliveries_for_event(session, check.fired)]
    session.commit()
    for delivery_id in deliveries:
        enqueue(deliver_alert, delivery_id, retry=True)
    return checks


def evaluate_pilot_alerts(pilot_id: int) -> int:
    """Evaluate one pilot's rules and send what fired; returns how many fired."""
    with job_context():
        pilot = db.session.get(Pilot, pilot_id)
        if pilot is None:
            return 0
        return sum(check.fired is not None for check in evaluate_and_send(db.session, pilot))


def deliver_alert(delivery_id: int) -> str:
    """One attempt at an email or webhook delivery; raises (so RQ retries) while attempts remain."""
    from pilot.alerts.channels import deliver

    with job_context():
        delivery = deliver(db.session, delivery_id, current_app.config, max_attempts=1 + retry_policy().max)
        return delivery.status if delivery is not None else "gone"


def send_invite_email(membership_id: int, url: str) -> None:
    """Email an invite link (raises on SMTP failure, so RQ retries)."""
    from pilot.enrollment.mail import send_invite

    with job_context():
        send_invite(db.session, membership_id, url, current_app.config)


def refresh_rollup(pilot_id: int) -> int:
    """After ingest: recompute the days the batch's writes recorded (pilot.analytics.changes), so
    the next dashboard view finds nothing pending and only reads."""
    from pilot.analytics.rollup import refresh

    with job_context():
        pilot = db.session.get(Pilot, pilot_id)
        if pilot is None:
            return 0
        days = refresh(db.session, pilot)
        db.session.commit()
        return len(days)


def refresh_live_verdicts() -> int:
    """Every few minutes (RQ cron, and the no-Redis loop of `pilot worker`): queue one live verdict
    refresh per pilot that is not closed (pilot.readiness.live); returns how many were queued."""
    from pilot.readiness.live import pilots_to_refresh

    with job_context():
        pilot_ids = pilots_to_refresh(db.session)
        db.session.rollback()
        for pilot_id in pilot_ids:
            enqueue(refresh_live_verdict, pilot_id)
        return len(pilot_ids)


def refresh_live_verdict(pilot_id: int, force: bool = False) -> bool:
    """Recompute one pilot's live verdict with build_report, unless its data has not changed since
    the last time (or `force`); True when it was recomputed."""
    from sqlalchemy.exc import IntegrityError

    from pilot.readiness.live import refresh

    with job_context():
        pilot = db.session.get(Pilot, pilot_id)
        if pilot is None:
            return False
        try:
            changed = refresh(db.session, pilot, force=force)
            db.session.commit()
        except IntegrityError:  # another run stored this pilot's first verdict at the same moment
            db.session.rollback()
            return False
        return changed


def _run_tracked(job_id: int, work) -> None:
    """Mark a BackgroundJob running, run `work(job)`, and record done or failed (commits)."""
    job = db.session.get(BackgroundJob, job_id)
    if job is None or job.status in ("done", "failed"):
        return
    job.status, job.progress = "running", max(job.progress, 1)
    db.session.commit()
    try:
        work(job)
    except Exception as error:  # noqa: BLE001  the page shows the failure instead of spinning forever
        db.session.rollback()
        log.exception("Background job %s failed", job_id)
        job = db.session.get(BackgroundJob, job_id)
        job.status, job.message, job.finished_at = "failed", f"Failed: {error}"[:1000], utcnow()
    else:
        job.status, job.progress, job.finished_at = "done", 100, utcnow()
    db.session.commit()


def reflag_pilot(job_id: int) -> None:
    """Re-run the flag rules over the pilot's interactions, showing progress on the job."""
    from pilot.flagging.services import run_reflag
    from pilot.models import User

    def work(job: BackgroundJob) -> None:
        def progress(done: int, total: int) -> None:
            job.progress = max(1, min(99, int(done * 100 / total))) if total else 99
            job.message = f"Re-evaluated {done:,} of {total:,} interactions."
            db.session.commit()

        pilot = db.session.get(Pilot, job.pilot_id)
        actor = db.session.get(User, job.created_by_id) if job.created_by_id else None
        result = run_reflag(db.session, pilot, actor=actor, progress=progress)
        job.message = result.summary()

    with job_context():
        _run_tracked(job_id, work)


def render_report_pdf(job_id: int) -> None:
    """Render the readiness report (live, or the snapshot numbered in params) to PDF, kept on the job."""
    from pilot.readiness.pdf_jobs import render_pdf_for_job

    def work(job: BackgroundJob) -> None:
        def progress(percent: int, message: str) -> None:
            job.progress, job.message = percent, message
            db.session.commit()

        job.result = render_pdf_for_job(db.session, job, progress)
        job.message = "Ready to download."

    with job_context():
        _run_tracked(job_id, work)
