"""Regression tests for the outside probe's findings (issue 12): each failed before its fix."""
from __future__ import annotations

import gzip
import os
import threading
import zlib

import pytest
import sqlalchemy as sa

from pilot import api_body as body
from pilot.models import Flag, Membership, User
from tests.conftest import login
from tests.factories import PASSWORD

# ---- 1. gzip with many tiny members -------------------------------------------------------------

_real_decompressobj = zlib.decompressobj

class _CountingInflater:
    """Wraps a zlib decompressor and counts the bytes fed to it, so the test measures work, not time."""

    fed = 0
    made = 0

    def __init__(self, wbits: int) -> None:
        type(self).made += 1
        self._inner = _real_decompressobj(wbits)

    def decompress(self, data, max_length=0):
        type(self).fed += len(data)
        return self._inner.decompress(data, max_length)

    def __getattr__(self, name):
        return getattr(self._inner, name)


@pytest.fixture()
def counting_inflater(monkeypatch):
    _CountingInflater.fed = _CountingInflater.made = 0
    monkeypatch.setattr(body.zlib, "decompressobj", _CountingInflater)
    return _CountingInflater


def test_many_empty_gzip_members_are_refused_after_a_bounded_number(client, db, api_key, counting_inflater):
    members = gzip.compress(b"") * 200_000  # 4 MB, under the 10 MB cap
    assert len(members) < 10 * 1024 * 1024
    response = client.post("/api/v1/interactions", data=members, content_type="application/json",
                           headers={"Authorization": f"Bearer {api_key}", "Content-Encoding": "gzip"})
    assert response.status_code in (400, 413)
    assert "member" in response.get_json()["error"]
    assert counting_inflater.made <= body.MAX_GZIP_MEMBERS + 1


def test_inflating_members_feeds_each_byte_a_bounded_number_of_times(app, counting_inflater):
    """Members before a large one used to re-feed (and copy) the whole rest of the body each."""
    tail = gzip.compress(os.urandom(2 * 1024 * 1024), compresslevel=1)
    data = gzip.compress(b"") * 500 + tail
    with app.test_request_context():
        out = body.decompress(data, "gzip", 10 * 1024 * 1024)
    assert len(out) == 2 * 1024 * 1024
    # linear: each byte once, plus at most one feed window per member (the old code fed ~1 GB here)
    assert counting_inflater.fed <= len(data) + 501 * body.FEED_BYTES


def test_multi_member_gzip_with_padding_is_still_read(app):
    with app.test_request_context():
        assert body.decompress(gzip.compress(b"ab") + gzip.compress(b"cd") + b"\x00" * 10, "gzip", 100) == b"abcd"


# ---- 12. CSV formula guard ----------------------------------------------------------------------

@pytest.mark.parametrize("text", ["=1+1", " =1+1", "\u00a0=HYPERLINK(1)", "\n=1", "＝1+1", "＋1", "－1", "＠SUM(A1)",
                                  "|calc", "  +cmd", "\t=1", "\r=1", "-2+3"])
def test_formula_like_cells_are_neutralised(text):
    from pilot.readiness.exports import safe_cell

    assert safe_cell(text).startswith("'")


@pytest.mark.parametrize("text", ["plain", "a=b", "1-2", "hello |pipe"])
def test_ordinary_cells_are_left_alone(text):
    from pilot.readiness.exports import safe_cell

    assert safe_cell(text) == text


# ---- 14. `next` with control characters ---------------------------------------------------------

@pytest.mark.parametrize("target", ["/\t/evil.example", "/\n/evil.example", "/\r/evil.example", "/\x00/evil.example",
                                    " //evil.example", "/ /evil.example", "/\x0b/evil.example", "/\\\t\\evil.example"])
def test_next_with_control_characters_or_spaces_is_refused(target):
    from pilot.auth.views import safe_next_url

    assert safe_next_url(target) is None


def test_plain_next_still_works():
    from pilot.auth.views import safe_next_url

    assert safe_next_url("/pilots/alpha?x=1") == "/pilots/alpha?x=1"


# ---- 3. account enumeration by timing -----------------------------------------------------------

def test_unknown_email_costs_one_password_hash_like_a_known_one(db, world, monkeypatch):
    from werkzeug import security

    from pilot.auth import services
    from pilot.models import accounts

    calls = []

    def counting_check(pwhash, password):
        calls.append(pwhash.split("$", 1)[0])
        return security.check_password_hash(pwhash, password)

    monkeypatch.setattr(accounts, "check_password_hash", counting_check)
    monkeypatch.setattr(services, "check_password_hash", counting_check, raising=False)
    assert services.authenticate(db.session, "lead@example.com", "wrong password") is None
    assert services.authenticate(db.session, "nobody@example.com", "wrong password") is None
    assert len(calls) == 2 and calls[0] == calls[1]  # same method and work factor both times


# ---- 7. ids as bounded integers -----------------------------------------------------------------

HUGE = "1" * 30


def _flag(world, db):
    from tests.participant_helpers import make_interaction

    interaction = make_interaction(world.pilot, "e-1")
    flag = Flag(pilot_id=world.pilot.id, interaction_id=interaction.id, kind="failure", reason="ai_error",
                severity="high")
    db.session.add(flag)
    db.session.commit()
    return flag


@pytest.mark.parametrize("assignee", [HUGE, "2147483648", "9223372036854775808", "-1", "²"])
def test_huge_assignee_id_is_a_named_error(client_as, world, db, assignee):
    flag = _flag(world, db)
    response = client_as("reviewer").post(f"/pilots/alpha/review/{flag.id}/assign", data={"assignee": assignee},
                                          follow_redirects=True)
    assert response.status_code == 200
    assert "assignee: choose a reviewer or lead of this pilot" in response.get_data(as_text=True)


@pytest.mark.parametrize("path", [f"/pilots/alpha/review/{HUGE}", "/pilots/alpha/review/2147483648",
                                  f"/pilots/alpha/review/{HUGE}/assign"])
def test_huge_ids_in_urls_are_404(client_as, world, path):
    client = client_as("admin")
    response = client.post(path, data={"assignee": ""}) if path.endswith("assign") else client.get(path)
    assert response.status_code == 404


def test_bulk_form_ignores_ids_beyond_the_column(client_as, world, db):
    flag = _flag(world, db)
    response = client_as("reviewer").post("/pilots/alpha/review/bulk",
                                          data={"action": "assign_me", "flag_ids": [str(flag.id), "99999999999"]})
    assert response.status_code in (302, 303)
    db.session.expire_all()
    assert db.session.get(Flag, flag.id).assignee_id == world.reviewer.id


# ---- 9. assignees are members with a reviewer/lead role; one answer for the rest ------------------

def test_admin_who_is_not_a_member_cannot_be_assigned(client_as, world, db):
    flag = _flag(world, db)
    response = client_as("reviewer").post(f"/pilots/alpha/review/{flag.id}/assign",
                                          data={"assignee": str(world.admin.id)}, follow_redirects=True)
    db.session.expire_all()
    assert db.session.get(Flag, flag.id).assignee_id is None
    assert "assignee: choose a reviewer or lead of this pilot" in response.get_data(as_text=True)


def test_assign_errors_do_not_tell_which_user_ids_exist(client_as, world, db):
    flag = _flag(world, db)
    client = client_as("reviewer")
    answers = set()
    for assignee in (world.participant.id, world.other_lead.id, 987654):
        response = client.post(f"/pilots/alpha/review/{flag.id}/assign", data={"assignee": str(assignee)},
                               follow_redirects=True)
        text = response.get_data(as_text=True)
        answers.add(("choose a reviewer or lead" in text, "no such person" in text))
    assert answers == {(True, False)}


def test_reviewer_can_still_be_assigned(client_as, world, db):
    flag = _flag(world, db)
    client_as("lead").post(f"/pilots/alpha/review/{flag.id}/assign", data={"assignee": str(world.reviewer.id)})
    db.session.expire_all()
    assert db.session.get(Flag, flag.id).assignee_id == world.reviewer.id


# ---- 6. single-use invites under concurrent acceptance ------------------------------------------

def test_an_invite_accepted_by_two_requests_at_once_makes_one_account(app, db, world, live_server):
    import requests

    from pilot.enrollment import services

    invite = services.invite(db.session, world.pilot, external_id="racer", actor=world.lead)
    db.session.commit()
    barrier = threading.Barrier(4)
    answers: list[int] = []

    def accept(index: int) -> None:
        session = requests.Session()
        barrier.wait()
        response = session.post(f"{live_server}/invite/{invite.token}", allow_redirects=False, timeout=30,
                                data={"name": f"Racer {index}", "email": f"racer{index}@example.com",
                                      "password": "a good password", "consent": "y"})
        answers.append(response.status_code)

    threads = [threading.Thread(target=accept, args=(i,)) for i in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    db.session.expire_all()
    racers = db.session.scalars(sa.select(User).where(User.email.like("racer%"))).all()
    assert len(racers) == 1, answers
    assert answers.count(302) == 1 and 500 not in answers, answers
    membership = db.session.get(Membership, invite.membership.id)
    assert membership.status == "active" and membership.user_id == racers[0].id


def test_accepting_a_claimed_invite_is_refused(db, world, monkeypatch):
    from pilot.enrollment import services

    invite = services.invite(db.session, world.pilot, external_id="late", actor=world.lead)
    db.session.commit()
    monkeypatch.setattr(services, "find_invite", lambda session, token: invite.membership)  # looked up first
    # Another request claimed it between our lookup and our update (our session still holds the
    # invited row as it read it).
    db.session.execute(sa.update(Membership).where(Membership.id == invite.membership.id)
                       .values(invite_token_hash=None, status="active").execution_options(synchronize_session=False))
    assert invite.membership.status == "invited"
    with pytest.raises(services.EnrollmentError):
        services.accept_invite(db.session, invite.token, consent=True, name="Late", email="late@example.com",
                               password="a good password")


# ---- 10. a session cookie dies at logout and at password change ---------------------------------

def test_a_copied_session_cookie_stops_working_after_logout(app, db, world):
    client = app.test_client()
    response = client.post("/login", data={"email": "lead@example.com", "password": PASSWORD})
    assert response.status_code == 302
    cookie = client.get_cookie("session").value
    assert client.get("/pilots/alpha").status_code == 200
    client.post("/logout")
    thief = app.test_client()
    thief.set_cookie("session", cookie)
    assert thief.get("/pilots/alpha").status_code == 302  # to the login page


def test_a_password_change_ends_other_sessions(app, db, world):
    from pilot.auth.services import change_password

    client = app.test_client()
    client.post("/login", data={"email": "lead@example.com", "password": PASSWORD})
    assert client.get("/pilots/alpha").status_code == 200
    change_password(db.session, db.session.get(User, world.lead.id), "a brand new password")
    db.session.commit()
    assert client.get("/pilots/alpha").status_code == 302


def test_logging_in_again_after_logout_works(app, db, world):
    client = app.test_client()
    client.post("/login", data={"email": "lead@example.com", "password": PASSWORD})
    client.post("/logout")
    client.post("/login", data={"email": "lead@example.com", "password": PASSWORD})
    assert client.get("/pilots/alpha").status_code == 200


def test_the_test_login_helper_still_works(app, db, world):
    client = app.test_client()
    login(client, world.lead)
    assert client.get("/pilots/alpha").status_code == 200


# ---- 11. headers ---------------------------------------------------------------------------------

def test_pages_and_exports_carry_the_protective_headers(client_as, world):
    client = client_as("lead")
    for path in ("/pilots/alpha", "/pilots/alpha/export/interactions.csv", "/login"):
        response = client.get(path)
        assert response.headers["X-Content-Type-Options"] == "nosniff", path
        assert response.headers["X-Frame-Options"] == "DENY", path
        assert response.headers["Referrer-Policy"] == "strict-origin-when-cross-origin", path
        csp = response.headers["Content-Security-Policy"]
        assert "frame-ancestors 'none'" in csp and "default-src 'self'" in csp and "script-src 'self'" in csp, path
        assert "unsafe-inline" not in csp.split("style-src")[0], path


def test_api_answers_carry_nosniff(client, db, api_key):
    response = client.get("/api/v1/openapi.json")
    assert response.headers["X-Content-Type-Options"] == "nosniff"


def test_the_embeddable_widget_keeps_its_own_framing_rule(client, world, api_key):
    from tests.participant_helpers import make_interaction

    make_interaction(world.pilot, "e-1")
    minted = client.post("/api/v1/feedback-tokens", json={"interaction": "e-1", "user": "user-1"},
                         headers={"Authorization": f"Bearer {api_key}"}).get_json()
    page = client.get(f"/embed/feedback?token={minted['token']}")
    assert page.status_code == 200
    assert "frame-ancestors *" in page.headers["Content-Security-Policy"]
    assert "X-Frame-Options" not in page.headers
    assert page.headers["X-Content-Type-Options"] == "nosniff"


# ---- 2. NUL and other control characters wherever text enters ------------------------------------

NUL = "nul\x00here"


@pytest.mark.parametrize("who,path,data,field", [
    ("lead", "/pilots/alpha/readiness/attest", {"key": "scaling.rollback", "status": "pass", "note": NUL}, "note"),
    ("lead", "/pilots/alpha/readiness/attest",
     {"key": "scaling.rollback", "status": "pass", "note": "ok", "link": "https://x.example/\x00"}, "link"),
    ("lead", "/pilots/alpha/readiness/reports/1/sign", {"note": NUL}, "note"),
    ("lead", "/pilots/alpha/participants/invite", {"external_id": NUL, "role": "participant"}, "external_id"),
    ("lead", "/pilots/alpha/settings", {"allowed_domains": "a.example,\x00b.example"}, "allowed_domains"),
    ("lead", "/pilots/alpha/api-keys", {"name": NUL}, "name"),
    ("admin", "/admin/users", {"email": "n@example.com", "name": NUL, "password": "long enough"}, "name"),
    ("admin", "/pilots/new", {"slug": "gamma", "name": NUL, "lead_email": "lead@example.com"}, "name"),
    ("lead", "/pilots/alpha/review?q=\x00", None, "q"),
    ("lead", "/pilots/alpha/feedback?participant=1\x07", None, "participant"),
])
def test_control_characters_are_a_named_400(client_as, world, who, path, data, field):
    client = client_as(who)
    if data is not None and path.endswith("/sign"):
        client.post("/pilots/alpha/readiness/reports")
    response = client.post(path, data=data) if data is not None else client.get(path)
    assert response.status_code == 400, response.status_code
    page = response.get_data(as_text=True)
    assert f"{field}: must not contain control characters" in page
    assert "\x00" not in page


def test_nul_in_the_anonymous_invite_name_is_refused(client, db, world):
    from pilot.enrollment import services

    invite = services.invite(db.session, world.pilot, email="anon@example.com", actor=world.lead)
    db.session.commit()
    response = client.post(f"/invite/{invite.token}", data={"name": NUL, "password": "a good password", "consent": "y"})
    assert response.status_code == 400 and "name: must not contain control characters" in response.get_data(as_text=True)
    assert db.session.scalar(sa.select(User).where(User.email == "anon@example.com")) is None


def test_nul_in_the_pilot_slug_of_a_url_is_a_400_page(client_as, world):
    response = client_as("lead").get("/pilots/al%00pha/settings")
    assert response.status_code == 400
    assert "control character" in response.get_data(as_text=True)


def test_csv_import_rows_with_control_characters_are_reported_and_good_rows_kept(db, world):
    from pilot.enrollment import services

    text = "external_id,email\nok-1,ok1@example.com\nbad\x00id,bad@example.com\n"
    result = services.import_csv(db.session, world.pilot, text, world.lead)
    db.session.commit()
    assert [invite.membership.external_id for invite in result.invites] == ["ok-1"]
    assert result.errors == [(3, "Remove the control character (such as NUL) from this row.")]


def test_tabs_and_newlines_in_text_are_still_welcome(client_as, world):
    response = client_as("participant").post("/pilots/alpha/me/feedback",
                                             data={"kind": "idea", "description": "line one\r\n\tline two"})
    assert response.status_code == 302


def test_the_error_page_survives_a_failed_database(client_as, world, monkeypatch, app):
    from pilot import errors

    def broken(*args, **kwargs):
        raise RuntimeError("template engine down")

    monkeypatch.setattr(errors, "render_template", broken)
    response = client_as("lead").get("/pilots/nope")
    assert response.status_code == 404
    assert response.mimetype == "text/plain" and "404" in response.get_data(as_text=True)


# ---- 4. login throttling per account, trusted proxies, loud fallback ------------------------------

@pytest.fixture()
def strict_limits(app):
    """Real limits for one test, on a fresh in-memory count."""
    from pilot.extensions import limiter

    saved = {name: app.config[name] for name in ("LOGIN_ACCOUNT_FAILURE_LIMITS", "API_AUTH_FAILURE_LIMITS")}
    app.config.update(LOGIN_ACCOUNT_FAILURE_LIMITS="3 per minute; 5 per hour", API_AUTH_FAILURE_LIMITS="4 per minute")
    limiter.reset()
    yield
    app.config.update(saved)
    limiter.reset()


def test_wrong_passwords_for_one_account_are_throttled_whatever_the_address(app, db, world, strict_limits):
    for attempt in range(3):
        client = app.test_client()
        response = client.post("/login", data={"email": "Lead@Example.com", "password": "wrong"},
                               environ_base={"REMOTE_ADDR": f"10.0.0.{attempt}"})
        assert response.status_code == 200
    blocked = app.test_client().post("/login", data={"email": "lead@example.com", "password": PASSWORD},
                                     environ_base={"REMOTE_ADDR": "10.0.0.99"})
    assert blocked.status_code == 429 and int(blocked.headers["Retry-After"]) > 0
    assert "Too many failed logins for this account" in blocked.get_data(as_text=True)
    # another account is not affected
    other = app.test_client().post("/login", data={"email": "reviewer@example.com", "password": PASSWORD})
    assert other.status_code == 302


def test_successful_logins_do_not_count_against_the_account(app, db, world, strict_limits):
    for _ in range(5):
        client = app.test_client()
        assert client.post("/login", data={"email": "lead@example.com", "password": PASSWORD}).status_code == 302


def test_forwarded_for_is_ignored_unless_proxies_are_trusted(db):
    from pilot import create_app
    from pilot.config import TestConfig

    def address_seen(trusted: int) -> str:
        config = TestConfig()
        config.TRUSTED_PROXIES = trusted
        app = create_app(config)
        with app.test_request_context():
            pass
        seen = {}

        @app.get("/whoami-test")
        def whoami():
            from flask import request

            seen["address"] = request.remote_addr
            return "ok"

        app.test_client().get("/whoami-test", headers={"X-Forwarded-For": "203.0.113.7"},
                              environ_base={"REMOTE_ADDR": "10.0.0.1"})
        return seen["address"]

    assert address_seen(0) == "10.0.0.1"
    assert address_seen(1) == "203.0.113.7"


def test_limiter_fallback_to_memory_is_logged_loudly(app, caplog):
    import logging

    with caplog.at_level(logging.WARNING):
        logging.getLogger("flask-limiter").warning("Rate limit storage unreachable - falling back to in-memory storage")
    assert any("RATE LIMITS ARE NOW PER WORKER" in record.getMessage() for record in caplog.records)


# ---- 5. failed API authentication is limited per client address -----------------------------------

def test_random_api_keys_from_one_address_run_out(client, db, world, api_key, strict_limits):
    answers = [client.post("/api/v1/interactions", json={"input": "x"},
                           headers={"Authorization": f"Bearer random-{index}"}).status_code for index in range(6)]
    assert answers[:4] == [401] * 4 and answers[4:] == [429, 429]
    refused = client.get("/api/v1/pilots/alpha/flags", headers={"Authorization": "Bearer random-x"})
    assert refused.status_code == 429 and int(refused.headers["Retry-After"]) > 0
    # another address still gets its 401s, not the first one's 429s
    other = client.post("/api/v1/interactions", json={"input": "x"}, headers={"Authorization": "Bearer random-y"},
                        environ_base={"REMOTE_ADDR": "10.9.9.9"})
    assert other.status_code == 401


# ---- 8. /metrics: protected, and summed over workers -----------------------------------------------

def test_metrics_are_refused_to_other_addresses_without_a_token(client):
    assert client.get("/metrics", environ_base={"REMOTE_ADDR": "198.51.100.4"}).status_code == 403
    assert client.get("/metrics").status_code == 200  # loopback


def test_metrics_token_is_required_when_set(client, app):
    app.config["METRICS_TOKEN"] = "s3cret-token"
    try:
        assert client.get("/metrics").status_code == 403
        assert client.get("/metrics", headers={"Authorization": "Bearer wrong"}).status_code == 403
        good = client.get("/metrics", headers={"Authorization": "Bearer s3cret-token"},
                          environ_base={"REMOTE_ADDR": "198.51.100.4"})
        assert good.status_code == 200 and b"pilot_ingest_interactions" in good.data
    finally:
        app.config["METRICS_TOKEN"] = ""


@pytest.mark.parametrize("header", [("X-Forwarded-For", "203.0.113.7"), ("Forwarded", "for=203.0.113.7"),
                                    ("X-Real-IP", "203.0.113.7")])
def test_metrics_without_a_token_refuse_a_request_that_came_through_a_proxy(client, header):
    """A reverse proxy on the same host makes every caller loopback: its headers give it away."""
    refused = client.get("/metrics", headers=[header])
    assert refused.status_code == 403 and b"proxy" in refused.data
    assert client.get("/metrics").status_code == 200  # a local scraper, no proxy


def test_metrics_without_a_token_are_refused_in_production(client, app):
    app.config["ENV_NAME"] = "production"
    try:
        refused = client.get("/metrics")  # loopback, no proxy header: still refused
        assert refused.status_code == 403 and b"PILOT_METRICS_TOKEN" in refused.data
        app.config["METRICS_TOKEN"] = "s3cret-token"
        proxied = client.get("/metrics", headers={"Authorization": "Bearer s3cret-token",
                                                  "X-Forwarded-For": "198.51.100.4"})
        assert proxied.status_code == 200 and b"pilot_ingest_interactions" in proxied.data
        assert client.get("/metrics", headers={"X-Forwarded-For": "198.51.100.4"}).status_code == 403
    finally:
        app.config.update(ENV_NAME="test", METRICS_TOKEN="")


def test_metrics_sum_every_worker_in_multiprocess_mode(tmp_path):
    """Two worker processes count; /metrics in a third process reports the sum."""
    import subprocess
    import sys

    env = {**os.environ, "PROMETHEUS_MULTIPROC_DIR": str(tmp_path)}
    worker = ("from pilot.ingest.metrics import count_batch; count_batch('api', {n}, 0, 0)")
    for amount in (3, 4):
        subprocess.run([sys.executable, "-c", worker.format(n=amount)], env=env, check=True)
    scrape = ("from pilot import create_app; from pilot.config import TestConfig;"
              "print(create_app(TestConfig()).test_client().get('/metrics').get_data(as_text=True))")
    out = subprocess.run([sys.executable, "-c", scrape], env=env, check=True, capture_output=True, text=True).stdout
    assert 'pilot_ingest_interactions_total{result="accepted",source="api"} 7.0' in out


# ---- 13. the API and its document agree ------------------------------------------------------------

def test_the_snapshot_list_is_in_the_document(client, db):
    document = client.get("/api/v1/openapi.json").get_json()
    assert "get" in document["paths"]["/api/v1/pilots/{slug}/reports"]


def test_405_names_the_allowed_methods(client, db, api_key):
    for path in ("/api/v1/interactions", "/pilots/alpha/readiness/attest"):
        response = client.get(path, headers={"Authorization": f"Bearer {api_key}"})
        assert response.status_code == 405 and "POST" in response.headers["Allow"], path


def test_csv_and_html_exports_name_the_charset_once(client_as, world):
    client = client_as("lead")
    for path in ("/pilots/alpha/readiness.csv", "/pilots/alpha/readiness.html", "/pilots/alpha/export/flags.csv"):
        content_type = client.get(path).headers["Content-Type"]
        assert content_type.count("charset") == 1, (path, content_type)


def test_flag_cursors_are_digits_and_old_ones_still_work(client_as, world, db):
    from pilot.pagination import decode_cursor, encode_cursor

    assert encode_cursor(42) == "42" and decode_cursor("42") == 42
    assert decode_cursor("Zjo0Mg") == 42  # base64 "f:42", handed out before
    with pytest.raises(ValueError):
        decode_cursor("ZjoA")
