"""The pilot settings of docs/design.md: one table of names, types and bounds, used by the CLI
(`pilot settings SLUG KEY=VALUE`) and the settings page alike."""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Callable

from pilot.models import Pilot


class SettingError(ValueError):
    """A setting name or value that cannot be accepted; the message names it."""


@dataclass(frozen=True)
class Setting:
    name: str
    label: str
    parse: Callable[[str], Any]
    optional: bool = False
    help: str = ""


def _int_between(low: int, high: int) -> Callable[[str], int]:
    def parse(text: str) -> int:
        try:
            value = int(text.strip())
        except ValueError:
            raise SettingError("must be a whole number") from None
        if not low <= value <= high:
            raise SettingError(f"must be between {low:,} and {high:,}")
        return value

    return parse


def _float_between(low: float, high: float) -> Callable[[str], float]:
    def parse(text: str) -> float:
        try:
            value = float(text.strip())
        except ValueError:
            raise SettingError("must be a number") from None
        if value != value or not low <= value <= high:  # NaN or out of range
            raise SettingError(f"must be between {low:g} and {high:g}")
        return value

    return parse


def _domains(text: str) -> str:
    domains = [d.strip().lower().lstrip("*.") for d in text.replace("\n", ",").split(",")]
    domains = [d for d in domains if d]
    for domain in domains:
        if " " in domain or "/" in domain or len(domain) > 253:
            raise SettingError(f"'{domain}' is not a domain name")
    return ",".join(sorted(set(domains)))


SETTINGS: dict[str, Setting] = {
    s.name: s
    for s in (
        Setting("min_participants", "Minimum participants", _int_between(1, 10_000)),
        Setting("max_participants", "Maximum participants", _int_between(1, 10_000)),
        Setting("latency_target_p95_ms", "Latency target, p95 (ms)", _float_between(1, 600_000)),
        Setting("abandon_ms", "Abandonment threshold (ms)", _float_between(1, 600_000),
                help="Answers slower than this are flagged slow_response."),
        Setting("max_error_rate", "Maximum error rate (0–1)", _float_between(0, 1)),
        Setting("planned_price_per_user_month", "Planned price per user per month (USD)",
                _float_between(0, 1_000_000), optional=True),
        Setting("target_users", "Target users at launch", _int_between(1, 1_000_000_000), optional=True),
        Setting("daily_request_limit", "Per-user daily request limit", _int_between(1, 1_000_000), optional=True),
        Setting("sampling_rate", "Quality sampling rate (0–1)", _float_between(0, 1),
                help="Share of unflagged interactions sent to review as quality_sample."),
        Setting("allowed_domains", "Allowed link domains", _domains, optional=True,
                help="Comma-separated; empty turns unknown_reference off."),
        Setting("required_signers", "Lead signatures a report needs", _int_between(1, 20), optional=True,
                help="Distinct leads who must sign a report snapshot before it is a go; empty: 2 when the "
                     "pilot has two or more leads, else 1."),
        Setting("max_exemption_days", "Longest exemption (days)", _int_between(1, 366),
                help="How far ahead a lead may exempt a checklist item."),
    )
}


def parse_setting(name: str, text: str) -> Any:
    """Parse one setting from text; an empty optional value means 'not set'."""
    setting = SETTINGS.get(name)
    if setting is None:
        raise SettingError(f"unknown setting '{name}' (known: {', '.join(SETTINGS)})")
    if text.strip() == "" and setting.optional:
        return "" if name == "allowed_domains" else None
    try:
        return setting.parse(text)
    except SettingError as error:
        raise SettingError(f"{name} {error}") from None


def current_settings(pilot: Pilot) -> dict[str, Any]:
    return {name: getattr(pilot, name) for name in SETTINGS}


def check_consistency(values: dict[str, Any]) -> None:
    if values["min_participants"] > values["max_participants"]:
        raise SettingError("min_participants must not be above max_participants")
