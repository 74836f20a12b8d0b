"""Plain functions that build test data through the services, as a user would."""
from __future__ import annotations

from dataclasses import dataclass

from pilot.auth.services import create_user
from pilot.extensions import db
from pilot.models import Membership, Pilot, User
from pilot.models.base import utcnow
from pilot.pilots.services import create_pilot

PASSWORD = "correct horse battery"


def make_user(email: str, *, admin: bool = False, name: str = "") -> User:
    user = create_user(db.session, email, PASSWORD, name=name or email.split("@")[0], is_admin=admin)
    db.session.commit()
    return user


def make_pilot(slug: str, lead: User, **settings) -> Pilot:
    pilot = create_pilot(db.session, slug, slug.replace("-", " ").title(), lead)
    for name, value in settings.items():
        setattr(pilot, name, value)
    db.session.commit()
    return pilot


def add_member(pilot: Pilot, user: User | None, role: str = "participant", *, external_id: str | None = None,
               status: str = "active") -> Membership:
    """An accepted (consented) membership, skipping the invite step."""
    membership = Membership(pilot=pilot, user=user, role=role, status=status,
                            external_id=external_id or (user.email if user else "anon"),
                            email=user.email if user else None, consent_at=utcnow())
    db.session.add(membership)
    db.session.commit()
    return membership


@dataclass
class World:
    """Two pilots and one person per role: the cast of the access tests."""

    admin: User
    lead: User
    reviewer: User
    participant: User
    other_participant: User
    other_lead: User
    pilot: Pilot
    other_pilot: Pilot
    participant_membership: Membership
    other_participant_membership: Membership


def make_world() -> World:
    admin = make_user("admin@example.com", admin=True)
    lead = make_user("lead@example.com")
    reviewer = make_user("reviewer@example.com")
    participant = make_user("participant@example.com")
    other_participant = make_user("participant2@example.com")
    other_lead = make_user("other-lead@example.com")
    pilot = make_pilot("alpha", lead)
    other_pilot = make_pilot("beta", other_lead)
    add_member(pilot, reviewer, "reviewer")
    participant_membership = add_member(pilot, participant, external_id="user-1")
    other_participant_membership = add_member(pilot, other_participant, external_id="user-2")
    return World(admin, lead, reviewer, participant, other_participant, other_lead, pilot, other_pilot,
                 participant_membership, other_participant_membership)
