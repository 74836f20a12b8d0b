"""The append-only audit log: who changed what, when, with before and after."""
from __future__ import annotations

from typing import Any

from sqlalchemy import orm as so

from pilot.models import AuditEvent, Pilot, User


def record(
    session: so.Session,
    action: str,
    *,
    actor: User | None = None,
    pilot: Pilot | None = None,
    target_type: str = "",
    target_id: Any = None,
    before: dict[str, Any] | None = None,
    after: dict[str, Any] | None = None,
) -> AuditEvent:
    """Add an audit event to the session; the caller's commit makes it permanent."""
    event = AuditEvent(
        action=action,
        actor_id=actor.id if actor is not None and getattr(actor, "id", None) else None,
        pilot_id=pilot.id if pilot is not None else None,
        target_type=target_type,
        target_id=None if target_id is None else str(target_id),
        before=before,
        after=after,
    )
    session.add(event)
    return event
