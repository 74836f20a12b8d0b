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


def test_a_lead_changes_the_password_from_the_header(live_server, page, world):
    log_in(page, live_server, "lead@example.com", PASSWORD)
    page.click("header a.who")
    page.fill("#current_password", PASSWORD)
    page.fill("#new_password", "short")
    page.fill("#confirm", "short")
    with page.expect_navigation():
        page.click("main button[type=submit]")
    screenshot(page, "password-change-error")
    expect(page.locator(".field-error").first).to_contain_text("At least 8 characters")
    screenshot(page, "password-change-error")
    page.fill("#current_password", PASSWORD)
    page.fill("#new_password", "a brand new password")
    page.fill("#confirm", "a brand new password")
    with page.expect_navigation():
        page.click("main button[type=submit]")
    expect(page.locator(".flash-success")).to_contain_text("Your password is changed")
