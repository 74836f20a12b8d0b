"""The readiness page and the printable report in a real browser: attest, snapshot, sign, and
screenshots to look at (out/screenshots/readiness-*.png)."""
import pytest

from tests.browser.conftest import log_in, screenshot
from tests.factories import PASSWORD
from tests.readiness_data import load_sample

expect = pytest.importorskip("playwright.sync_api", reason="Playwright is not installed").expect


def test_lead_attests_snapshots_and_signs(live_server, page, world, db):
    load_sample(db, world.pilot)
    log_in(page, live_server, "lead@example.com", PASSWORD)
    page.goto(f"{live_server}/pilots/alpha/readiness")
    assert page.locator(".verdict-word").inner_text().lower() == "no-go"
    row = page.locator("#item-scaling\\.stateless")
    row.locator("summary").click()
    row.locator("select[name=status]").select_option("pass")
    row.locator("textarea[name=note]").fill("Sessions live in PostgreSQL; app servers keep no state.")
    row.locator("input[name=link]").fill("https://wiki.example/architecture")
    row.locator("button[type=submit]").click()
    expect(page.locator(".flash-success")).to_contain_text("Recorded your attestation on scaling.stateless")
    expect(page.locator("#item-scaling\\.stateless .badge.pass")).to_have_count(1)
    screenshot(page, "readiness-page")

    page.click("#create-report")
    expect(page.locator(".flash-success")).to_contain_text("Created report #1")
    page.fill("#sign-note-1", "Reviewed with the team; not launching until fallbacks are fixed.")
    page.click("text=Sign report #1")
    expect(page.locator(".flash-success")).to_contain_text("You signed report #1: the signatures are complete and the verdict is no-go.")
    screenshot(page, "readiness-signed")


def test_printable_report_renders(live_server, page, world, db):
    load_sample(db, world.pilot)
    log_in(page, live_server, "lead@example.com", PASSWORD)
    page.goto(f"{live_server}/pilots/alpha/readiness.html")
    assert page.locator("svg.chart").count() == 3
    assert page.locator("h1").inner_text() == "Launch readiness"
    screenshot(page, "readiness-report-html")


def test_readiness_page_on_a_phone(live_server, phone_page, world, db):
    load_sample(db, world.pilot)
    log_in(phone_page, live_server, "lead@example.com", PASSWORD)
    phone_page.goto(f"{live_server}/pilots/alpha/readiness")
    assert phone_page.locator(".verdict-word").is_visible()
    assert phone_page.evaluate("document.documentElement.scrollWidth") <= 375 + 1
    screenshot(phone_page, "readiness-phone")
