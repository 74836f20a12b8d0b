"""The prompt registry's write side: versions, labels, rollout, promotion and rollback.

Versions are immutable once created; their numbers come from max + 1 under the unique
(prompt, number) constraint, retried on a conflict, so concurrent creation never duplicates a
number. Every label move is a PromptEvent (the label history) and an audit event. No commit here:
the caller commits.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Iterable

import sqlalchemy as sa
from sqlalchemy import exc
from sqlalchemy import orm as so

from pilot import audit
from pilot.database import insert_ignoring_conflicts
from pilot.models import Interaction, Pilot, Prompt, PromptEvent, PromptLabel, PromptVersion, User
from pilot.models.base import utcnow
from pilot.models.prompts import LABEL_CANDIDATE, LABEL_PRODUCTION
from pilot.prompts.naming import NAME_PATTERN, gets_candidate, template_key, version_string

MAX_TEMPLATE_BYTES = 100 * 1024
MAX_NOTE_CHARS = 2_000
MAX_MODEL_CHARS = 200
CREATE_ATTEMPTS = 8


class PromptError(ValueError):
    """Bad input, named by field: the view answers 400."""


class TemplateTooLarge(PromptError):
    """A template over 100 KB: the view answers 413."""


class UnknownPrompt(LookupError):
    """No such prompt (or version, or label) in this pilot: the view answers 404."""


def check_name(name: Any, field: str = "name") -> str:
    if not isinstance(name, str) or not NAME_PATTERN.match(name):
        raise PromptError(f"{field}: 1–64 letters, digits, '.', '_' or '-', starting with a letter or digit")
    return name


def check_label(label: Any) -> str:
    return check_name(label, "label")


def check_template(template: Any) -> str:
    if not isinstance(template, str) or not template.strip():
        raise PromptError("template: required text")
    if len(template.encode("utf-8", "surrogatepass")) > MAX_TEMPLATE_BYTES:
        raise TemplateTooLarge(f"template: {len(template.encode('utf-8', 'surrogatepass')):,} bytes, over the "
                               f"{MAX_TEMPLATE_BYTES // 1024} KB limit")
    if "\x00" in template:
        raise PromptError("template: contains a NUL character")
    try:
        template.encode("utf-8")
    except UnicodeEncodeError:
        raise PromptError("template: not valid Unicode (lone surrogate)") from None
    return template


def check_share(value: Any) -> float:
    """A rollout share in percent, 0–100 inclusive."""
    try:
        share = float(str(value).strip().rstrip("%"))
    except (TypeError, ValueError):
        raise PromptError("rollout: a number of percent from 0 to 100") from None
    if not 0 <= share <= 100:  # NaN fails this too
        raise PromptError(f"rollout: {value} is outside 0–100 percent")
    return share


def check_reason(reason: Any) -> str:
    reason = (reason or "").strip() if isinstance(reason, str) else ""
    if not reason:
        raise PromptError("reason: say why (it goes to the label history and the audit log)")
    if len(reason) > MAX_NOTE_CHARS or "\x00" in reason:
        raise PromptError(f"reason: at most {MAX_NOTE_CHARS:,} characters, no NUL")
    return reason


# ---- reading ------------------------------------------------------------------------------

def prompts_of(session: so.Session, pilot: Pilot) -> list[Prompt]:
    return list(session.scalars(sa.select(Prompt).where(Prompt.pilot_id == pilot.id).order_by(Prompt.name)))


def get_prompt(session: so.Session, pilot: Pilot, name: str) -> Prompt:
    prompt = session.scalar(sa.select(Prompt).where(Prompt.pilot_id == pilot.id, Prompt.name == name))
    if prompt is None:
        raise UnknownPrompt(f"No prompt named {name!r} in this pilot.")
    return prompt


def versions_of(session: so.Session, prompt: Prompt) -> list[PromptVersion]:
    """Newest first."""
    return list(session.scalars(
        sa.select(PromptVersion).where(PromptVersion.prompt_id == prompt.id).order_by(PromptVersion.number.desc())))


def get_version(session: so.Session, prompt: Prompt, number: int) -> PromptVersion:
    version = session.scalar(sa.select(PromptVersion).where(PromptVersion.prompt_id == prompt.id,
                                                            PromptVersion.number == number))
    if version is None:
        raise UnknownPrompt(f"Prompt {prompt.name!r} has no version {number}.")
    return version


def labels_of(session: so.Session, prompt: Prompt) -> dict[str, PromptVersion]:
    rows = session.scalars(sa.select(PromptLabel).where(PromptLabel.prompt_id == prompt.id).order_by(PromptLabel.label))
    return {row.label: row.version for row in rows}


def history_of(session: so.Session, prompt: Prompt) -> list[PromptEvent]:
    """Newest first."""
    return list(session.scalars(
        sa.select(PromptEvent).where(PromptEvent.prompt_id == prompt.id)
        .order_by(PromptEvent.created_at.desc(), PromptEvent.id.desc())))


def unregistered_versions(session: so.Session, pilot: Pilot) -> list[PromptVersion]:
    """Version strings interactions named that match no registered version."""
    return list(session.scalars(
        sa.select(PromptVersion).where(PromptVersion.pilot_id == pilot.id, PromptVersion.prompt_id.is_(None))
        .order_by(PromptVersion.version)))


def version_for_template(session: so.Session, pilot: Pilot, template: str) -> PromptVersion | None:
    """The newest registered version with exactly this text (to link OTLP spans that carry the
    template but no `name@N`)."""
    return session.scalar(
        sa.select(PromptVersion).where(PromptVersion.pilot_id == pilot.id, PromptVersion.prompt_id.is_not(None),
                                       PromptVersion.template == template)
        .order_by(PromptVersion.created_at.desc()).limit(1))


def versions_for_templates(session: so.Session, pilot: Pilot, templates: Iterable[str]) -> dict[str, str]:
    """`template_key(text)` → the version string of the newest registered version with exactly that
    text, for every distinct text given: one query for a whole OTLP batch, however many spans carry
    a template. Texts over the template limit cannot be registered and are not looked up."""
    distinct = {template_key(text): text for text in templates if _could_be_registered(text)}
    if not distinct:
        return {}
    rows = session.execute(
        sa.select(PromptVersion.template, PromptVersion.version)
        .where(PromptVersion.pilot_id == pilot.id, PromptVersion.prompt_id.is_not(None),
               PromptVersion.template.in_(sorted(distinct.values())))
        .order_by(PromptVersion.created_at, PromptVersion.id))
    return {template_key(template): version for template, version in rows}  # the newest one wins


def _could_be_registered(text: Any) -> bool:
    """check_template would accept it (so a NUL or a lone surrogate never reaches the database)."""
    try:
        return isinstance(text, str) and len(text) <= MAX_TEMPLATE_BYTES and "\x00" not in text \
            and len(text.encode("utf-8")) <= MAX_TEMPLATE_BYTES and bool(text.strip())
    except UnicodeEncodeError:
        return False


@dataclass(frozen=True)
class Served:
    """The version a user gets and why: the label that chose it."""

    prompt: Prompt
    version: PromptVersion
    label: str


def serve(session: so.Session, pilot: Pilot, name: str, user: str | None) -> Served:
    """production, or the candidate for the user's stable bucket under the rollout share."""
    prompt = get_prompt(session, pilot, name)
    labels = labels_of(session, prompt)
    candidate = labels.get(LABEL_CANDIDATE)
    if candidate is not None and gets_candidate(pilot.slug, prompt.name, user, prompt.rollout_pct):
        return Served(prompt, candidate, LABEL_CANDIDATE)
    production = labels.get(LABEL_PRODUCTION)
    if production is None:
        raise UnknownPrompt(f"Prompt {name!r} has no production version yet: a lead promotes one first.")
    return Served(prompt, production, LABEL_PRODUCTION)


# ---- writing ------------------------------------------------------------------------------

def _event(session: so.Session, prompt: Prompt, kind: str, actor: User | None, *, label: str = "",
           before: PromptVersion | None = None, after: PromptVersion | None = None,
           from_pct: float | None = None, to_pct: float | None = None, reason: str = "") -> PromptEvent:
    event = PromptEvent(pilot_id=prompt.pilot_id, prompt_id=prompt.id, kind=kind, label=label,
                        from_version=before, to_version=after,
                        from_pct=from_pct, to_pct=to_pct, reason=reason,
                        actor_id=getattr(actor, "id", None), created_at=utcnow())
    session.add(event)
    audit.record(session, f"prompt.{kind}", actor=actor, pilot=session.get(Pilot, prompt.pilot_id),
                 target_type="prompt", target_id=prompt.name,
                 before={"label": label, "version": before.version if before else None, "rollout_pct": from_pct},
                 after={"label": label, "version": after.version if after else None, "rollout_pct": to_pct,
                        "reason": reason})
    return event


def ensure_prompt(session: so.Session, pilot: Pilot, name: str) -> Prompt:
    """The prompt of that name, created if new (concurrent first creations are harmless)."""
    check_name(name)
    session.execute(insert_ignoring_conflicts(session, Prompt, ["pilot_id", "name"]),
                    [{"pilot_id": pilot.id, "name": name, "description": "", "rollout_pct": 0.0,
                      "created_at": utcnow()}])
    return get_prompt(session, pilot, name)


def create_version(session: so.Session, pilot: Pilot, name: str, template: Any, *, model: Any = None,
                   params: Any = None, note: Any = "", author: User | None = None) -> PromptVersion:
    """Register the next version of prompt `name` (the prompt is created with its first version).

    The number is max + 1 inside a savepoint; a concurrent creator that took the same number
    makes the insert fail on the unique constraint, and the next attempt reads the new max.
    A version string interactions already named (`name@N`, seen before it was registered) is
    claimed by the new version, so those interactions link to it.
    """
    template = check_template(template)
    if model is not None and (not isinstance(model, str) or len(model) > MAX_MODEL_CHARS or "\x00" in model):
        raise PromptError(f"model: text of at most {MAX_MODEL_CHARS} characters")
    if params is not None and not isinstance(params, dict):
        raise PromptError("params: an object of model parameters (temperature, max_tokens, …)")
    if not isinstance(note, str) or len(note) > MAX_NOTE_CHARS or "\x00" in note:
        raise PromptError(f"note: text of at most {MAX_NOTE_CHARS:,} characters")
    prompt = ensure_prompt(session, pilot, name)
    for _ in range(CREATE_ATTEMPTS):
        try:
            with session.begin_nested():
                number = (session.scalar(sa.select(sa.func.max(PromptVersion.number))
                                         .where(PromptVersion.prompt_id == prompt.id)) or 0) + 1
                values = {"prompt_id": prompt.id, "number": number, "template": template, "model": model or None,
                          "params": params, "description": note, "author_id": getattr(author, "id", None),
                          "created_at": utcnow()}
                string = version_string(prompt.name, number)
                claimed = session.execute(
                    sa.update(PromptVersion)
                    .where(PromptVersion.pilot_id == pilot.id, PromptVersion.version == string,
                           PromptVersion.prompt_id.is_(None))
                    .values(**values).execution_options(synchronize_session=False)).rowcount
                if not claimed:
                    session.execute(sa.insert(PromptVersion).values(pilot_id=pilot.id, version=string,
                                                                    first_seen_at=values["created_at"], **values))
        except exc.IntegrityError:
            continue
        version = get_version(session, prompt, number)
        _event(session, prompt, "created", author, after=version, reason=note)
        return version
    raise PromptError(f"name: could not number a new version of {name!r} after {CREATE_ATTEMPTS} tries; retry")


def _set_label(session: so.Session, prompt: Prompt, label: str, version: PromptVersion | None) -> PromptVersion | None:
    """Point `label` at `version` (None removes it); returns where it pointed before."""
    row = session.scalar(sa.select(PromptLabel).where(PromptLabel.prompt_id == prompt.id, PromptLabel.label == label)
                         .with_for_update())
    before = row.version if row else None
    if version is None:
        if row is not None:
            session.delete(row)
    elif row is None:
        session.add(PromptLabel(prompt_id=prompt.id, label=label, version=version, updated_at=utcnow()))
    else:
        row.version, row.updated_at = version, utcnow()
    session.flush()
    return before


def move_label(session: so.Session, prompt: Prompt, label: str, version: PromptVersion, actor: User | None,
               reason: str = "") -> PromptEvent:
    """Point any label at a version of this prompt, recorded in the label history."""
    label = check_label(label)
    if version.prompt_id != prompt.id:
        raise PromptError("version: belongs to another prompt")
    before = _set_label(session, prompt, label, version)
    return _event(session, prompt, "label", actor, label=label, before=before, after=version, reason=reason)


def promote(session: so.Session, prompt: Prompt, actor: User | None, reason: Any) -> PromptEvent:
    """The candidate becomes production for everyone; the candidate label and share are cleared."""
    reason = check_reason(reason)
    candidate = labels_of(session, prompt).get(LABEL_CANDIDATE)
    if candidate is None:
        raise PromptError("candidate: this prompt has no candidate to promote")
    before = _set_label(session, prompt, LABEL_PRODUCTION, candidate)
    _set_label(session, prompt, LABEL_CANDIDATE, None)
    from_pct, prompt.rollout_pct = prompt.rollout_pct, 0.0
    return _event(session, prompt, "promote", actor, label=LABEL_PRODUCTION, before=before, after=candidate,
                  from_pct=from_pct, to_pct=0.0, reason=reason)


def rollback_target(session: so.Session, prompt: Prompt) -> PromptVersion | None:
    """The version production pointed to before it was last moved forward to where it is now.

    Moves that were themselves rollbacks do not count, so rolling back twice never re-applies the
    version the first rollback removed: after a rollback, only a promotion enables it again."""
    current = labels_of(session, prompt).get(LABEL_PRODUCTION)
    if current is None:
        return None
    event = session.scalar(
        sa.select(PromptEvent).where(PromptEvent.prompt_id == prompt.id, PromptEvent.label == LABEL_PRODUCTION,
                                     PromptEvent.kind != "rollback",
                                     PromptEvent.to_version_id == current.id, PromptEvent.from_version_id.is_not(None))
        .order_by(PromptEvent.created_at.desc(), PromptEvent.id.desc()).limit(1))
    return event.from_version if event else None


def rollback(session: so.Session, prompt: Prompt, actor: User | None, reason: Any) -> PromptEvent:
    """Move production back to the version it replaced, and stop any candidate rollout at once."""
    reason = check_reason(reason)
    target = rollback_target(session, prompt)
    if target is None:
        raise PromptError("production: nothing to roll back to (production was never moved from another version)")
    before = _set_label(session, prompt, LABEL_PRODUCTION, target)
    from_pct, prompt.rollout_pct = prompt.rollout_pct, 0.0
    return _event(session, prompt, "rollback", actor, label=LABEL_PRODUCTION, before=before, after=target,
                  from_pct=from_pct, to_pct=0.0, reason=reason)


def set_rollout(session: so.Session, prompt: Prompt, share: Any, actor: User | None, reason: Any = "") -> PromptEvent:
    """Serve the candidate to `share` percent of users (stable buckets: raising it only adds users)."""
    share = check_share(share)
    if share > 0 and LABEL_CANDIDATE not in labels_of(session, prompt):
        raise PromptError("rollout: label a version `candidate` before rolling it out")
    from_pct, prompt.rollout_pct = prompt.rollout_pct, share
    candidate = labels_of(session, prompt).get(LABEL_CANDIDATE)
    return _event(session, prompt, "rollout", actor, label=LABEL_CANDIDATE, before=candidate, after=candidate,
                  from_pct=from_pct, to_pct=share, reason=reason if isinstance(reason, str) else "")


def version_counts(session: so.Session, pilot: Pilot) -> dict[int, int]:
    """Registered versions per prompt id (one GROUP BY)."""
    return dict(session.execute(
        sa.select(PromptVersion.prompt_id, sa.func.count(PromptVersion.id))
        .where(PromptVersion.pilot_id == pilot.id, PromptVersion.prompt_id.is_not(None))
        .group_by(PromptVersion.prompt_id)).all())


def traffic_of(session: so.Session, pilot: Pilot, versions: list[str]) -> dict[str, int]:
    """Interactions per version string (one GROUP BY)."""
    if not versions:
        return {}
    return dict(session.execute(
        sa.select(Interaction.prompt_version, sa.func.count(Interaction.id))
        .where(Interaction.pilot_id == pilot.id, Interaction.prompt_version.in_(versions))
        .group_by(Interaction.prompt_version)).all())


def registered_version(session: so.Session, pilot: Pilot, prompt_version: str) -> PromptVersion | None:
    """The registered version an interaction's `prompt_version` string names, if any."""
    return session.scalar(sa.select(PromptVersion).where(
        PromptVersion.pilot_id == pilot.id, PromptVersion.version == prompt_version, PromptVersion.prompt_id.is_not(None)))
