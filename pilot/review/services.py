"""The review queue: finding flags, deciding them, and the audit trail of every decision.

Decisions: confirm (category, severity, note), dismiss as a false positive, escalate to a
lead, reopen; plus assignment to a reviewer. A confirm or dismiss taken in a bulk action is
recorded as such (`decided_in_bulk`, and in the audit event): it closes the flag, but the
readiness checklist does not count it as a human review, since nobody opened the item. A flag escalated to a lead can only be decided
by a lead (or an admin). Every decision writes an audit event with before and after.
Nothing here commits.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa
from sqlalchemy import orm as so

from pilot import audit
from pilot.access import may_decide
from pilot.flagging.reasons import REASONS
from pilot.models import AuditEvent, Feedback, Flag, Interaction, Membership, Pilot, User
from pilot.models.base import utcnow
from pilot.models.flags import FLAG_CATEGORIES, SEVERITIES
from pilot.pagination import CursorPage, after_cursor

MAX_NOTE_CHARS = 5_000
MAX_BULK = 500
MAX_FILTER_BULK = 5_000  # "all flags matching this filter": a bigger set needs a narrower filter
BULK_ACTIONS = ("confirm", "dismiss", "escalate", "assign_me", "unassign")
API_PAGE_DEFAULT = 100  # flags per page of GET /api/v1/pilots/<slug>/flags (design.md "HTTP API")
API_PAGE_MAX = 500


class ReviewError(ValueError):
    """A decision that cannot be taken; the message says why (and names the field)."""


class NotAllowed(ReviewError):
    """The actor may not take this decision (an escalated flag needs a lead)."""


def suggested_category(flag: Flag) -> str:
    """The category a confirm pre-selects: the reason's, except a participant's report of harm → unsafe."""
    if flag.reason == "participant_report" and flag.severity == "high":
        return "unsafe"
    return REASONS[flag.reason].category if flag.reason in REASONS else "other"


def confirm(session: so.Session, flag: Flag, actor: User, *, category: str, severity: str | None = None,
            note: str = "", actor_is_lead: bool, in_bulk: bool = False) -> Flag:
    """A real problem: record its category, severity and a note."""
    if category not in FLAG_CATEGORIES:
        raise ReviewError(f"category must be one of {', '.join(FLAG_CATEGORIES)}")
    severity = severity or flag.severity
    if severity not in SEVERITIES:
        raise ReviewError(f"severity must be one of {', '.join(SEVERITIES)}")
    return _decide(session, flag, actor, "confirm", actor_is_lead, status="confirmed", category=category,
                   severity=severity, note=_check_note(note), escalated=False, decided_in_bulk=in_bulk)


def dismiss(session: so.Session, flag: Flag, actor: User, *, note: str = "", actor_is_lead: bool,
            in_bulk: bool = False) -> Flag:
    """A false positive: nothing wrong with the interaction."""
    return _decide(session, flag, actor, "dismiss", actor_is_lead, status="dismissed", category=None,
                   note=_check_note(note), escalated=False, decided_in_bulk=in_bulk)


def escalate(session: so.Session, flag: Flag, actor: User, *, note: str = "") -> Flag:
    """Hand the flag to a lead; it stays open and shows up in the leads' escalated view. Any
    reviewer may escalate, an escalated flag included, so no lead right is asked for."""
    return _decide(session, flag, actor, "escalate", True, status="open", escalated=True,
                   note=_check_note(note) or flag.note, record_reviewer=False)


def reopen(session: so.Session, flag: Flag, actor: User, *, actor_is_lead: bool) -> Flag:
    """Undo a decision: the flag is open again. Its note is kept and the reopener is recorded,
    so a re-flag treats it as worked on and never deletes it."""
    return _decide(session, flag, actor, "reopen", actor_is_lead, status="open", category=None,
                   decided_in_bulk=False)


def assign(session: so.Session, pilot: Pilot, flag: Flag, actor: User, assignee: User | None) -> Flag:
    """Give the flag to a reviewer or lead of this pilot (None: nobody)."""
    if assignee is not None and not is_team_member(session, pilot, assignee):
        raise ReviewError(f"assignee: {NOT_ASSIGNABLE}")
    before = _snapshot(flag)
    flag.assignee_id = assignee.id if assignee else None
    flag.updated_at = utcnow()
    audit.record(session, "flag.assign", actor=actor, pilot=pilot, target_type="flag", target_id=flag.id,
                 before=before, after=_snapshot(flag))
    return flag


@dataclass
class BulkResult:
    done: int = 0
    skipped_escalated: int = 0
    not_found: int = 0

    def message(self, action: str) -> str:
        text = f"{action.replace('_', ' ')}: {self.done} flag(s)."
        if self.skipped_escalated:
            text += f" {self.skipped_escalated} escalated flag(s) skipped: only a lead can decide them."
        if self.not_found:
            text += f" {self.not_found} flag(s) not found in this pilot."
        return text


def bulk(session: so.Session, pilot: Pilot, flag_ids: list[int], action: str, actor: User, *,
         actor_is_lead: bool, category: str = "other", severity: str | None = None, note: str = "") -> BulkResult:
    """Apply one action to many flags of *this* pilot; ids of other pilots count as not found."""
    if action not in BULK_ACTIONS:
        raise ReviewError(f"action must be one of {', '.join(BULK_ACTIONS)}")
    ids = sorted(set(flag_ids))
    if not ids:
        raise ReviewError("select at least one flag")
    if len(ids) > MAX_BULK:
        raise ReviewError(f"at most {MAX_BULK} flags at once")
    flags = session.scalars(sa.select(Flag).where(Flag.pilot_id == pilot.id, Flag.id.in_(ids))).all()
    result = BulkResult(not_found=len(ids) - len(flags))
    for flag in flags:
        if action in ("confirm", "dismiss", "escalate") and not may_decide(flag, actor_is_lead):
            result.skipped_escalated += 1
            continue
        if action == "confirm":
            confirm(session, flag, actor, category=category, severity=severity, note=note, actor_is_lead=actor_is_lead,
                    in_bulk=True)
        elif action == "dismiss":
            dismiss(session, flag, actor, note=note, actor_is_lead=actor_is_lead, in_bulk=True)
        elif action == "escalate":
            escalate(session, flag, actor, note=note)
        elif action == "assign_me":
            assign(session, pilot, flag, actor, actor)
        else:
            assign(session, pilot, flag, actor, None)
        result.done += 1
    return result


def bulk_matching(session: so.Session, pilot: Pilot, flag_ids: list[int], expected: int, action: str, actor: User, *,
                  actor_is_lead: bool, category: str = "other", severity: str | None = None,
                  note: str = "") -> BulkResult:
    """Apply one action to every flag a filter matches (`flag_ids`, across pages). `expected` is the
    count the reviewer confirmed: if the filter now matches a different number, nothing is done."""
    if len(flag_ids) > MAX_FILTER_BULK:
        raise ReviewError(f"the filter matches more than {MAX_FILTER_BULK:,} flags: narrow it first")
    if len(flag_ids) != expected:
        raise ReviewError(f"the filter now matches {len(flag_ids):,} flags, not the {expected:,} you confirmed: "
                          "nothing was changed; look at the queue again")
    total = BulkResult()
    for start in range(0, len(flag_ids), MAX_BULK):
        part = bulk(session, pilot, flag_ids[start:start + MAX_BULK], action, actor, actor_is_lead=actor_is_lead,
                    category=category, severity=severity, note=note)
        total.done += part.done
        total.skipped_escalated += part.skipped_escalated
        total.not_found += part.not_found
    return total


def team_members(session: so.Session, pilot: Pilot) -> list[User]:
    """Active reviewers and leads of the pilot: the people a flag can be assigned to."""
    return list(session.scalars(
        sa.select(User).join(Membership, Membership.user_id == User.id)
        .where(Membership.pilot_id == pilot.id, Membership.status == "active",
               Membership.role.in_(("reviewer", "lead")))
        .order_by(User.name, User.email)
    ))


NOT_ASSIGNABLE = "choose a reviewer or lead of this pilot"  # one answer, so it tells nothing about other ids


def is_team_member(session: so.Session, pilot: Pilot, user: User) -> bool:
    """Only active reviewers and leads of *this* pilot: an admin who is not a member is not one."""
    return any(member.id == user.id for member in team_members(session, pilot))


def assignable_user(session: so.Session, pilot: Pilot, user_id: int | None) -> User | None:
    """The team member with this id, or None for any other id, existing or not."""
    if user_id is None:
        return None
    return next((member for member in team_members(session, pilot) if member.id == user_id), None)


def _snapshot(flag: Flag) -> dict[str, Any]:
    return {"status": flag.status, "category": flag.category, "severity": flag.severity, "note": flag.note,
            "escalated": flag.escalated, "assignee_id": flag.assignee_id, "in_bulk": bool(flag.decided_in_bulk)}


def _check_note(note: str | None) -> str:
    note = (note or "").replace("\x00", "").strip()
    if len(note) > MAX_NOTE_CHARS:
        raise ReviewError(f"note must be at most {MAX_NOTE_CHARS:,} characters")
    return note


def _decide(session: so.Session, flag: Flag, actor: User, action: str, actor_is_lead: bool, *,
            record_reviewer: bool = True, **changes: Any) -> Flag:
    """Apply a decision's changes, stamp who and when, and audit before/after."""
    if not may_decide(flag, actor_is_lead):
        raise NotAllowed("This flag was escalated to a lead; only a lead can decide it.")
    before = _snapshot(flag)
    for name, value in changes.items():
        setattr(flag, name, value)
    now = utcnow()
    flag.updated_at = now
    if record_reviewer:
        flag.reviewer_id, flag.reviewed_at = actor.id, now
    pilot = session.get(Pilot, flag.pilot_id)
    audit.record(session, f"flag.{action}", actor=actor, pilot=pilot, target_type="flag", target_id=flag.id,
                 before=before, after=_snapshot(flag))
    return flag


def api_flags(session: so.Session, pilot: Pilot, filters: dict[str, str], after: int | None,
              limit: int) -> CursorPage[dict[str, Any]]:
    """One page of the flags API (docs/design.md "HTTP API"): flags after id `after`, in id order,
    matching `filters` (column name → value, already validated)."""
    columns = {"status": Flag.status, "reason": Flag.reason, "kind": Flag.kind, "severity": Flag.severity}
    statement = (
        sa.select(Flag.id, Interaction.event_id, Flag.kind, Flag.reason, Flag.severity, Flag.status)
        .join(Interaction, Interaction.id == Flag.interaction_id)
        .where(Flag.pilot_id == pilot.id, *(columns[name] == value for name, value in filters.items()))
    )
    page = after_cursor(session, statement, Flag.id, after, limit)
    page.items = [{"id": row.id, "interaction": row.event_id, "kind": row.kind, "reason": row.reason,
                   "severity": row.severity, "status": row.status} for row in page.items]
    return page


@dataclass
class FlagDetail:
    """What the flag's page shows beside the flag: the interaction's other flags, its feedback, the
    flag's decision history."""

    sibling_flags: list[Flag]
    feedback: list[Feedback]
    history: list[AuditEvent]


def flag_detail(session: so.Session, pilot: Pilot, flag: Flag) -> FlagDetail:
    return FlagDetail(
        sibling_flags=list(session.scalars(sa.select(Flag).where(
            Flag.interaction_id == flag.interaction_id, Flag.id != flag.id).order_by(Flag.id))),
        feedback=list(session.scalars(sa.select(Feedback).where(
            Feedback.interaction_id == flag.interaction_id).order_by(Feedback.created_at))),
        history=list(session.scalars(sa.select(AuditEvent).where(
            AuditEvent.pilot_id == pilot.id, AuditEvent.target_type == "flag", AuditEvent.target_id == str(flag.id)
        ).order_by(AuditEvent.id))),
    )
