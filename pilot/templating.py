"""Jinja filters and globals used across templates."""
from __future__ import annotations

from flask import Flask, current_app, g

from pilot import formatting
from pilot.access import can


def register(app: Flask) -> None:
    # The number filters are pilot.formatting's full forms (one definition for templates, charts, reports).
    app.jinja_env.filters.update(dt=formatting.dt, usd=formatting.usd, ms=formatting.ms, pct=formatting.pct,
                                 num=formatting.count, decimal=formatting.number)

    @app.context_processor
    def inject_pilot_context():
        """The pilot and membership that pilot_role_required() resolved, for the nav bar."""
        return {
            "current_pilot": g.get("pilot"),
            "current_membership": g.get("membership"),
            # Navigation shows a capability's link only once its blueprint is registered.
            "view_endpoints": current_app.view_functions,
            # Templates ask `can('lead', pilot)` and never re-derive roles themselves.
            "can": can,
        }
