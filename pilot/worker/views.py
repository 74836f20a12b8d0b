"""A background job's page: its progress (polled) and, for a PDF, the link to the readiness
capability's download when ready."""
from __future__ import annotations

from flask import Blueprint, g, jsonify, render_template, url_for

from pilot.access import pilot_role_required, scoped_or_404
from pilot.extensions import db
from pilot.models import BackgroundJob
from pilot.worker import tracking

bp = Blueprint("worker", __name__)
JOB_ID = "int(min=1, max=2147483647)"


def _job_or_404(job_id: int):
    return scoped_or_404(BackgroundJob, job_id, g.pilot, "No such job in this pilot.")


def job_state(job) -> dict:
    state = {"id": job.id, "kind": job.kind, "status": job.status, "progress": job.progress, "message": job.message}
    if job.kind == "report_pdf" and job.status == "done" and tracking.has_result(db.session, job):
        state["download_url"] = url_for("readiness.download_pdf", slug=g.pilot.slug, job_id=job.id)
    return state


@bp.route(f"/pilots/<slug>/jobs/<{JOB_ID}:job_id>")
@pilot_role_required("reviewer")
def page(slug: str, job_id: int):
    job = _job_or_404(job_id)
    return render_template("worker/job.html", pilot=g.pilot, job=job, state=job_state(job))


@bp.route(f"/pilots/<slug>/jobs/<{JOB_ID}:job_id>.json")
@pilot_role_required("reviewer")
def state(slug: str, job_id: int):
    return jsonify(job_state(_job_or_404(job_id)))
