"""BackgroundJob rows: start one (and queue its job function), find one of a pilot's."""
from __future__ import annotations

from typing import Any, Callable

import sqlalchemy as sa
from sqlalchemy import orm as so

from pilot.models import BackgroundJob, Pilot, User
from pilot.worker.queue import enqueue

# Job timeouts (s): a re-flag of a million interactions or a PDF must not be cut at RQ's default 180 s.
JOB_TIMEOUT_S = 3600
KEEP_RESULTS = 5  # a pilot's newest PDFs stay downloadable; older jobs keep their row, not the file


def start(session: so.Session, pilot: Pilot, kind: str, func: str | Callable[[int], None], actor: User | None,
          params: dict[str, Any] | None = None) -> BackgroundJob:
    """Record a queued job, commit (the worker must see it), and queue `func(job.id)` (`func` a
    dotted name, see queue.job_function).
    Without Redis the job runs before this returns."""
    job = BackgroundJob(pilot_id=pilot.id, kind=kind, status="queued", progress=0, params=params or {},
                        message="Waiting for the worker.", created_by_id=actor.id if actor is not None else None)
    session.add(job)
    _drop_old_results(session, pilot, kind)
    session.commit()
    enqueue(func, job.id, job_timeout=JOB_TIMEOUT_S)
    session.refresh(job)
    return job


def _drop_old_results(session: so.Session, pilot: Pilot, kind: str) -> None:
    old = session.scalars(sa.select(BackgroundJob.id).where(
        BackgroundJob.pilot_id == pilot.id, BackgroundJob.kind == kind, BackgroundJob.result.is_not(None))
        .order_by(BackgroundJob.id.desc()).offset(KEEP_RESULTS - 1)).all()
    if old:
        session.execute(sa.update(BackgroundJob).where(BackgroundJob.id.in_(old)).values(result=None, message="Expired (only the newest files are kept): start a new one.").execution_options(synchronize_session=False))


def has_result(session: so.Session, job: BackgroundJob) -> bool:
    """Whether the job's file is there, without loading it."""
    return bool(session.scalar(sa.select(BackgroundJob.result.is_not(None)).where(BackgroundJob.id == job.id)))
