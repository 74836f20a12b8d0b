"""The live verdict, computed in the background and stored per pilot (LiveVerdict).

Building the live report takes 0.2–0.3 s on the demo pilot and seconds at a million interactions,
too slow for the overview and the pilot list, which must stay fast and never write on GET. So the
worker (pilot.worker.jobs.refresh_live_verdicts, every few minutes) builds it with the same
`build_report` the readiness page uses and stores its verdict, label and reasons with the time
and what it was computed from (`data_source`): newest ids and counts of every table the report
reads, the pilot's own settings and the day. A pilot whose source has not changed is skipped,
unless its verdict is older than RECOMPUTE_AFTER (rules that look at recent days move with time).
"""
from __future__ import annotations

import hashlib
import json
from datetime import datetime, timedelta
from typing import Any

import sqlalchemy as sa
from sqlalchemy import orm as so

from pilot.models import (
    AlertChannel,
    AlertDelivery,
    AlertEvent,
    AlertRule,
    AuditEvent,
    ChecklistAttestation,
    Feedback,
    Flag,
    Interaction,
    LiveVerdict,
    Membership,
    Pilot,
    PromptEvent,
    PromptVersion,
    Report,
)
from pilot.models.base import utcnow
from pilot.readiness.report import build_report

RECOMPUTE_AFTER = timedelta(hours=1)

# Tables the report reads whose rows change in place: their newest update time is part of the source.
_UPDATED = ((Feedback, Feedback.updated_at), (Report, Report.updated_at), (Flag, Flag.updated_at))
# Tables the report reads (rows added, or changed in place and audited): newest id and count.
_ROWS = (Interaction, Feedback, Report, Flag, Membership, ChecklistAttestation, AuditEvent, AlertRule,
         AlertChannel, AlertDelivery, AlertEvent, PromptEvent, PromptVersion)


def _settings_digest(pilot: Pilot) -> str:
    """The pilot row's own values (status, thresholds, bounds), as a short digest."""
    values = {column.key: getattr(pilot, column.key) for column in sa.inspect(Pilot).column_attrs}
    return hashlib.sha256(json.dumps(values, sort_keys=True, default=str).encode()).hexdigest()[:16]


def data_source(session: so.Session, pilot: Pilot, now: datetime) -> dict[str, Any]:
    """What the live report of `pilot` would be computed from, as plain JSON values (one query)."""
    columns = []
    for model in _ROWS:
        where = model.pilot_id == pilot.id
        columns.append(sa.select(sa.func.max(model.id)).where(where).scalar_subquery().label(f"{model.__tablename__}_id"))
        columns.append(sa.select(sa.func.count(model.id)).where(where).scalar_subquery()
                       .label(f"{model.__tablename__}_count"))
    for model, updated in _UPDATED:
        columns.append(sa.select(sa.func.max(updated)).where(model.pilot_id == pilot.id).scalar_subquery()
                       .label(f"{model.__tablename__}_updated"))
    columns.append(sa.select(sa.func.count(Membership.id))
                   .where(Membership.pilot_id == pilot.id, Membership.status == "active").scalar_subquery()
                   .label("membership_active"))
    columns.append(sa.select(sa.func.count(AlertDelivery.id))
                   .where(AlertDelivery.pilot_id == pilot.id, AlertDelivery.status == "sent").scalar_subquery()
                   .label("alert_delivery_sent"))
    columns.append(sa.select(sa.func.max(Interaction.received_at)).where(Interaction.pilot_id == pilot.id)
                   .scalar_subquery().label("interaction_received"))
    for model in (AlertRule, AlertChannel):
        columns.append(sa.select(sa.func.count(model.id))
                       .where(model.pilot_id == pilot.id, model.enabled.is_(True)).scalar_subquery()
                       .label(f"{model.__tablename__}_enabled"))
    row = session.execute(sa.select(*columns)).one()
    source = {key: (value.isoformat() if isinstance(value, datetime) else value)
              for key, value in row._mapping.items()}
    source["settings"] = _settings_digest(pilot)
    source["day"] = now.date().isoformat()
    return source


def record(session: so.Session, pilot: Pilot, report: dict[str, Any], now: datetime,
           source: dict[str, Any]) -> LiveVerdict:
    """Store the verdict of `report` (a live report built at `now` from `source`, taken before
    it) as the pilot's live verdict, inserting or updating its row; the caller commits."""
    row = session.get(LiveVerdict, pilot.id)
    if row is None:
        row = LiveVerdict(pilot_id=pilot.id)
        session.add(row)
    row.computed_at = now
    row.verdict = report["verdict"]
    row.verdict_label = report["verdict_label"]
    row.reasons = [reason["message"] for reason in report["verdict_reasons"]]
    row.interactions = report["interactions"]["total"]
    row.newest_interaction_id = source["interaction_id"]
    received = source["interaction_received"]
    row.newest_received_at = datetime.fromisoformat(received) if received else None
    row.source = source
    session.flush()
    return row


def compute(session: so.Session, pilot: Pilot, now: datetime | None = None,
            source: dict[str, Any] | None = None) -> LiveVerdict:
    """Build the live report (build_report, as the readiness page does) and store its verdict."""
    now = now or utcnow()
    source = source if source is not None else data_source(session, pilot, now)
    return record(session, pilot, build_report(session, pilot, now), now, source)


def is_current(row: LiveVerdict | None, source: dict[str, Any], now: datetime) -> bool:
    """True when `row` was computed from `source` recently enough to skip recomputing it."""
    return row is not None and row.source == source and now - row.computed_at < RECOMPUTE_AFTER


def refresh(session: so.Session, pilot: Pilot, now: datetime | None = None, force: bool = False) -> bool:
    """Recompute the pilot's live verdict unless its data has not changed since; True when it did.
    The caller commits."""
    now = now or utcnow()
    source = data_source(session, pilot, now)
    if not force and is_current(session.get(LiveVerdict, pilot.id), source, now):
        return False
    compute(session, pilot, now, source)
    return True


def pilots_to_refresh(session: so.Session) -> list[int]:
    """Every pilot that is not closed, and closed ones that have no live verdict yet."""
    has_verdict = sa.exists().where(LiveVerdict.pilot_id == Pilot.id)
    return list(session.scalars(
        sa.select(Pilot.id).where(sa.or_(Pilot.status != "closed", ~has_verdict)).order_by(Pilot.id)
    ))
