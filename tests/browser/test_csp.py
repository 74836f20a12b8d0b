"""The Content-Security-Policy breaks nothing: the main pages, as lead and participant, in real
headless Chromium, report no CSP violation (an inline script or style the policy blocks would)."""
from tests.browser.conftest import log_in
from tests.factories import PASSWORD
from tests.participant_helpers import make_interaction

LEAD_PAGES = ["/", "/pilots/alpha", "/pilots/alpha/review", "/pilots/alpha/participants", "/pilots/alpha/settings",
              "/pilots/alpha/readiness", "/pilots/alpha/feedback", "/pilots/alpha/costs", "/pilots/alpha/topics",
              "/pilots/alpha/clusters", "/pilots/alpha/prices", "/pilots/alpha/audit", "/pilots/alpha/settings/rules"]


def _violations(page, base_url: str, paths: list[str]) -> list[str]:
    seen: list[str] = []
    page.on("console", lambda message: seen.append(f"{page.url}: {message.text}")
            if "Content Security Policy" in message.text else None)
    for path in paths:
        response = page.goto(base_url + path)
        assert response is not None and response.status < 400, (path, response and response.status)
        page.wait_for_load_state("load")
    return seen


def test_main_pages_raise_no_csp_violation(live_server, page, world, db):
    for index in range(3):
        make_interaction(world.pilot, f"e-{index}", status="error" if index else "ok")
    log_in(page, live_server, "lead@example.com", PASSWORD)
    assert _violations(page, live_server, LEAD_PAGES) == []


def test_participant_pages_raise_no_csp_violation(live_server, page, world, db):
    make_interaction(world.pilot, "e-1")
    log_in(page, live_server, "participant@example.com", PASSWORD)
    assert _violations(page, live_server, ["/pilots/alpha/me", "/pilots/alpha/me/report",
                                           "/pilots/alpha/me/feedback"]) == []
