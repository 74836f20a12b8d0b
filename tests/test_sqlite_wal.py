"""SQLite files are opened in WAL mode with a busy timeout and a larger page cache (pilot.database._sqlite_wal)."""
from __future__ import annotations

import sqlalchemy as sa

from pilot.database import SQLITE_BUSY_TIMEOUT_MS, SQLITE_CACHE_KIB


def test_a_sqlite_file_is_opened_in_wal_mode_with_a_busy_timeout(tmp_path):
    engine = sa.create_engine(f"sqlite:///{tmp_path / 'wal.db'}")
    with engine.connect() as connection:
        assert connection.exec_driver_sql("PRAGMA journal_mode").scalar() == "wal"
        assert connection.exec_driver_sql("PRAGMA busy_timeout").scalar() == SQLITE_BUSY_TIMEOUT_MS
        assert connection.exec_driver_sql("PRAGMA synchronous").scalar() == 2  # FULL: a 200 survives a power cut
        assert connection.exec_driver_sql("PRAGMA cache_size").scalar() == -SQLITE_CACHE_KIB
    engine.dispose()


def test_a_reader_is_not_blocked_by_an_open_write(tmp_path):
    """The point of WAL: the dashboard reads while an ingestion transaction is still open."""
    engine = sa.create_engine(f"sqlite:///{tmp_path / 'wal.db'}")
    with engine.begin() as connection:
        connection.exec_driver_sql("CREATE TABLE t (x INTEGER)")
        connection.exec_driver_sql("INSERT INTO t VALUES (1)")
    writer, reader = engine.connect(), engine.connect()
    writer.exec_driver_sql("BEGIN EXCLUSIVE")  # in rollback-journal mode this locks readers out
    writer.exec_driver_sql("INSERT INTO t VALUES (2)")
    reader.exec_driver_sql("PRAGMA busy_timeout = 0")  # fail at once instead of waiting, if it were blocked
    assert reader.exec_driver_sql("SELECT count(*) FROM t").scalar() == 1
    writer.rollback()
    writer.close()
    reader.close()
    engine.dispose()


def test_an_in_memory_database_is_left_alone():
    engine = sa.create_engine("sqlite://")
    with engine.connect() as connection:
        assert connection.exec_driver_sql("PRAGMA journal_mode").scalar() == "memory"
    engine.dispose()
