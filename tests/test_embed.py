"""The embeddable rating widget: tokens minted with the pilot key, rating in place without a login."""
import re
from datetime import timedelta

import pytest
import sqlalchemy as sa

from pilot.feedback import embed
from pilot.models import Feedback
from pilot.models.base import utcnow
from pilot.pilots.services import mint_api_key
from tests.participant_helpers import make_interaction


@pytest.fixture()
def api_key(db, world):
    _, secret = mint_api_key(db.session, world.pilot, world.lead)
    db.session.commit()
    return secret


def _mint(client, key, **body):
    return client.post("/api/v1/feedback-tokens", json=body, headers={"Authorization": f"Bearer {key}"})


def _token(client, key, interaction="e-1", user="user-1"):
    response = _mint(client, key, interaction=interaction, user=user)
    assert response.status_code == 200, response.get_json()
    return response.get_json()["token"]


def test_mint_returns_a_token_and_the_widget_url(client, world, api_key):
    make_interaction(world.pilot, "e-1")
    answer = _mint(client, api_key, interaction="e-1", user="user-1").get_json()
    assert answer["expires_in"] == 86400
    assert answer["url"].endswith(f"/embed/feedback?token={answer['token']}")


def test_mint_needs_the_pilot_key(client, world):
    response = client.post("/api/v1/feedback-tokens", json={"interaction": "e-1", "user": "user-1"})
    assert response.status_code == 401 and "API key" in response.get_json()["error"]
    response = _mint(client, "pk_not_a_key", interaction="e-1", user="user-1")
    assert response.status_code == 401


@pytest.mark.parametrize("body,message", [
    ({}, "interaction:"), ({"interaction": "", "user": "u"}, "interaction:"), ({"interaction": 5, "user": "u"}, "interaction:"),
    ({"interaction": "x" * 129, "user": "u"}, "interaction:"), ({"interaction": "e-1"}, "user:"),
    ({"interaction": "e-1", "user": ["u"]}, "user:"), ({"interaction": "e\u0000", "user": "u"}, "interaction:"),
    ({"interaction": "e-1", "user": "u\u0000"}, "user:"),
])
def test_mint_names_the_bad_field(client, world, api_key, body, message):
    response = _mint(client, api_key, **body)
    assert response.status_code == 400 and response.get_json()["error"].startswith(message)


def test_mint_refuses_a_body_that_is_not_json(client, world, api_key):
    response = client.post("/api/v1/feedback-tokens", data="nope", headers={"Authorization": f"Bearer {api_key}"})
    assert response.status_code == 400 and "JSON object" in response.get_json()["error"]


def test_rate_in_place_without_logging_in(client, world, db, api_key):
    interaction = make_interaction(world.pilot, "e-1")
    token = _token(client, api_key)
    page = client.get(f"/embed/feedback?token={token}")
    html = page.get_data(as_text=True)
    assert page.status_code == 200 and "Was this answer helpful?" in html
    csp = page.headers["Content-Security-Policy"]
    assert "frame-ancestors *" in csp and "default-src 'none'" in csp and "form-action 'self'" in csp
    assert page.headers["Referrer-Policy"] == "no-referrer"
    assert "X-Frame-Options" not in page.headers
    assert "Set-Cookie" not in page.headers
    saved = client.post("/embed/feedback", data={"token": token, "thumbs": "down", "rating": "2", "comment": "meh"})
    assert saved.status_code == 200 and "Thanks, saved!" in saved.get_data(as_text=True)
    feedback = db.session.scalar(sa.select(Feedback))
    assert (feedback.interaction_id, feedback.thumbs, feedback.rating, feedback.comment, feedback.source) == (
        interaction.id, "down", 2, "meh", "embed")
    assert feedback.membership_id == world.participant_membership.id  # counted on the roster
    # Rating again changes the one rating; the participant's own page shows it.
    client.post("/embed/feedback", data={"token": token, "thumbs": "up"})
    assert [(f.thumbs, f.rating) for f in db.session.scalars(sa.select(Feedback))] == [("up", None)]


def test_embed_post_works_with_csrf_on(client, world, db, api_key, csrf_on):
    make_interaction(world.pilot, "e-1")
    token = _token(client, api_key)
    assert client.post("/embed/feedback", data={"token": token, "thumbs": "up"}).status_code == 200
    assert db.session.scalar(sa.select(sa.func.count(Feedback.id))) == 1


def test_frame_ancestors_follow_the_setting(client, app, world, api_key):
    make_interaction(world.pilot, "e-1")
    app.config["EMBED_FRAME_ANCESTORS"] = "https://app.example.com"
    try:
        page = client.get(f"/embed/feedback?token={_token(client, api_key)}")
    finally:
        app.config["EMBED_FRAME_ANCESTORS"] = "*"
    assert "frame-ancestors https://app.example.com" in page.headers["Content-Security-Policy"]


def test_bad_rating_in_the_widget_is_explained(client, world, db, api_key):
    make_interaction(world.pilot, "e-1")
    response = client.post("/embed/feedback", data={"token": _token(client, api_key), "rating": "11"})
    assert response.status_code == 400
    assert "rating must be a whole number from 1 to 5" in response.get_data(as_text=True)
    assert db.session.scalar(sa.select(sa.func.count(Feedback.id))) == 0


def _tamper(token: str) -> str:
    payload, rest = token.split(".", 1)
    return ("e" if payload[0] != "e" else "f") + payload[1:] + "." + rest


@pytest.mark.parametrize("make_token,message", [
    (lambda token: _tamper(token), "not valid"),
    (lambda token: token[:-3] + ("AAA" if not token.endswith("AAA") else "BBB"), "not valid"),
    (lambda token: "", "missing its token"),
    (lambda token: "x" * 5000, "missing its token"),
])
def test_tampered_tokens_store_nothing(client, world, db, api_key, make_token, message):
    make_interaction(world.pilot, "e-1")
    token = make_token(_token(client, api_key))
    assert message in client.get(f"/embed/feedback?token={token}").get_data(as_text=True)
    response = client.post("/embed/feedback", data={"token": token, "thumbs": "up"})
    assert response.status_code == 400 and message in response.get_data(as_text=True)
    assert db.session.scalar(sa.select(sa.func.count(Feedback.id))) == 0


def test_a_token_signed_with_another_key_is_refused(client, world, db):
    make_interaction(world.pilot, "e-1")
    forged = embed.mint_token("not-the-secret", world.pilot, "e-1", "user-1")
    response = client.post("/embed/feedback", data={"token": forged, "thumbs": "up"})
    assert response.status_code == 400 and "not valid" in response.get_data(as_text=True)
    assert db.session.scalar(sa.select(sa.func.count(Feedback.id))) == 0


def test_expired_token_is_refused(client, world, db, api_key, monkeypatch):
    make_interaction(world.pilot, "e-1")
    token = _token(client, api_key)
    monkeypatch.setattr(embed, "TOKEN_MAX_AGE", timedelta(seconds=-1))
    response = client.post("/embed/feedback", data={"token": token, "thumbs": "up"})
    assert response.status_code == 400 and "expired" in response.get_data(as_text=True)
    assert db.session.scalar(sa.select(sa.func.count(Feedback.id))) == 0


def test_revoking_the_key_kills_its_tokens(client, world, db, api_key):
    from pilot.models import ApiKey

    make_interaction(world.pilot, "e-1")
    token = _token(client, api_key)
    key = db.session.scalar(sa.select(ApiKey))
    key.revoked_at = utcnow()
    db.session.commit()
    response = client.post("/embed/feedback", data={"token": token, "thumbs": "up"})
    assert response.status_code == 400 and "no longer valid" in response.get_data(as_text=True)


def test_token_for_another_users_interaction_is_refused(client, world, db, api_key):
    make_interaction(world.pilot, "e-1", user="user-2")
    token = _token(client, api_key, user="user-1")
    response = client.post("/embed/feedback", data={"token": token, "thumbs": "up"})
    assert response.status_code == 400 and "can no longer be rated" in response.get_data(as_text=True)
    assert db.session.scalar(sa.select(sa.func.count(Feedback.id))) == 0


def test_token_of_one_pilot_never_rates_anothers_interaction(client, world, db, api_key):
    make_interaction(world.other_pilot, "e-1")  # same event id, other pilot
    token = _token(client, api_key)
    response = client.post("/embed/feedback", data={"token": token, "thumbs": "up"})
    assert response.status_code == 400 and "not in the pilot yet" in response.get_data(as_text=True)
    assert db.session.scalar(sa.select(sa.func.count(Feedback.id))) == 0


def test_widget_escapes_what_it_shows(client, world, db, api_key):
    make_interaction(world.pilot, "e-1")
    token = _token(client, api_key)
    client.post("/embed/feedback", data={"token": token, "thumbs": "up", "comment": "</textarea><script>x()</script>"})
    html = client.get(f"/embed/feedback?token={token}").get_data(as_text=True)
    assert "<script>x()" not in html and "&lt;/textarea&gt;&lt;script&gt;" in html
    assert re.search(r'<script src="/static/js/embed.js"', html)
