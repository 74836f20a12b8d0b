"""The alerts page: leads add rules and channels, switch rules on or off and send a test alert;
reviewers see the rules, channels and what was delivered. The same panel shows on the readiness page."""
from __future__ import annotations

from flask import Blueprint, abort, flash, g, redirect, render_template, request, url_for
from flask_login import current_user

from pilot.access import is_lead, pilot_role_required
from pilot.alerts import channels, services
from pilot.extensions import db
from pilot.forms import CsrfOnlyForm
from pilot.models import Pilot
from pilot.unit_of_work import unit_of_work
from pilot.worker.queue import enqueue

bp = Blueprint("alerts", __name__)


def panel_context(pilot: Pilot, new_secret: str | None = None, new_channel_id: int | None = None) -> dict:
    """What templates/alerts/panel.html needs; values are read now, nothing fires from a page view."""
    return {
        "alert_pilot": pilot, "alert_rules": services.rules_for(db.session, pilot),
        "alert_values": services.current_values(db.session, pilot), "alert_metrics": services.METRICS,
        "alert_events": services.recent_events(db.session, pilot), "alert_channels": channels.channels_for(db.session, pilot),
        "alert_outcomes": channels.last_outcomes(db.session, pilot),
        "alert_deliveries": channels.recent_deliveries(db.session, pilot),
        "alert_form": CsrfOnlyForm(), "alert_is_lead": is_lead(current_user, pilot),
        "alert_new_secret": new_secret, "alert_new_channel_id": new_channel_id,
    }


@bp.app_context_processor
def inject_panel():
    """Lets the readiness page include the alerts panel without knowing about alerts."""
    return {"alerts_panel": panel_context}


def _back(slug: str):
    return redirect(url_for("alerts.page", slug=slug))


def _checked_form() -> None:
    if not CsrfOnlyForm().validate_on_submit():
        abort(400, description="The form expired; reload the page and try again.")


@bp.route("/pilots/<slug>/alerts")
@pilot_role_required("reviewer")
def page(slug: str):
    return render_template("alerts/page.html", pilot=g.pilot, panel=panel_context(g.pilot))


@bp.route("/pilots/<slug>/alerts", methods=["POST"])
@pilot_role_required("lead")
def add_rule(slug: str):
    _checked_form()
    try:
        with unit_of_work():
            try:
                threshold = float(request.form.get("threshold", "").strip())
            except ValueError:
                raise services.AlertError("threshold must be a number") from None
            try:
                window_hours = int(request.form.get("window_hours", "24").strip())
            except ValueError:
                raise services.AlertError("window_hours must be a whole number") from None
            services.add_rule(db.session, g.pilot, current_user, metric=request.form.get("metric", ""),
                              threshold=threshold, window_hours=window_hours)
    except services.AlertError as error:
        flash(f"Alert rule not added: {error}.", "error")
    else:
        flash("Alert rule added.", "success")
    return _back(slug)


@bp.route("/pilots/<slug>/alerts/<int(max=2147483647):rule_id>/enabled", methods=["POST"])
@pilot_role_required("lead")
def set_enabled(slug: str, rule_id: int):
    _checked_form()
    try:
        with unit_of_work():
            rule = services.set_rule_enabled(db.session, g.pilot, rule_id, request.form.get("enabled") == "1",
                                             current_user)
    except services.AlertError:
        abort(404, description="No such alert rule in this pilot.")
    flash(f"Alert rule {'enabled' if rule.enabled else 'disabled'}.", "success")
    return _back(slug)


@bp.route("/pilots/<slug>/alerts/channels", methods=["POST"])
@pilot_role_required("lead")
def add_channel(slug: str):
    _checked_form()
    try:
        with unit_of_work():
            new = channels.add_channel(db.session, g.pilot, current_user, kind=request.form.get("kind", ""),
                                       target=request.form.get("target", ""))
    except channels.ChannelError as error:
        flash(f"Channel not added: {error}.", "error")
        return _back(slug)
    flash(f"{new.channel.kind.capitalize()} channel added. Send a test alert to check that it works.", "success")
    # The webhook secret is shown on this response only (not stored in the session or the URL).
    return render_template("alerts/page.html", pilot=g.pilot,
                           panel=panel_context(g.pilot, new.secret or None, new.channel.id))


@bp.route("/pilots/<slug>/alerts/channels/<int(max=2147483647):channel_id>/remove", methods=["POST"])
@pilot_role_required("lead")
def remove_channel(slug: str, channel_id: int):
    _checked_form()
    try:
        with unit_of_work():
            channels.remove_channel(db.session, g.pilot, channel_id, current_user)
    except channels.ChannelError:
        abort(404, description="No such alert channel in this pilot.")
    flash("Channel removed.", "success")
    return _back(slug)


@bp.route("/pilots/<slug>/alerts/channels/<int(max=2147483647):channel_id>/test", methods=["POST"])
@pilot_role_required("lead")
def send_test(slug: str, channel_id: int):
    _checked_form()
    try:
        with unit_of_work():
            delivery = channels.test_delivery(db.session, g.pilot, channel_id, current_user)
    except channels.ChannelError:
        abort(404, description="No such alert channel in this pilot.")
    how = enqueue("pilot.worker.jobs.deliver_alert", delivery.id, retry=True)
    db.session.refresh(delivery)
    if how == "queued":
        flash("Test alert queued: its outcome shows under Deliveries in a moment.", "success")
    elif delivery.status == "sent":
        flash("Test alert sent.", "success")
    else:
        flash(f"Test alert failed: {delivery.error}", "error")
    return _back(slug)
