"""The readiness page, attestations, snapshots and sign-off, exports and the readiness API.

Reviewers and above read everything here; only leads (and admins) attest, snapshot and sign.
"""
from __future__ import annotations

from datetime import date, timedelta

from flask import (
    Blueprint,
    Response,
    abort,
    flash,
    g,
    jsonify,
    redirect,
    render_template,
    request,
    stream_with_context,
    url_for,
)
from flask_login import current_user
from sqlalchemy.exc import IntegrityError

from pilot.access import api_pilot_access, is_lead, may_sign_report, pilot_role_required, scoped_or_404
from pilot.api_rate import api_read_rate_limit
from pilot.extensions import db
from pilot.forms import CsrfOnlyForm
from pilot.models import BackgroundJob
from pilot.models.base import utcnow
from pilot.readiness import attestations, exports, pdf_jobs, snapshots
from pilot.readiness.checklist import SECTIONS, evidence_html
from pilot.readiness.decision import pilot_decisions
from pilot.readiness.report import build_report
from pilot.unit_of_work import unit_of_work
from pilot.worker import queue as worker_queue
from pilot.worker import tracking

bp = Blueprint("readiness", __name__)

# Snapshot numbers beyond the INTEGER column are 404s, not database errors.
NUMBER = "int(min=1, max=2147483647)"


bp.add_app_template_filter(evidence_html, "evidence_html")  # the page and the printable report


@bp.app_template_global()
def launch_decision(pilot):
    """The launch decision panel's data for any page (the overview dashboard shows it): the stored
    live verdict and the newest snapshot (pilot.readiness.decision), so a page of another
    blueprint shows readiness's decision without importing readiness."""
    return pilot_decisions(db.session, [pilot]).get(pilot.id)


def _snapshot_or_404(number: int):
    report = snapshots.get_snapshot(db.session, g.pilot, number)
    if report is None:
        abort(404, description=f"No report #{number} in this pilot.")
    return report


def _render(report: dict, fmt: str, stale_note: str | None = None) -> bytes:
    try:
        return exports.render_report(report, fmt, stale_note=stale_note)
    except exports.PdfUnavailable as error:
        abort(503, description=str(error))


def _json(report: dict) -> Response:
    """The report as JSON in docs/design.md's key order (jsonify would sort the keys)."""
    return Response(exports.report_json_text(report), mimetype="application/json")


def _download(body: bytes, fmt: str, filename: str) -> Response:
    disposition = "inline" if fmt in ("html", "pdf") else "attachment"
    response = Response(body, mimetype=exports.MIMETYPES[fmt])
    response.headers["Content-Disposition"] = f'{disposition}; filename="{filename}.{fmt}"'
    if fmt == "html":  # the printable report needs no scripts at all
        response.headers["Content-Security-Policy"] = "default-src 'none'; style-src 'unsafe-inline'; img-src data:"
    return response


def _page(report: dict | None = None, attempt: dict | None = None, status: int = 200):
    """The readiness page; `attempt` is a refused attestation form (its values and field errors)
    shown again in place so nothing typed is lost."""
    report = report or build_report(db.session, g.pilot)
    sections = {section: [item for item in report["checklist"] if item["section"] == section] for section in SECTIONS}
    snapshot_rows = snapshots.list_snapshots(db.session, g.pilot)
    newest = snapshot_rows[0] if snapshot_rows else None
    signed = next((row for row in snapshot_rows if row.signatures), None)
    return render_template(
        "readiness/page.html", pilot=g.pilot, report=report, sections=sections, is_lead=is_lead(current_user, g.pilot),
        may_sign=may_sign_report(db.session, current_user, g.pilot),
        form=CsrfOnlyForm(), snapshots=snapshot_rows, attempt=attempt or {},
        newest_stale=snapshots.staleness(db.session, g.pilot, newest) if newest else None,
        signed_snapshot=snapshots.snapshot_json(signed) if signed else None,
        pending_signers={row.number: snapshots.pending_signers(row) for row in snapshot_rows
                         if row.signatures and not snapshots.is_complete(row)},
        today=utcnow().date().isoformat(),
        longest_exemption=(utcnow().date() + timedelta(days=g.pilot.max_exemption_days)).isoformat(),
        ready_to_sign=[r["kind"] for r in report["verdict_reasons"]] == ["unsigned"],
    ), status


@bp.route("/pilots/<slug>/readiness")
@pilot_role_required("reviewer")
def page(slug: str):
    return _page()


@bp.route("/pilots/<slug>/readiness/attest", methods=["POST"])
@pilot_role_required("lead")
def attest(slug: str):
    if not CsrfOnlyForm().validate_on_submit():
        abort(400)
    key = request.form.get("key", "")
    fields = ("status", "note", "link", "owner", "exempt_until")
    typed = {name: request.form.get(name, "") for name in fields}
    report = build_report(db.session, g.pilot)
    measured = next((item["auto_status"] for item in report["checklist"] if item["key"] == key), None)
    try:
        with unit_of_work():
            exempt_text = typed["exempt_until"].strip()
            try:
                exempt_until = date.fromisoformat(exempt_text) if exempt_text else None
            except ValueError:
                raise attestations.AttestationError("exempt_until must be a date (YYYY-MM-DD)", "exempt_until") from None
            attestations.attest(db.session, g.pilot, current_user, key=key, status=typed["status"], note=typed["note"],
                                link=typed["link"], owner=typed["owner"], exempt_until=exempt_until,
                                measured_status=measured, today=utcnow().date())
    except attestations.AttestationError as error:
        flash(f"{key}: not recorded — {error}", "error")
        return _page(report, attempt={"key": key, "values": typed, "field": error.field or "note",
                                      "error": str(error)}, status=422)
    flash(f"Recorded your {'exemption' if exempt_until else 'attestation'} on {key}.", "success")
    return redirect(url_for("readiness.page", slug=slug, _anchor=f"item-{key}"))


@bp.route("/pilots/<slug>/readiness/reports", methods=["POST"])
@pilot_role_required("lead")
def create_report(slug: str):
    if not CsrfOnlyForm().validate_on_submit():
        abort(400)
    try:
        with unit_of_work():
            report = snapshots.create_snapshot(db.session, g.pilot, current_user)
    except IntegrityError:  # two leads took the same number at the same moment
        flash("Another report was being created at the same moment: try again.", "error")
    else:
        flash(f"Created report #{report.number} ({report.verdict}).", "success")
    return redirect(url_for("readiness.page", slug=slug, _anchor="snapshots"))


@bp.route(f"/pilots/<slug>/readiness/reports/<{NUMBER}:number>/sign", methods=["POST"])
@pilot_role_required("lead")
def sign_report(slug: str, number: int):
    if not CsrfOnlyForm().validate_on_submit():
        abort(400)
    report = _snapshot_or_404(number)
    try:
        with unit_of_work():
            snapshots.sign_snapshot(db.session, g.pilot, report, current_user, request.form.get("note", ""))
    except snapshots.NotAllowedToSign as error:
        abort(403, description=str(error))
    except snapshots.SnapshotError as error:
        flash(str(error), "error")
    else:
        worker_queue.refresh_live_verdict_soon(g.pilot.id)
        if snapshots.is_complete(report):
            label = snapshots.snapshot_json(report)["verdict_label"]
            flash(f"You signed report #{number}: the signatures are complete and the verdict is {label}.", "success")
        else:
            waiting = ", ".join(snapshots.pending_signers(report)) or "another lead (add one to the pilot)"
            flash(f"You signed report #{number} ({len(report.signatures)} of {report.required_signers} signatures). "
                  f"Still to sign: {waiting}.", "success")
    return redirect(url_for("readiness.page", slug=slug, _anchor="snapshots"))


@bp.route("/pilots/<slug>/readiness.<any(json,csv,html,pdf):fmt>")
@pilot_role_required("reviewer")
def export_live(slug: str, fmt: str):
    body = _render(build_report(db.session, g.pilot), fmt)
    return _download(body, fmt, f"{slug}-readiness-live")


@bp.route(f"/pilots/<slug>/readiness/reports/<{NUMBER}:number>.<any(json,csv,html,pdf):fmt>")
@pilot_role_required("reviewer")
def export_snapshot(slug: str, number: int, fmt: str):
    report = _snapshot_or_404(number)
    body = _render(snapshots.snapshot_json(report), fmt, snapshots.staleness(db.session, g.pilot, report))
    return _download(body, fmt, f"{slug}-readiness-{number}")


@bp.route("/pilots/<slug>/export/<any(interactions,flags,users):table>.csv")
@pilot_role_required("reviewer")
def export_data(slug: str, table: str):
    lines = exports.DATA_EXPORTS[table](db.session, g.pilot)
    response = Response(stream_with_context(lines), mimetype=exports.MIMETYPES["csv"])
    response.headers["Content-Disposition"] = f'attachment; filename="{slug}-{table}.csv"'
    return response


@bp.route("/api/v1/pilots/<slug>/readiness")
@api_read_rate_limit
@api_pilot_access("reviewer")
def api_readiness(slug: str):
    return _json(build_report(db.session, g.pilot))


@bp.route("/api/v1/pilots/<slug>/reports")
@api_read_rate_limit
@api_pilot_access("reviewer")
def api_reports(slug: str):
    rows = snapshots.list_snapshots(db.session, g.pilot)
    return jsonify(reports=[{"number": r.number, "created_at": r.created_at.isoformat() + "Z", "verdict": r.verdict,
                             "signed": r.signed_at is not None, "signatures": len(r.signatures),
                             "required_signers": r.required_signers} for r in rows])


@bp.route(f"/api/v1/pilots/<slug>/reports/<{NUMBER}:number>")
@api_read_rate_limit
@api_pilot_access("reviewer")
def api_report(slug: str, number: int):
    return _json(snapshots.snapshot_json(_snapshot_or_404(number)))


@bp.route("/pilots/<slug>/readiness/pdf", methods=["POST"])
@pilot_role_required("reviewer")
def start_pdf(slug: str):
    """Render the live report's PDF, or snapshot `number`'s, in the worker; follow it on the job page."""
    if not CsrfOnlyForm().validate_on_submit():
        abort(400, description="The form expired; reload the page and try again.")
    params = {}
    number_text = (request.form.get("number") or "").strip()
    if number_text:
        if not (number_text.isascii() and number_text.isdigit()) or len(number_text) > 10 \
                or not 1 <= int(number_text) <= 2147483647 \
                or snapshots.get_snapshot(db.session, g.pilot, int(number_text)) is None:
            abort(404, description=f"No report #{number_text[:20]} in this pilot.")
        params["number"] = int(number_text)
    job = tracking.start(db.session, g.pilot, "report_pdf", "pilot.worker.jobs.render_report_pdf", current_user, params)
    return redirect(url_for("worker.page", slug=slug, job_id=job.id))


@bp.route(f"/pilots/<slug>/jobs/<{NUMBER}:job_id>/download")
@pilot_role_required("reviewer")
def download_pdf(slug: str, job_id: int):
    """A finished report PDF job's file (the job page links here)."""
    job = scoped_or_404(BackgroundJob, job_id, g.pilot, "No such job in this pilot.")
    if job.kind != "report_pdf" or job.status != "done" or not job.result:
        abort(409, description="This job has no file to download (yet).")
    response = Response(job.result, mimetype="application/pdf")
    response.headers["Content-Disposition"] = f'attachment; filename="{pdf_jobs.filename(g.pilot, job)}"'
    return response
