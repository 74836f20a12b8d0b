"""A participant's own data: their interactions and what they said about them, their data export,
and leaving the pilot (which anonymises them but keeps the pilot's numbers honest)."""
from __future__ import annotations

import secrets
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any, Iterable

import sqlalchemy as sa
from sqlalchemy import orm as so

from pilot import audit
from pilot.access import is_admin
from pilot.metrics import MEMBER
from pilot.models import Feedback, Flag, Interaction, Membership, Report, User
from pilot.models.base import utcnow
from pilot.pagination import Page, paginate

PER_PAGE = 20
REPORTS_SHOWN = 50
LAST_SEEN_EVERY = timedelta(minutes=1)
FOLD_CHARS = 700
FOLD_LINES = 12
PREVIEW_CHARS = 280


class ParticipantError(ValueError):
    """A user-facing reason a participant's request was refused."""


def own_interactions(membership: Membership) -> sa.ColumnElement[bool]:
    """The interactions that are this member's: linked to the membership at ingestion, or sent
    with their external user id (ingestion links the membership only when it knows it)."""
    return sa.and_(
        Interaction.pilot_id == membership.pilot_id,
        sa.or_(Interaction.membership_id == membership.id, Interaction.external_user_id == membership.external_id),
    )


def own_feedback(membership: Membership) -> sa.ColumnElement[bool]:
    """Ratings this member gave, in the app (membership) or through the API/embed (external id)."""
    return sa.and_(
        Feedback.pilot_id == membership.pilot_id,
        sa.or_(Feedback.membership_id == membership.id, Feedback.external_user_id == membership.external_id),
    )


def interactions_page(session: so.Session, membership: Membership, number: int) -> Page[Interaction]:
    """One page of the member's interactions, newest first."""
    statement = (sa.select(Interaction).where(own_interactions(membership))
                 .order_by(Interaction.occurred_at.desc(), Interaction.id.desc()))
    return paginate(session, statement, number, PER_PAGE)


def get_own_interaction(session: so.Session, membership: Membership | None, interaction_id: int) -> Interaction | None:
    """The interaction if it is this member's; None for anyone else's (the caller answers 404,
    so another person's interaction ids reveal nothing)."""
    if membership is None:
        return None
    return session.scalar(sa.select(Interaction).where(Interaction.id == interaction_id, own_interactions(membership)))


def ratings_for(session: so.Session, membership: Membership, interaction_ids: Iterable[int]) -> dict[int, Feedback]:
    """The member's rating of each listed interaction."""
    ids = list(interaction_ids)
    if not ids:
        return {}
    rows = session.scalars(sa.select(Feedback).where(own_feedback(membership), Feedback.interaction_id.in_(ids)))
    return {feedback.interaction_id: feedback for feedback in rows}


def reports_for(session: so.Session, membership: Membership, interaction_ids: Iterable[int]) -> dict[int, list[Report]]:
    """The member's problem reports about each listed interaction."""
    ids = list(interaction_ids)
    found: dict[int, list[Report]] = {}
    if not ids:
        return found
    rows = session.scalars(sa.select(Report).where(Report.membership_id == membership.id,
                                                   Report.interaction_id.in_(ids)).order_by(Report.id))
    for report in rows:
        found.setdefault(report.interaction_id, []).append(report)
    return found


def recent_reports(session: so.Session, membership: Membership, limit: int = REPORTS_SHOWN) -> list[Report]:
    """What the member reported or suggested, newest first, with the team's status on each."""
    return list(session.scalars(
        sa.select(Report).where(Report.membership_id == membership.id)
        .order_by(Report.created_at.desc(), Report.id.desc()).limit(limit)
    ))


def get_own_report(session: so.Session, membership: Membership | None, report_id: int) -> Report | None:
    """The report if this member wrote it."""
    if membership is None:
        return None
    report = session.get(Report, report_id)
    return report if report is not None and report.membership_id == membership.id else None


def touch_last_seen(membership: Membership | None) -> None:
    """Record the visit for the roster's 'last active', at most once a minute."""
    if membership is None:
        return
    now = utcnow()
    if membership.last_seen_at is None or now - membership.last_seen_at > LAST_SEEN_EVERY:
        membership.last_seen_at = now


@dataclass(frozen=True)
class FoldedText:
    """Text to show in full, or folded behind a preview when it is long."""

    text: str
    preview: str | None

    @property
    def folded(self) -> bool:
        return self.preview is not None


def fold(text: str | None) -> FoldedText:
    """Long answers are folded: the preview is the first lines, the whole text one tap away."""
    text = text or ""
    if len(text) <= FOLD_CHARS and text.count("\n") < FOLD_LINES:
        return FoldedText(text, None)
    preview = "\n".join(text[:PREVIEW_CHARS].split("\n")[:6]).rstrip()
    return FoldedText(text, preview + "…")


# --- Export -------------------------------------------------------------------------------

def _iso(value: datetime | None) -> str | None:
    return None if value is None else value.isoformat() + "Z"


def export_data(session: so.Session, membership: Membership) -> dict[str, Any]:
    """Everything Pilot holds about this member in this pilot, as JSON-ready data."""
    user = membership.user
    interactions = session.scalars(sa.select(Interaction).where(own_interactions(membership))
                                   .order_by(Interaction.occurred_at, Interaction.id)).all()
    event_ids = {interaction.id: interaction.event_id for interaction in interactions}
    feedback = session.scalars(sa.select(Feedback).where(own_feedback(membership)).order_by(Feedback.id)).all()
    reports = session.scalars(sa.select(Report).where(Report.membership_id == membership.id).order_by(Report.id)).all()
    return {
        "exported_at": _iso(utcnow()),
        "pilot": {"slug": membership.pilot.slug, "name": membership.pilot.name},
        "account": None if user is None else {"name": user.name, "email": user.email, "created_at": _iso(user.created_at)},
        "membership": {
            "external_id": membership.external_id, "email": membership.email, "role": membership.role,
            "status": membership.status, "consent_at": _iso(membership.consent_at),
            "joined_at": _iso(membership.created_at), "last_seen_at": _iso(membership.last_seen_at),
        },
        "interactions": [_interaction_json(interaction) for interaction in interactions],
        "feedback": [{
            "interaction": event_ids.get(item.interaction_id), "thumbs": item.thumbs, "rating": item.rating,
            "comment": item.comment, "source": item.source,
            "created_at": _iso(item.created_at), "updated_at": _iso(item.updated_at),
        } for item in feedback],
        "reports": [{
            "id": report.id, "kind": report.kind, "type": report.problem_type, "description": report.description,
            "interaction": event_ids.get(report.interaction_id) if report.interaction_id else None,
            "has_screenshot": bool(report.screenshot_path), "status": report.status, "team_note": report.team_note,
            "created_at": _iso(report.created_at), "updated_at": _iso(report.updated_at),
        } for report in reports],
    }


def _interaction_json(interaction: Interaction) -> dict[str, Any]:
    return {
        "id": interaction.event_id, "session": interaction.session_id, "timestamp": _iso(interaction.occurred_at),
        "model": interaction.model, "prompt_version": interaction.prompt_version,
        "input": interaction.input_text, "output": interaction.output_text, "status": interaction.status,
        "error": interaction.error_message, "latency_ms": interaction.latency_ms, "ttft_ms": interaction.ttft_ms,
        "input_tokens": interaction.input_tokens, "cached_input_tokens": interaction.cached_input_tokens,
        "cache_write_input_tokens": interaction.cache_write_input_tokens,
        "output_tokens": interaction.output_tokens, "cost_usd": interaction.cost_usd,
        "metadata": interaction.meta or {},
    }


# --- Leaving ------------------------------------------------------------------------------

@dataclass
class LeaveResult:
    """What leaving changed, and the screenshot files to delete once the change is committed."""

    anonymous_id: str
    interactions: int
    feedback: int
    reports: int
    account_deactivated: bool
    screenshot_paths: list[str] = field(default_factory=list)


def leave_pilot(session: so.Session, membership: Membership) -> LeaveResult:
    """Remove the member's personal details from the pilot and keep its numbers.

    Kept, re-pointed to a random `left-…` id so counts and costs still add up: every numeric and
    categorical column of their interactions (timestamps, model, prompt version, tokens, latency,
    cost, status, lengths), their thumbs and star ratings, and the kind, type and status of their
    reports. Removed: the email, external id and account link of the membership, the text of
    their questions and answers (and its hash, metadata and error messages), flag details quoting
    it, comments, report descriptions and screenshots. The account is deactivated and scrubbed
    when it has no other live membership. (No commit.)
    """
    if membership.role != "participant":
        raise ParticipantError("Only participants can leave from this page; a reviewer or lead should ask another lead.")
    if membership.status == "removed":
        raise ParticipantError("You have already left this pilot.")
    anonymous_id = f"left-{secrets.token_hex(8)}"
    user = membership.user
    interactions = session.execute(
        sa.update(Interaction).where(own_interactions(membership)).values(
            input_text="", output_text="", input_hash=None, error_message=None, meta={},
            external_user_id=anonymous_id, membership_id=membership.id,
        ).execution_options(synchronize_session=False)
    ).rowcount
    # Every one of those interactions now carries membership_id: blank what flags quoted from them.
    session.execute(sa.update(Flag).where(Flag.interaction_id.in_(
        sa.select(Interaction.id).where(Interaction.membership_id == membership.id))).values(detail="")
        .execution_options(synchronize_session=False))
    feedback = session.execute(
        sa.update(Feedback).where(own_feedback(membership)).values(
            comment="", external_user_id=anonymous_id, membership_id=membership.id,
        ).execution_options(synchronize_session=False)
    ).rowcount
    reports = session.scalars(sa.select(Report).where(Report.membership_id == membership.id)).all()
    screenshot_paths = [report.screenshot_path for report in reports if report.screenshot_path]
    for report in reports:
        report.description, report.screenshot_path, report.screenshot_mime = "", None, None
    before = {"status": membership.status}
    membership.status, membership.left_at = "removed", utcnow()
    membership.email, membership.external_id, membership.user = None, anonymous_id, None
    membership.invite_token_hash = None
    deactivated = user is not None and account_closes_on_leaving(session, user, membership)
    if deactivated:
        _scrub_account(user, anonymous_id)
    audit.record(session, "membership.leave", actor=user, pilot=membership.pilot, target_type="membership",
                 target_id=membership.id, before=before,
                 after={"status": "removed", "anonymous_id": anonymous_id, "interactions": interactions,
                        "feedback": feedback, "reports": len(reports), "account_deactivated": deactivated})
    session.flush()
    session.expire_all()
    return LeaveResult(anonymous_id, interactions, feedback, len(reports), deactivated, screenshot_paths)


def account_closes_on_leaving(session: so.Session, user: User, membership: Membership) -> bool:
    """Leaving also closes the account unless the person is an admin or in another pilot."""
    if is_admin(user):
        return False
    others = session.scalar(sa.select(sa.func.count(Membership.id)).where(
        Membership.user_id == user.id, Membership.id != membership.id, MEMBER)) or 0
    return others == 0


def _scrub_account(user: User, anonymous_id: str) -> None:
    """Deactivate the account and erase its name and email."""
    user.is_active_account = False
    user.name = ""
    user.email = f"{anonymous_id}@left.invalid"
    user.set_password(secrets.token_urlsafe(32))  # nobody knows it: the account cannot log in
