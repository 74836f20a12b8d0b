"""The overview dashboard (/pilots/<slug>) and the cost architecture page."""
from __future__ import annotations

from flask import Blueprint, g, render_template

from pilot.access import pilot_role_required
from pilot.analytics.charts import dashboard_charts
from pilot.analytics.costs import cost_architecture
from pilot.analytics.dashboard import dashboard_numbers
from pilot.analytics.forms import CostInputsForm, DayRangeForm
from pilot.analytics.rollup import refresh_apart
from pilot.extensions import db

bp = Blueprint("analytics", __name__)


@bp.route("/pilots/<slug>")
@pilot_role_required("reviewer")
def overview(slug: str):
    """The pilot's overview dashboard: bring the rollup up to date (in its own transaction), read it, draw it."""
    pilot = g.pilot
    form = DayRangeForm()
    start, end, errors = form.day_range()
    refresh_apart(pilot.id)
    numbers = dashboard_numbers(db.session, pilot, start=start, end=end, refresh_first=False)
    return render_template("analytics/dashboard.html", pilot=pilot, numbers=numbers, charts=dashboard_charts(numbers),
                           errors=errors, start=form.start.data or "", end=form.end.data or "")


@bp.route("/pilots/<slug>/costs")
@pilot_role_required("reviewer")
def costs(slug: str):
    """Cost architecture: cost per user per month, the scale selector and the what-ifs."""
    inputs, errors = CostInputsForm().inputs()
    refresh_apart(g.pilot.id)
    report = cost_architecture(db.session, g.pilot, inputs, refresh_first=False)
    return render_template("analytics/costs.html", pilot=g.pilot, report=report, inputs=inputs, errors=errors)
