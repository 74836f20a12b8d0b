"""One transaction per request action: views say *what* to change, this says when it is kept.

`with unit_of_work():` commits when the block ends normally and rolls back on any exception,
which it re-raises so the view can turn a service error into a flash message or a 400/403.
Services never commit; views never write their own commit/rollback pairs.
"""
from __future__ import annotations

import contextlib
from typing import Iterator

from sqlalchemy import orm as so

from pilot.extensions import db


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
