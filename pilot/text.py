"""What text entering Pilot may hold: the one definition of a control character.

A leaf module (standard library only), so the web defences (`pilot.security`), the API validators
and the price table — which may import nothing above the models — share the same rule.
"""
from __future__ import annotations

import re

# Free text: tab, newline and carriage return are fine, the other C0 codes and DEL are not.
CONTROL_CHARACTERS = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")
# Identifiers (ids, names, model names): no control character at all.
ANY_CONTROL_CHARACTER = re.compile(r"[\x00-\x1f\x7f]")


def has_control_characters(text: str) -> bool:
    """Free text: tab, newline and carriage return are fine, the other control characters not."""
    return bool(CONTROL_CHARACTERS.search(text))


def has_any_control_characters(text: str) -> bool:
    """Identifiers: no control character at all, tab and newline included."""
    return bool(ANY_CONTROL_CHARACTER.search(text))
