"""The invite email (sent by the worker; the link also stays on screen to copy)."""
from __future__ import annotations

from typing import Mapping

from sqlalchemy import orm as so

from pilot.mail import send_email
from pilot.models import Membership
from pilot.models.base import utcnow


def send_invite(session: so.Session, membership_id: int, url: str, config: Mapping) -> bool:
    """Email the link to an invited member and stamp `invite_emailed_at` (commits); False when the
    invite is no longer open (accepted, removed or re-issued since: its link would not work)."""
    membership = session.get(Membership, membership_id)
    if membership is None or membership.status != "invited" or not membership.email:
        return False
    pilot = membership.pilot
    expires = membership.invite_expires_at.strftime("%Y-%m-%d %H:%M UTC") if membership.invite_expires_at else "soon"
    body = (f"You are invited to take part in the pilot \"{pilot.name}\" as {membership.role}.\n\n"
            f"Open this link to join (it works once and expires {expires}):\n{url}\n\n"
            "If you did not expect this invitation, ignore this email.\n")
    send_email(config, [membership.email], f"Invitation to the {pilot.name} pilot", body)
    membership.invite_emailed_at = utcnow()
    session.commit()
    return True
