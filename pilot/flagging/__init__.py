"""Automatic flags (issue: flagging). The two entry points ingestion and feedback call."""
from __future__ import annotations

from sqlalchemy import orm as so

from pilot.models import Feedback, Interaction, Pilot


def evaluate_new_interactions(session: so.Session, pilot: Pilot, interactions: list[Interaction]) -> None:
    """Add the flags that fire on freshly stored interactions (no commit)."""
    # Filled in by the flagging capability; ingestion already calls it.


def evaluate_feedback(session: so.Session, pilot: Pilot, feedback: Feedback) -> None:
    """Add or keep the negative_feedback flag for a rating (no commit)."""
    # Filled in by the flagging capability; feedback already calls it.
