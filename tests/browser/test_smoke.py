import pytest

from tests.browser.conftest import log_in, screenshot
from tests.factories import PASSWORD

expect = pytest.importorskip("playwright.sync_api", reason="Playwright is not installed").expect


def test_lead_logs_in_and_sees_the_overview(live_server, page, world):
    log_in(page, live_server, "lead@example.com", PASSWORD)
    page.goto(f"{live_server}/pilots/alpha")
    assert page.locator("h1").first.inner_text().startswith("Alpha")
    assert page.locator(".card").count() >= 4
    path = screenshot(page, "overview")
    assert path.stat().st_size > 5_000


def test_login_with_wrong_password_shows_message(live_server, page, world):
    log_in(page, live_server, "lead@example.com", "not the password")
    assert "/login" in page.url
    expect(page.locator("body")).to_contain_text("Wrong email or password")


def test_roster_on_a_phone(live_server, phone_page, world):
    log_in(phone_page, live_server, "lead@example.com", PASSWORD)
    phone_page.goto(f"{live_server}/pilots/alpha/participants")
    assert phone_page.locator("#roster").is_visible()
    # Nothing wider than the screen: the page must not scroll sideways.
    assert phone_page.evaluate("document.documentElement.scrollWidth") <= 375 + 1
    screenshot(phone_page, "roster-phone")
