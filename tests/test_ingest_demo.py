"""The demo goes through the real ingestion path: its interactions carry computed costs, except
the unpriced model's, whose cost is unknown (never 0)."""
from __future__ import annotations

import random
from datetime import datetime

import sqlalchemy as sa

from pilot.demo import generate_items
from pilot.demo.activity import ingest_demo_items
from pilot.models import Interaction, PromptVersion


def test_demo_items_are_priced_and_linked(db, world):
    items = generate_items(random.Random(3), ["user-1", "user-2", "never-1", "never-2"], datetime(2026, 7, 1), days=2)
    ingest_demo_items(db.session, world.pilot, items)
    db.session.commit()
    by_source = dict(db.session.execute(
        sa.select(Interaction.cost_source, sa.func.count(Interaction.id)).group_by(Interaction.cost_source)).all())
    assert by_source["unknown"] == 6  # acme-finetune-v0
    assert by_source["computed"] == len(items) - 6
    unknown_models = db.session.scalars(sa.select(Interaction.model).where(Interaction.cost_source == "unknown")).all()
    assert set(unknown_models) == {"acme-finetune-v0"}
    assert db.session.scalar(sa.select(sa.func.count()).where(Interaction.cost_usd == 0)) == 0
    linked = db.session.scalar(sa.select(sa.func.count()).where(Interaction.membership_id.is_not(None)))
    assert linked == sum(1 for item in items if item["user"] in ("user-1", "user-2"))
    assert set(db.session.scalars(sa.select(PromptVersion.version))) == {"support@1", "support-experimental"}  # 2 days
    ingest_demo_items(db.session, world.pilot, items)  # loading twice adds nothing
    assert db.session.scalar(sa.select(sa.func.count(Interaction.id))) == len(items)
