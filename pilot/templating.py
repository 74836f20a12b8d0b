"""Jinja filters and globals used across templates."""
from __future__ import annotations

from datetime import datetime

from flask import Flask, current_app, g

from pilot.access import can


def format_dt(value: datetime | None) -> str:
    return value.strftime("%Y-%m-%d %H:%M") if value else "—"


def format_usd(value: float | None, digits: int = 4) -> str:
    if value is None:
        return "unknown"
    return f"${value:,.{digits}f}"


def format_ms(value: float | None) -> str:
    return "—" if value is None else f"{value:,.0f} ms"


def format_pct(value: float | None, digits: int = 1) -> str:
    return "—" if value is None else f"{value * 100:.{digits}f}%"


def register(app: Flask) -> None:
    app.jinja_env.filters.update(dt=format_dt, usd=format_usd, ms=format_ms, pct=format_pct)

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
