"""The overview dashboard (/pilots/<slug>) and the cost architecture page."""
from __future__ import annotations

from datetime import date
from typing import Mapping

from flask import Blueprint, g, render_template, request

from pilot.access import pilot_role_required
from pilot.analytics.charts import dashboard_charts
from pilot.analytics.dashboard import dashboard_numbers
from pilot.analytics.rollup import refresh_apart
from pilot.extensions import db

bp = Blueprint("analytics", __name__)
EARLIEST, LATEST = date(1970, 1, 1), date(9998, 12, 31)


def parse_day_range(args: Mapping[str, str]) -> tuple[date | None, date | None, dict[str, str]]:
    """`from` and `to` (YYYY-MM-DD, both optional, inclusive); errors name the field."""
    values: dict[str, date | None] = {"from": None, "to": None}
    errors: dict[str, str] = {}
    for field in values:
        text = (args.get(field) or "").strip()
        if not text:
            continue
        try:
            day = date.fromisoformat(text)
        except ValueError:
            errors[field] = f"{field}: use a date like 2026-03-01"
            continue
        if not EARLIEST <= day <= LATEST:
            errors[field] = f"{field}: pick a date between {EARLIEST} and {LATEST}"
            continue
        values[field] = day
    if values["from"] and values["to"] and values["from"] > values["to"]:
        errors["to"] = "to: must be on or after from"
        values["to"] = None
    return values["from"], values["to"], errors


@bp.route("/pilots/<slug>")
@pilot_role_required("reviewer")
def overview(slug: str):
    """The pilot's overview dashboard: bring the rollup up to date (in its own transaction), read it, draw it."""
    pilot = g.pilot
    start, end, errors = parse_day_range(request.args)
    refresh_apart(pilot.id)
    numbers = dashboard_numbers(db.session, pilot, start=start, end=end, refresh_first=False)
    return render_template("analytics/dashboard.html", pilot=pilot, numbers=numbers, charts=dashboard_charts(numbers),
                           errors=errors, start=request.args.get("from", ""), end=request.args.get("to", ""))


@bp.route("/pilots/<slug>/costs")
@pilot_role_required("reviewer")
def costs(slug: str):
    """Cost architecture: cost per user per month, the scale selector and the what-ifs."""
    from pilot.analytics.costs import cost_architecture, parse_cost_inputs

    inputs, errors = parse_cost_inputs(request.args)
    refresh_apart(g.pilot.id)
    report = cost_architecture(db.session, g.pilot, inputs, refresh_first=False)
    return render_template("analytics/costs.html", pilot=g.pilot, report=report, inputs=inputs, errors=errors)
