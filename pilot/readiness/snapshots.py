"""Report snapshots: numbered, immutable copies of the readiness report that leads sign.

The payload is the report JSON exactly as it was built and is never written again. A snapshot
needs `required_signers` distinct lead signatures (frozen when it is taken: the pilot's setting,
else 2 when it has two or more leads, else 1, and never fewer than 2 with two or more leads); each is a `ReadinessSignature`, audited. When the
last one signs, the sign-off columns (who completed it, when) and the `verdict` column are set.
A snapshot's JSON is its frozen payload with `sign_off` listing every signature and — once the
quorum is reached — the "unsigned" reason removed and the verdict recomputed from the remaining
frozen reasons: a snapshot that was ready when it was taken becomes `go`; a `no-go` or otherwise
`incomplete` one keeps its verdict (signatures record that leads accepted the report, they cannot
fix a failing item). Later data never changes it.
"""
from __future__ import annotations

import copy
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy import orm as so

from pilot import audit
from pilot.access import belongs_to, may_sign_report, minimum_signers, pilot_leads
from pilot.models import Interaction, Pilot, ReadinessReport, ReadinessSignature, User
from pilot.models.base import utcnow
from pilot.readiness import live
from pilot.readiness.report import UNSIGNED, build_report, iso, verdict_for, verdict_label

MAX_SIGN_NOTE_CHARS = 10_000
class SnapshotError(ValueError):
    """A snapshot action that cannot be done (already signed, note too long…)."""


class NotAllowedToSign(SnapshotError):
    """The actor is not a lead of this pilot (admins included): a signature is a lead's own."""


def required_signers(session: so.Session, pilot: Pilot) -> int:
    """The pilot's setting, else 2 when it has two or more leads, else 1; never fewer than 2 with
    two or more leads (a setting of 1 from when the pilot had one lead does not let one of two
    leads sign a launch alone; the settings refuse a new 1 then)."""
    floor = minimum_signers(session, pilot)
    return max(pilot.required_signers or floor, floor)


def _display(user: User | None) -> str | None:
    return (user.name or user.email) if user is not None else None


def create_snapshot(session: so.Session, pilot: Pilot, actor: User | None,
                    now: datetime | None = None) -> ReadinessReport:
    """Freeze the live report as the pilot's next numbered snapshot, audited; the caller commits.
    The report just built is also stored as the pilot's live verdict (pilot.readiness.live)."""
    now = now or utcnow()
    source = live.data_source(session, pilot, now)
    payload = build_report(session, pilot, now)
    live.record(session, pilot, payload, now, source)  # the overview shows the verdict just built
    number = latest_number(session, pilot) + 1
    report = ReadinessReport(pilot_id=pilot.id, number=number, payload=payload, verdict=payload["verdict"],
                             created_at=now, created_by_id=actor.id if actor is not None else None,
                             required_signers=required_signers(session, pilot))
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


def _signature_json(signature: ReadinessSignature) -> dict[str, Any]:
    return {"signed_by": _display(signature.user), "signed_by_email": signature.user.email,
            "signed_at": iso(signature.signed_at), "note": signature.note}


def pending_signers(report: ReadinessReport) -> list[str]:
    """Names of the pilot's leads who have not signed yet (who else must sign)."""
    session = so.object_session(report)
    if session is None:
        return []
    signed = {signature.user_id for signature in report.signatures}
    return [_display(lead) for lead in pilot_leads(session, session.get(Pilot, report.pilot_id))
            if lead.id not in signed]


def is_complete(report: ReadinessReport) -> bool:
    return report.signed_at is not None


def sign_off_json(report: ReadinessReport) -> dict[str, Any] | None:
    """Every signature, the quorum and whether it is reached; null before the first signature.
    `signed_by`/`signed_at`/`note` name the signature that completed the quorum (else the latest)."""
    if not report.signatures:
        return None
    signatures = [_signature_json(signature) for signature in report.signatures]
    last = signatures[-1]
    return {"signed_by": last["signed_by"], "signed_by_email": last["signed_by_email"],
            "signed_at": last["signed_at"], "note": last["note"],
            "complete": is_complete(report), "required_signers": report.required_signers,
            "signatures": signatures}


def _waiting_reason(report: ReadinessReport) -> dict[str, Any]:
    have, need = len(report.signatures), report.required_signers
    pending = pending_signers(report)
    who = f" Waiting for {need - have} more of: {', '.join(pending)}." if pending else (
        " No other lead can sign yet: add a lead to the pilot.")
    return {"kind": UNSIGNED, "key": None,
            "message": f"{have} of {need} lead signatures.{who}"}


def snapshot_json(report: ReadinessReport) -> dict[str, Any]:
    """The snapshot as served: the frozen payload, its sign-off, and the verdict that follows."""
    payload = copy.deepcopy(report.payload)
    payload["sign_off"] = sign_off_json(report)
    if is_complete(report):
        payload["verdict_reasons"] = [r for r in payload["verdict_reasons"] if r["kind"] != UNSIGNED]
    elif report.signatures:
        payload["verdict_reasons"] = [_waiting_reason(report) if r["kind"] == UNSIGNED else r
                                      for r in payload["verdict_reasons"]]
    payload["verdict"] = verdict_for(payload["verdict_reasons"])
    payload["verdict_label"] = verdict_label(payload["verdict"], len(payload.get("exemptions", [])))
    payload["report_number"] = report.number
    payload["created_by"] = _display(report.created_by)
    return payload


def sign_snapshot(session: so.Session, pilot: Pilot, report: ReadinessReport, actor: User, note: str,
                  now: datetime | None = None) -> ReadinessReport:
    """A lead adds their signature (once per snapshot), audited; the last one the quorum needs
    completes the sign-off and sets the verdict."""
    if not belongs_to(report, pilot):
        raise SnapshotError("This report belongs to another pilot.")
    if not may_sign_report(session, actor, pilot):
        raise NotAllowedToSign("Only a lead of this pilot can sign its reports (an admin signs only where they "
                               "are a lead).")
    if is_complete(report):
        names = ", ".join(s["signed_by"] for s in sign_off_json(report)["signatures"])
        raise SnapshotError(f"Report #{report.number} is already signed by {names}.")
    if any(signature.user_id == actor.id for signature in report.signatures):
        raise SnapshotError(f"You already signed report #{report.number}; it needs another lead's signature.")
    note = (note or "").replace("\x00", "").strip()
    if len(note) > MAX_SIGN_NOTE_CHARS:
        raise SnapshotError(f"note must be at most {MAX_SIGN_NOTE_CHARS:,} characters")
    now = now or utcnow()
    before = report.verdict
    signature = ReadinessSignature(report=report, user_id=actor.id, user=actor, signed_at=now, note=note)
    session.add(signature)
    session.flush()
    if len(report.signatures) >= report.required_signers:
        report.signed_by_id, report.signed_by = actor.id, actor
        report.signed_at = now
        report.sign_note = note
        report.verdict = snapshot_json(report)["verdict"]
    audit.record(session, "readiness.sign", actor=actor, pilot=pilot, target_type="readiness_report",
                 target_id=report.number, before={"verdict": before},
                 after={"verdict": report.verdict, "note": note, "signed_at": iso(now),
                        "signatures": len(report.signatures), "required_signers": report.required_signers,
                        "complete": is_complete(report)})
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
