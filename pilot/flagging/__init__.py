"""Automatic flags: the rule engine run on every interaction at ingest and on every rating.

Ingestion calls `evaluate_new_interactions` after storing a batch; the feedback service calls
`evaluate_feedback` after storing a rating. Neither commits: the caller's transaction holds
the interactions and their flags together. The rules are in `rules.py`, their kind and
severity in `reasons.py`, the per-pilot settings in `settings.py`; `engine.reflag` re-runs
them over a pilot's history.
"""
from __future__ import annotations

import sqlalchemy as sa
from sqlalchemy import orm as so

from pilot.flagging.context import negative_feedback_details
from pilot.flagging.engine import FEEDBACK_REASON, FlagHit, flag_batch, insert_flags, is_untouched, reflag_interactions
from pilot.models import Feedback, Flag, Interaction, Pilot


def evaluate_new_interactions(session: so.Session, pilot: Pilot, interactions: list[Interaction]) -> None:
    """Add the flags that fire on freshly stored interactions (no commit)."""
    flag_batch(session, pilot, [ix for ix in interactions if ix.id is not None])


def reevaluate_interactions(session: so.Session, pilot: Pilot, interactions: list[Interaction]) -> None:
    """Bring the flags of changed interactions up to date: add what fires now, drop untouched
    flags that no longer do (no commit). Ingestion calls it when a span merges into a stored call."""
    session.flush()
    reflag_interactions(session, pilot, interactions)


def evaluate_feedback(session: so.Session, pilot: Pilot, feedback: Feedback) -> None:
    """Add or keep the negative_feedback flag for a rating (no commit).

    A rating changed from negative to not negative removes the flag again, but only while it
    is untouched and no other negative rating of the interaction remains.
    """
    session.flush()
    details = negative_feedback_details(session, [feedback.interaction_id])
    if feedback.interaction_id in details:
        insert_flags(session, pilot.id, [FlagHit(feedback.interaction_id, FEEDBACK_REASON, details[feedback.interaction_id])])
        return
    flag = session.scalar(sa.select(Flag).where(
        Flag.interaction_id == feedback.interaction_id, Flag.reason == FEEDBACK_REASON, Flag.pilot_id == pilot.id
    ))
    if flag is not None and is_untouched(flag):
        session.delete(flag)
