"""Creating pilots, changing their settings and lifecycle, minting API keys."""
from __future__ import annotations

import re
import secrets
from typing import Any

import sqlalchemy as sa
from sqlalchemy import orm as so

from pilot import audit
from pilot.access import hash_api_key, is_admin, minimum_signers, scoped
from pilot.models import ApiKey, AuditEvent, Membership, Pilot, User
from pilot.models.base import utcnow
from pilot.models.pilots import PILOT_STATUSES
from pilot.pilots.settings import SettingError, check_consistency, current_settings, parse_setting

SLUG_PATTERN = re.compile(r"^[a-z0-9][a-z0-9-]{1,62}[a-z0-9]$")
# Allowed lifecycle moves: forward through the stages, and reopening a closed pilot.
TRANSITIONS = {
    "draft": {"enrolling"},
    "enrolling": {"running", "draft"},
    "running": {"closed", "enrolling"},
    "closed": {"running"},
}


class PilotError(ValueError):
    """A user-facing reason a pilot operation was refused."""


def get_pilot(session: so.Session, slug: str) -> Pilot:
    pilot = session.scalar(sa.select(Pilot).where(Pilot.slug == slug))
    if pilot is None:
        raise PilotError(f"No pilot '{slug}'.")
    return pilot


def create_pilot(session: so.Session, slug: str, name: str, lead: User, actor: User | None = None) -> Pilot:
    """A new pilot in draft, with `lead` as its first lead."""
    slug = slug.strip().lower()
    if not SLUG_PATTERN.match(slug):
        raise PilotError("The slug must be 3–64 characters: lowercase letters, digits and dashes.")
    if session.scalar(sa.select(Pilot.id).where(Pilot.slug == slug)) is not None:
        raise PilotError(f"A pilot '{slug}' already exists.")
    if not name.strip():
        raise PilotError("The pilot needs a name.")
    pilot = Pilot(slug=slug, name=name.strip(), rule_settings={})
    session.add(pilot)
    session.flush()
    session.add(Membership(pilot=pilot, user=lead, external_id=lead.email, email=lead.email,
                           role="lead", status="active", consent_at=utcnow()))
    audit.record(session, "pilot.create", actor=actor or lead, pilot=pilot, target_type="pilot",
                 target_id=pilot.id, after={"slug": slug, "name": pilot.name, "lead": lead.email})
    session.flush()
    return pilot


def update_settings(session: so.Session, pilot: Pilot, changes: dict[str, str], actor: User | None) -> dict[str, Any]:
    """Apply textual KEY=VALUE changes after validating all of them; audit what changed."""
    before = current_settings(pilot)
    values = dict(before)
    for name, text in changes.items():
        values[name] = parse_setting(name, text)
    check_consistency(values)
    changed = {k: v for k, v in values.items() if before[k] != v}
    if changed.get("required_signers") is not None and changed["required_signers"] < minimum_signers(session, pilot):
        raise SettingError("required_signers must be at least 2 while the pilot has two or more leads: one lead "
                           "cannot set the quorum so as to sign a launch alone (leave it empty for the default)")
    if changed:
        for name, value in changed.items():
            setattr(pilot, name, value)
        audit.record(session, "pilot.settings", actor=actor, pilot=pilot, target_type="pilot",
                     target_id=pilot.id, before={k: before[k] for k in changed}, after=changed)
    return changed


def change_status(session: so.Session, pilot: Pilot, status: str, actor: User | None) -> None:
    if status not in PILOT_STATUSES:
        raise PilotError(f"Unknown status '{status}'.")
    if status == pilot.status:
        return
    if status not in TRANSITIONS[pilot.status]:
        raise PilotError(f"A {pilot.status} pilot cannot move to {status}.")
    audit.record(session, "pilot.status", actor=actor, pilot=pilot, target_type="pilot",
                 target_id=pilot.id, before={"status": pilot.status}, after={"status": status})
    pilot.status = status


def mint_api_key(session: so.Session, pilot: Pilot, actor: User | None, name: str = "") -> tuple[ApiKey, str]:
    """Create a key; the secret is returned once and only its hash is stored."""
    secret = "pk_" + secrets.token_urlsafe(32)
    key = ApiKey(pilot=pilot, name=name.strip()[:100], prefix=secret[:11], key_hash=hash_api_key(secret),
                 created_by_id=actor.id if actor else None)
    session.add(key)
    session.flush()
    audit.record(session, "api_key.create", actor=actor, pilot=pilot, target_type="api_key",
                 target_id=key.id, after={"prefix": key.prefix, "name": key.name})
    return key, secret


def revoke_api_key(session: so.Session, pilot: Pilot, key_id: int, actor: User | None) -> ApiKey:
    key = scoped(session, ApiKey, key_id, pilot)
    if key is None:
        raise PilotError("No such API key in this pilot.")
    if key.revoked_at is None:
        key.revoked_at = utcnow()
        audit.record(session, "api_key.revoke", actor=actor, pilot=pilot, target_type="api_key",
                     target_id=key.id, before={"prefix": key.prefix})
    return key


def pilots_for(session: so.Session, user: User) -> list[tuple[Pilot, str]]:
    """Pilots the user can open, with their role there (admins see all as 'admin')."""
    if is_admin(user):
        pilots = session.scalars(sa.select(Pilot).order_by(Pilot.created_at.desc())).all()
        return [(p, "admin") for p in pilots]
    rows = session.execute(
        sa.select(Pilot, Membership.role)
        .join(Membership, Membership.pilot_id == Pilot.id)
        .where(Membership.user_id == user.id, Membership.status == "active")
        .order_by(Pilot.created_at.desc())
    ).all()
    return [(p, role) for p, role in rows]


def api_keys_of(session: so.Session, pilot: Pilot) -> list[ApiKey]:
    """The pilot's API keys, newest first (the settings page lists them, revoked ones included)."""
    return list(session.scalars(sa.select(ApiKey).where(ApiKey.pilot_id == pilot.id).order_by(ApiKey.created_at.desc())))


AUDIT_PAGE_ROWS = 200


def recent_audit_events(session: so.Session, pilot: Pilot, limit: int = AUDIT_PAGE_ROWS) -> list[AuditEvent]:
    """The pilot's newest audit events (the audit page shows the last `limit`)."""
    return list(session.scalars(
        sa.select(AuditEvent).where(AuditEvent.pilot_id == pilot.id).order_by(AuditEvent.id.desc()).limit(limit)))
