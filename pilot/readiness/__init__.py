"""Launch readiness: the 20-item production checklist, the verdict, signed snapshots and exports.

`build_report(session, pilot)` returns the readiness report of docs/design.md (live); `snapshots`
freezes it into numbered, signable ReadinessReport rows; `exports` writes JSON, CSV, HTML, PDF.
"""
from pilot.readiness.report import build_report

__all__ = ["build_report"]
