"""The review queue pages, decisions, failure clusters, topics, and the flags API. Views stay thin."""
from __future__ import annotations

import base64
import binascii

import sqlalchemy as sa
from flask import Blueprint, abort, flash, g, jsonify, redirect, render_template, request, url_for
from flask_login import current_user
from wtforms.fields import SelectChoice

from pilot.access import (
    api_pilot_access,
    is_lead,
    may_decide,
    parse_id,
    pilot_role_required,
    safe_next_url,
    scoped_or_404,
)
from pilot.extensions import db
from pilot.flagging.reasons import REASONS
from pilot.models import AuditEvent, Feedback, Flag, Interaction
from pilot.models.flags import FLAG_CATEGORIES, FLAG_KINDS, FLAG_STATUSES, SEVERITIES
from pilot.review import grouping, services
from pilot.review import queue as review_queue
from pilot.review.forms import AssignForm, BulkForm, DecisionForm
from pilot.review.services import API_PAGE_DEFAULT, API_PAGE_MAX
from pilot.unit_of_work import unit_of_work

bp = Blueprint("review", __name__)


def safe_next(default: str) -> str:
    """A same-site path from the form's `next`, or the default (never an open redirect)."""
    return safe_next_url(request.form.get("next")) or default


@bp.route("/pilots/<slug>/review")
@pilot_role_required("reviewer")
def queue(slug: str):
    filters = review_queue.Filters.parse(request.args)
    for error in filters.errors:
        flash(f"Filter ignored — {error}", "warning")
    page = request.args.get("page", "1")
    page_number = int(page) if page.isdigit() and len(page) < 7 else 1
    result = review_queue.queue_page(db.session, g.pilot, filters, current_user, page=page_number)
    return render_template(
        "review/queue.html", pilot=g.pilot, filters=filters, result=result, reasons=REASONS,
        counts=review_queue.queue_counts(db.session, g.pilot), choices=review_queue.filter_choices(db.session, g.pilot),
        kinds=FLAG_KINDS, severities=SEVERITIES, statuses=review_queue.STATUS_CHOICES, categories=FLAG_CATEGORIES,
        bulk_form=BulkForm(), is_lead=is_lead(current_user, g.pilot), suggested_category=services.suggested_category,
    )


@bp.route("/pilots/<slug>/review/<int:flag_id>")
@pilot_role_required("reviewer")
def detail(slug: str, flag_id: int):
    flag = scoped_or_404(Flag, flag_id, g.pilot, "No such flag in this pilot.")
    filters = review_queue.Filters.parse(request.args)
    previous_id, next_id, position, total = review_queue.neighbours(db.session, g.pilot, filters, current_user, flag.id)
    interaction = flag.interaction
    decision_form = DecisionForm(category=services.suggested_category(flag),
                                 severity=flag.severity)
    assign_form = AssignForm(assignee=str(flag.assignee_id or ""))
    assign_form.assignee.choices = [SelectChoice("", "nobody")] + [
        SelectChoice(str(user.id), user.name or user.email) for user in services.team_members(db.session, g.pilot)
    ]
    return render_template(
        "review/detail.html", pilot=g.pilot, flag=flag, interaction=interaction, filters=filters,
        previous_id=previous_id, next_id=next_id, position=position, total=total,
        sibling_flags=db.session.scalars(sa.select(Flag).where(Flag.interaction_id == interaction.id,
                                                               Flag.id != flag.id).order_by(Flag.id)).all(),
        feedback=db.session.scalars(sa.select(Feedback).where(Feedback.interaction_id == interaction.id)
                                    .order_by(Feedback.created_at)).all(),
        similar=grouping.similar_flagged(db.session, flag),
        history=db.session.scalars(sa.select(AuditEvent).where(
            AuditEvent.pilot_id == g.pilot.id, AuditEvent.target_type == "flag", AuditEvent.target_id == str(flag.id)
        ).order_by(AuditEvent.id)).all(),
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
    return redirect(safe_next(fallback))


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
    return redirect(safe_next(fallback))


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
                filters = review_queue.Filters.parse(request.form)
                expected = request.form.get("expected_count", "")
                if filters.errors or not expected.isdigit() or len(expected) > 9:
                    raise services.ReviewError("the filter or its count is not valid: reload the queue")
                matching = review_queue.matching_flag_ids(db.session, g.pilot, filters, current_user,
                                                          services.MAX_FILTER_BULK)
                result = services.bulk_matching(db.session, g.pilot, matching, int(expected), form.action.data,
                                                current_user, **options)
            else:
                result = services.bulk(db.session, g.pilot, ids, form.action.data, current_user, **options)
    except services.ReviewError as error:
        flash(str(error), "error")
        return redirect(safe_next(fallback))
    flash(result.message(form.action.data), "success" if result.done else "warning")
    return redirect(safe_next(fallback))


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

def encode_cursor(flag_id: int) -> str:
    """The last flag id of the page, as digits (the OpenAPI document gives their pattern)."""
    return str(flag_id)


def decode_cursor(cursor: str) -> int:
    """The last flag id of the previous page; ValueError for anything we did not hand out.
    Digits are today's cursors; base64 "f:<id>" ones were handed out before and still work."""
    if cursor.isascii() and cursor.isdigit() and len(cursor) <= 18:
        return int(cursor)
    try:
        text = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)).decode()
    except (binascii.Error, UnicodeDecodeError, ValueError):
        raise ValueError("cursor") from None
    if not text.startswith("f:") or not text[2:].isdigit() or len(text) > 24:
        raise ValueError("cursor")
    return int(text[2:])


@bp.route("/api/v1/pilots/<slug>/flags")
@api_pilot_access("reviewer")
def api_flags(slug: str):
    """docs/design.md: {"flags": [{id, interaction, kind, reason, severity, status}], "next": cursor-or-null}."""
    args = request.args
    conditions = [Flag.pilot_id == g.pilot.id]
    for name, column, choices in (("status", Flag.status, FLAG_STATUSES), ("reason", Flag.reason, tuple(REASONS)),
                                  ("kind", Flag.kind, FLAG_KINDS), ("severity", Flag.severity, SEVERITIES)):
        value = args.get(name)
        if value is not None and value != "":
            if value not in choices:
                abort(400, description=f"{name} must be one of: {', '.join(choices)}")
            conditions.append(column == value)
    limit_text = args.get("limit", str(API_PAGE_DEFAULT))
    if not limit_text.isdigit() or not 1 <= int(limit_text) <= API_PAGE_MAX:
        abort(400, description=f"limit must be a whole number from 1 to {API_PAGE_MAX}")
    limit = int(limit_text)
    if args.get("cursor"):
        try:
            conditions.append(Flag.id > decode_cursor(args["cursor"]))
        except ValueError:
            abort(400, description="cursor is not valid: pass back the 'next' value of the previous page")
    rows = db.session.execute(
        sa.select(Flag.id, Interaction.event_id, Flag.kind, Flag.reason, Flag.severity, Flag.status)
        .join(Interaction, Interaction.id == Flag.interaction_id)
        .where(*conditions).order_by(Flag.id).limit(limit + 1)
    ).all()
    page = rows[:limit]
    flags = [{"id": row.id, "interaction": row.event_id, "kind": row.kind, "reason": row.reason,
              "severity": row.severity, "status": row.status} for row in page]
    return jsonify(flags=flags, next=encode_cursor(page[-1].id) if len(rows) > limit else None)
