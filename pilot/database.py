"""Driver-specific statements (PostgreSQL and SQLite), shared by every capability that stores rows."""
from __future__ import annotations

from sqlalchemy import orm as so
from sqlalchemy.dialects import postgresql, sqlite


def insert_ignoring_conflicts(session: so.Session, model, index_elements: list[str]):
    """INSERT … ON CONFLICT (index_elements) DO NOTHING for the session's database."""
    dialect = session.get_bind().dialect.name
    if dialect == "postgresql":
        return postgresql.insert(model).on_conflict_do_nothing(index_elements=index_elements)
    if dialect == "sqlite":
        return sqlite.insert(model).on_conflict_do_nothing(index_elements=index_elements)
    raise RuntimeError(f"Pilot supports PostgreSQL and SQLite, not {dialect}")
