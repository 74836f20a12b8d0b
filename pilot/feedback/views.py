"""The team's feedback page, report triage, access-checked screenshots, and the embeddable rating
widget with the API that mints its tokens."""
from __future__ import annotations

from flask import (
    Blueprint,
    abort,
    current_app,
    flash,
    g,
    jsonify,
    redirect,
    render_template,
    request,
    send_file,
    url_for,
)
from flask_login import current_user

from pilot.access import api_key_required, may_see_screenshot, pilot_role_required, safe_next_url, scoped_or_404
from pilot.extensions import csrf, db, limiter
from pilot.feedback import embed, services, team
from pilot.feedback.forms import FeedbackFilterForm, ReportStatusForm
from pilot.models import Interaction, Report
from pilot.models.feedback import REPORT_STATUSES
from pilot.pagination import paginate
from pilot.unit_of_work import unit_of_work

bp = Blueprint("feedback", __name__)

PER_PAGE = 25
# The widget is a page of its own inside the AI feature's page: it loads nothing from elsewhere
# and may only post back to Pilot. Where it may be framed is a setting (default: anywhere, as
# the token, not the framing page, is what authorises a rating).
EMBED_CSP = ("default-src 'none'; style-src 'self'; script-src 'self'; img-src 'self'; form-action 'self'; "
             "base-uri 'none'; frame-ancestors {ancestors}")


@bp.route("/pilots/<slug>/feedback", endpoint="team")
@pilot_role_required("reviewer")
def team_page(slug: str):
    """Everything participants said, filtered by type, rating, participant, status and date."""
    query = FeedbackFilterForm()
    filters = query.filters()
    ratings = reports = None
    if filters.shows_ratings:
        ratings = paginate(db.session, team.ratings_statement(db.session, g.pilot, filters), query.ratings_page.data,
                           PER_PAGE)
    if filters.shows_reports:
        reports = paginate(db.session, team.reports_statement(g.pilot, filters), query.reports_page.data, PER_PAGE)
    return render_template(
        "feedback/team.html", pilot=g.pilot, filters=filters, ratings=ratings, reports=reports,
        summary=team.summary(db.session, g.pilot), participants=team.participant_choices(db.session, g.pilot),
        type_choices=team.TYPE_CHOICES, statuses=REPORT_STATUSES, is_negative=services.is_negative,
    )


@bp.route(f"/pilots/<slug>/feedback/interactions/<{team.ID_CONVERTER}:interaction_id>")
@pilot_role_required("reviewer")
def interaction(slug: str, interaction_id: int):
    found = scoped_or_404(Interaction, interaction_id, g.pilot, "No such interaction in this pilot.")
    ratings, reports = team.interaction_feedback(db.session, found)
    return render_template("feedback/interaction.html", pilot=g.pilot, interaction=found, ratings=ratings,
                           reports=reports, statuses=REPORT_STATUSES,
                           is_negative=services.is_negative)


@bp.route(f"/pilots/<slug>/reports/<{team.ID_CONVERTER}:report_id>/status", methods=["POST"])
@pilot_role_required("reviewer")
def set_report_status(slug: str, report_id: int):
    form = ReportStatusForm()
    if not form.validate_on_submit():
        abort(400, description="The form expired: reload the page and try again.")
    scoped_or_404(Report, report_id, g.pilot, "No such report in this pilot.")
    try:
        with unit_of_work():
            report = services.set_report_status(db.session, g.pilot, report_id, request.form.get("status"),
                                                request.form.get("note"), actor=current_user)
    except services.ReportError as error:
        flash(f"Not saved: {error}.", "error")
    else:
        flash(f"Report #{report.id} is now {report.status.replace('_', ' ')}; the participant sees it.", "success")
    return redirect(_safe_back(slug, report_id))


def _safe_back(slug: str, report_id: int) -> str:
    """Back to the page the form was on (a path of this pilot only), at the report."""
    back = safe_next_url(request.form.get("back"), "")
    if not back.startswith(f"/pilots/{slug}/"):
        back = url_for("feedback.team", slug=slug)
    return f"{back.split('#')[0]}#r-{report_id}"


@bp.route(f"/pilots/<slug>/reports/<{team.ID_CONVERTER}:report_id>/screenshot")
@pilot_role_required("participant")
def screenshot(slug: str, report_id: int):
    """The image of a report, only for its reporter and the pilot's team. Not a static URL: the
    random file name is never shown, and every request is checked."""
    report = scoped_or_404(Report, report_id, g.pilot)
    if not may_see_screenshot(current_user, report, g.pilot):
        abort(404)
    path = services.screenshot_file(current_app.config["UPLOAD_DIR"], report)
    if path is None or report.screenshot_mime not in services.MIME_EXTENSIONS:
        abort(404)
    extension = services.MIME_EXTENSIONS[report.screenshot_mime]
    response = send_file(path, mimetype=report.screenshot_mime, max_age=0, conditional=False,
                         as_attachment=False, download_name=f"report-{report.id}.{extension}")
    response.headers["X-Content-Type-Options"] = "nosniff"
    response.headers["Content-Security-Policy"] = "default-src 'none'; sandbox"
    response.headers["Cache-Control"] = "private, no-store"
    return response


# --- Embeddable widget --------------------------------------------------------------------

@bp.route("/api/v1/feedback-tokens", methods=["POST"])
@api_key_required
@limiter.limit(lambda: current_app.config["API_RATE_LIMIT"])
def mint_feedback_token():
    """`{"interaction": "<event id>", "user": "<external id>"}` → a token and the widget's URL."""
    try:
        event_id, user = embed.check_mint_request(request.get_json(silent=True))
    except embed.EmbedTokenError as error:
        return jsonify(error=str(error)), 400
    token = embed.mint_token(current_app.config["SECRET_KEY"], g.pilot, event_id, user, g.api_key)
    return jsonify(token=token, url=url_for("feedback.embed_widget", token=token, _external=True),
                   expires_in=int(embed.TOKEN_MAX_AGE.total_seconds()))


@bp.route("/embed/feedback", methods=["GET", "POST"])
@limiter.limit("60 per minute", methods=["POST"])
def embed_widget():
    """The rating widget for an iframe: no login and no CSRF cookie (third-party frames rarely
    get cookies); the signed token in the URL or form is what allows the rating."""
    token = request.values.get("token")
    saved, error, target = False, None, None
    try:
        target = embed.resolve(db.session, embed.read_token(current_app.config["SECRET_KEY"], token))
    except embed.EmbedTokenError as problem:
        return _embed_page(token=None, target=None, error=str(problem), saved=False, status=400)
    if request.method == "POST":
        thumbs, rating, comment = services.parse_form_rating(request.form)
        try:
            with unit_of_work():
                target.current = services.record_feedback(
                    db.session, target.pilot, target.interaction, thumbs=thumbs, rating=rating, comment=comment,
                    external_user_id=target.claim.external_user_id, membership=target.membership, source="embed")
        except services.FeedbackError as problem:
            error = f"Not saved: {problem}."
        else:
            saved = True
    return _embed_page(token=token, target=target, error=error, saved=saved, status=400 if error else 200)


def _embed_page(*, token, target, error, saved, status):
    response = current_app.make_response((render_template(
        "feedback/embed.html", token=token, target=target, error=error, saved=saved), status))
    ancestors = current_app.config.get("EMBED_FRAME_ANCESTORS") or "*"
    response.headers["Content-Security-Policy"] = EMBED_CSP.format(ancestors=ancestors)
    response.headers["X-Content-Type-Options"] = "nosniff"
    response.headers["Referrer-Policy"] = "no-referrer"  # the token is in the URL
    response.headers["Cache-Control"] = "no-store"
    return response


csrf.exempt(mint_feedback_token)
csrf.exempt(embed_widget)
