import re

import pytest

from pilot.auth.services import AccountError, authenticate, create_user
from pilot.auth.views import safe_next_url
from pilot.models import User
from tests.factories import PASSWORD


def test_password_is_stored_hashed(db, world):
    stored = db.session.get(User, world.lead.id).password_hash
    assert PASSWORD not in stored and stored.startswith("scrypt:")  # salted, one-way
    assert authenticate(db.session, "LEAD@example.com ", PASSWORD) == world.lead
    assert authenticate(db.session, "lead@example.com", "wrong password") is None
    assert authenticate(db.session, "nobody@example.com", PASSWORD) is None


def test_duplicate_email_and_short_password_refused(db, world):
    with pytest.raises(AccountError, match="already exists"):
        create_user(db.session, "Lead@Example.com", "long enough pw")
    with pytest.raises(AccountError, match="at least 8"):
        create_user(db.session, "new@example.com", "short")


def test_login_form_logs_in_and_redirects_to_next(client, world):
    response = client.post("/login?next=/pilots/alpha/settings", data={"email": "lead@example.com", "password": PASSWORD})
    assert response.status_code == 302 and response.headers["Location"] == "/pilots/alpha/settings"
    assert client.get("/pilots/alpha/settings").status_code == 200


def test_wrong_password_is_refused_with_a_message(client, world):
    response = client.post("/login", data={"email": "lead@example.com", "password": "nope nope"})
    assert response.status_code == 200 and b"Wrong email or password" in response.data
    assert client.get("/pilots/alpha").status_code == 302


@pytest.mark.parametrize("target", ["https://evil.example/", "//evil.example/x", "/\\evil.example", "javascript:alert(1)", "evil"])
def test_next_never_leaves_the_site(target):
    assert safe_next_url(target) is None


def test_login_post_without_csrf_token_is_refused(client, world, csrf_on):
    response = client.post("/login", data={"email": "lead@example.com", "password": PASSWORD})
    assert response.status_code == 400
    assert client.get("/pilots/alpha").status_code == 302  # still logged out


def test_login_with_csrf_token_from_the_form(client, world, csrf_on):
    page = client.get("/login").get_data(as_text=True)
    token = re.search(r'name="csrf_token" type="hidden" value="([^"]+)"', page).group(1)
    response = client.post("/login", data={"email": "lead@example.com", "password": PASSWORD, "csrf_token": token})
    assert response.status_code == 302


def test_logout_needs_post(client_as):
    client = client_as("lead")
    assert client.get("/logout").status_code == 405
    assert client.post("/logout").status_code == 302
    assert client.get("/pilots/alpha").status_code == 302


def test_session_cookie_is_httponly(client, world):
    response = client.post("/login", data={"email": "lead@example.com", "password": PASSWORD})
    cookie = response.headers.get("Set-Cookie", "")
    assert "HttpOnly" in cookie and "SameSite=Lax" in cookie


def test_admin_creates_users_others_cannot(client_as, db):
    import sqlalchemy as sa

    assert client_as("lead").post("/admin/users", data={"email": "x@example.com", "password": "long password"}).status_code == 403
    assert client_as("lead").get("/admin/users").status_code == 403
    response = client_as("admin").post("/admin/users", data={"email": "x@example.com", "password": "long password", "name": "X"})
    assert response.status_code == 302
    assert db.session.scalar(sa.select(User).where(User.email == "x@example.com")).name == "X"
    page = client_as("admin").post("/admin/users", data={"email": "x@example.com", "password": "long password"})
    assert b"already exists" in page.data


def test_anonymous_user_admin_page_redirects(client, world):
    response = client.get("/admin/users")
    assert response.status_code == 302 and "/login" in response.headers["Location"]
