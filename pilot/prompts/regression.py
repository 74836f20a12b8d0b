"""A prompt's regression set: real inputs to replay offline against a new version, and the verdicts.

Built from one version's traffic: every input behind a confirmed failure, plus a sample
stratified by topic (the review queue's TF-IDF grouping of inputs), so rare topics are in it
too. Teams export it (pilot.prompts.exports), replay it against the new version, and import a
JSONL of `{"id": <interaction id>, "output": <new output>}`; reviewers then mark each pair
better / same / worse. Bad lines are reported by line and field and the good ones are kept.
"""
from __future__ import annotations

import json
import random
from collections import defaultdict
from dataclasses import dataclass, field
from typing import Any

import sqlalchemy as sa
from sqlalchemy import orm as so

from pilot import audit
from pilot.database import insert_ignoring_conflicts
from pilot.models import Flag, Interaction, Pilot, Prompt, RegressionItem, User
from pilot.models.base import utcnow
from pilot.models.prompts import REGRESSION_VERDICTS
from pilot.review.grouping import MAX_TEXT_CHARS, TOPIC_DISTANCE, group_texts, top_terms

DEFAULT_SIZE = 100
MAX_SIZE = 1_000
POOL = 5_000  # the latest interactions of the version that the sample is drawn from
SEED = 20260401
MAX_IMPORT_LINES = 5_000
MAX_OUTPUT_CHARS = 100_000


class RegressionError(ValueError):
    """Bad input for the regression set, named by field."""


def build(session: so.Session, pilot: Pilot, prompt: Prompt, version: str, size: int = DEFAULT_SIZE,
          actor: User | None = None) -> int:
    """Add `version`'s confirmed failures and a topic-stratified sample of its inputs to the set.

    Returns how many items were added (existing ones are kept with their replays and verdicts)."""
    if not 1 <= size <= MAX_SIZE:
        raise RegressionError(f"size: from 1 to {MAX_SIZE:,}")
    where = [Interaction.pilot_id == pilot.id, Interaction.prompt_version == version, Interaction.input_chars > 0]
    failures = list(session.scalars(
        sa.select(Flag.interaction_id).distinct().join(Interaction, Interaction.id == Flag.interaction_id)
        .where(*where, Flag.status == "confirmed", Flag.kind == "failure")))
    pool = session.execute(
        sa.select(Interaction.id, sa.func.substr(Interaction.input_text, 1, MAX_TEXT_CHARS))
        .where(*where).order_by(Interaction.occurred_at.desc()).limit(POOL)).all()
    if not pool and not failures:
        raise RegressionError(f"version: no interactions with an input name {version!r}")
    rows = [{"interaction_id": i, "stratum": "confirmed failure", "confirmed_failure": True} for i in failures]
    rows += [{"interaction_id": i, "stratum": stratum, "confirmed_failure": False}
             for i, stratum in stratified_sample(pool, size, exclude=set(failures))]
    now = utcnow()
    result = session.execute(
        insert_ignoring_conflicts(session, RegressionItem, ["prompt_id", "interaction_id"]).returning(RegressionItem.id),
        [{"prompt_id": prompt.id, "created_at": now, **row} for row in rows])
    added = len(result.all())
    audit.record(session, "prompt.regression_built", actor=actor, pilot=pilot, target_type="prompt",
                 target_id=prompt.name, after={"version": version, "added": added, "failures": len(failures)})
    return added


def stratified_sample(pool: list[tuple[int, str]], size: int, exclude: set[int] = frozenset()) -> list[tuple[int, str]]:
    """(interaction id, topic words) for `size` inputs: each topic gets its share of the sample
    (at least one input), so small topics are not drowned by big ones. Seeded: the same pool
    gives the same sample."""
    pool = [(i, text) for i, text in pool if i not in exclude and (text or "").strip()]
    if not pool:
        return []
    texts = [text for _, text in pool]
    groups = group_texts(texts, [1] * len(texts), TOPIC_DISTANCE)
    by_group: dict[int, list[int]] = defaultdict(list)
    for index, group in enumerate(groups):
        by_group[group].append(index)
    rng = random.Random(SEED)
    picked: list[tuple[int, str]] = []
    ordered = sorted(by_group.items(), key=lambda item: (-len(item[1]), item[0]))
    for group, members in ordered:
        share = max(1, round(size * len(members) / len(pool)))
        words = ", ".join(top_terms([texts[i] for i in members], [1] * len(members), 3)) or "other"
        stratum = "other" if group == -1 else words
        for index in rng.sample(members, min(share, len(members))):
            picked.append((pool[index][0], stratum[:200]))
    rng.shuffle(picked)
    return picked[:size] if len(picked) > size else picked


@dataclass
class ImportResult:
    imported: int = 0
    errors: list[str] = field(default_factory=list)


def import_replays(session: so.Session, pilot: Pilot, prompt: Prompt, data: bytes, version: str,
                   actor: User | None = None) -> ImportResult:
    """Attach replayed outputs: JSONL lines `{"id": "<interaction id>", "output": "<text>"}`.

    `version` names the version that produced them (a line's own `version` wins). Every bad
    line is reported as `line N: field: problem`; the good lines are stored. Importing a line
    again replaces that item's replay and clears its verdict (it is a new output)."""
    result = ImportResult()
    if not isinstance(version, str) or not version.strip() or len(version) > 100:
        raise RegressionError("version: name the version that produced the outputs (at most 100 characters)")
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as error:
        raise RegressionError(f"file: not UTF-8 (byte {error.start})") from None
    lines = text.splitlines()
    if len(lines) > MAX_IMPORT_LINES:
        raise RegressionError(f"file: {len(lines):,} lines, at most {MAX_IMPORT_LINES:,}")
    parsed: dict[str, tuple[int, str, str]] = {}
    for number, line in enumerate(lines, start=1):
        if not line.strip():
            continue
        try:
            record = json.loads(line)
        except json.JSONDecodeError as error:
            result.errors.append(f"line {number}: not JSON ({error.msg})")
            continue
        problem = _line_problem(record)
        if problem:
            result.errors.append(f"line {number}: {problem}")
            continue
        line_version = record.get("version") or version
        parsed[record["id"]] = (number, record["output"], line_version)
    if not parsed:
        return result
    items = dict(session.execute(
        sa.select(Interaction.event_id, RegressionItem)
        .join(Interaction, Interaction.id == RegressionItem.interaction_id)
        .where(RegressionItem.prompt_id == prompt.id, Interaction.event_id.in_(sorted(parsed)))).all())
    now = utcnow()
    for event_id, (number, output, line_version) in sorted(parsed.items(), key=lambda item: item[1][0]):
        item = items.get(event_id)
        if item is None:
            result.errors.append(f"line {number}: id: {event_id!r} is not in this prompt's regression set")
            continue
        item.replay_output, item.replay_version, item.replayed_at = output, line_version, now
        item.verdict = item.reviewer_id = item.reviewed_at = None
        result.imported += 1
    audit.record(session, "prompt.regression_imported", actor=actor, pilot=pilot, target_type="prompt",
                 target_id=prompt.name, after={"version": version, "imported": result.imported,
                                               "errors": len(result.errors)})
    return result


def _line_problem(record: Any) -> str | None:
    if not isinstance(record, dict):
        return "must be a JSON object"
    event_id = record.get("id")
    if not isinstance(event_id, str) or not event_id or len(event_id) > 128:
        return "id: required, the interaction id from the export (text, at most 128 characters)"
    output = record.get("output")
    if not isinstance(output, str):
        return "output: required text (the new version's answer)"
    if len(output) > MAX_OUTPUT_CHARS or "\x00" in output:
        return f"output: at most {MAX_OUTPUT_CHARS:,} characters, no NUL"
    line_version = record.get("version")
    if line_version is not None and (not isinstance(line_version, str) or not line_version or len(line_version) > 100):
        return "version: text of at most 100 characters"
    return None


def mark(session: so.Session, pilot: Pilot, prompt: Prompt, item_id: int, verdict: str, reviewer: User) -> RegressionItem:
    """A reviewer's better / same / worse for one replayed pair."""
    if verdict not in REGRESSION_VERDICTS:
        raise RegressionError(f"verdict: one of {', '.join(REGRESSION_VERDICTS)}")
    item = session.scalar(sa.select(RegressionItem).where(RegressionItem.id == item_id,
                                                          RegressionItem.prompt_id == prompt.id))
    if item is None or item.replay_output is None:
        raise LookupError("No replayed regression item with that id for this prompt.")
    before = item.verdict
    item.verdict, item.reviewer_id, item.reviewed_at = verdict, reviewer.id, utcnow()
    audit.record(session, "prompt.regression_marked", actor=reviewer, pilot=pilot, target_type="regression_item",
                 target_id=item.id, before={"verdict": before}, after={"verdict": verdict})
    return item


def items_of(session: so.Session, prompt: Prompt, *, replayed_only: bool = False, limit: int = 200,
             offset: int = 0) -> list[RegressionItem]:
    statement = (sa.select(RegressionItem).where(RegressionItem.prompt_id == prompt.id)
                 .options(so.joinedload(RegressionItem.interaction))
                 .order_by(RegressionItem.verdict.is_not(None), RegressionItem.id).limit(limit).offset(offset))
    if replayed_only:
        statement = statement.where(RegressionItem.replay_output.is_not(None))
    return list(session.scalars(statement))


def size_of(session: so.Session, prompt: Prompt) -> dict[str, int]:
    total, replayed, failures = session.execute(
        sa.select(sa.func.count(RegressionItem.id), sa.func.count(RegressionItem.replay_output),
                  sa.func.count(RegressionItem.id).filter(RegressionItem.confirmed_failure))
        .where(RegressionItem.prompt_id == prompt.id)).one()
    return {"items": total, "replayed": replayed, "confirmed_failures": failures}
