"""POST /api/v1/feedback: ratings linked to an interaction by event id and to a participant by
external id, through pilot.feedback.services.record_feedback."""
from __future__ import annotations

import pytest
import sqlalchemy as sa

from pilot.models import Feedback

URL = "/api/v1/feedback"


@pytest.fixture()
def stored(client, db, api_key):
    """Two interactions in alpha: one by enrolled user-1, one by an unenrolled user."""
    body = {"interactions": [{"id": "evt-1", "user": "user-1", "input": "q", "output": "a"},
                             {"id": "evt-2", "user": "walk-in", "input": "q", "output": "a"}]}
    assert client.post("/api/v1/interactions", json=body, headers={"Authorization": f"Bearer {api_key}"}).status_code == 200


def rate(client, key, body):
    return client.post(URL, json=body, headers={"Authorization": f"Bearer {key}"})


def all_feedback(db):
    db.session.expire_all()
    return db.session.scalars(sa.select(Feedback).order_by(Feedback.id)).all()


def test_thumbs_links_interaction_and_member(client, db, world, api_key, stored):
    response = rate(client, api_key, {"interaction": "evt-1", "user": "user-1", "thumbs": "down", "comment": "Wrong limit."})
    assert response.status_code == 200
    answer = response.get_json()
    assert answer | {"id": None} == {"id": None, "interaction": "evt-1", "user": "user-1", "thumbs": "down",
                                     "rating": None, "comment": "Wrong limit."}
    (feedback,) = all_feedback(db)
    assert feedback.interaction.event_id == "evt-1" and feedback.membership_id == world.participant_membership.id
    assert feedback.source == "api" and feedback.pilot_id == world.pilot.id


def test_rating_again_changes_the_rating(client, db, api_key, stored):
    rate(client, api_key, {"interaction": "evt-1", "user": "user-1", "rating": 2})
    rate(client, api_key, {"interaction": "evt-1", "user": "user-1", "rating": 5, "thumbs": "up"})
    (feedback,) = all_feedback(db)
    assert (feedback.rating, feedback.thumbs) == (5, "up")


def test_without_user_the_interactions_own_user_rates(client, db, world, api_key, stored):
    answer = rate(client, api_key, {"interaction": "evt-1", "rating": 4}).get_json()
    assert answer["user"] == "user-1"
    assert all_feedback(db)[0].membership_id == world.participant_membership.id


def test_unenrolled_raters_are_kept_without_membership(client, db, api_key, stored):
    assert rate(client, api_key, {"interaction": "evt-2", "thumbs": "up"}).status_code == 200
    (feedback,) = all_feedback(db)
    assert feedback.external_user_id == "walk-in" and feedback.membership_id is None


def test_unknown_interaction_is_404_naming_the_field(client, db, api_key, stored):
    response = rate(client, api_key, {"interaction": "nope", "thumbs": "up"})
    assert response.status_code == 404
    assert response.get_json()["error"].startswith("interaction: no interaction with id 'nope'")


def test_another_pilots_interaction_is_not_reachable(client, db, world, api_key, stored):
    from pilot.pilots.services import mint_api_key

    _, beta_key = mint_api_key(db.session, world.other_pilot, world.other_lead)
    db.session.commit()
    assert rate(client, beta_key, {"interaction": "evt-1", "thumbs": "down"}).status_code == 404
    assert all_feedback(db) == []


@pytest.mark.parametrize("body,message", [
    ({"thumbs": "up"}, "interaction: required"),
    ({"interaction": 5, "thumbs": "up"}, "interaction: must be a string"),
    ({"interaction": "evt-1"}, "give thumbs"),
    ({"interaction": "evt-1", "thumbs": "sideways"}, "thumbs must be 'up' or 'down'"),
    ({"interaction": "evt-1", "rating": 6}, "rating must be a whole number from 1 to 5"),
    ({"interaction": "evt-1", "rating": True}, "rating must be a whole number from 1 to 5"),
    ({"interaction": "evt-1", "rating": 4.5}, "rating must be a whole number from 1 to 5"),
    ({"interaction": "evt-1", "thumbs": "up", "comment": ["x"]}, "comment must be a string"),
    ({"interaction": "evt-1", "thumbs": "up", "comment": "x" * 5001}, "comment must be at most 5,000 characters"),
    ({"interaction": "evt-1", "thumbs": "up", "user": ""}, "user: must not be empty"),
])
def test_bad_feedback_is_400_naming_the_field(client, db, api_key, stored, body, message):
    response = rate(client, api_key, body)
    assert response.status_code == 400
    assert message in response.get_json()["error"]
    assert all_feedback(db) == []


def test_bad_bodies_and_keys(client, db, api_key, stored):
    headers = {"Authorization": f"Bearer {api_key}"}
    assert client.post(URL, data="[1]", headers=headers, content_type="application/json").status_code == 400
    assert client.post(URL, data="{", headers=headers, content_type="application/json").status_code == 400
    assert client.post(URL, data="x", headers=headers, content_type="text/plain").status_code == 415
    assert client.post(URL, json={"interaction": "evt-1", "thumbs": "up"}).status_code == 401


def test_hostile_comment_is_stored_safely(client, db, api_key, stored):
    comment = "<script>alert(1)</script> \x00 👍🏽 שלום"
    assert rate(client, api_key, {"interaction": "evt-1", "thumbs": "up", "comment": comment}).status_code == 200
    assert all_feedback(db)[0].comment == comment.replace("\x00", "\ufffd")
