"""Test data for flagging and review: interactions created directly, then flagged as ingestion would."""
from __future__ import annotations

import itertools
from datetime import datetime, timedelta

import sqlalchemy as sa

from pilot import flagging
from pilot.extensions import db
from pilot.models import Flag, Interaction, Pilot

START = datetime(2026, 5, 4, 9, 0)
_numbers = itertools.count(1)


def make_interactions(pilot: Pilot, specs: list[dict], *, flag: bool = True) -> list[Interaction]:
    """Store interactions (defaults: a fine, fast, cheap answer by user-1) and run the ingest hook."""
    rows = []
    for spec in specs:
        number = next(_numbers)
        fields = dict(
            pilot_id=pilot.id, event_id=f"ev-{number}", external_user_id="user-1",
            occurred_at=START + timedelta(minutes=number), model="claude-haiku-4-5",
            prompt_version="v1", input_text="How do I freeze my card?", output_text="Open Cards and tap Freeze.",
            latency_ms=800.0, status="ok", cost_usd=0.001, cost_source="computed",
        )
        fields.update(spec)
        fields.setdefault("input_chars", len(fields["input_text"]))
        fields.setdefault("output_chars", len(fields["output_text"]))
        rows.append(Interaction(**fields))
    db.session.add_all(rows)
    db.session.flush()
    if flag:
        flagging.evaluate_new_interactions(db.session, pilot, rows)
    db.session.commit()
    return rows


def flags_of(pilot: Pilot) -> set[tuple[str, str]]:
    """(event id, reason) of every flag of the pilot."""
    rows = db.session.execute(
        sa.select(Interaction.event_id, Flag.reason).join(Interaction, Interaction.id == Flag.interaction_id)
        .where(Flag.pilot_id == pilot.id)
    ).all()
    return {(event_id, reason) for event_id, reason in rows}


def reasons_of(interaction: Interaction) -> set[str]:
    return set(db.session.scalars(sa.select(Flag.reason).where(Flag.interaction_id == interaction.id)))
