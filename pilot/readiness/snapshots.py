"""Report snapshots: numbered, immutable copies of the readiness report that a lead signs.

The payload is the report JSON exactly as it was built and is never written again. Signing sets
only the sign-off columns (who, when, note) and the `verdict` column. A snapshot's JSON is its
frozen payload with `sign_off` filled in and — once signed — the "unsigned" reason removed and the
verdict recomputed from the remaining frozen reasons: a snapshot that was ready when it was taken
becomes `go` on signing; a `no-go` or otherwise `incomplete` one keeps its verdict (a signature
records that a lead accepted the report, it cannot fix a failing item). Later data never changes it.
"""
from __future__ import annotations

import copy
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy import orm as so

from pilot import audit
from pilot.models import Interaction, Pilot, ReadinessReport, User
from pilot.models.base import utcnow
from pilot.readiness.report import UNSIGNED, build_report, iso, verdict_for

MAX_SIGN_NOTE_CHARS = 10_000
FROZEN_COLUMNS = ("pilot_id", "number", "payload", "created_at", "created_by_id")


@sa.event.listens_for(ReadinessReport, "before_update")
def _snapshots_are_immutable(mapper, connection, target: ReadinessReport) -> None:
    """The ORM refuses to rewrite a snapshot's frozen columns, or anything of a signed one."""
    state = sa.inspect(target)
    changed = [name for name in FROZEN_COLUMNS if state.attrs[name].history.has_changes()]
    if changed:
        raise ValueError(f"report snapshots are immutable ({', '.join(changed)} changed)")
    stored_signature = connection.scalar(
        sa.select(ReadinessReport.signed_at).where(ReadinessReport.id == target.id)
    )
    if stored_signature is not None:
        raise ValueError("a signed report cannot be changed")


class SnapshotError(ValueError):
    """A snapshot action that cannot be done (already signed, note too long…)."""


def _display(user: User | None) -> str | None:
    return (user.name or user.email) if user is not None else None


def create_snapshot(session: so.Session, pilot: Pilot, actor: User | None,
                    now: datetime | None = None) -> ReadinessReport:
    """Freeze the live report as the pilot's next numbered snapshot, audited; the caller commits."""
    now = now or utcnow()
    payload = build_report(session, pilot, now)
    number = latest_number(session, pilot) + 1
    report = ReadinessReport(pilot_id=pilot.id, number=number, payload=payload, verdict=payload["verdict"],
                             created_at=now, created_by_id=actor.id if actor is not None else None)
    session.add(report)
    session.flush()
    audit.record(session, "readiness.snapshot", actor=actor, pilot=pilot, target_type="readiness_report",
                 target_id=number, after={"number": number, "verdict": payload["verdict"]})
    return report


def get_snapshot(session: so.Session, pilot: Pilot, number: int) -> ReadinessReport | None:
    return session.scalar(
        sa.select(ReadinessReport).where(ReadinessReport.pilot_id == pilot.id, ReadinessReport.number == number)
    )


def list_snapshots(session: so.Session, pilot: Pilot) -> list[ReadinessReport]:
    return list(session.scalars(
        sa.select(ReadinessReport).where(ReadinessReport.pilot_id == pilot.id).order_by(ReadinessReport.number.desc())
    ))


def sign_off_json(report: ReadinessReport) -> dict[str, Any] | None:
    if report.signed_at is None:
        return None
    return {"signed_by": _display(report.signed_by), "signed_at": iso(report.signed_at), "note": report.sign_note,
            "signed_by_email": report.signed_by.email if report.signed_by else None}


def snapshot_json(report: ReadinessReport) -> dict[str, Any]:
    """The snapshot as served: the frozen payload, its sign-off, and the verdict that follows."""
    payload = copy.deepcopy(report.payload)
    payload["sign_off"] = sign_off_json(report)
    if payload["sign_off"] is not None:
        payload["verdict_reasons"] = [r for r in payload["verdict_reasons"] if r["kind"] != UNSIGNED]
        payload["verdict"] = verdict_for(payload["verdict_reasons"])
    payload["report_number"] = report.number
    payload["created_by"] = _display(report.created_by)
    return payload


def sign_snapshot(session: so.Session, pilot: Pilot, report: ReadinessReport, actor: User, note: str,
                  now: datetime | None = None) -> ReadinessReport:
    """A lead signs a snapshot (once); audited with the verdict before and after."""
    if report.pilot_id != pilot.id:
        raise SnapshotError("This report belongs to another pilot.")
    if report.signed_at is not None:
        raise SnapshotError(f"Report #{report.number} is already signed by {_display(report.signed_by)}.")
    note = (note or "").strip()
    if len(note) > MAX_SIGN_NOTE_CHARS:
        raise SnapshotError(f"note must be at most {MAX_SIGN_NOTE_CHARS:,} characters")
    before = report.verdict
    report.signed_by_id, report.signed_by = actor.id, actor
    report.signed_at = now or utcnow()
    report.sign_note = note
    report.verdict = snapshot_json(report)["verdict"]
    audit.record(session, "readiness.sign", actor=actor, pilot=pilot, target_type="readiness_report",
                 target_id=report.number, before={"verdict": before},
                 after={"verdict": report.verdict, "note": note, "signed_at": iso(report.signed_at)})
    return report


def interactions_since(session: so.Session, pilot: Pilot, report: ReadinessReport) -> int:
    """Interactions received after the snapshot was taken: how far the live data has moved on."""
    return session.scalar(
        sa.select(sa.func.count(Interaction.id)).where(
            Interaction.pilot_id == pilot.id, Interaction.received_at > report.created_at
        )
    ) or 0


def latest_number(session: so.Session, pilot: Pilot) -> int:
    return session.scalar(
        sa.select(sa.func.max(ReadinessReport.number)).where(ReadinessReport.pilot_id == pilot.id)
    ) or 0


def staleness(session: so.Session, pilot: Pilot, report: ReadinessReport) -> str | None:
    """A sentence saying the live data or a newer report has moved past this snapshot, or None."""
    parts = []
    arrived = interactions_since(session, pilot, report)
    if arrived:
        parts.append(f"{arrived:,} interaction{'' if arrived == 1 else 's'} arrived after it was taken")
    newest = latest_number(session, pilot)
    if newest > report.number:
        parts.append(f"report #{newest} is newer")
    if not parts:
        return None
    return (f"Report #{report.number} shows the data as of {iso(report.created_at)}: "
            + " and ".join(parts) + ". Its numbers do not change.")
