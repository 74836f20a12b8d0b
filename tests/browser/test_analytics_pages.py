"""The dashboard and the cost page in real Chromium, at desktop and phone widths: screenshots to
look at, every chart drawn, nothing wider than the screen."""
from datetime import datetime, timedelta

import pytest

from pilot.extensions import db
from tests.analytics_data import HAIKU, SONNET, add_interactions
from tests.browser.conftest import log_in, screenshot
from tests.factories import PASSWORD


@pytest.fixture()
def busy_pilot(world):
    """Three weeks of traffic from four users on two models, some failures and a hostile model name."""
    pilot = world.pilot
    pilot.planned_price_per_user_month, pilot.target_users, pilot.daily_request_limit = 4.0, 5000, 6
    rows = []
    start = datetime(2026, 3, 1, 8)
    for day in range(21):
        for n in range(3 + day % 5):
            user = ("user-1", "user-2", "walk-in", "a-rather-long-external-user-id-0042")[(day + n) % 4]
            status = "error" if (day * 7 + n) % 23 == 0 else ("fallback" if (day + n) % 17 == 0 else "ok")
            model = (SONNET, HAIKU, "<script>alert('model')</script>")[(day + n) % 3]
            rows.append((user, start + timedelta(days=day, minutes=37 * n), model, "v2" if day > 9 else "v1", status,
                         400.0 + 160 * ((day * 13 + n * 7) % 29), 120.0 + n * 10, 0.002 + 0.0004 * n, f"question {n % 4}"))
    add_interactions(pilot, rows)
    db.session.commit()
    return pilot


def test_dashboard_on_desktop(live_server, page, busy_pilot):
    log_in(page, live_server, "lead@example.com", PASSWORD)
    page.goto(f"{live_server}/pilots/alpha")
    assert page.locator(".kpis .card").count() == 8
    assert page.locator(".chart-panel svg[role=img]").count() == 10
    empty = page.evaluate("""[...document.querySelectorAll('.chart-panel')]
        .filter(panel => panel.querySelector('svg desc').textContent === 'No data yet')
        .map(panel => panel.querySelector('figcaption').firstChild.textContent.trim())""")
    assert empty == ["Feedback per day", "Flags by reason"]  # no ratings or flags in this data: said, not drawn
    assert page.evaluate("document.documentElement.scrollWidth") <= 1280
    assert "<script>alert" in page.locator("#models ~ .table-wrap").first.inner_text()  # shown as text
    screenshot(page, "dashboard-1280")


def test_dashboard_on_a_phone(live_server, phone_page, busy_pilot):
    log_in(phone_page, live_server, "lead@example.com", PASSWORD)
    phone_page.goto(f"{live_server}/pilots/alpha")
    assert phone_page.locator(".chart-panel svg").first.is_visible()
    assert phone_page.evaluate("document.documentElement.scrollWidth") <= 375 + 1
    screenshot(phone_page, "dashboard-375")


def test_cost_page_on_desktop_and_phone(live_server, page, phone_page, busy_pilot):
    for which, width in ((page, 1280), (phone_page, 375)):
        log_in(which, live_server, "lead@example.com", PASSWORD)
        which.goto(f"{live_server}/pilots/alpha/costs")
        which.click("text=10,000 users")
        assert "users=10000" in which.url
        assert which.locator(".scale a[aria-current=true]").inner_text() == "10,000 users"
        assert which.locator(".whatif").count() == 5
        assert which.evaluate("document.documentElement.scrollWidth") <= width + 1
        screenshot(which, f"costs-{width}")
