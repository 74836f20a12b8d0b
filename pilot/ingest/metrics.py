"""Prometheus counters for ingestion, exported by /metrics (the default registry)."""
from __future__ import annotations

from prometheus_client import Counter

INTERACTIONS = Counter(
    "pilot_ingest_interactions",
    "Interactions received by the ingestion API, by source (api|otlp) and result "
    "(accepted|duplicate|rejected).",
    ["source", "result"],
)
OTLP_SPANS_IGNORED = Counter("pilot_ingest_otlp_spans_ignored", "OTLP spans that were not LLM spans.")


def count_batch(source: str, accepted: int, duplicates: int, rejected: int) -> None:
    """Count a committed batch (call after the commit, so the numbers are true)."""
    for result, amount in (("accepted", accepted), ("duplicate", duplicates), ("rejected", rejected)):
        if amount:
            INTERACTIONS.labels(source=source, result=result).inc(amount)

for _source in ("api", "otlp"):
    for _result in ("accepted", "duplicate", "rejected"):
        INTERACTIONS.labels(source=_source, result=_result)  # export zeros before the first batch
