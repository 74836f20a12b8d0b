"""The review queue in real Chromium: keyboard shortcuts, and screenshots of each page to look at."""
from __future__ import annotations

from pilot.extensions import db
from pilot.flagging.services import replace_scenarios
from pilot.models import Flag
from tests.browser.conftest import log_in, screenshot
from tests.factories import PASSWORD
from tests.flagging_helpers import make_interactions


def small_pilot(world) -> None:
    """A dozen interactions of the usual kinds, flagged as ingestion would flag them."""
    world.pilot.sampling_rate = 0.0
    world.pilot.allowed_domains = "acmebank.example"
    replace_scenarios(db.session, world.pilot, "How do I freeze my card?\nWhat is the daily transfer limit?", world.lead)
    db.session.commit()
    make_interactions(world.pilot, [
        {"status": "timeout", "output_text": "", "error_message": "no answer within 30 s", "latency_ms": 30000.0},
        {"status": "timeout", "output_text": "", "error_message": "no answer within 30 s", "latency_ms": 30000.0},
        {"status": "error", "output_text": "", "error_message": "upstream 500"},
        {"latency_ms": 6100.0, "input_text": "What is the daily transfer limit?", "output_text": "€5,000 per day."},
        {"latency_ms": 5400.0, "input_text": "What is the daily transfer limit?", "output_text": "€5,000 per day."},
        {"input_text": "Is bitcoin a good investment?", "output_text": "I'm sorry, but I can't provide investment advice."},
        {"input_text": "Email me at ana@example.org", "output_text": "See https://phish.example.net/login"},
        {"input_text": "<img src=x onerror=alert(1)> freeze card", "output_text": "<b>bold</b> answer"},
        {"external_user_id": "qa-shared"},
    ])


def flag_status(flag_id: int) -> str:
    db.session.expire_all()
    return db.session.get(Flag, flag_id).status


def test_queue_keyboard_moves_and_dismisses(live_server, page, world):
    small_pilot(world)
    log_in(page, live_server, "reviewer@example.com", PASSWORD)
    page.goto(f"{live_server}/pilots/alpha/review")
    dialogs = []
    page.on("dialog", lambda dialog: (dialogs.append(dialog.message), dialog.dismiss()))
    screenshot(page, "review-queue")
    rows = page.locator("#queue tbody tr[data-url]")
    assert rows.count() >= 9
    page.keyboard.press("j")
    page.keyboard.press("j")
    page.keyboard.press("k")
    assert rows.nth(0).get_attribute("class") == "current"
    first_id = int(rows.nth(0).locator('input[name="flag_ids"]').get_attribute("value"))
    page.keyboard.press("d")  # decided in place: no navigation
    page.wait_for_selector("#queue-status:has-text('dismissed as a false positive')")
    assert flag_status(first_id) == "dismissed"
    assert dialogs == []  # the hostile input did not run


def test_queue_decides_a_flag_without_a_reload(live_server, page, world, csrf_on):
    """With CSRF on, as in production: the row's Dismiss button sends the form with fetch, the page
    stays (same document, same scroll position) and the row shows the new status."""
    small_pilot(world)
    log_in(page, live_server, "reviewer@example.com", PASSWORD)
    page.set_viewport_size({"width": 1280, "height": 500})
    page.goto(f"{live_server}/pilots/alpha/review?kind=failure")
    page.evaluate("window.__stillHere = true")
    rows = page.locator("#queue tbody tr[data-url]")
    row = rows.nth(rows.count() - 1)
    row.scroll_into_view_if_needed()
    scrolled = page.evaluate("window.scrollY")
    assert scrolled > 0
    flag_id = int(row.locator('input[name="flag_ids"]').get_attribute("value"))
    row.locator('.row-actions button[value="dismiss"]').click()
    page.wait_for_selector(f"#queue-status:has-text('Flag #{flag_id}')")
    assert page.evaluate("window.__stillHere") is True  # no reload
    assert page.url.endswith("/review?kind=failure")
    assert abs(page.evaluate("window.scrollY") - scrolled) < 5  # the queue kept its place
    assert "decided" in row.get_attribute("class") and row.locator(".badge.dismissed").count() == 1
    assert row.locator(".row-actions").count() == 0
    assert flag_status(flag_id) == "dismissed"
    screenshot(page, "review-queue-decided-in-place")


def test_queue_row_buttons_work_without_javascript(live_server, browser, world):
    """Progressive enhancement: with scripts off the same button is a plain POST back to the queue."""
    small_pilot(world)
    context = browser.new_context(java_script_enabled=False)
    page = context.new_page()
    log_in(page, live_server, "reviewer@example.com", PASSWORD)
    page.goto(f"{live_server}/pilots/alpha/review?kind=failure")
    row = page.locator("#queue tbody tr[data-url]").first
    flag_id = int(row.locator('input[name="flag_ids"]').get_attribute("value"))
    with page.expect_navigation():
        row.locator('.row-actions button[value="confirm"]').click()
    assert "/review?kind=failure" in page.url and f"Flag #{flag_id}" in page.content()
    assert flag_status(flag_id) == "confirmed"
    context.close()


def test_detail_keyboard_confirms_and_moves_on(live_server, page, world):
    small_pilot(world)
    log_in(page, live_server, "reviewer@example.com", PASSWORD)
    page.goto(f"{live_server}/pilots/alpha/review")
    with page.expect_navigation():
        page.keyboard.press("j")
        page.keyboard.press("Enter")
    first_url = page.url
    flag_id = int(first_url.split("/review/")[1].split("?")[0])
    screenshot(page, "review-detail")
    page.fill("#note", "the provider timed out")
    page.locator("#note").blur()
    with page.expect_navigation():
        page.keyboard.press("c")
    assert page.url != first_url  # moved on to the next flag in the queue
    assert flag_status(flag_id) == "confirmed"
    assert db.session.get(Flag, flag_id).note == "the provider timed out"
    # It was the first open flag, so the one shown now has none before it: u goes back to the queue.
    assert page.locator('a[rel="prev"]').count() == 0
    with page.expect_navigation():
        page.keyboard.press("u")
    assert page.url.split("?")[0].endswith("/pilots/alpha/review")


def test_clusters_and_topics_pages(live_server, page, world):
    small_pilot(world)
    log_in(page, live_server, "reviewer@example.com", PASSWORD)
    page.goto(f"{live_server}/pilots/alpha/clusters")
    assert page.locator(".cluster").count() >= 3
    assert "no answer within 30 s" in page.locator(".cluster").first.inner_text()
    screenshot(page, "review-clusters")
    page.goto(f"{live_server}/pilots/alpha/topics")
    assert page.locator("#topics tbody tr").count() >= 3
    assert "not anticipated" in page.content()
    screenshot(page, "review-topics")


def test_queue_on_a_phone(live_server, phone_page, world):
    small_pilot(world)
    log_in(phone_page, live_server, "reviewer@example.com", PASSWORD)
    phone_page.goto(f"{live_server}/pilots/alpha/review")
    assert phone_page.locator("#queue").is_visible()
    screenshot(phone_page, "review-queue-phone")
