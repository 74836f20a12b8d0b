"""Extension objects, created unbound and bound to the app in create_app()."""
import sqlalchemy as sa
from flask_limiter import Limiter
from flask_limiter.util import get_remote_address
from flask_login import LoginManager
from flask_migrate import Migrate
from flask_sqlalchemy import SQLAlchemy
from flask_wtf import CSRFProtect
from sqlalchemy import orm as so

# One naming convention, so migrations name constraints the same on SQLite and PostgreSQL.
NAMING_CONVENTION = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


class Base(so.DeclarativeBase):
    metadata = sa.MetaData(naming_convention=NAMING_CONVENTION)


db = SQLAlchemy(model_class=Base)
migrate = Migrate()
login_manager = LoginManager()
csrf = CSRFProtect()
limiter = Limiter(key_func=get_remote_address, default_limits=[])


@sa.event.listens_for(sa.engine.Engine, "connect")
def _raw_server_cursors_too(dbapi_connection, connection_record) -> None:
    """config.engine_options() makes psycopg pass `$n` queries through (RawCursor); a streamed
    query (`yield_per`) uses a *server* cursor, which must then be the raw kind as well."""
    try:
        import psycopg
    except ImportError:  # SQLite-only installs
        return
    if isinstance(dbapi_connection, psycopg.Connection) and dbapi_connection.cursor_factory is psycopg.RawCursor:
        dbapi_connection.server_cursor_factory = psycopg.RawServerCursor


SQLITE_BUSY_TIMEOUT_MS = 30_000
# Page cache per connection, allocated as used (SQLite's default is 2 MiB). A batch inserts into
# the latency and cost indexes at random places; at a million rows their pages do not fit in
# 2 MiB and are read again on every batch (docs/perf.md: −17 % CPU per batch at 1M).
SQLITE_CACHE_KIB = 64 * 1024


@sa.event.listens_for(sa.engine.Engine, "connect")
def _sqlite_wal(dbapi_connection, connection_record) -> None:
    """SQLite files run in WAL mode with a busy timeout and a larger page cache.

    In the default rollback-journal mode a writer locks readers out, so a dashboard read waits for
    an ingestion commit and gunicorn's second worker gets "database is locked" under load. WAL lets
    readers go on during a write and makes a commit one append instead of a journal file written,
    synced and deleted. The busy timeout makes a second writer wait for the lock (up to 30 s)
    instead of failing at once. WAL is a property of the file and persists; in-memory databases
    answer "memory" and are left as they are. `synchronous` stays FULL: a 200 means the rows
    survive a power cut, which WAL's cheaper NORMAL would not promise.
    """
    if type(dbapi_connection).__module__ != "sqlite3":
        return
    cursor = dbapi_connection.cursor()
    try:
        cursor.execute(f"PRAGMA busy_timeout = {SQLITE_BUSY_TIMEOUT_MS}")
        cursor.execute("PRAGMA journal_mode = WAL")
        cursor.execute(f"PRAGMA cache_size = -{SQLITE_CACHE_KIB}")
    finally:
        cursor.close()
