"""One transaction per request action: views say *what* to change, this says when it is kept.

`with unit_of_work():` commits when the block ends normally and rolls back on any exception,
which it re-raises so the view can turn a service error into a flash message or a 400/403.
`retrying(work)` is the same for the ingestion endpoints, which may meet a locked SQLite or a
PostgreSQL deadlock: it runs `work` in a fresh unit of work a few times before giving up with
`DatabaseBusy` (the view answers 503 + Retry-After; nothing was kept, so a retry is safe).
Services never commit; views never write their own commit/rollback pairs or retry loops.
"""
from __future__ import annotations

import contextlib
import time
from typing import Callable, Iterator, TypeVar

import sqlalchemy as sa
from sqlalchemy import orm as so

from pilot.extensions import db

T = TypeVar("T")

# SQLite allows one writer at a time; work that finds the database locked for longer than the
# driver's busy timeout is retried a few times before the client is asked to retry.
LOCK_RETRIES = 3


class DatabaseBusy(Exception):
    """The database stayed locked through every retry: nothing was kept."""

    def __init__(self, error: sa.exc.OperationalError):
        super().__init__(str(error.orig))
        self.error = error


@contextlib.contextmanager
def unit_of_work(session: so.Session | None = None) -> Iterator[so.Session]:
    """Commit on success, roll back (and re-raise) on failure: nothing half-done is kept."""
    session = session if session is not None else db.session
    try:
        yield session
    except BaseException:
        session.rollback()
        raise
    session.commit()


def is_lock_conflict(error: sa.exc.OperationalError) -> bool:
    """SQLite 'database is locked' or a PostgreSQL deadlock: both are safe to retry."""
    text = str(error.orig).lower()
    return "database is locked" in text or "deadlock detected" in text


def retrying(work: Callable[[], T], *, retries: int = LOCK_RETRIES, session: so.Session | None = None) -> T:
    """`work()` in a unit of work, again (after a short pause) when the database was locked.

    Other errors propagate after the rollback; a lock that outlasts `retries` attempts raises
    DatabaseBusy."""
    attempt = 0
    while True:
        try:
            with unit_of_work(session):
                return work()
        except sa.exc.OperationalError as error:
            attempt += 1
            if not is_lock_conflict(error):
                raise
            if attempt >= retries:
                raise DatabaseBusy(error) from error
            time.sleep(0.05 * attempt)
