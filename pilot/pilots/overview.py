"""The few headline numbers of the overview page, aggregated in SQL."""
from __future__ import annotations

from typing import Any

import sqlalchemy as sa
from sqlalchemy import orm as so

from pilot.enrollment.services import counted_participants
from pilot.models import Flag, Interaction, Pilot


def overview_numbers(session: so.Session, pilot: Pilot) -> dict[str, Any]:
    total, failures, cost, p_users = session.execute(
        sa.select(
            sa.func.count(Interaction.id),
            sa.func.count(Interaction.id).filter(Interaction.status != "ok"),
            sa.func.sum(Interaction.cost_usd),
            sa.func.count(sa.distinct(Interaction.external_user_id)),
        ).where(Interaction.pilot_id == pilot.id)
    ).one()
    open_flags = session.scalar(
        sa.select(sa.func.count(Flag.id)).where(Flag.pilot_id == pilot.id, Flag.status == "open")
    )
    return {
        "interactions": total or 0,
        "failures": failures or 0,
        "error_rate": (failures / total) if total else None,
        "total_cost_usd": cost,
        "active_users": p_users or 0,
        "enrolled": counted_participants(session, pilot),
        "open_flags": open_flags or 0,
    }
