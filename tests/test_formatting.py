"""pilot.formatting: the one place numbers are written for people (templates, charts, evidence
sentences, alert messages); the JSON and CSV exports stay unrounded."""
from datetime import datetime

from pilot import formatting as fmt
from pilot.alerts.services import describe


def test_full_forms_and_missing_values():
    assert fmt.count(1234) == "1,234" and fmt.count(0) == "0"
    assert fmt.count(1, "user") == "1 user" and fmt.count(0, "user") == "0 users" and fmt.count(1204, "user") == "1,204 users"
    assert fmt.number(1234.56, 1) == "1,234.6" and fmt.number(None) == "—" and fmt.number(0.0, 2) == "0.00"
    assert fmt.ms(1234.6) == "1,235 ms" and fmt.ms(0) == "0 ms" and fmt.ms(None) == "—"
    assert fmt.pct(0.031) == "3.1%" and fmt.pct(0.5, 0) == "50%" and fmt.pct(0) == "0.0%" and fmt.pct(None) == "—"
    assert fmt.dt(datetime(2026, 3, 1, 23, 59, 59)) == "2026-03-01 23:59" and fmt.dt(None) == "—"


def test_usd_never_writes_an_unknown_cost_as_zero():
    assert fmt.usd(None) == "unknown" and fmt.usd(0) == "$0.0000"
    assert fmt.usd(1234.5, 2) == "$1,234.50" and fmt.usd(0.00312) == "$0.0031"
    # digits=None: four decimals below a dollar, two above (evidence sentences)
    assert fmt.usd(0.0031, None) == "$0.0031" and fmt.usd(12.5, None) == "$12.50" and fmt.usd(-0.5, None) == "$-0.5000"


def test_short_forms_for_chart_ticks():
    assert fmt.ms_short(950) == "950 ms" and fmt.ms_short(12_500) == "12.5 s"
    assert fmt.pct_short(0.031) == "3.1%" and fmt.pct_short(0.42) == "42%"
    assert fmt.usd_short(0) == "$0.00" and fmt.usd_short(0.0031) == "$0.00310" and fmt.usd_short(2500) == "$2,500"
    assert fmt.compact_number(999) == "999" and fmt.compact_number(1000) == "1k"


def test_templates_and_alerts_use_the_same_forms(app):
    filters = app.jinja_env.filters
    assert filters["usd"] is fmt.usd and filters["ms"] is fmt.ms and filters["pct"] is fmt.pct
    assert filters["dt"] is fmt.dt and filters["num"] is fmt.count and filters["decimal"] is fmt.number
    assert app.jinja_env.from_string("{{ 1234|num }} · {{ 0.0312|pct }} · {{ none|usd }} · {{ 4.254|decimal(2) }}").render() \
        == "1,234 · 3.1% · unknown · 4.25"
    assert describe("error_rate", 0.0312) == "3.12%" and describe("p95_latency_ms", 4321.4) == "4,321 ms"
    assert describe("user_requests_per_day", 1234.56) == "1,234.6 requests" and describe("daily_cost_usd", 2) == "$2.0000"
