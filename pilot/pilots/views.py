"""Pilot list, settings and API keys (the overview dashboard at /pilots/<slug> is pilot.analytics's)."""
from __future__ import annotations

from flask import Blueprint, abort, flash, g, redirect, render_template, request, url_for
from flask_login import current_user, login_required

from pilot.access import admin_required, is_team, pilot_role_required
from pilot.auth.services import find_user_by_email
from pilot.extensions import db
from pilot.forms import CsrfOnlyForm
from pilot.pilots import services
from pilot.pilots.forms import ApiKeyForm, NewPilotForm, StatusForm
from pilot.pilots.settings import SETTINGS, SettingError, current_settings
from pilot.readiness.decision import pilot_decisions
from pilot.unit_of_work import unit_of_work

bp = Blueprint("pilots", __name__)


@bp.route("/")
@login_required
def index():
    pilots = services.pilots_for(db.session, current_user)
    team_pilots = [pilot for pilot, role in pilots if role != "participant"]  # participants see no verdicts
    return render_template("pilots/index.html", pilots=pilots, form=NewPilotForm(),
                           decisions=pilot_decisions(db.session, team_pilots))


@bp.route("/pilots/new", methods=["POST"])
@admin_required
def create():
    form = NewPilotForm()
    if form.validate_on_submit():
        lead = find_user_by_email(db.session, form.lead_email.data)
        if lead is None:
            flash(f"No user with email {form.lead_email.data}: create the account first.", "error")
        else:
            try:
                with unit_of_work():
                    pilot = services.create_pilot(db.session, form.slug.data, form.name.data, lead, actor=current_user)
            except services.PilotError as error:
                flash(str(error), "error")
            else:
                return redirect(url_for("analytics.overview", slug=pilot.slug))
    for field, errors in form.errors.items():
        flash(f"{field}: {'; '.join(errors)}", "error")
    return redirect(url_for("pilots.index"))


@bp.route("/pilots/<slug>/settings", methods=["GET", "POST"])
@pilot_role_required("lead")
def settings(slug: str):
    form = CsrfOnlyForm()
    values = current_settings(g.pilot)
    errors: dict[str, str] = {}
    if form.validate_on_submit():
        changes = {name: request.form.get(name, "") for name in SETTINGS if name in request.form}
        try:
            with unit_of_work():
                changed = services.update_settings(db.session, g.pilot, changes, actor=current_user)
        except SettingError as error:
            flash(str(error), "error")
            values.update(changes)
        else:
            flash(f"Saved {len(changed)} change(s)." if changed else "Nothing changed.", "success")
            return redirect(url_for("pilots.settings", slug=slug))
    keys = services.api_keys_of(db.session, g.pilot)
    return render_template("pilots/settings.html", pilot=g.pilot, form=form, settings=SETTINGS, values=values,
                           errors=errors, keys=keys, key_form=ApiKeyForm(), status_form=StatusForm(),
                           transitions=sorted(services.TRANSITIONS[g.pilot.status]))


@bp.route("/pilots/<slug>/status", methods=["POST"])
@pilot_role_required("lead")
def change_status(slug: str):
    form = StatusForm()
    if not form.validate_on_submit():
        abort(400)
    try:
        with unit_of_work():
            services.change_status(db.session, g.pilot, form.status.data, actor=current_user)
    except services.PilotError as error:
        flash(str(error), "error")
    else:
        flash(f"The pilot is now {g.pilot.status}.", "success")
    return redirect(url_for("pilots.settings", slug=slug))


@bp.route("/pilots/<slug>/api-keys", methods=["POST"])
@pilot_role_required("lead")
def create_api_key(slug: str):
    form = ApiKeyForm()
    if not form.validate_on_submit():
        abort(400)
    with unit_of_work():
        key, secret = services.mint_api_key(db.session, g.pilot, current_user, name=form.name.data or "")
    keys = services.api_keys_of(db.session, g.pilot)
    flash("Copy the key now: it is shown only once.", "success")
    return render_template("pilots/settings.html", pilot=g.pilot, form=CsrfOnlyForm(), settings=SETTINGS,
                           values=current_settings(g.pilot), errors={}, keys=keys, key_form=ApiKeyForm(),
                           status_form=StatusForm(), transitions=sorted(services.TRANSITIONS[g.pilot.status]),
                           new_key=secret)


@bp.route("/pilots/<slug>/api-keys/<int:key_id>/revoke", methods=["POST"])
@pilot_role_required("lead")
def revoke_api_key(slug: str, key_id: int):
    if not CsrfOnlyForm().validate_on_submit():
        abort(400)
    try:
        with unit_of_work():
            services.revoke_api_key(db.session, g.pilot, key_id, current_user)
    except services.PilotError:
        abort(404)
    flash("Key revoked.", "success")
    return redirect(url_for("pilots.settings", slug=slug))


@bp.route("/pilots/<slug>/audit")
@pilot_role_required("lead")
def audit_log(slug: str):
    events = services.recent_audit_events(db.session, g.pilot)
    return render_template("pilots/audit.html", pilot=g.pilot, events=events)


@bp.route("/pilots/<slug>/start")
@pilot_role_required("participant")
def landing(slug: str):
    """Where a member lands in a pilot: participants on their own page, the team on the overview."""
    if is_team(current_user, g.pilot):
        return redirect(url_for("analytics.overview", slug=slug))
    return redirect(f"/pilots/{slug}/me")
