"""BackgroundJob rows: start one (and queue its job function), find one of a pilot's."""
from __future__ import annotations

from typing import Any, Callable

import sqlalchemy as sa
from sqlalchemy import orm as so

from pilot.models import BackgroundJob, Pilot, User
from pilot.worker.queue import enqueue

# Job timeouts (s): a re-flag of a million interactions or a PDF must not be cut at RQ's default 180 s.
JOB_TIMEOUT_S = 3600


def start(session: so.Session, pilot: Pilot, kind: str, func: Callable[[int], None], actor: User | None,
          params: dict[str, Any] | None = None) -> BackgroundJob:
    """Record a queued job, commit (the worker must see it), and queue `func(job.id)`.
    Without Redis the job runs before this returns."""
    job = BackgroundJob(pilot_id=pilot.id, kind=kind, status="queued", progress=0, params=params or {},
                        message="Waiting for the worker.", created_by_id=actor.id if actor is not None else None)
    session.add(job)
    session.commit()
    enqueue(func, job.id, job_timeout=JOB_TIMEOUT_S)
    session.refresh(job)
    return job


def get(session: so.Session, pilot: Pilot, job_id: int) -> BackgroundJob | None:
    job = session.get(BackgroundJob, job_id)
    return job if job is not None and job.pilot_id == pilot.id else None


def latest(session: so.Session, pilot: Pilot, kind: str) -> BackgroundJob | None:
    return session.scalar(sa.select(BackgroundJob).where(BackgroundJob.pilot_id == pilot.id, BackgroundJob.kind == kind)
                          .order_by(BackgroundJob.id.desc()).limit(1))
