"""The launch decision as the overview and the pilot list show it: the newest report snapshot's
verdict, reasons and signatures.

Chosen over the live report on purpose: the live report recomputes every checklist rule
(measured 0.2–0.3 s on the demo pilot, on top of the dashboard's own work, and it grows with the
data), while the newest snapshot is one indexed row whose verdict is frozen (3 ms on the demo). It is also the honest thing to show: the live report is never signed, a
snapshot is what leads sign. Pilots without a snapshot say so and link to the live page.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

import sqlalchemy as sa
from sqlalchemy import orm as so

from pilot.models import Pilot, ReadinessReport
from pilot.readiness.snapshots import is_complete, pending_signers, snapshot_json

REASONS_SHOWN = 3


@dataclass
class Decision:
    number: int
    created_at: datetime
    verdict: str
    label: str  # "go with 2 exemptions" where that applies
    reasons: list[str]
    more_reasons: int
    signers: list[str]
    required_signers: int
    complete: bool
    pending: list[str] = field(default_factory=list)


def _decision(report: ReadinessReport) -> Decision:
    served = snapshot_json(report)
    reasons = [reason["message"] for reason in served["verdict_reasons"]]
    signers = [s["signed_by"] for s in (served["sign_off"] or {}).get("signatures", [])]
    return Decision(number=report.number, created_at=report.created_at, verdict=served["verdict"],
                    label=served["verdict_label"], reasons=reasons[:REASONS_SHOWN],
                    more_reasons=max(0, len(reasons) - REASONS_SHOWN), signers=signers,
                    required_signers=report.required_signers, complete=is_complete(report),
                    pending=[] if is_complete(report) else pending_signers(report))


def latest_decisions(session: so.Session, pilots: list[Pilot]) -> dict[int, Decision]:
    """The newest snapshot's decision per pilot (pilots without one are absent): one query."""
    if not pilots:
        return {}
    newest = (sa.select(ReadinessReport.pilot_id, sa.func.max(ReadinessReport.number).label("number"))
              .where(ReadinessReport.pilot_id.in_([pilot.id for pilot in pilots]))
              .group_by(ReadinessReport.pilot_id).subquery())
    rows = session.scalars(sa.select(ReadinessReport).join(
        newest, sa.and_(ReadinessReport.pilot_id == newest.c.pilot_id, ReadinessReport.number == newest.c.number)))
    return {report.pilot_id: _decision(report) for report in rows}
