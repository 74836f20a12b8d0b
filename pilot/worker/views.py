"""A background job's page: its progress (polled) and, for a PDF, the download when ready."""
from __future__ import annotations

from flask import Blueprint, Response, abort, g, jsonify, redirect, render_template, request, url_for
from flask_login import current_user

from pilot.access import pilot_role_required, scoped_or_404
from pilot.extensions import db
from pilot.models import BackgroundJob
from pilot.pilots.forms import CsrfOnlyForm
from pilot.readiness.pdf_jobs import filename
from pilot.readiness.snapshots import get_snapshot
from pilot.worker import tracking
from pilot.worker.jobs import render_report_pdf

bp = Blueprint("worker", __name__)
JOB_ID = "int(min=1, max=2147483647)"


def _job_or_404(job_id: int):
    return scoped_or_404(BackgroundJob, job_id, g.pilot, "No such job in this pilot.")


def job_state(job) -> dict:
    state = {"id": job.id, "kind": job.kind, "status": job.status, "progress": job.progress, "message": job.message}
    if job.kind == "report_pdf" and job.status == "done" and tracking.has_result(db.session, job):
        state["download_url"] = url_for("worker.download", slug=g.pilot.slug, job_id=job.id)
    return state


@bp.route("/pilots/<slug>/readiness/pdf", methods=["POST"])
@pilot_role_required("reviewer")
def start_pdf(slug: str):
    """Render the live report's PDF, or snapshot `number`'s, in the worker; follow it on the job page."""
    if not CsrfOnlyForm().validate_on_submit():
        abort(400, description="The form expired; reload the page and try again.")
    params = {}
    number_text = (request.form.get("number") or "").strip()
    if number_text:
        if not number_text.isdigit() or not 1 <= int(number_text) <= 2147483647 \
                or get_snapshot(db.session, g.pilot, int(number_text)) is None:
            abort(404, description=f"No report #{number_text[:20]} in this pilot.")
        params["number"] = int(number_text)
    job = tracking.start(db.session, g.pilot, "report_pdf", render_report_pdf, current_user, params)
    return redirect(url_for("worker.page", slug=slug, job_id=job.id))


@bp.route(f"/pilots/<slug>/jobs/<{JOB_ID}:job_id>")
@pilot_role_required("reviewer")
def page(slug: str, job_id: int):
    job = _job_or_404(job_id)
    return render_template("worker/job.html", pilot=g.pilot, job=job, state=job_state(job))


@bp.route(f"/pilots/<slug>/jobs/<{JOB_ID}:job_id>.json")
@pilot_role_required("reviewer")
def state(slug: str, job_id: int):
    return jsonify(job_state(_job_or_404(job_id)))


@bp.route(f"/pilots/<slug>/jobs/<{JOB_ID}:job_id>/download")
@pilot_role_required("reviewer")
def download(slug: str, job_id: int):
    job = _job_or_404(job_id)
    if job.kind != "report_pdf" or job.status != "done" or not job.result:
        abort(409, description="This job has no file to download (yet).")
    response = Response(job.result, mimetype="application/pdf")
    response.headers["Content-Disposition"] = f'attachment; filename="{filename(g.pilot, job)}"'
    return response
