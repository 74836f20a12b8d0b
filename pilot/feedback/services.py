"""Ratings of interactions, shared by the API, the participant pages and the embed widget."""
from __future__ import annotations

from typing import Any

import sqlalchemy as sa
from sqlalchemy import orm as so

from pilot import flagging
from pilot.models import Feedback, Interaction, Membership, Pilot
from pilot.models.base import utcnow

MAX_COMMENT_CHARS = 5_000


class FeedbackError(ValueError):
    """A rating that cannot be accepted; the message names the field."""


def validate_rating(thumbs: Any, rating: Any, comment: Any) -> tuple[str | None, int | None, str]:
    """Check the user-supplied parts of a rating; at least thumbs or rating is needed."""
    if thumbs is not None and thumbs not in ("up", "down"):
        raise FeedbackError("thumbs must be 'up' or 'down'")
    if rating is not None:
        if isinstance(rating, bool) or not isinstance(rating, int) or not 1 <= rating <= 5:
            raise FeedbackError("rating must be a whole number from 1 to 5")
    if thumbs is None and rating is None:
        raise FeedbackError("give thumbs ('up'/'down') or a rating (1-5)")
    comment = "" if comment is None else comment
    if not isinstance(comment, str):
        raise FeedbackError("comment must be a string")
    if len(comment) > MAX_COMMENT_CHARS:
        raise FeedbackError(f"comment must be at most {MAX_COMMENT_CHARS:,} characters")
    return thumbs, rating, comment


def record_feedback(
    session: so.Session,
    pilot: Pilot,
    interaction: Interaction,
    *,
    thumbs: str | None,
    rating: int | None,
    comment: str = "",
    external_user_id: str | None = None,
    membership: Membership | None = None,
    source: str = "api",
) -> Feedback:
    """One rating per person per interaction: rating again changes it (no commit)."""
    if interaction.pilot_id != pilot.id:
        raise FeedbackError("interaction not found in this pilot")
    thumbs, rating, comment = validate_rating(thumbs, rating, comment)
    if membership is not None:
        external_user_id = external_user_id or membership.external_id
    who = Feedback.membership_id == membership.id if membership is not None else (
        Feedback.external_user_id == external_user_id if external_user_id else Feedback.id.is_(None)
    )
    feedback = session.scalar(sa.select(Feedback).where(Feedback.interaction_id == interaction.id, who))
    if feedback is None:
        feedback = Feedback(pilot_id=pilot.id, interaction_id=interaction.id, source=source,
                            membership_id=membership.id if membership else None, external_user_id=external_user_id)
        session.add(feedback)
    feedback.thumbs, feedback.rating, feedback.comment = thumbs, rating, comment
    feedback.updated_at = utcnow()
    session.flush()
    flagging.evaluate_feedback(session, pilot, feedback)
    return feedback


def is_negative(feedback: Feedback) -> bool:
    """design.md: negative = thumbs down or rating ≤ 2."""
    return feedback.thumbs == "down" or (feedback.rating is not None and feedback.rating <= 2)


def is_positive(feedback: Feedback) -> bool:
    """design.md: positive = thumbs up or rating ≥ 4."""
    return feedback.thumbs == "up" or (feedback.rating is not None and feedback.rating >= 4)
