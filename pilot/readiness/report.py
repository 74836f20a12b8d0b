"""The readiness report of docs/design.md, built live from the data, and its verdict.

Verdict: `go` only when no item fails, no item is unknown, the enrolled participants are within
the pilot's [min, max] and a lead has signed; `no-go` when an item fails; else `incomplete`.
Exempt items (a valid exemption) never block; each one is listed in `exemptions` (who granted it,
why, until when) and a go resting on them reads "go with N exemptions" (`verdict_label`).
Every reason is listed in `verdict_reasons`.
A live report is never signed (`sign_off` null), so its verdict is at best `incomplete` with the
single reason "unsigned": that is the moment to create a snapshot and sign it (snapshots.py).
"""
from __future__ import annotations

from datetime import date, datetime
from typing import Any

from sqlalchemy import orm as so

from pilot.analytics.summary import pilot_summary, timing_values
from pilot.models import ChecklistAttestation, Pilot
from pilot.models.base import utcnow
from pilot.readiness.attestations import attestation_json, in_force, is_exemption, newest_attestations
from pilot.readiness.checklist import CHECKLIST, FAIL, UNKNOWN, Item
from pilot.readiness.facts import Facts, gather_facts, interaction_counts
from pilot.readiness.series import chart_series

GO, NO_GO, INCOMPLETE = "go", "no-go", "incomplete"
UNSIGNED = "unsigned"


def iso(moment: datetime) -> str:
    """Naive UTC datetimes as ISO 8601 with a Z, like the report's window."""
    return moment.replace(microsecond=0).isoformat() + "Z"


def checklist_item(item: Item, facts: Facts, attestation: ChecklistAttestation | None, today: date) -> dict[str, Any]:
    """One item: the rule's status and evidence, then the attestation in force (if any).

    The attestation's status replaces only an `unknown` automatic status; a valid exemption
    makes the item non-blocking whatever its status.
    """
    check = item.rule(facts)
    status, exempt = check.status, False
    if attestation is not None and in_force(attestation, today):
        if check.status == UNKNOWN:
            status = attestation.status
        exempt = is_exemption(attestation, today)
    return {
        "key": item.key,
        "section": item.section,
        "title": item.title,
        "auto_status": check.status,
        "status": status,
        "evidence": check.evidence,
        "attestation": attestation_json(attestation, today) if attestation is not None else None,
        "exempt": exempt,
        "blocking": not exempt and status in (FAIL, UNKNOWN),
    }


def _item_reason(item: dict[str, Any]) -> dict[str, Any]:
    attested = item["auto_status"] == UNKNOWN and item["attestation"] and item["attestation"]["in_force"]
    if item["status"] == FAIL:
        why = f"attested as failing: {item['attestation']['note']}" if attested else item["evidence"]
        return {"kind": "fail", "key": item["key"], "message": f"Failing: {item['title']} — {why}"}
    return {"kind": "unknown", "key": item["key"],
            "message": f"Unknown: {item['title']} — attest it or exempt it. {item['evidence']}"}


def participant_reason(participants: dict[str, Any]) -> dict[str, Any] | None:
    enrolled, low, high = participants["enrolled"], participants["min"], participants["max"]
    if enrolled < low:
        return {"kind": "participants", "key": None,
                "message": f"{enrolled} participants enrolled; the pilot needs at least {low}."}
    if enrolled > high:
        return {"kind": "participants", "key": None,
                "message": f"{enrolled} participants enrolled; the pilot allows at most {high}."}
    return None


UNSIGNED_REASON = {"kind": UNSIGNED, "key": None,
                   "message": "No lead has signed: create a report snapshot and sign it."}


def verdict_reasons(checklist: list[dict[str, Any]], participants: dict[str, Any],
                    signed: bool) -> list[dict[str, Any]]:
    """Why the verdict is not `go`: failing items first, then unknown ones, bounds, signature."""
    blocking = [item for item in checklist if item["blocking"]]
    reasons = [_item_reason(item) for item in blocking if item["status"] == FAIL]
    reasons += [_item_reason(item) for item in blocking if item["status"] != FAIL]
    bounds = participant_reason(participants)
    if bounds:
        reasons.append(bounds)
    if not signed:
        reasons.append(dict(UNSIGNED_REASON))
    return reasons


def verdict_for(reasons: list[dict[str, Any]]) -> str:
    if any(reason["kind"] == "fail" for reason in reasons):
        return NO_GO
    return INCOMPLETE if reasons else GO


def verdict_label(verdict: str, exemptions: int) -> str:
    """The verdict as people read it: a go that rests on exemptions says how many, everywhere."""
    if verdict == GO and exemptions:
        return f"go with {exemptions} exemption{'' if exemptions == 1 else 's'}"
    return verdict


def exemptions_in_force(checklist: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Every exemption that keeps an item from blocking: which item, who granted it, why, until when."""
    return [{"key": item["key"], "title": item["title"], "status": item["status"],
             "granted_by": item["attestation"]["attested_by"], "granted_at": item["attestation"]["attested_at"],
             "reason": item["attestation"]["note"], "until": item["attestation"]["exempt_until"],
             "owner": item["attestation"].get("owner") or None, "link": item["attestation"]["link"]}
            for item in checklist if item["exempt"]]


def build_report(session: so.Session, pilot: Pilot, now: datetime | None = None) -> dict[str, Any]:
    """The readiness report (docs/design.md keys, plus `verdict_reasons`, `pilot_name`, `series`)."""
    now = now or utcnow()
    latencies, ttfts = timing_values(session, pilot)  # one scan, shared by the summary, facts and chart
    counts = interaction_counts(session, pilot)  # one pass: the summary's totals and the facts' counts
    summary = pilot_summary(session, pilot, now, latencies=latencies, totals=counts)
    facts = gather_facts(session, pilot, summary, ttft_values=ttfts, counts=counts)
    attestations = newest_attestations(session, pilot)
    checklist = [checklist_item(item, facts, attestations.get(item.key), now.date()) for item in CHECKLIST]
    reasons = verdict_reasons(checklist, summary["participants"], signed=False)
    exemptions = exemptions_in_force(checklist)
    verdict = verdict_for(reasons)
    return {
        "pilot": pilot.slug,
        "generated_at": iso(now),
        "window": summary["window"],
        "participants": summary["participants"],
        "interactions": summary["interactions"],
        "latency_ms": summary["latency_ms"],
        "cost": summary["cost"],
        "feedback": summary["feedback"],
        "flags": summary["flags"],
        "checklist": checklist,
        "verdict": verdict,
        "sign_off": None,
        "verdict_reasons": reasons,
        "verdict_label": verdict_label(verdict, len(exemptions)),
        "exemptions": exemptions,
        "pilot_name": pilot.name,
        "series": chart_series(session, pilot, latencies),
    }
