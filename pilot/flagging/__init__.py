"""Automatic flags: the rule engine run on every interaction at ingest and on every rating.

Ingestion calls `prepare_batch` before it stores a batch and `store_batch` after (the rules run
before the INSERT takes SQLite's write lock); the feedback service calls
`evaluate_feedback` after storing a rating and `flag_participant_report` after storing a problem
report. Neither commits: the caller's transaction holds
the interactions and their flags together. The rules are in `rules.py`, their kind and
severity in `reasons.py`, the per-pilot settings in `settings.py`; `engine.reflag` re-runs
them over a pilot's history.
"""
from __future__ import annotations

import sqlalchemy as sa
from sqlalchemy import orm as so

from pilot.flagging.context import negative_feedback_details
from pilot.flagging.engine import (
    FEEDBACK_REASON,
    REPORT_REASON,
    FlagHit,
    flag_batch,
    insert_flags,
    is_untouched,
    reflag_interactions,
)
from pilot.flagging.engine import prepare_batch as prepare_batch  # ingestion, before its INSERT
from pilot.flagging.engine import store_batch as store_batch  # ingestion, after it
from pilot.flagging.reasons import REASONS
from pilot.models import Feedback, Flag, Interaction, Pilot, Report
from pilot.models.base import utcnow

UNSAFE_PROBLEM_TYPES = ("harmful",)
REPORT_DETAIL_CHARS = 200


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


def flag_participant_report(session: so.Session, pilot: Pilot, report: Report) -> Flag | None:
    """Put a participant's problem report about an interaction in the review queue (no commit).

    One `participant_report` flag per interaction, linked to the newest report; high severity
    when the report says harmful or unsafe. A new report on a flag already decided reopens it
    (someone saw a problem again); general feedback and reports about no interaction make none
    (a flag belongs to an interaction: the review queue lists open reports of harm about no
    interaction apart, pilot.review.queue.unlinked_harm_reports).
    """
    if report.kind != "problem" or report.interaction_id is None:
        return None
    unsafe = report.problem_type in UNSAFE_PROBLEM_TYPES
    detail = f"{report.problem_type or 'problem'}: {report.description[:REPORT_DETAIL_CHARS]}"
    flag = session.scalar(sa.select(Flag).where(
        Flag.interaction_id == report.interaction_id, Flag.reason == REPORT_REASON, Flag.pilot_id == pilot.id))
    if flag is None:
        flag = Flag(pilot_id=pilot.id, interaction_id=report.interaction_id, kind=REASONS[REPORT_REASON].kind,
                    reason=REPORT_REASON, severity="high" if unsafe else REASONS[REPORT_REASON].severity,
                    detail=detail, report_id=report.id)
        session.add(flag)
    else:
        flag.report_id, flag.detail, flag.updated_at = report.id, detail, utcnow()
        if unsafe:
            flag.severity = "high"
        if flag.status != "open":
            flag.status, flag.decided_in_bulk = "open", False
    session.flush()
    return flag
