"""Enrollment: invites with hashed single-use tokens, consent, the participant cap, the roster."""
from __future__ import annotations

import csv
import hashlib
import io
import secrets
from dataclasses import dataclass, field
from datetime import datetime, timedelta

import sqlalchemy as sa
from sqlalchemy import orm as so

from pilot import audit
from pilot.access import scoped
from pilot.auth.services import AccountError, create_user, find_user_by_email, normalise_email
from pilot.metrics import seats_taken
from pilot.models import Feedback, Interaction, Membership, Pilot, User
from pilot.models.base import utcnow
from pilot.models.pilots import ROLES
from pilot.text import has_control_characters

INVITE_TTL = timedelta(days=7)
CSV_MAX_ROWS = 5_000


class EnrollmentError(ValueError):
    """A user-facing reason an enrollment step was refused."""


@dataclass
class Invite:
    membership: Membership
    token: str

    def url(self, base_url: str) -> str:
        return f"{base_url.rstrip('/')}/invite/{self.token}"


def hash_token(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def _check_cap(session: so.Session, pilot: Pilot) -> None:
    if seats_taken(session, pilot) >= pilot.max_participants:
        raise EnrollmentError(
            f"The pilot is full: it has {pilot.max_participants} participants, its maximum. "
            "Remove someone or raise max_participants in the settings."
        )


def invite(
    session: so.Session,
    pilot: Pilot,
    *,
    external_id: str | None = None,
    email: str | None = None,
    role: str = "participant",
    actor: User | None = None,
    ttl: timedelta = INVITE_TTL,
) -> Invite:
    """Add a member in status 'invited' and return the invite (its token is shown only now)."""
    if pilot.status == "closed":
        raise EnrollmentError("The pilot is closed: it takes no new invites. Reopen it in the settings first.")
    if role not in ROLES:
        raise EnrollmentError(f"Unknown role '{role}' (choose from {', '.join(ROLES)}).")
    email = normalise_email(email) if email and email.strip() else None
    if email is not None and ("@" not in email or len(email) > 254):
        raise EnrollmentError(f"'{email}' is not an email address.")
    external_id = (external_id or email or "").strip()
    if not external_id:
        raise EnrollmentError("email or external id: give at least one (an empty invite would take a seat).")
    if len(external_id) > 255:
        raise EnrollmentError("The external id is longer than 255 characters.")
    if session.scalar(sa.select(Membership.id).where(
        Membership.pilot_id == pilot.id, Membership.external_id == external_id)) is not None:
        raise EnrollmentError(f"'{external_id}' is already enrolled in this pilot.")
    if email is not None and session.scalar(sa.select(Membership.id).where(
        Membership.pilot_id == pilot.id, Membership.email == email)) is not None:
        raise EnrollmentError(f"{email} is already enrolled in this pilot.")
    if role == "participant":
        _check_cap(session, pilot)
    user = find_user_by_email(session, email) if email else None
    if user is not None and session.scalar(sa.select(Membership.id).where(
        Membership.pilot_id == pilot.id, Membership.user_id == user.id)) is not None:
        raise EnrollmentError(f"{email} already has a membership in this pilot.")
    token = secrets.token_urlsafe(32)
    membership = Membership(
        pilot=pilot, user=user, external_id=external_id, email=email, role=role, status="invited",
        invite_token_hash=hash_token(token), invite_expires_at=utcnow() + ttl,
        invited_by_id=actor.id if actor else None,
    )
    session.add(membership)
    session.flush()
    audit.record(session, "membership.invite", actor=actor, pilot=pilot, target_type="membership",
                 target_id=membership.id, after={"external_id": external_id, "email": email, "role": role})
    return Invite(membership, token)


def reissue_invite(session: so.Session, pilot: Pilot, membership_id: int, actor: User | None,
                   ttl: timedelta = INVITE_TTL) -> Invite:
    """A fresh link for a member still invited (the old link stops working), with a new expiry; audited."""
    membership = scoped(session, Membership, membership_id, pilot)
    if membership is None:
        raise EnrollmentError("No such member in this pilot.")
    if membership.status != "invited":
        raise EnrollmentError(f"{membership.external_id} is {membership.status}, not invited: there is nothing to resend.")
    if pilot.status == "closed":
        raise EnrollmentError("The pilot is closed: it takes no new invites.")
    token = secrets.token_urlsafe(32)
    membership.invite_token_hash = hash_token(token)
    membership.invite_expires_at = utcnow() + ttl
    audit.record(session, "membership.reinvite", actor=actor, pilot=pilot, target_type="membership",
                 target_id=membership.id, after={"invite_expires_at": membership.invite_expires_at.isoformat()})
    session.flush()
    return Invite(membership, token)


def find_invite(session: so.Session, token: str) -> Membership:
    """The invited membership for a token; refuses used, unknown and expired tokens."""
    membership = session.scalar(sa.select(Membership).where(Membership.invite_token_hash == hash_token(token)))
    if membership is None or membership.status != "invited":
        raise EnrollmentError("This invite link is not valid or has already been used.")
    if membership.invite_expires_at is None or membership.invite_expires_at < utcnow():
        raise EnrollmentError("This invite link has expired. Ask the pilot's lead for a new one.")
    return membership


def accept_invite(
    session: so.Session,
    token: str,
    *,
    consent: bool,
    current_user: User | None = None,
    name: str = "",
    email: str | None = None,
    password: str | None = None,
) -> Membership:
    """Turn an invite into an active membership, with consent recorded. Creates the account
    when the invitee has none; otherwise links the logged-in user."""
    membership = find_invite(session, token)
    if not consent:
        raise EnrollmentError("Please agree to having your interactions logged: the pilot cannot include you without it.")
    if membership.role == "participant" and seats_taken(session, membership.pilot) > membership.pilot.max_participants:
        raise EnrollmentError("The pilot is full. Ask the pilot's lead.")
    user = current_user if current_user is not None and current_user.is_authenticated else None
    if user is None:
        if membership.user_id is not None:
            raise EnrollmentError("You already have an account: log in first, then open the invite link again.")
        account_email = membership.email or normalise_email(email or "")
        if find_user_by_email(session, account_email) is not None:
            raise EnrollmentError("An account with this email exists: log in first, then open the invite link again.")
        _claim_invite(session, membership)
        try:
            user = create_user(session, account_email, password or "", name=name)
        except AccountError as error:
            raise EnrollmentError(str(error)) from None
    else:
        if membership.user_id is not None and membership.user_id != user.id:
            raise EnrollmentError("This invite is for another account.")
        if membership.email and membership.email != user.email:
            raise EnrollmentError(f"This invite is for {membership.email}; you are logged in as {user.email}.")
        other = session.scalar(sa.select(Membership).where(
            Membership.pilot_id == membership.pilot_id, Membership.user_id == user.id, Membership.id != membership.id))
        if other is not None:
            raise EnrollmentError("You are already a member of this pilot.")
        _claim_invite(session, membership)
        if name.strip():
            user.name = name.strip()
    membership.user = user
    membership.email = membership.email or user.email
    membership.status = "active"
    membership.consent_at = utcnow()
    membership.invite_token_hash = None  # single use
    audit.record(session, "membership.accept", actor=user, pilot=membership.pilot, target_type="membership",
                 target_id=membership.id, after={"status": "active", "consent_at": membership.consent_at.isoformat()})
    session.flush()
    return membership


def _claim_invite(session: so.Session, membership: Membership) -> None:
    """Take the single-use token in one conditional UPDATE: of two requests racing with the same
    link, the database lets exactly one match (the other waits for it, then matches no row).
    The caller's rollback on a later error gives the token back."""
    claimed = session.execute(
        sa.update(Membership)
        .where(Membership.id == membership.id, Membership.status == "invited",
               Membership.invite_token_hash == membership.invite_token_hash, Membership.invite_token_hash.is_not(None))
        .values(invite_token_hash=None)
        .execution_options(synchronize_session=False)
    ).rowcount
    if claimed != 1:
        raise EnrollmentError("This invite link is not valid or has already been used.")


def set_member_status(session: so.Session, pilot: Pilot, membership_id: int, status: str, actor: User | None) -> Membership:
    """Pause, resume or remove a member of this pilot."""
    membership = scoped(session, Membership, membership_id, pilot)
    if membership is None:
        raise EnrollmentError("No such member in this pilot.")
    allowed = {"paused": {"active"}, "active": {"paused"}, "removed": {"invited", "active", "paused"}}
    if status not in allowed:
        raise EnrollmentError(f"Unknown status '{status}'.")
    if membership.status not in allowed[status]:
        raise EnrollmentError(f"A member who is {membership.status} cannot become {status}.")
    if status == "removed" and membership.role == "lead" and _active_leads(session, pilot) <= 1 and membership.status == "active":
        raise EnrollmentError("A pilot needs at least one lead.")
    audit.record(session, "membership.status", actor=actor, pilot=pilot, target_type="membership",
                 target_id=membership.id, before={"status": membership.status}, after={"status": status})
    membership.status = status
    if status == "removed":
        membership.invite_token_hash = None
    return membership


def _active_leads(session: so.Session, pilot: Pilot) -> int:
    return session.scalar(sa.select(sa.func.count(Membership.id)).where(
        Membership.pilot_id == pilot.id, Membership.role == "lead", Membership.status == "active")) or 0


@dataclass
class ImportResult:
    invites: list[Invite] = field(default_factory=list)
    errors: list[tuple[int, str]] = field(default_factory=list)  # (line number, message)


def import_csv(session: so.Session, pilot: Pilot, text: str, actor: User | None) -> ImportResult:
    """Invite one member per CSV row (columns external_id, email, role); bad rows are reported
    with their line number, good rows are kept."""
    result = ImportResult()
    reader = csv.DictReader(io.StringIO(text))
    fields = {(name or "").strip().lower() for name in (reader.fieldnames or [])}
    if not fields & {"external_id", "email"}:
        result.errors.append((1, "The header must name an external_id or an email column."))
        return result
    for line_number, row in enumerate(reader, start=2):
        if line_number - 1 > CSV_MAX_ROWS:
            result.errors.append((line_number, f"Only the first {CSV_MAX_ROWS} rows are read."))
            break
        row = {(k or "").strip().lower(): (v or "").strip() for k, v in row.items() if isinstance(v, str)}
        if any(has_control_characters(key) or has_control_characters(value) for key, value in row.items()):
            result.errors.append((line_number, "Remove the control character (such as NUL) from this row."))
            continue
        try:
            with session.begin_nested():
                result.invites.append(invite(
                    session, pilot, external_id=row.get("external_id") or None,
                    email=row.get("email") or None, role=row.get("role") or "participant", actor=actor,
                ))
        except EnrollmentError as error:
            result.errors.append((line_number, str(error)))
    return result


@dataclass
class RosterRow:
    membership: Membership
    interactions: int
    feedback: int
    last_active_at: datetime | None


def roster(session: so.Session, pilot: Pilot) -> list[RosterRow]:
    """Every member with activity counts, aggregated in SQL."""
    members = session.scalars(
        sa.select(Membership).where(Membership.pilot_id == pilot.id)
        .options(so.selectinload(Membership.user))
        .order_by(Membership.role.desc(), Membership.external_id)
    ).all()
    usage = dict(
        (ext, (count, last)) for ext, count, last in session.execute(
            sa.select(Interaction.external_user_id, sa.func.count(Interaction.id), sa.func.max(Interaction.occurred_at))
            .where(Interaction.pilot_id == pilot.id)
            .group_by(Interaction.external_user_id)
        )
    )
    feedback_counts = dict(session.execute(
        sa.select(Feedback.membership_id, sa.func.count(Feedback.id))
        .where(Feedback.pilot_id == pilot.id, Feedback.membership_id.is_not(None))
        .group_by(Feedback.membership_id)
    ).all())
    rows = []
    for member in members:
        count, last = usage.get(member.external_id, (0, None))
        candidates = [t for t in (last, member.last_seen_at) if t is not None]
        rows.append(RosterRow(member, count, feedback_counts.get(member.id, 0), max(candidates) if candidates else None))
    return rows
