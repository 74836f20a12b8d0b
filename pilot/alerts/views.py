"""Leads add alert rules and switch them on or off; the rules and events show on the readiness page."""
from __future__ import annotations

from flask import Blueprint, abort, flash, g, redirect, request, url_for
from flask_login import current_user

from pilot.access import pilot_role_required
from pilot.alerts import services
from pilot.extensions import db
from pilot.pilots.forms import CsrfOnlyForm

bp = Blueprint("alerts", __name__)


def _back(slug: str):
    return redirect(url_for("readiness.page", slug=slug, _anchor="alerts"))


@bp.route("/pilots/<slug>/alerts", methods=["POST"])
@pilot_role_required("lead")
def add_rule(slug: str):
    if not CsrfOnlyForm().validate_on_submit():
        abort(400)
    try:
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
        db.session.rollback()
        flash(f"Alert rule not added: {error}.", "error")
    else:
        db.session.commit()
        flash("Alert rule added.", "success")
    return _back(slug)


@bp.route("/pilots/<slug>/alerts/<int(max=2147483647):rule_id>/enabled", methods=["POST"])
@pilot_role_required("lead")
def set_enabled(slug: str, rule_id: int):
    if not CsrfOnlyForm().validate_on_submit():
        abort(400)
    try:
        rule = services.set_rule_enabled(db.session, g.pilot, rule_id, request.form.get("enabled") == "1", current_user)
    except services.AlertError:
        abort(404, description="No such alert rule in this pilot.")
    db.session.commit()
    flash(f"Alert rule {'enabled' if rule.enabled else 'disabled'}.", "success")
    return _back(slug)
