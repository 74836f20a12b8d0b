"""Personal data in a text: emails, phone numbers, card numbers that pass Luhn, IBANs with a valid checksum.

Precision matters more than recall here: a queue full of order numbers trains reviewers to
dismiss the flag. So every number must prove itself:
- a card is 13–19 digits starting 2–6 (the issuers in use) that passes the Luhn check;
- an IBAN has its country's length and format and passes the mod-97 check (python-stdnum);
- a phone number is valid for its country (phonenumbers, Google's libphonenumber) and is
  either written internationally (+351 …, 0044 …), in the North American (415) 555-2671 form, or
  announced by a word like "call", "phone" or "mobile" just before it.
Amounts, dates, order ids and short local numbers therefore do not count.
"""
from __future__ import annotations

import re
from dataclasses import dataclass

import phonenumbers
from stdnum import iban as iban_number
from stdnum import luhn

MAX_SCAN_CHARS = 100_000  # a 1 MB paste is scanned in its first 100k characters

MAYBE_PII = re.compile(r"[\d@]")
EMAIL = re.compile(r"(?<![\w.+-])[A-Za-z0-9._%+-]{1,64}@[A-Za-z0-9-]{1,63}(?:\.[A-Za-z0-9-]{1,63})*\.[A-Za-z]{2,24}\b")
CARD = re.compile(r"(?<![\d-])\d(?:[ -]?\d){12,18}(?![\d-])")
IBAN = re.compile(r"\b[A-Z]{2}\d{2}(?: ?[A-Z0-9]{1,4}){3,9}\b")
PHONE = re.compile(r"(?<![\w+])(?:\+|00)?\(?\d[\d ().-]{5,20}\d(?!\d)")
NANP = re.compile(r"^\(?\d{3}\)?[ .-]\d{3}[ .-]\d{4}$")
PHONE_WORDS = re.compile(
    r"\b(call|phone|tel|telephone|mobile|cell|whats ?app|sms|text me|ring|reach me|contact me|number)\b[^.\n]{0,25}$",
    re.IGNORECASE,
)
PHONE_REGIONS = ("US", "GB", "IE", "DE", "FR", "ES", "PT", "IT", "NL", "BE", "CH", "AT", "BR", "IN", "AU", "CA")
CARD_FIRST_DIGITS = set("23456")
MIN_LOCAL_PHONE_DIGITS = 9  # with its area code; "call 555-1234" is too short to identify anyone


@dataclass(frozen=True)
class PiiMatch:
    kind: str  # email | phone | card | iban
    start: int
    end: int


def find_pii(text: str) -> list[PiiMatch]:
    """Every piece of personal data found, in text order; numbers inside an email don't count twice."""
    text = text[:MAX_SCAN_CHARS]
    if not maybe_pii(text):  # most inputs have neither a digit nor an @: nothing to check
        return []
    found: list[PiiMatch] = []
    taken: list[tuple[int, int]] = []
    for finder in (_emails, _ibans, _cards, _phones):
        for match in finder(text):
            if not any(match.start < end and start < match.end for start, end in taken):
                found.append(match)
                taken.append((match.start, match.end))
    return sorted(found, key=lambda m: m.start)


def maybe_pii(text: str) -> bool:
    """Whether the text has a digit or an @ (MAYBE_PII). In ASCII text (known without a scan)
    those are eleven characters, each found by memchr: ten times faster than the regex."""
    if text.isascii():
        if "@" in text:
            return True
        for digit in _ASCII_DIGITS:
            if digit in text:
                return True
        return False
    return MAYBE_PII.search(text) is not None


_ASCII_DIGITS = "0123456789"


def describe(matches: list[PiiMatch]) -> str:
    """"a card number (passes Luhn) and an email address" — what, never the value itself."""
    singular = {"email": "an email address", "phone": "a phone number",
                "card": "a card number (passes Luhn)", "iban": "an IBAN (valid checksum)"}
    plural = {"email": "email addresses", "phone": "phone numbers",
              "card": "card numbers (pass Luhn)", "iban": "IBANs (valid checksum)"}
    counts: dict[str, int] = {}
    for match in matches:
        counts[match.kind] = counts.get(match.kind, 0) + 1
    parts = [singular[kind] if count == 1 else f"{count} {plural[kind]}" for kind, count in counts.items()]
    return parts[0] if len(parts) == 1 else ", ".join(parts[:-1]) + " and " + parts[-1]


def _emails(text: str):
    for match in EMAIL.finditer(text):
        yield PiiMatch("email", match.start(), match.end())


def _ibans(text: str):
    for match in IBAN.finditer(text):
        candidate = match.group()
        # The pattern can swallow a following word or number group: try shorter tails too.
        while len(candidate.replace(" ", "")) >= 15:
            if iban_number.is_valid(candidate):
                yield PiiMatch("iban", match.start(), match.start() + len(candidate))
                break
            candidate = candidate[: candidate.rfind(" ")] if " " in candidate else candidate[:-1]


def is_card_number(digits: str) -> bool:
    """13–19 digits, an issuer's first digit, and the Luhn checksum."""
    return 13 <= len(digits) <= 19 and digits[0] in CARD_FIRST_DIGITS and luhn.is_valid(digits)


def _cards(text: str):
    for match in CARD.finditer(text):
        if is_card_number(re.sub(r"[ -]", "", match.group())):
            yield PiiMatch("card", match.start(), match.end())


def is_phone_number(candidate: str, announced: bool) -> bool:
    """International numbers must be valid; local ones need the NANP layout or a phone word before them."""
    compact = candidate.strip()
    if compact.startswith("00"):
        compact = "+" + compact[2:]
    if compact.startswith("+"):
        return _valid_in(compact, None)
    if NANP.match(compact) and _valid_in(compact, "US"):
        return True
    if not announced or sum(ch.isdigit() for ch in compact) < MIN_LOCAL_PHONE_DIGITS:
        return False
    return any(_valid_in(compact, region) for region in PHONE_REGIONS)


def _valid_in(text: str, region: str | None) -> bool:
    try:
        return phonenumbers.is_valid_number(phonenumbers.parse(text, region))
    except phonenumbers.NumberParseException:
        return False


def _phones(text: str):
    for match in PHONE.finditer(text):
        digits = sum(ch.isdigit() for ch in match.group())
        if not 7 <= digits <= 15:
            continue
        announced = PHONE_WORDS.search(text, max(0, match.start() - 40), match.start()) is not None
        if is_phone_number(match.group(), announced):
            yield PiiMatch("phone", match.start(), match.end())
