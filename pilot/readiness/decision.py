"""The launch decision as the overview and the pilot list show it: the live verdict with its
reasons and time, and beside it the newest report snapshot's signature state.

The live verdict is the one the readiness page shows, but it is not built in these pages: the live
report recomputes every checklist rule (measured 0.2–0.3 s on the demo pilot, on top of the
dashboard's own work, and it grows with the data), and the overview must stay fast and never write
on GET. The worker builds it every few minutes (pilot.readiness.live, LiveVerdict) and the pages
read the stored row, saying "as of <time>" and "new data since" when interactions arrived after it.

The signatures come from the newest snapshot, one indexed row whose verdict is frozen (3 ms on the
demo): the live report is never signed, a snapshot is what leads sign. A snapshot older than the
newest interaction is marked outdated. A pilot with neither says the verdict is being computed and
links to the live page. Everything for every pilot of a page is read in one query (plus the
signatures and leads of the snapshots found, each loaded for all of them at once).
"""
from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from datetime import datetime

import sqlalchemy as sa
from sqlalchemy import orm as so

from pilot.models import Interaction, LiveVerdict, Membership, Pilot, ReadinessReport, ReadinessSignature, User
from pilot.readiness.report import UNSIGNED, verdict_for, verdict_label

REASONS_SHOWN = 3


@dataclass
class Decision:
    """The newest snapshot's verdict and signature state."""

    number: int
    created_at: datetime
    verdict: str
    label: str  # "go with 2 exemptions" where that applies
    signers: list[str]
    required_signers: int
    complete: bool
    pending: list[str] = field(default_factory=list)
    outdated: bool = False  # interactions arrived after it was taken


@dataclass
class Live:
    """The live verdict the worker stored, and whether data arrived after it."""

    computed_at: datetime
    verdict: str
    label: str
    reasons: list[str]
    more_reasons: int
    new_data_since: bool


@dataclass
class PilotDecision:
    live: Live | None
    snapshot: Decision | None


def _display(user: User) -> str:
    return user.name or user.email


def _snapshot(report: ReadinessReport, leads: list[User], newest_received: datetime | None) -> Decision:
    """The snapshot as served (snapshots.snapshot_json's verdict rule, without copying the payload):
    complete, its frozen reasons without "unsigned"; else an unsigned or waiting reason stays."""
    complete = report.signed_at is not None
    reasons = [r for r in report.payload.get("verdict_reasons", []) if r["kind"] != UNSIGNED]
    if not complete:
        reasons.append({"kind": UNSIGNED})
    verdict = verdict_for(reasons)
    signed = {signature.user_id for signature in report.signatures}
    return Decision(number=report.number, created_at=report.created_at, verdict=verdict,
                    label=verdict_label(verdict, len(report.payload.get("exemptions", []))),
                    signers=[_display(signature.user) for signature in report.signatures],
                    required_signers=report.required_signers, complete=complete,
                    pending=[] if complete else [_display(lead) for lead in leads if lead.id not in signed],
                    outdated=newest_received is not None and newest_received > report.created_at)


def _live(row: LiveVerdict, newest_received: datetime | None) -> Live:
    reasons = list(row.reasons or [])
    arrived = newest_received is not None and (row.newest_received_at is None
                                               or newest_received > row.newest_received_at)
    return Live(computed_at=row.computed_at, verdict=row.verdict, label=row.verdict_label,
                reasons=reasons[:REASONS_SHOWN], more_reasons=max(0, len(reasons) - REASONS_SHOWN),
                new_data_since=arrived)


def _leads(session: so.Session, pilot_ids: list[int]) -> dict[int, list[User]]:
    """Each pilot's active leads (access.pilot_leads' rule and order), for all pilots at once."""
    if not pilot_ids:
        return {}
    rows = session.execute(
        sa.select(Membership.pilot_id, User).join(Membership, Membership.user_id == User.id)
        .where(Membership.pilot_id.in_(pilot_ids), Membership.status == "active", Membership.role == "lead")
        .order_by(User.name, User.email, User.id))
    leads: dict[int, list[User]] = defaultdict(list)
    for pilot_id, user in rows:
        leads[pilot_id].append(user)
    return leads


def pilot_decisions(session: so.Session, pilots: list[Pilot]) -> dict[int, PilotDecision]:
    """The live verdict and the newest snapshot of each pilot (every pilot is present, with
    None for what it lacks): one query for all of them, using the (pilot, received_at) index."""
    if not pilots:
        return {}
    ids = [pilot.id for pilot in pilots]
    newest_number = (sa.select(sa.func.max(ReadinessReport.number))
                     .where(ReadinessReport.pilot_id == Pilot.id).correlate(Pilot).scalar_subquery())
    newest_received = (sa.select(sa.func.max(Interaction.received_at))
                       .where(Interaction.pilot_id == Pilot.id).correlate(Pilot).scalar_subquery())
    rows = session.execute(
        sa.select(Pilot.id, LiveVerdict, ReadinessReport, newest_received.label("newest_received"))
        .outerjoin(LiveVerdict, LiveVerdict.pilot_id == Pilot.id)
        .outerjoin(ReadinessReport, sa.and_(ReadinessReport.pilot_id == Pilot.id,
                                            ReadinessReport.number == newest_number))
        .where(Pilot.id.in_(ids))
        .options(so.selectinload(ReadinessReport.signatures).joinedload(ReadinessSignature.user))
    ).all()
    waiting = [report.pilot_id for _, _, report, _ in rows if report is not None and report.signed_at is None]
    leads = _leads(session, waiting)
    return {pilot_id: PilotDecision(
        live=_live(live, received) if live is not None else None,
        snapshot=_snapshot(report, leads.get(pilot_id, []), received) if report is not None else None)
        for pilot_id, live, report, received in rows}

