"""The participant's pages: their interactions with ratings, problem reports, general feedback,
their data export and leaving. Every page shows only the signed-in member's own data."""
from __future__ import annotations

import json

from flask import (
    Blueprint,
    Response,
    abort,
    current_app,
    flash,
    g,
    jsonify,
    redirect,
    render_template,
    request,
    url_for,
)
from flask_login import current_user, logout_user
from werkzeug.exceptions import RequestEntityTooLarge

from pilot.access import may_leave, parse_id, pilot_role_required
from pilot.extensions import db
from pilot.feedback import services as feedback_services
from pilot.feedback.services import (
    GENERAL_KINDS,
    KIND_LABELS,
    MAX_COMMENT_CHARS,
    MAX_REPORT_CHARS,
    PROBLEM_TYPE_LABELS,
    STATUS_LABELS,
    FeedbackError,
    ReportError,
)
from pilot.feedback.team import ID_CONVERTER
from pilot.models import Membership
from pilot.participant import services
from pilot.participant.forms import GeneralFeedbackForm, HomeQuery, LeaveForm, ProblemReportForm, RatingForm
from pilot.unit_of_work import unit_of_work

bp = Blueprint("participant", __name__)


@bp.app_context_processor
def participant_labels() -> dict:
    """Labels the participant and team templates share."""
    return {"problem_type_labels": PROBLEM_TYPE_LABELS, "kind_labels": KIND_LABELS, "status_labels": STATUS_LABELS,
            "max_comment_chars": MAX_COMMENT_CHARS, "max_report_chars": MAX_REPORT_CHARS, "fold": services.fold}


def _member_or_403() -> Membership:
    """The signed-in member of this pilot (admins without a membership have no own data)."""
    if g.membership is None:
        abort(403, description="You are not a member of this pilot, so you have no interactions of your own here.")
    return g.membership


def _wants_json() -> bool:
    """The small script saves ratings in place and asks for JSON; a plain form gets a redirect."""
    return request.accept_mimetypes.best == "application/json"


@bp.route("/pilots/<slug>/me")
@pilot_role_required("participant")
def home(slug: str):
    membership = g.membership
    page = ratings = reports_by_interaction = reports = None
    if membership is not None:
        with unit_of_work():
            services.touch_last_seen(membership)  # a once-a-minute activity stamp, not a change of data
        page = services.interactions_page(db.session, membership, HomeQuery().page.data)
        ids = [interaction.id for interaction in page.items]
        ratings = services.ratings_for(db.session, membership, ids)
        reports_by_interaction = services.reports_for(db.session, membership, ids)
        reports = services.recent_reports(db.session, membership)
    return render_template(
        "participant/home.html", pilot=g.pilot, membership=membership, page=page, ratings=ratings or {},
        reports_by_interaction=reports_by_interaction or {}, reports=reports or [],
    )


@bp.route(f"/pilots/<slug>/me/interactions/<{ID_CONVERTER}:interaction_id>/rating", methods=["POST"])
@pilot_role_required("participant")
def rate(slug: str, interaction_id: int):
    membership = _member_or_403()
    interaction = services.get_own_interaction(db.session, membership, interaction_id)
    if interaction is None:
        abort(404, description="No such interaction of yours.")
    if not RatingForm().validate_on_submit():
        abort(400, description="The form expired: reload the page and try again.")
    thumbs, rating, comment = feedback_services.parse_form_rating(request.form)
    back = url_for("participant.home", slug=slug, page=request.form.get("page") or None, _anchor=f"i-{interaction.id}")
    try:
        with unit_of_work():
            feedback_services.record_feedback(db.session, g.pilot, interaction, thumbs=thumbs, rating=rating,
                                              comment=comment, membership=membership, source="ui")
    except FeedbackError as error:
        message = f"Not saved: {error}."
        if _wants_json():
            return jsonify(saved=False, error=message), 400
        flash(message, "error")
        return redirect(back)
    if _wants_json():
        return jsonify(saved=True, message="Saved. Thank you!")
    flash("Thanks, your rating is saved. You can change it any time.", "success")
    return redirect(back)


@bp.route("/pilots/<slug>/me/report", methods=["GET", "POST"])
@pilot_role_required("participant")
def report_problem(slug: str):
    membership = _member_or_403()
    try:
        form = ProblemReportForm()
        raw_id = request.values.get("interaction") or ""
    except RequestEntityTooLarge:
        return _too_large_upload(slug)
    interaction = None
    if raw_id:
        interaction_id = parse_id(raw_id)
        interaction = services.get_own_interaction(db.session, membership, interaction_id) if interaction_id else None
        if interaction is None:
            abort(404, description="No such interaction of yours.")
    errors: list[str] = []
    if request.method == "POST":
        try:
            form_ok = form.validate_on_submit()
            upload = request.files.get("screenshot")
        except RequestEntityTooLarge:
            return _too_large_upload(slug)
        if not form_ok:
            abort(400, description="The form expired: reload the page and try again.")
        max_bytes = current_app.config["UPLOAD_MAX_BYTES"]
        data = upload.stream.read(max_bytes + 1) if upload is not None and upload.filename else None
        try:
            with unit_of_work():
                feedback_services.submit_report(
                    db.session, g.pilot, membership, kind="problem", problem_type=request.form.get("problem_type"),
                    description=request.form.get("description"), interaction=interaction, screenshot_data=data,
                    upload_dir=current_app.config["UPLOAD_DIR"], max_bytes=max_bytes,
                )
        except ReportError as error:
            errors = error.messages
        else:
            flash("Thank you! Your report reached the team. You will see here when they look at it.", "success")
            return redirect(url_for("participant.home", slug=slug, _anchor="reports"))
    return render_template("participant/report.html", pilot=g.pilot, form=form, interaction=interaction,
                           errors=errors), (400 if errors else 200)


def _too_large_upload(slug: str):
    """The whole upload was over the server's request limit: say so on the form, not with a 413 page."""
    limit = current_app.config["UPLOAD_MAX_BYTES"] / 1_048_576
    return render_template(
        "participant/report.html", pilot=g.pilot, form=ProblemReportForm(formdata=None), interaction=None,
        errors=[f"screenshot: the file is far larger than {limit:g} MB; please send a smaller image"],
    ), 413


@bp.route("/pilots/<slug>/me/feedback", methods=["GET", "POST"])
@pilot_role_required("participant")
def general_feedback(slug: str):
    membership = _member_or_403()
    form = GeneralFeedbackForm()
    errors: list[str] = []
    if request.method == "POST":
        if not form.validate_on_submit():
            abort(400, description="The form expired: reload the page and try again.")
        try:
            with unit_of_work():
                feedback_services.submit_report(db.session, g.pilot, membership, kind=request.form.get("kind"),
                                                description=request.form.get("description"))
        except ReportError as error:
            errors = error.messages
        else:
            flash("Thank you! The team sees your message and will mark it when they act on it.", "success")
            return redirect(url_for("participant.home", slug=slug, _anchor="reports"))
    return render_template("participant/feedback.html", pilot=g.pilot, form=form, errors=errors,
                           general_kinds=GENERAL_KINDS), (400 if errors else 200)


@bp.route("/pilots/<slug>/me/export.json")
@pilot_role_required("participant")
def export(slug: str):
    membership = _member_or_403()
    body = json.dumps(services.export_data(db.session, membership), ensure_ascii=False, indent=2)
    return Response(body, mimetype="application/json", headers={
        "Content-Disposition": f'attachment; filename="pilot-{g.pilot.slug}-my-data.json"',
        "Cache-Control": "no-store",
    })


@bp.route("/pilots/<slug>/me/leave", methods=["GET", "POST"])
@pilot_role_required("participant")
def leave(slug: str):
    membership = _member_or_403()
    form = LeaveForm()
    if request.method == "POST":
        if not form.validate_on_submit():
            abort(400, description="The form expired: reload the page and try again.")
        if not form.confirm.data:
            flash("Tick the box to confirm that you want to leave.", "error")
        else:
            try:
                with unit_of_work():
                    result = services.leave_pilot(db.session, membership)
            except services.ParticipantError as error:
                flash(str(error), "error")
            else:
                for path in result.screenshot_paths:
                    feedback_services.delete_stored_file(current_app.config["UPLOAD_DIR"], path)
                pilot_name = g.pilot.name
                if result.account_deactivated:
                    logout_user()
                flash(f"You have left the {pilot_name} pilot and your personal details are erased. Thank you for taking part!",
                      "success")
                return redirect(url_for("auth.login") if result.account_deactivated else url_for("pilots.index"))
    return render_template("participant/leave.html", pilot=g.pilot, form=form, membership=membership,
                           is_participant=may_leave(membership),
                           account_closes=services.account_closes_on_leaving(db.session, current_user, membership))
