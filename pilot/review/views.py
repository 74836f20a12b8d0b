"""The review queue pages, decisions, failure clusters, topics, and the flags API. Views stay thin."""
from __future__ import annotations

from flask import Blueprint, abort, flash, g, jsonify, redirect, render_template, request, url_for
from flask_login import current_user
from wtforms.fields import SelectChoice

from pilot.access import (
    api_pilot_access,
    is_lead,
    may_decide,
    may_see_unlinked_reports,
    parse_id,
    pilot_role_required,
    safe_next_url,
    scoped_or_404,
)
from pilot.api_rate import api_read_rate_limit
from pilot.extensions import db
from pilot.flagging.reasons import REASONS
from pilot.models import Flag
from pilot.models.flags import FLAG_CATEGORIES, FLAG_KINDS, SEVERITIES
from pilot.review import grouping, services
from pilot.review import queue as review_queue
from pilot.review.forms import AssignForm, BulkForm, DecisionForm, FlagsQuery, QueueFilterForm
from pilot.unit_of_work import unit_of_work

bp = Blueprint("review", __name__)


@bp.route("/pilots/<slug>/review")
@pilot_role_required("reviewer")
def queue(slug: str):
    query = QueueFilterForm()
    filters = query.filters()
    for error in filters.errors:
        flash(f"Filter ignored — {error}", "warning")
    result = review_queue.queue_page(db.session, g.pilot, filters, current_user, page=query.page.data)
    harm_reports = (review_queue.unlinked_harm_reports(db.session, g.pilot)
                    if may_see_unlinked_reports(current_user, g.pilot) else [])
    return render_template(
        "review/queue.html", pilot=g.pilot, filters=filters, result=result, reasons=REASONS,
        harm_reports=harm_reports, handled_statuses=review_queue.HANDLED_REPORT_STATUSES,
        counts=review_queue.queue_counts(db.session, g.pilot), choices=review_queue.filter_choices(db.session, g.pilot),
        kinds=FLAG_KINDS, severities=SEVERITIES, statuses=review_queue.STATUS_CHOICES, categories=FLAG_CATEGORIES,
        bulk_form=BulkForm(), is_lead=is_lead(current_user, g.pilot), suggested_category=services.suggested_category,
    )


@bp.route("/pilots/<slug>/review/<int:flag_id>")
@pilot_role_required("reviewer")
def detail(slug: str, flag_id: int):
    flag = scoped_or_404(Flag, flag_id, g.pilot, "No such flag in this pilot.")
    filters = QueueFilterForm().filters()
    previous_id, next_id, position, total = review_queue.neighbours(db.session, g.pilot, filters, current_user, flag.id)
    interaction = flag.interaction
    decision_form = DecisionForm(category=services.suggested_category(flag),
                                 severity=flag.severity)
    related = services.flag_detail(db.session, g.pilot, flag)
    assign_form = AssignForm(assignee=str(flag.assignee_id or ""))
    assign_form.assignee.choices = [SelectChoice("", "nobody")] + [
        SelectChoice(str(user.id), user.name or user.email) for user in services.team_members(db.session, g.pilot)
    ]
    return render_template(
        "review/detail.html", pilot=g.pilot, flag=flag, interaction=interaction, filters=filters,
        previous_id=previous_id, next_id=next_id, position=position, total=total,
        sibling_flags=related.sibling_flags, feedback=related.feedback, history=related.history,
        similar=grouping.similar_flagged(db.session, flag),
        decision_form=decision_form, assign_form=assign_form, reasons=REASONS, categories=FLAG_CATEGORIES,
        severities=SEVERITIES, can_decide=may_decide(flag, is_lead(current_user, g.pilot)),
    )


@bp.route("/pilots/<slug>/review/<int:flag_id>/decide", methods=["POST"])
@pilot_role_required("reviewer")
def decide(slug: str, flag_id: int):
    flag = scoped_or_404(Flag, flag_id, g.pilot, "No such flag in this pilot.")
    form = DecisionForm()
    fallback = url_for("review.detail", slug=slug, flag_id=flag.id)
    if not form.validate_on_submit():
        message = "; ".join(f"{name}: {', '.join(errors)}" for name, errors in form.errors.items())
        if request.accept_mimetypes.best == "application/json":
            return jsonify(error=message), 400
        flash(message, "error")
        return redirect(fallback)
    action, lead = form.action.data, is_lead(current_user, g.pilot)
    wants_json = request.accept_mimetypes.best == "application/json"
    try:
        with unit_of_work():
            if action == "confirm":
                services.confirm(db.session, flag, current_user, category=form.category.data or "other",
                                 severity=form.severity.data or None, note=form.note.data, actor_is_lead=lead)
            elif action == "dismiss":
                services.dismiss(db.session, flag, current_user, note=form.note.data, actor_is_lead=lead)
            elif action == "escalate":
                services.escalate(db.session, flag, current_user, note=form.note.data)
            else:
                services.reopen(db.session, flag, current_user, actor_is_lead=lead)
    except services.NotAllowed as error:
        if wants_json:
            return jsonify(error=str(error)), 403
        abort(403, description=str(error))
    except services.ReviewError as error:
        if wants_json:
            return jsonify(error=str(error)), 400
        flash(str(error), "error")
        return redirect(fallback)
    message = f"Flag #{flag.id} ({flag.reason}): {DONE[action]}."
    if wants_json:  # the queue decides in place (progressive enhancement): no reload, it keeps its place
        return jsonify(id=flag.id, status=flag.status, escalated=flag.escalated, category=flag.category,
                       message=message)
    flash(message, "success")
    return redirect(safe_next_url(request.form.get("next"), fallback))


DONE = {"confirm": "confirmed", "dismiss": "dismissed as a false positive", "escalate": "escalated to a lead",
        "reopen": "reopened"}


@bp.route("/pilots/<slug>/review/<int:flag_id>/assign", methods=["POST"])
@pilot_role_required("reviewer")
def assign(slug: str, flag_id: int):
    flag = scoped_or_404(Flag, flag_id, g.pilot, "No such flag in this pilot.")
    form = AssignForm()
    fallback = url_for("review.detail", slug=slug, flag_id=flag.id)
    if not form.validate_on_submit():
        abort(400, description="The form expired; reload the page.")
    assignee = None
    if form.assignee.data:
        assignee = services.assignable_user(db.session, g.pilot, parse_id(form.assignee.data))
        if assignee is None:
            flash(f"assignee: {services.NOT_ASSIGNABLE}", "error")
            return redirect(fallback)
    try:
        with unit_of_work():
            services.assign(db.session, g.pilot, flag, current_user, assignee)
    except services.ReviewError as error:
        flash(str(error), "error")
        return redirect(fallback)
    flash(f"Flag #{flag.id} assigned to {assignee.name or assignee.email}." if assignee else f"Flag #{flag.id} unassigned.",
          "success")
    return redirect(safe_next_url(request.form.get("next"), fallback))


@bp.route("/pilots/<slug>/review/bulk", methods=["POST"])
@pilot_role_required("reviewer")
def bulk(slug: str):
    form = BulkForm()
    fallback = url_for("review.queue", slug=slug)
    if not form.validate_on_submit():
        abort(400, description="The form expired; reload the page.")
    ids = [number for number in map(parse_id, request.form.getlist("flag_ids")) if number is not None]
    options = dict(actor_is_lead=is_lead(current_user, g.pilot), category=form.category.data or "other", note=form.note.data)
    try:
        with unit_of_work():
            if request.form.get("all_matching") == "1":
                filters = QueueFilterForm(request.form).filters()
                expected = request.form.get("expected_count", "")
                if filters.errors or not (expected.isascii() and expected.isdigit()) or len(expected) > 9:
                    raise services.ReviewError("the filter or its count is not valid: reload the queue")
                matching = review_queue.matching_flag_ids(db.session, g.pilot, filters, current_user,
                                                          services.MAX_FILTER_BULK)
                result = services.bulk_matching(db.session, g.pilot, matching, int(expected), form.action.data,
                                                current_user, **options)
            else:
                result = services.bulk(db.session, g.pilot, ids, form.action.data, current_user, **options)
    except services.ReviewError as error:
        flash(str(error), "error")
        return redirect(safe_next_url(request.form.get("next"), fallback))
    flash(result.message(form.action.data), "success" if result.done else "warning")
    return redirect(safe_next_url(request.form.get("next"), fallback))


@bp.route("/pilots/<slug>/clusters")
@pilot_role_required("reviewer")
def clusters(slug: str):
    return render_template("review/clusters.html", pilot=g.pilot, clusters=grouping.failure_clusters(db.session, g.pilot),
                           reasons=REASONS, max_rows=grouping.MAX_ROWS)


@bp.route("/pilots/<slug>/topics")
@pilot_role_required("reviewer")
def topics(slug: str):
    return render_template("review/topics.html", pilot=g.pilot, report=grouping.topics(db.session, g.pilot),
                           max_rows=grouping.MAX_ROWS, is_lead=is_lead(current_user, g.pilot))


# --- API ----------------------------------------------------------------------------------

@bp.route("/api/v1/pilots/<slug>/flags")
@api_read_rate_limit
@api_pilot_access("reviewer")
def api_flags(slug: str):
    """docs/design.md: {"flags": [{id, interaction, kind, reason, severity, status}], "next": cursor-or-null}."""
    query = FlagsQuery()
    if not query.validate():
        abort(400, description=query.first_error())
    page = services.api_flags(db.session, g.pilot, query.filters(), query.cursor.after, query.limit.number)
    return jsonify(flags=page.items, next=page.next)
