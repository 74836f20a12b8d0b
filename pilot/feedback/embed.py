"""Embeddable rating widget: short-lived signed tokens, one per (interaction, user).

The AI feature mints a token with its pilot API key (`POST /api/v1/feedback-tokens`) and puts
`<iframe src="…/embed/feedback?token=…">` under its answer; the user rates in place without a
Pilot login. The token is the whole authority: it is signed with the app's SECRET_KEY (so it
cannot be forged or edited), expires after a day, names the API key that minted it (revoking the
key kills its tokens) and only rates the one interaction of the one user it names.
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta
from typing import Any

import sqlalchemy as sa
from itsdangerous import BadSignature, SignatureExpired, URLSafeTimedSerializer
from sqlalchemy import orm as so

from pilot.access import belongs_to
from pilot.metrics import MEMBER
from pilot.models import ApiKey, Feedback, Interaction, Membership, Pilot
from pilot.text import has_any_control_characters

SALT = "pilot.embed-feedback.v1"
TOKEN_MAX_AGE = timedelta(hours=24)


class EmbedTokenError(ValueError):
    """A token that cannot be used; the message is safe to show to the person rating."""


@dataclass(frozen=True)
class EmbedClaim:
    """What a valid token says: who may rate which interaction of which pilot."""

    pilot_id: int
    event_id: str
    external_user_id: str
    api_key_id: int | None


@dataclass
class EmbedTarget:
    """A token resolved against the database: the interaction to rate and its rater."""

    claim: EmbedClaim
    pilot: Pilot
    interaction: Interaction
    membership: Membership | None
    current: Feedback | None


def _serializer(secret_key: str) -> URLSafeTimedSerializer:
    return URLSafeTimedSerializer(secret_key, salt=SALT)


def check_mint_request(body: Any) -> tuple[str, str]:
    """The `interaction` (event id) and `user` (external id) of a mint request, or a message
    naming the bad field. The user is required: a token rates on behalf of one person."""
    if not isinstance(body, dict):
        raise EmbedTokenError('send a JSON object: {"interaction": "<event id>", "user": "<external user id>"}')
    event_id = body.get("interaction")
    if not isinstance(event_id, str) or not event_id.strip() or len(event_id) > 128 or has_any_control_characters(event_id):
        raise EmbedTokenError("interaction: the event id you sent with the interaction (1-128 characters)")
    user = body.get("user")
    if not isinstance(user, str) or not user.strip() or len(user) > 255 or has_any_control_characters(user):
        raise EmbedTokenError("user: the external user id of the person who will rate (1-255 characters)")
    return event_id, user


def mint_token(secret_key: str, pilot: Pilot, event_id: str, external_user_id: str,
               api_key: ApiKey | None = None) -> str:
    """A URL-safe signed token letting `external_user_id` rate interaction `event_id`."""
    payload = {"p": pilot.id, "e": event_id, "u": external_user_id, "k": api_key.id if api_key else None}
    return _serializer(secret_key).dumps(payload)


def read_token(secret_key: str, token: Any, max_age: timedelta | None = None) -> EmbedClaim:
    """Verify the signature and age of a token; tampered, expired or malformed → EmbedTokenError."""
    max_age = TOKEN_MAX_AGE if max_age is None else max_age
    if not isinstance(token, str) or not token or len(token) > 2_000:
        raise EmbedTokenError("This feedback link is missing its token.")
    try:
        payload = _serializer(secret_key).loads(token, max_age=int(max_age.total_seconds()))
    except SignatureExpired:
        raise EmbedTokenError("This feedback link has expired. Ratings are open for a day after each answer.") from None
    except BadSignature:
        raise EmbedTokenError("This feedback link is not valid.") from None
    if (not isinstance(payload, dict) or not isinstance(payload.get("p"), int)
            or not isinstance(payload.get("e"), str) or not isinstance(payload.get("u"), str)):
        raise EmbedTokenError("This feedback link is not valid.")
    return EmbedClaim(payload["p"], payload["e"], payload["u"], payload.get("k"))


def resolve(session: so.Session, claim: EmbedClaim) -> EmbedTarget:
    """Find what a valid token points at, refusing revoked keys and mismatched users."""
    pilot = session.get(Pilot, claim.pilot_id)
    if pilot is None:
        raise EmbedTokenError("This feedback link is not valid.")
    if claim.api_key_id is not None:
        key = session.get(ApiKey, claim.api_key_id)
        if key is None or key.revoked_at is not None or not belongs_to(key, pilot):
            raise EmbedTokenError("This feedback link is no longer valid.")
    interaction = session.scalar(sa.select(Interaction).where(
        Interaction.pilot_id == pilot.id, Interaction.event_id == claim.event_id))
    if interaction is None:
        raise EmbedTokenError("This answer is not in the pilot yet, so it cannot be rated. Try again in a moment.")
    if interaction.external_user_id and claim.external_user_id != interaction.external_user_id:
        raise EmbedTokenError("This answer can no longer be rated.")
    membership = session.scalar(sa.select(Membership).where(
        Membership.pilot_id == pilot.id, Membership.external_id == claim.external_user_id,
        MEMBER))
    return EmbedTarget(claim, pilot, interaction, membership, _current_feedback(session, interaction, claim, membership))


def _current_feedback(session: so.Session, interaction: Interaction, claim: EmbedClaim,
                      membership: Membership | None) -> Feedback | None:
    """The rating this person already gave this interaction, if any (so the widget shows it)."""
    who = (Feedback.membership_id == membership.id if membership is not None
           else Feedback.external_user_id == claim.external_user_id)
    return session.scalar(sa.select(Feedback).where(Feedback.interaction_id == interaction.id, who))
