"""Changing one's own password (/account/password): the form, its refusals, and the sessions it ends."""
from __future__ import annotations

import sqlalchemy as sa

from pilot.models import AuditEvent, User
from tests.factories import PASSWORD

NEW = "a brand new password"


def _logged_in(app, email: str = "lead@example.com", password: str = PASSWORD):
    client = app.test_client()
    response = client.post("/login", data={"email": email, "password": password})
    assert response.status_code == 302, response.get_data(as_text=True)
    return client


def _change(client, current: str = PASSWORD, new: str = NEW, confirm: str | None = None):
    return client.post("/account/password", data={"current_password": current, "new_password": new,
                                                  "confirm": new if confirm is None else confirm})


def test_the_page_needs_a_login(client, world):
    response = client.get("/account/password")
    assert response.status_code == 302 and "/login" in response.headers["Location"]
    assert _change(client).status_code == 302
    assert world.lead.check_password(PASSWORD)


def test_the_form_carries_a_csrf_token_and_refuses_a_post_without_one(app, db, world, csrf_on):
    client = app.test_client()
    page = client.get("/login").get_data(as_text=True)
    token = page.split('name="csrf_token" type="hidden" value="')[1].split('"')[0]
    client.post("/login", data={"email": "lead@example.com", "password": PASSWORD, "csrf_token": token})
    form = client.get("/account/password")
    assert form.status_code == 200 and 'name="csrf_token"' in form.get_data(as_text=True)
    assert _change(client).status_code == 400  # no token: refused by the app-wide CSRF check
    assert db.session.get(User, world.lead.id).check_password(PASSWORD)


def test_a_wrong_current_password_is_a_field_error_and_changes_nothing(app, db, world):
    client = _logged_in(app)
    response = _change(client, current="not my password")
    assert response.status_code == 422
    assert "This is not your current password." in response.get_data(as_text=True)
    assert db.session.get(User, world.lead.id).check_password(PASSWORD)


def test_short_or_mismatched_new_passwords_are_refused(app, db, world):
    client = _logged_in(app)
    short = _change(client, new="short")
    assert short.status_code == 422 and "At least 8 characters" in short.get_data(as_text=True)
    mismatch = _change(client, confirm="something else entirely")
    assert mismatch.status_code == 422 and "The two new passwords differ." in mismatch.get_data(as_text=True)
    same = _change(client, new=PASSWORD)
    assert same.status_code == 422 and "different from the current one" in same.get_data(as_text=True)
    assert db.session.get(User, world.lead.id).check_password(PASSWORD)


def test_a_change_keeps_this_session_ends_the_others_and_is_audited(app, db, world):
    this_browser = _logged_in(app)
    other_browser = _logged_in(app)
    response = _change(this_browser)
    assert response.status_code == 302
    assert this_browser.get("/pilots/alpha").status_code == 200
    assert other_browser.get("/pilots/alpha").status_code == 302  # to the login page
    refused = app.test_client().post("/login", data={"email": "lead@example.com", "password": PASSWORD})
    assert refused.status_code == 200 and "Wrong email or password" in refused.get_data(as_text=True)
    _logged_in(app, password=NEW)
    entry = db.session.scalars(sa.select(AuditEvent).where(AuditEvent.action == "user.password_change")).one()
    assert entry.actor_id == world.lead.id and NEW not in str(entry.after) and PASSWORD not in str(entry.after)


def test_hostile_input_is_escaped_not_echoed(app, world):
    client = _logged_in(app)
    response = _change(client, current="<script>alert(1)</script>")
    assert response.status_code == 422 and "<script>alert(1)</script>" not in response.get_data(as_text=True)
