"""Judgements on answer text: refusals, links, output format. Pure functions, no database."""
from __future__ import annotations

import json
import re
from functools import lru_cache
from urllib.parse import urlsplit

MAX_FORMAT_CHARS = 200_000  # a regex rule sees at most this much of an answer (no runaway matching)
REFUSAL_OPENING_CHARS = 160  # a refusal phrase this close to the start is the answer's substance
SHORT_ANSWER_CHARS = 300  # … and in an answer this short, a refusal anywhere is its substance

URL = re.compile(r"""(?i)\b(?:https?://|www\.)[^\s<>"'`)\]}]+""")
# Quoted passages: "…", “…”, `…`, and '…' only when the quote opens after a space (not an apostrophe).
QUOTED = re.compile(r"""("[^"\n]{0,400}"|“[^”\n]{0,400}”|(?:(?<=\s)|^)'[^'\n]{3,400}'(?!\w)|`[^`\n]{0,400}`)""", re.M)
QUOTE_LINE = re.compile(r"(?m)^\s*>.*$")


def normalise(text: str) -> str:
    """Lower case, straight apostrophes, single spaces: the form refusal phrases are written in."""
    text = text.replace("\u2019", "'").replace("\u2018", "'")
    return " ".join(text.lower().split())


def refusal_phrase(output: str, phrases: tuple[str, ...]) -> str | None:
    """The refusal phrase that makes this answer a refusal, or None.

    A refusal is one where the refusal *is* the answer: the phrase opens it (within its first
    sentence or so), or the whole answer is short. Quoted text ("…", “…”, `…`, > lines) is
    ignored, so an answer that explains what to do when a bot says "I can't help with that"
    is not a refusal, nor is a long helpful answer that declines one small part at the end.
    """
    if not phrases or not output.strip():
        return None
    # Past the first 2,000 characters nothing can be "the opening" any more, and a text that long
    # is not short: only the opening decides.
    opening = output[:2_000].lower()
    for anchor in _anchors(phrases):  # the common case: no phrase at all
        if anchor in opening:
            break
    else:
        return None
    text = normalise(QUOTED.sub(" ", QUOTE_LINE.sub(" ", output[:2_000])))
    match = _phrase_pattern(phrases).search(text)
    if match is None:
        return None
    if match.start() <= REFUSAL_OPENING_CHARS or (len(text) <= SHORT_ANSWER_CHARS and len(output) <= 2_000):
        return match.group()
    return None


@lru_cache(maxsize=64)
def _anchors(phrases: tuple[str, ...]) -> tuple[str, ...]:
    """The longest plain word of each phrase: a text containing none of them cannot contain a
    phrase, so most answers are ruled out with a few substring tests, before any normalising."""
    anchors = set()
    for phrase in phrases:
        words = re.findall(r"[^\W_]+(?:'[^\W_]+)?", phrase)
        if words:
            anchor = max(words, key=len)
            anchors.update((anchor, anchor.replace("'", "\u2019")))  # either apostrophe
    # An anchor that contains another ("unable", "able") is found whenever the longer one is:
    # only the shorter needs looking for (each look scans the opening once).
    return tuple(sorted(anchor for anchor in anchors
                        if not any(other != anchor and other in anchor for other in anchors)))


@lru_cache(maxsize=64)
def _phrase_pattern(phrases: tuple[str, ...]) -> re.Pattern:
    """One alternation for all phrases (longest first), so each answer is scanned once."""
    return re.compile("|".join(re.escape(phrase) for phrase in sorted(phrases, key=len, reverse=True)))


def link_hosts(output: str) -> list[str]:
    """Host names of the links in an answer, lower case, in order, without repeats."""
    hosts: list[str] = []
    if "://" not in output and "www." not in output and "WWW." not in output:
        return hosts
    for match in URL.finditer(output[:MAX_FORMAT_CHARS]):
        url = match.group().rstrip(".,;:!?")
        if url.lower().startswith("www."):
            url = "http://" + url
        try:
            host = (urlsplit(url).hostname or "").rstrip(".")
        except ValueError:
            continue
        if host and host not in hosts:
            hosts.append(host)
    return hosts


def host_allowed(host: str, allowed_domains: tuple[str, ...]) -> bool:
    """A host is allowed when it is an allowed domain or a subdomain of one."""
    return any(host == domain or host.endswith("." + domain) for domain in allowed_domains)


def format_problem(output: str, output_format: str, pattern: re.Pattern | None) -> str | None:
    """Why the answer breaks the pilot's format rule, or None when it complies."""
    if output_format == "json":
        try:
            json.loads(output)
        except ValueError as error:
            return f"answer is not valid JSON ({_short_json_error(error)})"
        return None
    if output_format == "regex" and pattern is not None:
        if pattern.search(output[:MAX_FORMAT_CHARS]) is None:
            return f"answer does not match the required pattern {pattern.pattern!r}"
    return None


def _short_json_error(error: ValueError) -> str:
    message = str(error)
    return message if len(message) <= 120 else message[:117] + "…"
