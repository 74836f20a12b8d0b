"""A lead's word on a checklist item: an attestation (status, note, link), optionally an exemption.

Rows are append-only; the newest row per key is the one in force. An attestation with an
`exempt_until` date is an *exemption*: it needs a reason of at least 20 characters (the note),
an evidence link or an owner, and an end date within the pilot's `max_exemption_days`; it keeps a
failing or unknown item from blocking the verdict up to and including that date, and after it the
whole row stops counting (the item goes back to its automatic status).
An attestation's status decides an item only where the data cannot (`auto_status` unknown): a
lead cannot overrule a measurement, only exempt it. So a status better than the measured one
(pass on a measured warn or fail) is refused, with the way out (exempt) in the message.
"""
from __future__ import annotations

from datetime import date, timedelta
from typing import Any
from urllib.parse import urlsplit

import sqlalchemy as sa
from sqlalchemy import orm as so

from pilot import audit
from pilot.models import ChecklistAttestation, Pilot, User
from pilot.readiness.checklist import CHECKLIST_KEYS, FAIL, PASS, WARN

ATTESTABLE_STATUSES = (PASS, WARN, FAIL)
STATUS_RANK = {FAIL: 0, WARN: 1, PASS: 2}
MIN_EXEMPTION_REASON_CHARS = 20
MAX_NOTE_CHARS = 10_000
MAX_LINK_CHARS = 500
MAX_OWNER_CHARS = 200


class AttestationError(ValueError):
    """An attestation that cannot be accepted; `field` names the form field, the message says why."""

    def __init__(self, message: str, field: str = "") -> None:
        super().__init__(message)
        self.field = field


def newest_attestations(session: so.Session, pilot: Pilot) -> dict[str, ChecklistAttestation]:
    """The newest attestation per checklist key (in force or expired)."""
    rows = session.scalars(
        sa.select(ChecklistAttestation)
        .where(ChecklistAttestation.pilot_id == pilot.id)
        .order_by(ChecklistAttestation.attested_at.desc(), ChecklistAttestation.id.desc())
    )
    newest: dict[str, ChecklistAttestation] = {}
    for row in rows:
        newest.setdefault(row.key, row)
    return newest


def in_force(attestation: ChecklistAttestation, today: date) -> bool:
    """An attestation counts until its exempt_until date has passed (forever without one)."""
    return attestation.exempt_until is None or attestation.exempt_until >= today


def is_exemption(attestation: ChecklistAttestation, today: date) -> bool:
    """A valid exemption: an end date not yet passed and a reason."""
    return attestation.exempt_until is not None and in_force(attestation, today) and bool(attestation.note.strip())


def attestation_json(attestation: ChecklistAttestation, today: date) -> dict[str, Any]:
    by = attestation.attested_by
    return {
        "status": attestation.status,
        "note": attestation.note,
        "link": attestation.link or None,
        "exempt_until": attestation.exempt_until.isoformat() if attestation.exempt_until else None,
        "owner": attestation.owner or None,
        "attested_by": (by.name or by.email) if by else None,
        "attested_at": attestation.attested_at.isoformat() + "Z",
        "in_force": in_force(attestation, today),
    }


def _clean_link(link: str) -> str:
    link = (link or "").strip()
    if not link:
        return ""
    if len(link) > MAX_LINK_CHARS:
        raise AttestationError(f"link must be at most {MAX_LINK_CHARS} characters", "link")
    parts = urlsplit(link)
    if parts.scheme not in ("http", "https") or not parts.netloc:
        raise AttestationError("link must be an http:// or https:// address", "link")
    return link


def _clean_text(text: str | None) -> str:
    return "".join(ch for ch in (text or "") if ch in "\n\t" or ord(ch) >= 32).strip()


def check_against_measurement(status: str, measured_status: str | None) -> None:
    """A lead's status may not be better than what the data measured: exempt the item instead."""
    if measured_status in STATUS_RANK and STATUS_RANK[status] > STATUS_RANK[measured_status]:
        raise AttestationError(
            f"status: the data measures this item as {measured_status}; an attestation cannot say {status} "
            "over a measurement. Fix the cause, or exempt the item (an end date, a reason of at least "
            f"{MIN_EXEMPTION_REASON_CHARS} characters, and an evidence link or an owner).", "status")


def attest(
    session: so.Session,
    pilot: Pilot,
    actor: User | None,
    *,
    key: str,
    status: str,
    note: str,
    link: str = "",
    owner: str = "",
    exempt_until: date | None = None,
    measured_status: str | None = None,
    today: date,
) -> ChecklistAttestation:
    """Record a lead's attestation (or exemption) on one item and audit it; the caller commits.

    `measured_status` is the item's automatic status now: a status better than it is refused.
    """
    if key not in CHECKLIST_KEYS:
        raise AttestationError(f"key '{key}' is not a checklist item", "key")
    if status not in ATTESTABLE_STATUSES:
        raise AttestationError(f"status must be one of {', '.join(ATTESTABLE_STATUSES)}", "status")
    check_against_measurement(status, measured_status)
    note, owner = _clean_text(note), _clean_text(owner)
    if not note:
        raise AttestationError("note is required: say what the evidence is (or, for an exemption, why)", "note")
    if len(note) > MAX_NOTE_CHARS:
        raise AttestationError(f"note must be at most {MAX_NOTE_CHARS:,} characters", "note")
    if len(owner) > MAX_OWNER_CHARS:
        raise AttestationError(f"owner must be at most {MAX_OWNER_CHARS} characters", "owner")
    link = _clean_link(link)
    if exempt_until is not None:
        if exempt_until < today:
            raise AttestationError("exempt_until must be today or later", "exempt_until")
        longest = pilot.max_exemption_days or 30
        if exempt_until > today + timedelta(days=longest):
            raise AttestationError(f"exempt_until must be within {longest} days (this pilot's longest exemption; "
                                   "a lead changes it in the settings)", "exempt_until")
        if len(note) < MIN_EXEMPTION_REASON_CHARS:
            raise AttestationError(f"note: an exemption needs a reason of at least {MIN_EXEMPTION_REASON_CHARS} "
                                   "characters: why it is safe to launch with this item open", "note")
        if not link and not owner:
            raise AttestationError("an exemption needs an evidence link or an owner (who will close it)", "owner")
    attestation = ChecklistAttestation(
        pilot_id=pilot.id, key=key, status=status, note=note, link=link, owner=owner, exempt_until=exempt_until,
        attested_by_id=actor.id if actor is not None else None,
    )
    session.add(attestation)
    session.flush()
    audit.record(session, "readiness.exempt" if exempt_until else "readiness.attest", actor=actor, pilot=pilot,
                 target_type="checklist_item", target_id=key,
                 after={"status": status, "note": note, "link": attestation.link, "owner": owner,
                        "exempt_until": exempt_until.isoformat() if exempt_until else None})
    return attestation
