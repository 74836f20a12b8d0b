"""A pilot user's whole path in real headless Chromium: invite link → account and consent → their
page → rating → problem report with a screenshot → the team acknowledges → they see it. Another
participant never sees any of it. The key pages again on a 375 px phone screen."""
import contextlib
import re
import threading

import pytest
import sqlalchemy as sa
from werkzeug.serving import make_server

from pilot.enrollment.services import invite
from pilot.models import Feedback, Report
from pilot.pilots.services import mint_api_key
from tests.browser.conftest import log_in, screenshot
from tests.factories import PASSWORD
from tests.participant_helpers import make_interaction, png_bytes, upload_dir  # noqa: F401

PAT_PASSWORD = "pat's long password"
LONG_ANSWER = "\n".join(f"{n}. Step {n} of resetting your PIN: tap, confirm, wait." for n in range(1, 25))


@pytest.fixture()
def pat(db, world):
    """An invited participant with three interactions already logged under their external id."""
    new_invite = invite(db.session, world.pilot, external_id="pat-77", email="pat@example.com", actor=world.lead)
    db.session.commit()
    make_interaction(world.pilot, "pat-1", user="pat-77", minutes_ago=30, question="What is my daily transfer limit?",
                     answer="Your daily transfer limit is €5,000.")
    make_interaction(world.pilot, "pat-2", user="pat-77", minutes_ago=20, question="How do I reset my PIN?",
                     answer=LONG_ANSWER)
    make_interaction(world.pilot, "pat-3", user="pat-77", minutes_ago=10, question="Show me <b>bold</b>",
                     answer="<script>document.title='pwned'</script>\n    indented   spaces kept",
                     model="claude-haiku-4-5", status="fallback")
    return new_invite


def no_sideways_scroll(page) -> bool:
    return page.evaluate("document.documentElement.scrollWidth") <= page.viewport_size["width"] + 1


def card(page, event_question: str):
    return page.locator("article.ix", has_text=event_question)


def test_invite_to_rating_to_report_and_back(live_server, browser, page, world, db, pat, upload_dir, csrf_on):
    # Invite link → name, password, consent → their own page.
    page.goto(pat.url(live_server))
    page.fill("#name", "Pat Doe")
    page.fill("#password", PAT_PASSWORD)
    page.check("#consent")
    page.click("button[type=submit]")
    page.wait_for_url(re.compile(r"/pilots/alpha/me"))
    assert "Welcome to the Alpha pilot" in page.content()
    assert page.locator("article.ix").count() == 3
    assert page.title() != "pwned"  # the output's script is shown as text, not run
    assert "<script>document.title" in card(page, "Show me").inner_text()
    assert card(page, "Show me").locator(".text").nth(0).inner_text() == "Show me <b>bold</b>"
    assert "    indented   spaces kept" in card(page, "Show me").inner_text()
    long_card = card(page, "reset my PIN")
    assert long_card.locator("details.longtext").count() == 1
    assert not long_card.get_by_text("24. Step 24").is_visible()
    long_card.locator("details.longtext summary").click()
    assert long_card.get_by_text("24. Step 24", exact=False).is_visible()
    screenshot(page, "participant-home")

    # Thumbs down saves in place; then stars and a comment.
    limit = card(page, "transfer limit")
    limit.locator("label.pill.down").click()
    limit.locator(".save-status.saved").wait_for()
    limit.locator("label.pill.star", has_text="2★").click()
    limit.locator("details.comment summary").click()
    limit.locator("textarea[name=comment]").fill("The app says €2,000, not €5,000.")
    limit.locator("button[type=submit]").click()  # the status says "Saving…" until the answer comes
    limit.locator(".save-status.saved").wait_for()
    db.session.rollback()
    feedback = db.session.scalar(sa.select(Feedback))
    assert (feedback.thumbs, feedback.rating, feedback.comment) == ("down", 2, "The app says €2,000, not €5,000.")
    screenshot(page, "participant-rated")

    # Report a problem about that answer, with a screenshot.
    limit.get_by_text("Report a problem with this answer").click()
    page.wait_for_url(re.compile(r"/me/report\?interaction="))
    assert "What is my daily transfer limit?" in page.content()
    page.get_by_text("Wrong answer", exact=True).click()
    page.fill("#description", "It told me €5,000 but my limit is €2,000.")
    page.set_input_files("#screenshot", files=[{"name": "screen.png", "mimeType": "image/png", "buffer": png_bytes(40, 30)}])
    screenshot(page, "participant-report-form")
    page.click("form[data-report] button[type=submit]")
    page.wait_for_url(re.compile(r"/pilots/alpha/me#reports"))
    reports = page.locator("#reports")
    assert "Wrong answer" in reports.inner_text() and "It told me €5,000" in reports.inner_text()
    assert reports.locator(".badge.new").count() == 1
    assert "You reported: Wrong answer" in limit.inner_text()
    db.session.rollback()
    report = db.session.scalar(sa.select(Report))
    assert report.screenshot_mime == "image/png" and report.status == "new"
    screenshot(page, "participant-reported")

    # The lead sees the feedback and acknowledges the report.
    lead_context = browser.new_context(viewport={"width": 1280, "height": 900})
    lead = lead_context.new_page()
    log_in(lead, live_server, "lead@example.com", PASSWORD)
    lead.goto(f"{live_server}/pilots/alpha/feedback")
    assert "The app says €2,000" in lead.locator("#ratings").inner_text()
    assert lead.locator("#ratings a.negative-link").count() == 1
    item = lead.locator(f"#r-{report.id}")
    assert "It told me €5,000" in item.inner_text()
    item.locator("select[name=status]").select_option("acknowledged")
    item.locator("input[name=note]").fill("Thanks Pat, we are fixing the limits data.")
    item.locator("button[type=submit]").click()
    lead.wait_for_url(re.compile(r"/feedback.*#r-"))
    assert "is now acknowledged" in lead.content()
    screenshot(lead, "team-feedback")
    with lead.expect_navigation():  # content() right after a click can read the page being replaced
        lead.locator("#ratings a.negative-link").first.click()
    assert "What is my daily transfer limit?" in lead.content()
    lead_context.close()

    # Pat sees that the team acknowledged it.
    page.goto(f"{live_server}/pilots/alpha/me")
    reports = page.locator("#reports")
    assert reports.locator(".badge.acknowledged").count() == 1
    assert "we are fixing the limits data" in reports.inner_text()
    with page.expect_popup() as popup:
        reports.get_by_text("your screenshot").click()
    image = popup.value
    assert image.evaluate("document.contentType") == "image/png"
    screenshot(page, "participant-acknowledged")

    # Another participant never sees Pat's interactions, rating or report.
    other_context = browser.new_context(viewport={"width": 1280, "height": 900})
    other = other_context.new_page()
    log_in(other, live_server, "participant2@example.com", PASSWORD)
    other.goto(f"{live_server}/pilots/alpha/me")
    body = other.locator("main").inner_text()
    assert "transfer limit" not in body and "€2,000" not in body and "Nothing here yet" in body
    screenshot(other, "other-participant-home")
    assert other.goto(f"{live_server}/pilots/alpha/reports/{report.id}/screenshot").status == 404
    assert other.goto(f"{live_server}/pilots/alpha/me/report?interaction={report.interaction_id}").status == 404
    assert "transfer limit" not in other.content()
    other_context.close()


def test_participant_pages_on_a_phone(live_server, phone_page, world, db, pat, upload_dir):
    from pilot.enrollment.services import accept_invite

    accept_invite(db.session, pat.token, consent=True, name="Pat", password=PAT_PASSWORD)
    db.session.add(Report(pilot_id=world.pilot.id, membership_id=pat.membership.id, kind="problem",
                          problem_type="too_slow", description="Waited 20 seconds for " + "a" * 120,
                          status="acknowledged", team_note="We moved you to a faster model."))
    db.session.commit()
    log_in(phone_page, live_server, "pat@example.com", PAT_PASSWORD)
    phone_page.goto(f"{live_server}/pilots/alpha/me")
    assert phone_page.locator("article.ix").count() == 3
    assert no_sideways_scroll(phone_page)
    thumbs = phone_page.locator("article.ix label.pill.down").first.bounding_box()
    assert thumbs["height"] >= 36  # big enough to tap
    screenshot(phone_page, "phone-participant-home")
    card(phone_page, "transfer limit").locator("label.pill.up").click()
    card(phone_page, "transfer limit").locator(".save-status.saved").wait_for()
    assert no_sideways_scroll(phone_page)

    phone_page.goto(f"{live_server}/pilots/alpha/me/report")
    assert no_sideways_scroll(phone_page)
    phone_page.click("form[data-report] button[type=submit]")  # nothing filled in: every field is explained
    assert "type: choose what went wrong" in phone_page.content()
    assert "description: please say what happened" in phone_page.content()
    assert no_sideways_scroll(phone_page)
    screenshot(phone_page, "phone-report-errors")

    phone_page.set_input_files("#screenshot", files=[{"name": "x.gif", "mimeType": "image/gif", "buffer": b"GIF89a" + b"\0" * 20}])
    assert "only PNG, JPEG or WebP" in phone_page.locator("[data-file-error]").inner_text()

    phone_page.goto(f"{live_server}/pilots/alpha/me/feedback")
    assert no_sideways_scroll(phone_page)
    screenshot(phone_page, "phone-general-feedback")
    phone_page.goto(f"{live_server}/pilots/alpha/me/leave")
    assert no_sideways_scroll(phone_page)
    screenshot(phone_page, "phone-leave")


def test_team_feedback_page_on_a_phone(live_server, phone_page, world, db):
    interaction = make_interaction(world.pilot, "long-1", question="q" * 300, answer="a" * 3000)
    db.session.add(Feedback(pilot_id=world.pilot.id, interaction_id=interaction.id, thumbs="down", rating=1,
                            external_user_id="user-1", comment="x" * 400))
    db.session.add(Report(pilot_id=world.pilot.id, kind="idea", description="https://example.com/" + "long" * 80))
    db.session.commit()
    log_in(phone_page, live_server, "lead@example.com", PASSWORD)
    phone_page.goto(f"{live_server}/pilots/alpha/feedback")
    assert phone_page.locator("#ratings").is_visible()
    assert no_sideways_scroll(phone_page)
    screenshot(phone_page, "phone-team-feedback")
    phone_page.goto(f"{live_server}/pilots/alpha/feedback/interactions/{interaction.id}")
    assert no_sideways_scroll(phone_page)
    screenshot(phone_page, "phone-team-interaction")


def test_embedded_widget_in_a_third_party_page(live_server, browser, world, db, pat):
    """The snippet from docs/participant.md, in a page of another origin, at phone width."""
    _, key = mint_api_key(db.session, world.pilot, world.lead)
    db.session.commit()
    import requests

    minted = requests.post(f"{live_server}/api/v1/feedback-tokens", json={"interaction": "pat-1", "user": "pat-77"},
                           headers={"Authorization": f"Bearer {key}"}, timeout=10).json()
    host_page = f"""<!doctype html><meta name=viewport content="width=device-width">
      <p>Your daily transfer limit is €5,000.</p>
      <iframe id="pilot-feedback" src="{minted['url']}" title="Rate this answer"
              style="width:100%;max-width:480px;height:150px;border:0"></iframe>
      <script>
        window.addEventListener("message", function (e) {{
          if (e.data && e.data.type === "pilot-feedback-height")
            document.getElementById("pilot-feedback").style.height = e.data.height + "px";
        }});
      </script>"""
    context = browser.new_context(viewport={"width": 375, "height": 740}, is_mobile=True)
    page = context.new_page()
    with feature_page_server(host_page) as host_url:  # the AI feature's page, on another origin
        page.goto(host_url)
        frame = page.frame_locator("#pilot-feedback")
        frame.get_by_text("Was this answer helpful?").wait_for()
        frame.locator("label.pill.down").click()
        frame.get_by_text("Thanks, saved!").wait_for()
        screenshot(page, "embed-in-host-page")
    db.session.rollback()
    feedback = db.session.scalar(sa.select(Feedback))
    assert (feedback.thumbs, feedback.source, feedback.membership_id) == ("down", "embed", pat.membership.id)
    context.close()


@contextlib.contextmanager
def feature_page_server(html: str):
    """Serve one HTML page on loopback, on a port of the 5300-5399 range, as another site would."""
    def app(environ, start_response):
        start_response("200 OK", [("Content-Type", "text/html; charset=utf-8")])
        return [html.encode()]

    for port in range(5300, 5400):
        try:
            server = make_server("127.0.0.1", port, app)
            break
        except OSError:
            continue
    else:
        pytest.skip("no free port in 5300-5399 for the host page")
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{port}/"
    finally:
        server.shutdown()
        thread.join(timeout=5)
