"""The readiness report's PDF, rendered by the worker (it takes seconds) with progress on the job."""
from __future__ import annotations

from typing import Callable

from sqlalchemy import orm as so

from pilot.models import BackgroundJob, Pilot
from pilot.readiness import exports, snapshots
from pilot.readiness.report import build_report


def render_pdf_for_job(session: so.Session, job: BackgroundJob, progress: Callable[[int, str], None]) -> bytes:
    """The PDF of the live report, or of the snapshot `job.params["number"]`."""
    pilot = session.get(Pilot, job.pilot_id)
    number = (job.params or {}).get("number")
    progress(10, "Building the report.")
    if number:
        snapshot = snapshots.get_snapshot(session, pilot, int(number))
        if snapshot is None:
            raise ValueError(f"No report #{number} in this pilot.")
        report, stale = snapshots.snapshot_json(snapshot), snapshots.staleness(session, pilot, snapshot)
    else:
        report, stale = build_report(session, pilot), None
    progress(40, "Laying out the PDF.")
    html = exports.report_html(report, stale_note=stale)
    progress(60, "Drawing the PDF pages.")
    return exports.report_pdf(html)


def filename(pilot: Pilot, job: BackgroundJob) -> str:
    number = (job.params or {}).get("number")
    return f"{pilot.slug}-readiness-{number}.pdf" if number else f"{pilot.slug}-readiness-live.pdf"
