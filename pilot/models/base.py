"""Column helpers shared by every model."""
from __future__ import annotations

from datetime import datetime, timezone

import sqlalchemy as sa

# SQLite only autoincrements an INTEGER PRIMARY KEY; PostgreSQL gets a real BIGINT.
BigIntPK = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def utcnow() -> datetime:
    """Naive UTC now: every timestamp in the database is UTC without tzinfo."""
    return datetime.now(timezone.utc).replace(tzinfo=None)
