"""The demo's interactions, feedback and reports."""
from __future__ import annotations

import random

import sqlalchemy as sa
from sqlalchemy import orm as so

from pilot.feedback.services import record_feedback
from pilot.models import Interaction, Membership, Pilot, Report

COMMENTS_NEGATIVE = [
    "That's not what I asked.", "Took forever to answer.", "The link doesn't work.",
    "Wrong limit, the app says something else.", "It didn't understand me at all.",
]
COMMENTS_POSITIVE = ["Quick and clear, thanks!", "Exactly what I needed.", "Better than waiting for the call centre."]


def ingest_demo_items(session: so.Session, pilot: Pilot, items: list[dict]) -> None:
    """Send the demo's items through the ingestion service in API-sized batches."""
    from pilot.ingest.services import ingest_items

    for start in range(0, len(items), 1000):
        ingest_items(session, pilot, items[start:start + 1000], source="api")


def add_feedback_and_reports(session: so.Session, pilot: Pilot, rng: random.Random) -> tuple[int, int]:
    """About one interaction in eight gets a rating; failures and slow answers get the bad ones."""
    members = {m.external_id: m for m in session.scalars(sa.select(Membership).where(Membership.pilot_id == pilot.id))}
    rows = session.execute(
        sa.select(Interaction.id, Interaction.external_user_id, Interaction.status, Interaction.latency_ms,
                  Interaction.occurred_at, Interaction.output_chars)
        .where(Interaction.pilot_id == pilot.id)
    ).all()
    feedback_count = 0
    for interaction_id, user, status, latency, occurred_at, output_chars in rows:
        member = members.get(user)
        if member is None or rng.random() > 0.12:
            continue
        bad = status != "ok" or (latency or 0) > 4000 or output_chars == 0
        positive = rng.random() < (0.15 if bad else 0.82)
        thumbs = "up" if positive else "down"
        rating = None
        if rng.random() < 0.5:
            rating = rng.choice([4, 5, 5]) if positive else rng.choice([1, 2, 2, 3])
        comment = ""
        if rng.random() < 0.25:
            comment = rng.choice(COMMENTS_POSITIVE if positive else COMMENTS_NEGATIVE)
        # Through the real service, so negative ratings raise their negative_feedback flags.
        feedback = record_feedback(session, pilot, session.get(Interaction, interaction_id), thumbs=thumbs,
                                   rating=rating, comment=comment, membership=member, source="ui")
        feedback.created_at = feedback.updated_at = occurred_at
        feedback_count += 1
    reports = [
        ("problem", "wrong_answer", "It told me the transfer limit is €5,000 but the app shows €2,000.", "acknowledged"),
        ("problem", "too_slow", "Waited almost 20 seconds for an answer about my card.", "fixed"),
        ("problem", "not_understood", "Asked in Portuguese and got an answer about something else.", "new"),
        ("issue", None, "The answer box cuts off long answers on my phone.", "new"),
        ("idea", None, "Could it show my recent transactions when I ask about a charge?", "acknowledged"),
        ("praise", None, "Much faster than calling support. Please keep it!", "new"),
    ]
    participants = [m for m in members.values() if m.role == "participant"]
    for kind, problem_type, description, status in reports:
        member = rng.choice(participants)
        session.add(Report(pilot_id=pilot.id, membership_id=member.id, kind=kind, problem_type=problem_type,
                           description=description, status=status))
    session.flush()
    return feedback_count, len(reports)
