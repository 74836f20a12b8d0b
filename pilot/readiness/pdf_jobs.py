"""The readiness report's PDF, rendered by the worker (it takes seconds) with progress on the job."""
from __future__ import annotations

import contextlib
import logging
import re
from typing import Callable, Iterator

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
    progress(30, "Laying out the PDF.")
    html = exports.report_html(report, stale_note=stale)
    with _weasyprint_steps(progress):
        return exports.report_pdf(html)


# WeasyPrint logs its steps ("Step 5 - Creating layout - Page 2") on this logger: the job's progress follows them.
WEASYPRINT_STEPS = 7


@contextlib.contextmanager
def _weasyprint_steps(progress: Callable[[int, str], None]) -> Iterator[None]:
    class StepHandler(logging.Handler):
        def emit(self, record: logging.LogRecord) -> None:
            text = record.getMessage()
            step = re.match(r"Step (\d+) - (.*)", text)
            if step:
                done = min(int(step.group(1)), WEASYPRINT_STEPS)
                progress(30 + 65 * done // WEASYPRINT_STEPS, f"Drawing the PDF: {step.group(2)[:80]}.")

    logger = logging.getLogger("weasyprint.progress")
    handler, level = StepHandler(), logger.level
    logger.addHandler(handler)
    logger.setLevel(logging.INFO)
    try:
        yield
    finally:
        logger.removeHandler(handler)
        logger.setLevel(level)


def filename(pilot: Pilot, job: BackgroundJob) -> str:
    number = (job.params or {}).get("number")
    return f"{pilot.slug}-readiness-{number}.pdf" if number else f"{pilot.slug}-readiness-live.pdf"
