"""Roster, invites, CSV import and invite acceptance."""
from __future__ import annotations

from flask import Blueprint, abort, current_app, flash, g, redirect, render_template, request, url_for
from flask_login import current_user, login_user

from pilot.access import is_lead, pilot_role_required
from pilot.enrollment import services
from pilot.enrollment.forms import AcceptInviteForm, CsvImportForm, InviteForm, MemberStatusForm
from pilot.extensions import db
from pilot.forms import CsrfOnlyForm
from pilot.mail import smtp_configured
from pilot.metrics import participant_counts, seats_taken
from pilot.models.base import utcnow
from pilot.unit_of_work import unit_of_work
from pilot.worker.queue import enqueue

bp = Blueprint("enrollment", __name__)

CSV_MAX_BYTES = 1024 * 1024


def _render_roster(**extra):
    rows = services.roster(db.session, g.pilot)
    return render_template(
        "enrollment/roster.html", pilot=g.pilot, rows=rows, invite_form=InviteForm(), csv_form=CsvImportForm(),
        status_form=MemberStatusForm(), seats=seats_taken(db.session, g.pilot),
        counts=participant_counts(db.session, g.pilot), can_manage=is_lead(current_user, g.pilot),
        email_on=smtp_configured(current_app.config), now=utcnow(), **extra,
    )


def _email_invites(invites: list[services.Invite]) -> int:
    """Queue an email for each invite that has an address, when SMTP is configured; how many."""
    if not smtp_configured(current_app.config):
        return 0
    sent = 0
    for new_invite in invites:
        if new_invite.membership.email:
            enqueue("pilot.worker.jobs.send_invite_email", new_invite.membership.id, new_invite.url(request.host_url), retry=True)
            sent += 1
    return sent


@bp.route("/pilots/<slug>/participants")
@pilot_role_required("reviewer")
def roster(slug: str):
    return _render_roster()


@bp.route("/pilots/<slug>/participants/invite", methods=["POST"])
@pilot_role_required("lead")
def invite(slug: str):
    form = InviteForm()
    if not form.validate_on_submit():
        for field, errors in form.errors.items():
            flash(f"{field}: {'; '.join(errors)}", "error")
        return redirect(url_for("enrollment.roster", slug=slug))
    try:
        with unit_of_work():
            new_invite = services.invite(db.session, g.pilot, external_id=form.external_id.data or None,
                                         email=form.email.data or None, role=form.role.data, actor=current_user)
    except services.EnrollmentError as error:
        flash(str(error), "error")
        return redirect(url_for("enrollment.roster", slug=slug))
    if _email_invites([new_invite]):
        flash(f"Invite emailed to {new_invite.membership.email}; the link below works too.", "success")
    return _render_roster(new_invites=[new_invite], base_url=request.host_url)


@bp.route("/pilots/<slug>/participants/import", methods=["POST"])
@pilot_role_required("lead")
def import_csv(slug: str):
    form = CsvImportForm()
    if not form.validate_on_submit():
        flash("Choose a CSV file to import.", "error")
        return redirect(url_for("enrollment.roster", slug=slug))
    raw = form.file.data.read(CSV_MAX_BYTES + 1)
    if len(raw) > CSV_MAX_BYTES:
        flash("The CSV file is larger than 1 MB.", "error")
        return redirect(url_for("enrollment.roster", slug=slug))
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError:
        flash("The CSV file is not UTF-8 text.", "error")
        return redirect(url_for("enrollment.roster", slug=slug))
    with unit_of_work():
        result = services.import_csv(db.session, g.pilot, text, actor=current_user)
    emailed = _email_invites(result.invites)
    flash(f"Invited {len(result.invites)}" + (f" ({emailed} by email)" if emailed else "")
          + f"; {len(result.errors)} row(s) rejected.", "success" if not result.errors else "warning")
    return _render_roster(new_invites=result.invites, import_errors=result.errors, base_url=request.host_url)


@bp.route("/pilots/<slug>/participants/<int(max=2147483647):membership_id>/resend", methods=["POST"])
@pilot_role_required("lead")
def resend(slug: str, membership_id: int):
    """A new link (the old one stops working) with a new expiry, emailed again when SMTP is on."""
    if not CsrfOnlyForm().validate_on_submit():
        abort(400)
    try:
        with unit_of_work():
            new_invite = services.reissue_invite(db.session, g.pilot, membership_id, actor=current_user)
    except services.EnrollmentError as error:
        flash(str(error), "error")
        return redirect(url_for("enrollment.roster", slug=slug))
    if _email_invites([new_invite]):
        flash(f"New invite emailed to {new_invite.membership.email}; the old link no longer works.", "success")
    else:
        flash("New invite link below; the old link no longer works.", "success")
    return _render_roster(new_invites=[new_invite], base_url=request.host_url)


@bp.route("/pilots/<slug>/participants/<int:membership_id>/status", methods=["POST"])
@pilot_role_required("lead")
def set_status(slug: str, membership_id: int):
    form = MemberStatusForm()
    if not form.validate_on_submit():
        abort(400)
    try:
        with unit_of_work():
            services.set_member_status(db.session, g.pilot, membership_id, form.status.data, actor=current_user)
    except services.EnrollmentError as error:
        flash(str(error), "error")
    else:
        flash("Member updated.", "success")
    return redirect(url_for("enrollment.roster", slug=slug))


@bp.route("/invite/<token>", methods=["GET", "POST"])
def accept_invite(token: str):
    try:
        membership = services.find_invite(db.session, token)
    except services.EnrollmentError as error:
        return render_template("enrollment/invite_invalid.html", message=str(error)), 410
    form = AcceptInviteForm()
    if request.method == "GET" and membership.email:
        form.email.data = membership.email
    needs_account = not current_user.is_authenticated
    if form.validate_on_submit():
        try:
            with unit_of_work():
                accepted = services.accept_invite(
                    db.session, token, consent=form.consent.data,
                    current_user=current_user if current_user.is_authenticated else None,
                    name=form.name.data, email=form.email.data, password=form.password.data,
                )
        except services.EnrollmentError as error:
            flash(str(error), "error")
        else:
            login_user(accepted.user)
            flash(f"Welcome to the {accepted.pilot.name} pilot!", "success")
            return redirect(url_for("pilots.landing", slug=accepted.pilot.slug))
    return render_template("enrollment/accept.html", membership=membership, form=form, needs_account=needs_account)
