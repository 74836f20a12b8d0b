"""What a lead does to the rules: change their settings, list the anticipated scenarios, re-flag.

Every change goes to the audit log with before and after. None of these commit.
"""
from __future__ import annotations

from typing import Any, Callable, Mapping

import sqlalchemy as sa
from sqlalchemy import orm as so

from pilot import audit
from pilot.flagging.engine import ReflagResult, reflag
from pilot.flagging.scenarios import parse_scenarios, scenario_texts
from pilot.flagging.settings import RuleSettingError, parse_rule_form, stored_rule_values
from pilot.models import Pilot, Scenario, User


def update_rule_settings(session: so.Session, pilot: Pilot, form: Mapping[str, str],
                         actor: User | None) -> dict[str, Any]:
    """Validate the whole form, then store what changed; raises RuleSettingError naming the field."""
    before = stored_rule_values(pilot)
    values = parse_rule_form({name: form[name] for name in before if name in form})
    changed = {name: value for name, value in values.items() if before.get(name) != value}
    if changed:
        pilot.rule_settings = {**(pilot.rule_settings or {}), **changed}
        audit.record(session, "flagging.settings", actor=actor, pilot=pilot, target_type="pilot",
                     target_id=pilot.id, before={k: before[k] for k in changed}, after=changed)
    return changed


def replace_scenarios(session: so.Session, pilot: Pilot, text: str, actor: User | None) -> bool:
    """Set the anticipated scenarios from text, one per line; True when they changed."""
    try:
        new = parse_scenarios(text)
    except ValueError as error:
        raise RuleSettingError("scenarios", str(error).split(": ", 1)[-1]) from None
    old = scenario_texts(session, pilot)
    if new == old:
        return False
    session.execute(sa.delete(Scenario).where(Scenario.pilot_id == pilot.id))
    session.add_all(Scenario(pilot_id=pilot.id, text=scenario) for scenario in new)
    session.flush()
    audit.record(session, "flagging.scenarios", actor=actor, pilot=pilot, target_type="pilot", target_id=pilot.id,
                 before={"count": len(old), "scenarios": old[:50]}, after={"count": len(new), "scenarios": new[:50]})
    return True


def run_reflag(session: so.Session, pilot: Pilot, actor: User | None,
               progress: Callable[[int, int], None] | None = None) -> ReflagResult:
    """Re-evaluate the pilot's interactions and audit what it did (`progress` as in engine.reflag)."""
    result = reflag(session, pilot, progress=progress)
    audit.record(session, "flagging.reflag", actor=actor, pilot=pilot, target_type="pilot", target_id=pilot.id,
                 after={"interactions": result.interactions, "added": result.added, "removed": result.removed,
                        "refreshed": result.refreshed, "kept_reviewed": result.kept_reviewed})
    return result


def add_scenario(session: so.Session, pilot: Pilot, text: str, actor: User | None) -> bool:
    """Append one scenario (from the topics page's "anticipate this"); False when already listed."""
    current = scenario_texts(session, pilot)
    return replace_scenarios(session, pilot, "\n".join(current + [text]), actor)
