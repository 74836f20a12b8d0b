"""How close a real input is to the scenarios the team anticipated (TF-IDF cosine similarity).

The vectoriser hashes words (no vocabulary), and the IDF weights are fitted on the scenarios
only. A word no scenario uses therefore gets the highest weight instead of being dropped, so
"is bitcoin a good investment" lands far from every banking scenario rather than matching on
"good". Fitting depends only on the scenario texts, so results are deterministic: re-flagging
gives the same answer. The fitted matcher is cached per pilot, keyed by a hash of the texts,
so editing the scenarios invalidates it in every process on its next batch.
"""
from __future__ import annotations

import hashlib
from dataclasses import dataclass, field

import numpy as np
import sqlalchemy as sa
from sklearn.feature_extraction.text import HashingVectorizer, TfidfTransformer
from sqlalchemy import orm as so

from pilot.caches import ProcessCache, database_key
from pilot.models import Pilot, Scenario

MAX_SCENARIO_CHARS = 2_000
MAX_SCENARIOS = 500
MAX_INPUT_CHARS = 5_000  # only the start of a long input decides its topic
MEMO_SIZE = 20_000  # remembered input texts per pilot
_VECTORISER = HashingVectorizer(
    n_features=2**18, alternate_sign=False, norm=None, stop_words="english", ngram_range=(1, 1),
    token_pattern=r"(?u)\b[^\W\d_][\w']+\b", strip_accents="unicode",
)


@dataclass
class ScenarioMatcher:
    """Fitted on one pilot's scenarios; `similarity` gives each input's best match."""

    texts: list[str]
    transformer: TfidfTransformer
    matrix: object  # sparse, one L2-normalised row per scenario
    # Real users ask the same questions again and again: answers are remembered per input text
    # (bounded; the matcher, and so this memo, is replaced when the scenarios change).
    memo: dict[str, tuple[float, int]] = field(default_factory=dict)

    @classmethod
    def fit(cls, texts: list[str]) -> "ScenarioMatcher":
        counts = _VECTORISER.transform(texts)
        transformer = TfidfTransformer(sublinear_tf=True).fit(counts)
        return cls(texts, transformer, transformer.transform(counts))

    def best_matches(self, inputs: list[str]) -> tuple[np.ndarray, np.ndarray]:
        """(similarity to the closest scenario, index of that scenario) for each input."""
        if not inputs:
            return np.zeros(0), np.zeros(0, dtype=int)
        vectors = self.transformer.transform(_VECTORISER.transform([text[:MAX_INPUT_CHARS] for text in inputs]))
        similarities = (vectors @ self.matrix.T).toarray()
        return similarities.max(axis=1), similarities.argmax(axis=1)

    def best_match_by_text(self, inputs: list[str]) -> dict[str, tuple[float, int]]:
        """best_matches for distinct texts, vectorising only those not seen before."""
        unseen = [text for text in dict.fromkeys(inputs) if text not in self.memo]
        if unseen:
            scores, closest = self.best_matches(unseen)
            if len(self.memo) + len(unseen) > MEMO_SIZE:
                self.memo.clear()
            self.memo.update((text, (float(score), int(index))) for text, score, index in zip(unseen, scores, closest))
        return {text: self.memo[text] for text in inputs}


MATCHER_CACHE_PILOTS = 64
# (fingerprint of the texts, fitted matcher) per pilot: one entry per pilot, replaced on a change
_matchers = ProcessCache("flagging.scenarios.matcher", max_entries=MATCHER_CACHE_PILOTS)


def scenario_texts(session: so.Session, pilot: Pilot) -> list[str]:
    """The pilot's scenarios, oldest first (one small query)."""
    return list(session.scalars(
        sa.select(Scenario.text).where(Scenario.pilot_id == pilot.id).order_by(Scenario.id)
    ))


def matcher_for(session: so.Session, pilot: Pilot) -> ScenarioMatcher | None:
    """The pilot's fitted matcher, refitted when its scenario texts changed; None without scenarios."""
    texts = [text for text in scenario_texts(session, pilot) if text.strip()]
    if not texts:
        return None
    fingerprint = hashlib.sha256("\x00".join(texts).encode()).hexdigest()
    key = database_key(session, pilot.id)
    cached = _matchers.get(key)
    if cached and cached[0] == fingerprint:
        return cached[1]
    matcher = ScenarioMatcher.fit(texts)
    _matchers.put(key, (fingerprint, matcher))
    return matcher


def parse_scenarios(text: str) -> list[str]:
    """One scenario per line; blank lines and repeats dropped. Raises ValueError naming the field."""
    scenarios: list[str] = []
    for line in text.replace("\x00", "").splitlines():
        scenario = " ".join(line.split())
        if not scenario or scenario in scenarios:
            continue
        if len(scenario) > MAX_SCENARIO_CHARS:
            raise ValueError(f"scenarios: each line must be at most {MAX_SCENARIO_CHARS:,} characters")
        scenarios.append(scenario)
    if len(scenarios) > MAX_SCENARIOS:
        raise ValueError(f"scenarios: at most {MAX_SCENARIOS} lines")
    return scenarios
