"""How an interaction names a registered prompt version, and which users get the candidate.

The convention: a registered version's string is `<prompt name>@<number>` (`support@3`). The
prompt API returns it as `prompt_version`; the AI feature sends it back unchanged as the
interaction's `prompt_version`, and the interaction is then linked to that version. Any other
string is accepted and listed as unregistered. Pure functions, no database.
"""
from __future__ import annotations

import hashlib
import re
from typing import Any, Mapping

NAME_PATTERN = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$")
VERSION_PATTERN = re.compile(r"^(?P<name>[A-Za-z0-9][A-Za-z0-9._-]{0,63})@(?P<number>[1-9][0-9]{0,8})$")
BUCKETS = 10_000  # rollout shares have two decimals of a percent


def version_string(name: str, number: int) -> str:
    return f"{name}@{number}"


def parse_version_string(value: str | None) -> tuple[str, int] | None:
    """`support@3` → ("support", 3); anything else → None."""
    match = VERSION_PATTERN.match(value or "")
    return (match["name"], int(match["number"])) if match else None


def user_bucket(pilot_slug: str, prompt_name: str, user: str) -> float:
    """A stable number in [0, 100) for this user and prompt: the user gets the candidate when it is
    below the rollout share, so raising the share step by step only ever adds users."""
    digest = hashlib.sha256(f"{pilot_slug}\x00{prompt_name}\x00{user}".encode()).digest()
    return int.from_bytes(digest[:8], "big") % BUCKETS * 100 / BUCKETS


def gets_candidate(pilot_slug: str, prompt_name: str, user: str | None, rollout_pct: float) -> bool:
    """Users without an id always get production: a share of anonymous calls would not be stable."""
    if not user or rollout_pct <= 0:
        return False
    return user_bucket(pilot_slug, prompt_name, user) < rollout_pct


# Span attributes naming a prompt, first present wins: Langfuse's OpenTelemetry names carry the
# prompt's name and number; OpenInference carries a version and the template text only.
PROMPT_NAME_ATTRIBUTES = ("langfuse.observation.prompt.name", "gen_ai.prompt.name", "llm.prompt_template.name")
PROMPT_NUMBER_ATTRIBUTES = ("langfuse.observation.prompt.version", "gen_ai.prompt.version",
                            "llm.prompt_template.version")
TEMPLATE_ATTRIBUTES = ("llm.prompt_template.template",)


def _first(attributes: Mapping[str, Any], names: tuple[str, ...]) -> Any:
    for name in names:
        value = attributes.get(name)
        if value not in (None, ""):
            return value
    return None


def prompt_version_from_attributes(attributes: Mapping[str, Any]) -> str | None:
    """The `prompt_version` an OTLP span names, in the registry's convention where it can be.

    A version already written `name@N` is kept; a prompt name plus a whole-number version
    becomes `name@N`; a version alone is kept as sent (it is listed as unregistered unless
    it matches a registered string). None when the span names no version.
    """
    version = _first(attributes, PROMPT_NUMBER_ATTRIBUTES)
    if version is None:
        return None
    version = str(version).strip()
    if parse_version_string(version):
        return version
    name = _first(attributes, PROMPT_NAME_ATTRIBUTES)
    if name is not None and NAME_PATTERN.match(str(name)) and re.fullmatch(r"v?[1-9][0-9]{0,8}", version):
        return version_string(str(name), int(version.lstrip("v")))
    return version[:100]


def template_from_attributes(attributes: Mapping[str, Any]) -> str | None:
    """The prompt template text a span carries (OpenInference), to match a registered version by text."""
    template = _first(attributes, TEMPLATE_ATTRIBUTES)
    return str(template) if template is not None else None


def template_key(template: str) -> str:
    """The key a template's exact text is matched by (SHA-256 of its UTF-8)."""
    return hashlib.sha256(template.encode("utf-8", "surrogatepass")).hexdigest()
