"""What pilot users tell the team, shared by the API, the participant pages and the embed widget:
ratings of interactions, problem reports (with a checked screenshot) and general feedback."""
from __future__ import annotations

import secrets
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Mapping

import sqlalchemy as sa
from sqlalchemy import orm as so

from pilot import audit, flagging, metrics
from pilot.access import belongs_to, scoped
from pilot.models import Feedback, Interaction, Membership, Pilot, Report, User
from pilot.models.base import utcnow
from pilot.models.feedback import PROBLEM_TYPES, REPORT_STATUSES

MAX_COMMENT_CHARS = 5_000


def without_nul(text: str) -> str:
    """Free text minus NUL characters, which PostgreSQL text columns cannot hold (and no person types)."""
    return text.replace("\x00", "")


class FeedbackError(ValueError):
    """A rating that cannot be accepted; the message names the field."""


def validate_rating(thumbs: Any, rating: Any, comment: Any) -> tuple[str | None, int | None, str]:
    """Check the user-supplied parts of a rating; at least thumbs or rating is needed."""
    if thumbs is not None and thumbs not in ("up", "down"):
        raise FeedbackError("thumbs must be 'up' or 'down'")
    if rating is not None:
        if isinstance(rating, bool) or not isinstance(rating, int) or not 1 <= rating <= 5:
            raise FeedbackError("rating must be a whole number from 1 to 5")
    if thumbs is None and rating is None:
        raise FeedbackError("give thumbs ('up'/'down') or a rating (1-5)")
    comment = "" if comment is None else comment
    if not isinstance(comment, str):
        raise FeedbackError("comment must be a string")
    comment = without_nul(comment)
    if len(comment) > MAX_COMMENT_CHARS:
        raise FeedbackError(f"comment must be at most {MAX_COMMENT_CHARS:,} characters")
    return thumbs, rating, comment


def parse_form_rating(values: Mapping[str, str]) -> tuple[str | None, Any, str]:
    """Thumbs, rating and comment from an HTML form (strings; empty means not given). A rating
    that is not a whole number is passed on as it came, so validate_rating() names it."""
    thumbs = values.get("thumbs") or None
    raw_rating = (values.get("rating") or "").strip()
    try:
        rating: Any = int(raw_rating) if raw_rating else None
    except ValueError:
        rating = raw_rating
    return thumbs, rating, values.get("comment") or ""


def record_feedback(
    session: so.Session,
    pilot: Pilot,
    interaction: Interaction,
    *,
    thumbs: str | None,
    rating: int | None,
    comment: str = "",
    external_user_id: str | None = None,
    membership: Membership | None = None,
    source: str = "api",
) -> Feedback:
    """One rating per person per interaction: rating again changes it (no commit)."""
    if not belongs_to(interaction, pilot):
        raise FeedbackError("interaction not found in this pilot")
    thumbs, rating, comment = validate_rating(thumbs, rating, comment)
    if membership is not None:
        external_user_id = external_user_id or membership.external_id
    who = Feedback.membership_id == membership.id if membership is not None else (
        Feedback.external_user_id == external_user_id if external_user_id else Feedback.id.is_(None)
    )
    feedback = session.scalar(sa.select(Feedback).where(Feedback.interaction_id == interaction.id, who))
    if feedback is None:
        feedback = Feedback(pilot_id=pilot.id, interaction_id=interaction.id, source=source,
                            membership_id=membership.id if membership else None, external_user_id=external_user_id)
        session.add(feedback)
    feedback.thumbs, feedback.rating, feedback.comment = thumbs, rating, comment
    feedback.updated_at = utcnow()
    session.flush()
    flagging.evaluate_feedback(session, pilot, feedback)
    return feedback


def is_negative(feedback: Feedback) -> bool:
    """docs/design.md: negative = thumbs down or rating ≤ 2."""
    return metrics.is_negative(feedback.thumbs, feedback.rating)


def is_positive(feedback: Feedback) -> bool:
    """docs/design.md: positive = thumbs up or rating ≥ 4."""
    return metrics.is_positive(feedback.thumbs, feedback.rating)


# --- Problem reports and general feedback -------------------------------------------------

MAX_REPORT_CHARS = 5_000
MAX_TEAM_NOTE_CHARS = 2_000
GENERAL_KINDS = ("issue", "idea", "praise")
PROBLEM_TYPE_LABELS = {
    "wrong_answer": "Wrong answer",
    "harmful": "Harmful or unsafe",
    "too_slow": "Too slow",
    "not_understood": "Didn't understand me",
    "other": "Something else",
}
KIND_LABELS = {"problem": "Problem", "issue": "Issue", "idea": "Idea", "praise": "Praise"}
STATUS_LABELS = {
    "new": "New: not looked at yet",
    "acknowledged": "Acknowledged: the team is on it",
    "fixed": "Fixed",
    "wont_fix": "Won't fix",
}
# What a screenshot's first bytes must be; the extension and the browser's mimetype are not trusted.
IMAGE_SIGNATURES = (
    ("image/png", "png", lambda head: head.startswith(b"\x89PNG\r\n\x1a\n")),
    ("image/jpeg", "jpg", lambda head: head.startswith(b"\xff\xd8\xff")),
    ("image/webp", "webp", lambda head: head[:4] == b"RIFF" and head[8:12] == b"WEBP"),
)
MIME_EXTENSIONS = {mime: extension for mime, extension, _ in IMAGE_SIGNATURES}


class ReportError(ValueError):
    """A report that cannot be accepted; each message names its field."""

    def __init__(self, *messages: str) -> None:
        super().__init__("; ".join(messages))
        self.messages = list(messages)


@dataclass(frozen=True)
class Screenshot:
    """An uploaded image that passed the checks, not yet written to disk."""

    data: bytes
    mime: str


def check_screenshot(data: bytes, max_bytes: int) -> Screenshot:
    """Accept PNG, JPEG or WebP by their magic bytes, up to `max_bytes`."""
    if len(data) > max_bytes:
        raise ReportError(f"screenshot: the file is larger than {max_bytes / 1_048_576:g} MB; "
                          "please send a smaller image (crop it, or save it as JPEG)")
    if not data:
        raise ReportError("screenshot: the file is empty")
    for mime, _, matches in IMAGE_SIGNATURES:
        if matches(data[:16]):
            return Screenshot(data, mime)
    raise ReportError("screenshot: only PNG, JPEG or WebP images are accepted")


def store_screenshot(upload_dir: str | Path, pilot: Pilot, screenshot: Screenshot) -> str:
    """Write the image under a random name (never the user's file name) in the pilot's folder;
    return its path relative to `upload_dir`, which is what the report keeps."""
    folder = Path(upload_dir) / str(pilot.id)
    folder.mkdir(parents=True, exist_ok=True)
    relative = f"{pilot.id}/{secrets.token_hex(16)}.{MIME_EXTENSIONS[screenshot.mime]}"
    path = Path(upload_dir) / relative
    with open(path, "xb") as handle:  # "x": never overwrite an existing file
        handle.write(screenshot.data)
    path.chmod(0o600)
    return relative


def stored_file(upload_dir: str | Path, relative_path: str | None) -> Path | None:
    """A stored upload, resolved inside `upload_dir` only (None when missing or outside it)."""
    if not relative_path:
        return None
    base = Path(upload_dir).resolve()
    path = (base / relative_path).resolve()
    if base not in path.parents or not path.is_file():
        return None
    return path


def screenshot_file(upload_dir: str | Path, report: Report) -> Path | None:
    """The stored image of a report, if it has one."""
    return stored_file(upload_dir, report.screenshot_path)


def delete_stored_file(upload_dir: str | Path, relative_path: str | None) -> None:
    """Remove an upload from disk (used when a participant leaves, after the commit)."""
    path = stored_file(upload_dir, relative_path)
    if path is not None:
        path.unlink(missing_ok=True)


def report_problems(kind: Any, problem_type: Any, description: Any) -> list[str]:
    """Every reason the report's own fields are not acceptable (empty when they are)."""
    problems = []
    if kind == "problem" and problem_type not in PROBLEM_TYPES:
        problems.append("type: choose what went wrong (" + ", ".join(PROBLEM_TYPE_LABELS.values()) + ")")
    elif kind != "problem" and kind not in GENERAL_KINDS:
        problems.append("kind: choose issue, idea or praise")
    if isinstance(description, str):
        description = without_nul(description)
    if not isinstance(description, str) or not description.strip():
        problems.append("description: please say what happened" if kind == "problem" else "description: please write a few words")
    elif len(description.strip()) > MAX_REPORT_CHARS:
        problems.append(f"description: at most {MAX_REPORT_CHARS:,} characters (yours has {len(description.strip()):,})")
    return problems


def create_report(
    session: so.Session,
    pilot: Pilot,
    membership: Membership | None,
    *,
    kind: str,
    description: Any,
    problem_type: str | None = None,
    interaction: Interaction | None = None,
    screenshot_path: str | None = None,
    screenshot_mime: str | None = None,
) -> Report:
    """A problem report (kind 'problem', with a type, maybe about one interaction) or general
    feedback (issue, idea, praise). Validates everything before adding it (no commit)."""
    problems = report_problems(kind, problem_type, description)
    if problems:
        raise ReportError(*problems)
    if interaction is not None and not belongs_to(interaction, pilot):
        raise ReportError("interaction: not found in this pilot")
    if kind != "problem":
        problem_type, interaction = None, None
    report = Report(
        pilot_id=pilot.id, membership_id=membership.id if membership is not None else None, kind=kind,
        problem_type=problem_type, description=without_nul(description).strip(),
        interaction_id=interaction.id if interaction is not None else None,
        screenshot_path=screenshot_path, screenshot_mime=screenshot_mime, status="new",
    )
    session.add(report)
    session.flush()
    flagging.flag_participant_report(session, pilot, report)
    return report


def submit_report(
    session: so.Session,
    pilot: Pilot,
    membership: Membership | None,
    *,
    kind: str,
    description: Any,
    problem_type: str | None = None,
    interaction: Interaction | None = None,
    screenshot_data: bytes | None = None,
    upload_dir: str | Path | None = None,
    max_bytes: int = 5 * 1024 * 1024,
) -> Report:
    """Check the whole report, screenshot included, and say everything that is wrong at once;
    only a report that passes is stored, with its image under a random name (no commit)."""
    problems = report_problems(kind, problem_type, description)
    screenshot = None
    if screenshot_data is not None:
        try:
            screenshot = check_screenshot(screenshot_data, max_bytes)
        except ReportError as error:
            problems.extend(error.messages)
    if problems:
        raise ReportError(*problems)
    path = None
    if screenshot is not None:
        if upload_dir is None:
            raise ValueError("upload_dir is needed to store a screenshot")
        path = store_screenshot(upload_dir, pilot, screenshot)
    return create_report(session, pilot, membership, kind=kind, description=description, problem_type=problem_type,
                         interaction=interaction, screenshot_path=path,
                         screenshot_mime=screenshot.mime if screenshot else None)


def set_report_status(
    session: so.Session, pilot: Pilot, report_id: int, status: Any, note: Any, actor: User | None
) -> Report:
    """The team's answer to a report: a status the participant sees, with an optional note to
    them. Audited (no commit)."""
    report = scoped(session, Report, report_id, pilot)
    if report is None:
        raise ReportError("report: not found in this pilot")
    if status not in REPORT_STATUSES:
        raise ReportError("status: choose " + ", ".join(REPORT_STATUSES))
    note = "" if note is None else note
    if not isinstance(note, str):
        raise ReportError("note: must be text")
    note = without_nul(note).strip()
    if len(note) > MAX_TEAM_NOTE_CHARS:
        raise ReportError(f"note: at most {MAX_TEAM_NOTE_CHARS:,} characters")
    before = {"status": report.status, "team_note": report.team_note}
    report.status, report.team_note = status, note
    audit.record(session, "report.status", actor=actor, pilot=pilot, target_type="report", target_id=report.id,
                 before=before, after={"status": status, "team_note": note})
    return report
