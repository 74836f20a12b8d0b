"""Grouping texts for people: "What real users ask" topics, failure clusters, similar flags.

All three use TF-IDF vectors and cosine similarity (scikit-learn). Topics and clusters use
average-linkage agglomerative clustering with a distance threshold, so the number of groups
follows the data instead of a guessed k. Bounds, so a page never gets slow on a big pilot:
- at most the latest 5,000 interactions (topics) or flagged interactions (clusters) are read,
  and only their first 1,000 characters;
- identical texts are merged first and counted; the 2,000 most frequent distinct texts are
  clustered, the rarer ones join their nearest group or an "everything else" group;
- results are cached per pilot for a minute, keyed by a cheap fingerprint of the data.
"""
from __future__ import annotations

import time
from collections import Counter
from dataclasses import dataclass, field
from typing import Any, Callable

import numpy as np
import sqlalchemy as sa
from sklearn.cluster import AgglomerativeClustering
from sklearn.feature_extraction.text import ENGLISH_STOP_WORDS, TfidfVectorizer
from sqlalchemy import orm as so

from pilot.caches import ProcessCache, database_key
from pilot.flagging.reasons import REASONS, severity_rank
from pilot.flagging.scenarios import matcher_for
from pilot.flagging.settings import rule_settings_for
from pilot.models import Flag, Interaction, Pilot

MAX_ROWS = 5_000
MAX_TEXT_CHARS = 1_000
MAX_CLUSTERED = 2_000
TOPIC_DISTANCE = 0.8  # cosine distance under which two questions are one topic
CLUSTER_DISTANCE = 0.7  # … and two failures one cluster (reason words make them closer)
SIMILAR_MIN = 0.35
SIMILAR_POOL = 2_000
CACHE_SECONDS = 60
TOKENS = r"(?u)\b[^\W\d_][\w']+\b"
REASON_WEIGHT = 3  # reason codes are repeated so the kind of failure weighs as much as the words
# Chat filler that says nothing about the topic.
STOP_WORDS = sorted(ENGLISH_STOP_WORDS | {"hi", "hello", "hey", "thanks", "thank", "please", "sorry", "bother",
                                          "quick", "question", "just", "ok", "okay"})


def _vectorise(texts: list[str]):
    """L2-normalised TF-IDF rows (words and word pairs, English stop words out)."""
    vectoriser = TfidfVectorizer(stop_words=STOP_WORDS, sublinear_tf=True, ngram_range=(1, 2),
                                 token_pattern=TOKENS, max_features=50_000, strip_accents="unicode")
    try:
        return vectoriser.fit_transform(texts), vectoriser
    except ValueError:  # nothing but stop words and digits
        return None, None


def group_texts(texts: list[str], counts: list[int], distance: float) -> list[int]:
    """A group number per text (-1: the long tail that joined no group); most frequent texts lead."""
    if not texts:
        return []
    matrix, _ = _vectorise(texts)
    if matrix is None:
        return [0] * len(texts)
    order = np.argsort(-np.asarray(counts), kind="stable")
    head = order[:MAX_CLUSTERED]
    labels = np.full(len(texts), -1)
    if len(head) == 1:
        labels[head] = 0
    else:
        head_matrix = matrix[head]
        distances = 1.0 - (head_matrix @ head_matrix.T).toarray()
        np.clip(distances, 0.0, 2.0, out=distances)
        clustering = AgglomerativeClustering(n_clusters=None, distance_threshold=distance,
                                             metric="precomputed", linkage="average").fit(distances)
        labels[head] = clustering.labels_
    tail = order[MAX_CLUSTERED:]
    if len(tail):
        groups = sorted(set(labels[head]))
        centroids = np.vstack([np.asarray(matrix[head][labels[head] == g].mean(axis=0)) for g in groups])
        centroids /= np.linalg.norm(centroids, axis=1, keepdims=True) + 1e-12
        similarity = matrix[tail] @ centroids.T
        best = similarity.argmax(axis=1)
        for index, row, column in zip(tail, range(len(tail)), best):
            if similarity[row, column] >= 1.0 - distance:
                labels[index] = groups[column]
    return labels.tolist()


def top_terms(texts: list[str], weights: list[int], limit: int = 4) -> list[str]:
    """The words that best describe a group (highest summed TF-IDF weight)."""
    matrix, vectoriser = _vectorise(texts)
    if matrix is None:
        return []
    scores = np.asarray(matrix.multiply(np.asarray(weights)[:, None]).sum(axis=0)).ravel()
    names = vectoriser.get_feature_names_out()
    terms: list[str] = []
    for index in np.argsort(-scores):
        term = names[index]
        if scores[index] <= 0 or any(term in t or t in term for t in terms):
            continue
        terms.append(term)
        if len(terms) == limit:
            break
    return terms


# --- cache --------------------------------------------------------------------------------

CACHE_ENTRIES = 128
# (computed at, fingerprint, result) per database, kind and pilot
_results = ProcessCache("review.grouping", max_entries=CACHE_ENTRIES)


def _cached(session: so.Session, key: tuple, fingerprint: tuple, compute: Callable[[], Any]) -> Any:
    """`compute()`, or its result of the last minute while the data's fingerprint is the same."""
    now = time.monotonic()
    key = database_key(session, *key)
    hit = _results.get(key)
    if hit and hit[1] == fingerprint and now - hit[0] < CACHE_SECONDS:
        return hit[2]
    value = compute()
    _results.put(key, (now, fingerprint, value))
    return value


def _fingerprint(session: so.Session, where, *columns) -> tuple:
    """A cheap summary of the data (counts, newest ids) that changes whenever a result would."""
    return tuple(session.execute(sa.select(*columns).where(where)).one())


# --- topics: "What real users ask" ---------------------------------------------------------

@dataclass
class Topic:
    title: str
    terms: list[str]
    count: int
    share: float
    covered_share: float | None
    examples: list[tuple[str, int]]
    closest_scenario: str | None = None


@dataclass
class TopicsReport:
    inputs: int
    distinct: int
    covered_share: float | None
    has_scenarios: bool
    topics: list[Topic] = field(default_factory=list)


def topics(session: so.Session, pilot: Pilot) -> TopicsReport:
    """Real inputs grouped into topics, with counts, examples and the anticipated share."""
    fingerprint = _fingerprint(session, Interaction.pilot_id == pilot.id,
                               sa.func.count(Interaction.id), sa.func.max(Interaction.id)) + (
        tuple(sorted((pilot.rule_settings or {}).items(), key=str)) if isinstance(pilot.rule_settings, dict) else (),
    )
    matcher = matcher_for(session, pilot)
    key = ("topics", pilot.id, tuple(matcher.texts) if matcher else ())
    return _cached(session, key, fingerprint, lambda: _compute_topics(session, pilot, matcher))


def _compute_topics(session: so.Session, pilot: Pilot, matcher) -> TopicsReport:
    latest = (
        sa.select(sa.func.substr(Interaction.input_text, 1, MAX_TEXT_CHARS).label("text"))
        .where(Interaction.pilot_id == pilot.id, Interaction.input_chars > 0)
        .order_by(Interaction.occurred_at.desc()).limit(MAX_ROWS).subquery()
    )
    counted = Counter(" ".join(text.split()) for text in session.scalars(sa.select(latest.c.text)) if text and text.strip())
    texts, counts = list(counted), list(counted.values())
    total = sum(counts)
    report = TopicsReport(inputs=total, distinct=len(texts), covered_share=None, has_scenarios=matcher is not None)
    if not texts:
        return report
    covered = np.zeros(len(texts), dtype=bool)
    closest = np.zeros(len(texts), dtype=int)
    if matcher is not None:
        similarity, closest = matcher.best_matches(texts)
        covered = similarity >= rule_settings_for(pilot).unanticipated_threshold
        report.covered_share = float(np.asarray(counts)[covered].sum() / total)
    labels = group_texts(texts, counts, TOPIC_DISTANCE)
    for label in sorted(set(labels)):
        members = [i for i, value in enumerate(labels) if value == label]
        members.sort(key=lambda i: -counts[i])
        count = sum(counts[i] for i in members)
        topic_covered = sum(counts[i] for i in members if covered[i])
        scenario = None
        if matcher is not None:
            votes = Counter(int(closest[i]) for i in members if covered[i])
            scenario = matcher.texts[votes.most_common(1)[0][0]] if votes else None
        report.topics.append(Topic(
            title=texts[members[0]] if label >= 0 else "Everything else (rare questions)",
            terms=top_terms([texts[i] for i in members], [counts[i] for i in members]),
            count=count, share=count / total,
            covered_share=(topic_covered / count) if matcher is not None else None,
            examples=[(texts[i], counts[i]) for i in members[:5]],
            closest_scenario=scenario,
        ))
    report.topics.sort(key=lambda topic: -topic.count)
    return report


# --- failure clusters -----------------------------------------------------------------------

@dataclass
class FailureCluster:
    reasons: list[tuple[str, int]]
    interactions: int
    flags: int
    impact: int
    open: int
    confirmed: int
    terms: list[str]
    examples: list[dict[str, Any]]
    signature: str = ""  # the most common error message or answer in the cluster

    @property
    def title(self) -> str:
        return REASONS[self.reasons[0][0]].title if self.reasons else "Failures"


def failure_clusters(session: so.Session, pilot: Pilot) -> list[FailureCluster]:
    """Open and confirmed failures grouped by similar input/output, biggest impact first."""
    fingerprint = _fingerprint(session, Flag.pilot_id == pilot.id,
                               sa.func.count(Flag.id), sa.func.max(Flag.id), sa.func.max(Flag.updated_at))
    return _cached(session, ("clusters", pilot.id), fingerprint, lambda: _compute_clusters(session, pilot))


def _compute_clusters(session: so.Session, pilot: Pilot) -> list[FailureCluster]:
    failing = (
        sa.select(Flag.interaction_id).where(Flag.pilot_id == pilot.id, Flag.kind == "failure",
                                             Flag.status.in_(("open", "confirmed")))
        .group_by(Flag.interaction_id).order_by(sa.func.max(Flag.id).desc()).limit(MAX_ROWS).subquery()
    )
    rows = session.execute(
        sa.select(Flag.id, Flag.interaction_id, Flag.reason, Flag.severity, Flag.status,
                  sa.func.substr(Interaction.input_text, 1, MAX_TEXT_CHARS),
                  sa.func.substr(Interaction.output_text, 1, MAX_TEXT_CHARS),
                  sa.func.substr(sa.func.coalesce(Interaction.error_message, ""), 1, 300))
        .join(Interaction, Interaction.id == Flag.interaction_id)
        .where(Flag.interaction_id.in_(sa.select(failing.c.interaction_id)), Flag.kind == "failure",
               Flag.status.in_(("open", "confirmed")))
    ).all()
    by_interaction: dict[int, dict[str, Any]] = {}
    for flag_id, interaction_id, reason, severity, status, text_in, text_out, error in rows:
        item = by_interaction.setdefault(interaction_id, {"flags": [], "input": text_in or "", "output": text_out or "",
                                                          "error": error or ""})
        item["flags"].append((flag_id, reason, severity, status))
    documents: dict[str, list[int]] = {}
    for interaction_id, item in by_interaction.items():
        # Negative feedback says *that* users disliked it, not how it failed: it doesn't split clusters.
        reasons = " ".join(sorted({reason for _, reason, _, _ in item["flags"] if reason != "negative_feedback"}))
        document = " ".join([reasons] * REASON_WEIGHT + [item["error"], item["output"], item["input"]])
        documents.setdefault(document, []).append(interaction_id)
    texts = list(documents)
    labels = group_texts(texts, [len(documents[t]) for t in texts], CLUSTER_DISTANCE)
    groups: dict[int, list[int]] = {}
    for text, label in zip(texts, labels):
        groups.setdefault(label, []).extend(documents[text])
    clusters = [_cluster(group_ids, by_interaction) for group_ids in groups.values()]
    clusters.sort(key=lambda cluster: (-cluster.impact, -cluster.interactions))
    return clusters


def _cluster(interaction_ids: list[int], by_interaction: dict[int, dict[str, Any]]) -> FailureCluster:
    reasons: Counter = Counter()
    impact = flags = open_count = confirmed = 0
    for interaction_id in interaction_ids:
        for _, reason, severity, status in by_interaction[interaction_id]["flags"]:
            reasons[reason] += 1
            impact += severity_rank(severity)
            flags += 1
            open_count += status == "open"
            confirmed += status == "confirmed"
    items = [by_interaction[i] for i in interaction_ids]
    examples, seen_inputs = [], set()
    for item in items:
        if len(examples) == 4:
            break
        if item["input"] in seen_inputs:
            continue
        seen_inputs.add(item["input"])
        flag_id = max(item["flags"], key=lambda f: severity_rank(f[2]))[0]
        examples.append({"flag_id": flag_id, "input": item["input"], "output": item["output"], "error": item["error"],
                         "reasons": sorted({reason for _, reason, _, _ in item["flags"]})})
    terms = top_terms([f"{item['error']} {item['output']} {item['input']}" for item in items[:500]], [1] * min(len(items), 500))
    signatures = Counter((item["error"] or item["output"]).strip()[:160] for item in items)
    signature = next((text for text, _ in signatures.most_common() if text), "")
    return FailureCluster(reasons=reasons.most_common(), interactions=len(interaction_ids), flags=flags, impact=impact,
                          open=open_count, confirmed=confirmed, terms=terms, examples=examples, signature=signature)


# --- similar flagged interactions -----------------------------------------------------------

@dataclass
class SimilarFlag:
    """Flagged interactions with one same input text, represented by their most severe flag."""

    flag_id: int
    input: str
    reasons: list[str]
    interactions: int
    statuses: Counter
    similarity: float


def similar_flagged(session: so.Session, flag: Flag, limit: int = 5) -> list[SimilarFlag]:
    """Other flagged interactions of the pilot whose input reads like this one's, closest first."""
    subject = session.scalar(sa.select(sa.func.substr(Interaction.input_text, 1, MAX_TEXT_CHARS))
                             .where(Interaction.id == flag.interaction_id)) or ""
    if not subject.strip():
        return []
    pool_ids = (sa.select(Flag.interaction_id).where(Flag.pilot_id == flag.pilot_id,
                                                     Flag.interaction_id != flag.interaction_id)
                .group_by(Flag.interaction_id).order_by(sa.func.max(Flag.id).desc()).limit(SIMILAR_POOL).subquery())
    rows = session.execute(
        sa.select(Interaction.id, sa.func.substr(Interaction.input_text, 1, MAX_TEXT_CHARS))
        .where(Interaction.id.in_(sa.select(pool_ids.c.interaction_id)))
    ).all()
    by_text: dict[str, list[int]] = {}
    for interaction_id, text in rows:
        if text and text.strip():
            by_text.setdefault(" ".join(text.split()), []).append(interaction_id)
    texts = list(by_text)
    if not texts:
        return []
    matrix, _ = _vectorise([subject] + texts)
    if matrix is None:
        return []
    similarity = (matrix[1:] @ matrix[0].T).toarray().ravel()
    best = [i for i in np.argsort(-similarity)[:limit] if similarity[i] >= SIMILAR_MIN]
    chosen_ids = [interaction_id for i in best for interaction_id in by_text[texts[i]]]
    flags_by_interaction: dict[int, list[Flag]] = {}
    for chunk_start in range(0, len(chosen_ids), 900):
        for other in session.scalars(sa.select(Flag).where(Flag.interaction_id.in_(chosen_ids[chunk_start:chunk_start + 900]))):
            flags_by_interaction.setdefault(other.interaction_id, []).append(other)
    result = []
    for i in best:
        others = [f for interaction_id in by_text[texts[i]] for f in flags_by_interaction.get(interaction_id, [])]
        if others:
            lead = max(others, key=lambda f: (severity_rank(f.severity), f.id))
            result.append(SimilarFlag(lead.id, texts[i], sorted({f.reason for f in others}),
                                      len(by_text[texts[i]]), Counter(f.status for f in others), float(similarity[i])))
    return result
