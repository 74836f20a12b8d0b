"""How often users ask the same thing: the caching what-if's two measurements.

Exact duplicates are counted over every interaction in SQL: an interaction is a duplicate when an
earlier one had the same `input_hash` (whitespace-normalised, lower-cased input), so the share is
1 − distinct hashes ÷ interactions. Near duplicates need the text, so they are measured on a random
sample of at most SAMPLE_SIZE interactions — the one place analytics load input text, and only the
first TEXT_PREFIX characters of each. An input is a near duplicate when the cosine similarity of
its character 3–5-gram counts (sublinear, L2-normalised; no IDF, so a pair's score does not depend
on the rest of the sample) to an earlier sampled input of different text is at least
NEAR_THRESHOLD. At 0.9 that joins "Hi, how do I freeze my debit card?" with "how can I freeze my
debit card?" (0.92–0.95) but keeps "credit card" (0.77) and "close my card" (0.73) apart. A sample only sees a pair when both ends were drawn, so it under-counts repeats;
the sample's own exact-duplicate share, set beside the full-data one, shows by how much.
"""
from __future__ import annotations

import random
from typing import Any

import numpy as np
import sqlalchemy as sa
from sklearn.feature_extraction.text import TfidfVectorizer
from sqlalchemy import orm as so

from pilot.models import Interaction, Pilot

SAMPLE_SIZE = 5_000
TEXT_PREFIX = 2_000
NEAR_THRESHOLD = 0.9
CHUNK = 500


def exact_duplicates(session: so.Session, pilot: Pilot) -> dict[str, Any]:
    """Interactions with a hashed input, distinct inputs, and the share that repeat an earlier one."""
    total, distinct = session.execute(
        sa.select(sa.func.count(Interaction.id), sa.func.count(sa.distinct(Interaction.input_hash)))
        .where(Interaction.pilot_id == pilot.id, Interaction.input_hash.is_not(None))
    ).one()
    return {"interactions": total, "distinct_inputs": distinct,
            "share": (total - distinct) / total if total else None}


def near_duplicates(session: so.Session, pilot: Pilot, *, sample_size: int = SAMPLE_SIZE,
                    threshold: float = NEAR_THRESHOLD, seed: int | None = None) -> dict[str, Any]:
    """Within a random sample (same sample for the same pilot and data): the share of interactions
    that repeat an earlier sampled input exactly, and the share that are near (not exact) repeats."""
    ids = session.scalars(sa.select(Interaction.id).where(Interaction.pilot_id == pilot.id)).all()
    if not ids:
        return {"sample": 0, "exact_share": None, "near_share": None, "threshold": threshold}
    chosen = sorted(random.Random(pilot.id if seed is None else seed).sample(ids, min(len(ids), sample_size)))
    rows = []
    for start in range(0, len(chosen), CHUNK):
        rows.extend(session.execute(
            sa.select(Interaction.occurred_at, Interaction.id, Interaction.input_hash,
                      sa.func.substr(Interaction.input_text, 1, TEXT_PREFIX))
            .where(Interaction.id.in_(chosen[start:start + CHUNK]))
        ).all())
    rows.sort(key=lambda row: (row[0], row[1]))
    first_seen: dict[str, int] = {}
    texts: list[str] = []
    exact = 0
    for _, _, digest, text in rows:
        key = digest or f"\0{len(first_seen)}"
        if key in first_seen:
            exact += 1
            continue
        first_seen[key] = len(texts)
        texts.append(text or "")
    near_flags = _near_earlier(texts, threshold)
    near = int(near_flags.sum())
    return {"sample": len(rows), "exact_share": exact / len(rows), "near_share": near / len(rows),
            "threshold": threshold}


def _near_earlier(texts: list[str], threshold: float) -> np.ndarray:
    """For each text, whether an earlier one in the list is at least `threshold` cosine-similar."""
    flags = np.zeros(len(texts), dtype=bool)
    if len(texts) < 2:
        return flags
    try:
        vectorizer = TfidfVectorizer(analyzer="char_wb", ngram_range=(3, 5), sublinear_tf=True, use_idf=False)
        matrix = vectorizer.fit_transform(texts)
    except ValueError:  # nothing but empty or one-letter inputs: no n-grams, no near duplicates
        return flags
    for start in range(0, len(texts), CHUNK):
        block = (matrix[start:start + CHUNK] @ matrix.T).toarray()  # rows are L2-normalised: cosine
        for offset, similarities in enumerate(block):
            index = start + offset
            flags[index] = bool(index and (similarities[:index] >= threshold).any())
    return flags
