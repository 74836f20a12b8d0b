"""The leads' flagging pages: rule settings and scenarios (also shown on the settings page), re-flag."""
from __future__ import annotations

from flask import Blueprint, flash, g, redirect, render_template, request, url_for
from flask_login import current_user

from pilot.access import pilot_role_required
from pilot.extensions import db
from pilot.flagging.forms import ReflagForm, RuleSettingsForm
from pilot.flagging.reasons import REASONS
from pilot.flagging.scenarios import scenario_texts
from pilot.flagging.services import add_scenario, replace_scenarios, update_rule_settings
from pilot.flagging.settings import (
    LABELS,
    OUTPUT_FORMATS,
    RULE_DEFAULTS,
    RuleSettingError,
    display_value,
    stored_rule_values,
)
from pilot.models import Pilot
from pilot.unit_of_work import unit_of_work
from pilot.worker import tracking

bp = Blueprint("flagging", __name__)


def panel_context(pilot: Pilot, submitted: dict[str, str] | None = None, error: RuleSettingError | None = None) -> dict:
    """What templates/flagging/rules_panel.html needs: current (or just submitted) values and errors."""
    values = {name: display_value(name, value) for name, value in stored_rule_values(pilot).items()}
    values["scenarios"] = "\n".join(scenario_texts(db.session, pilot))
    if submitted:
        values.update({name: text for name, text in submitted.items() if name in values})
    return {"rule_values": values, "rule_labels": LABELS, "rule_defaults": RULE_DEFAULTS, "output_formats": OUTPUT_FORMATS,
            "rule_error": error, "rule_form": RuleSettingsForm(), "reflag_form": ReflagForm(), "reasons": REASONS}


@bp.app_context_processor
def inject_panel():
    """Lets the pilots' settings page include the rules panel without knowing about flagging."""
    return {"flagging_panel": lambda pilot: panel_context(pilot)}


@bp.route("/pilots/<slug>/settings/rules", methods=["GET", "POST"])
@pilot_role_required("lead")
def rules(slug: str):
    form = RuleSettingsForm()
    if request.method == "GET" or not form.validate_on_submit():
        if request.method == "POST":
            flash("The form expired; reload the page and try again.", "error")
        return render_template("flagging/rules.html", pilot=g.pilot, panel=panel_context(g.pilot))
    submitted = {name: request.form[name] for name in list(RULE_DEFAULTS) + ["scenarios"] if name in request.form}
    try:
        with unit_of_work():
            changed = update_rule_settings(db.session, g.pilot, submitted, actor=current_user)
            scenarios_changed = "scenarios" in submitted and replace_scenarios(
                db.session, g.pilot, submitted["scenarios"], actor=current_user)
    except RuleSettingError as error:
        flash(f"Not saved — {error}", "error")
        return render_template("flagging/rules.html", pilot=g.pilot, panel=panel_context(g.pilot, submitted, error)), 400
    parts = [f"{len(changed)} rule setting(s)"] if changed else []
    if scenarios_changed:
        parts.append("the scenarios")
    flash(f"Saved {' and '.join(parts)}. Re-run the flags to apply them to past interactions." if parts
          else "Nothing changed.", "success")
    return redirect(url_for("pilots.settings", slug=slug) + "#flag-rules")


@bp.route("/pilots/<slug>/flags/reflag", methods=["POST"])
@pilot_role_required("lead")
def reflag(slug: str):
    """Queue the re-flag in the worker and follow its progress on the job page."""
    if not ReflagForm().validate_on_submit():
        flash("The form expired; reload the page and try again.", "error")
        return redirect(url_for("pilots.settings", slug=slug) + "#flag-rules")
    job = tracking.start(db.session, g.pilot, "reflag", "pilot.worker.jobs.reflag_pilot", current_user)
    if job.status == "done":
        flash(job.message, "success")
    return redirect(url_for("worker.page", slug=slug, job_id=job.id))


@bp.route("/pilots/<slug>/scenarios/add", methods=["POST"])
@pilot_role_required("lead")
def anticipate(slug: str):
    """Add a real question as an anticipated scenario (the topics page's button)."""
    back = url_for("review.topics", slug=slug)
    if not ReflagForm().validate_on_submit():
        flash("The form expired; reload the page and try again.", "error")
        return redirect(back)
    text = (request.form.get("text") or "").strip()
    if not text:
        flash("scenario: give the question to anticipate.", "error")
        return redirect(back)
    try:
        with unit_of_work():
            added = add_scenario(db.session, g.pilot, text, actor=current_user)
    except RuleSettingError as error:
        flash(str(error), "error")
        return redirect(back)
    flash("Added to the anticipated scenarios. Re-run the flags to update past interactions." if added
          else "That question is already an anticipated scenario.", "success")
    return redirect(back)
