"""Everything that differs between PostgreSQL and SQLite, in one place.

Pilot runs on both; the rest of pilot/ writes portable SQLAlchemy and calls these helpers where
the two databases need different statements (tests/test_database.py fails if another module
imports `sqlalchemy.dialects`, psycopg or sqlite3, or compares a dialect's name):

- `dialect_of`: 'postgresql' or 'sqlite' (anything else is refused);
- `insert_ignoring_conflicts`, `compiled_insert_ignoring_conflicts`, `insert_returning`: INSERT …
  ON CONFLICT DO NOTHING, as a statement, compiled once per dialect for the driver's executemany,
  or as the driver's multi-row VALUES … RETURNING;
- `advisory_xact_lock`, `lock_against_writers`: PostgreSQL locks that SQLite does not need (it
  has one writer at a time);
- `without_index`: SQLite's planner hint for a whole-pilot GROUP BY;
- `engine_options` and the connect hooks: psycopg's raw cursors on PostgreSQL; WAL, busy timeout
  and page cache on SQLite.
"""
from __future__ import annotations

from typing import Any, Iterable

import sqlalchemy as sa
from sqlalchemy import orm as so
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.sql import operators
from sqlalchemy.sql.elements import UnaryExpression

from pilot.caches import ProcessCache

POSTGRESQL = "postgresql"
SQLITE = "sqlite"
_INSERT = {POSTGRESQL: postgresql.insert, SQLITE: sqlite.insert}


def dialect_of(bind: Any) -> str:
    """'postgresql' or 'sqlite' for a session, connection, engine or dialect; RuntimeError for
    any other database (Pilot supports those two)."""
    if hasattr(bind, "get_bind"):  # a Session (or Flask-SQLAlchemy's scoped session)
        bind = bind.get_bind()
    name = getattr(bind, "dialect", bind).name
    if name not in _INSERT:
        raise RuntimeError(f"Pilot supports PostgreSQL and SQLite, not {name}")
    return name


def insert_ignoring_conflicts(session: so.Session, model_or_table, index_elements: Iterable[str] | None = None):
    """INSERT … ON CONFLICT (index_elements) DO NOTHING for the session's database; without
    index_elements, any unique conflict is ignored. Takes an ORM model or a Table."""
    insert = _INSERT[dialect_of(session)](model_or_table)
    return insert.on_conflict_do_nothing(index_elements=list(index_elements) if index_elements else None)


# Compiled statements depend on the dialect (and its parameter style), not on the data: no URL.
_compiled_inserts = ProcessCache("compiled_insert_ignoring_conflicts", max_entries=32)


def compiled_insert_ignoring_conflicts(dialect: sa.engine.Dialect, table: sa.Table, index_elements: Iterable[str],
                                       column_keys: Iterable[str]) -> tuple[str, bool]:
    """INSERT … ON CONFLICT (index_elements) DO NOTHING into `column_keys`, compiled by SQLAlchemy
    once per dialect: (SQL text, whether its parameters are positional), for
    `connection.exec_driver_sql(sql, rows)` — rows as tuples in `column_keys` order when positional,
    else dicts. A hot path hands the driver this and plain rows, skipping SQLAlchemy's per-row work."""
    index_elements, column_keys = tuple(index_elements), tuple(column_keys)
    name = dialect_of(dialect)
    key = (name, dialect.paramstyle, table.fullname, index_elements, column_keys)

    def compile_once() -> tuple[str, bool]:
        statement = _INSERT[name](table).on_conflict_do_nothing(index_elements=list(index_elements))
        compiled = statement.compile(dialect=dialect, column_keys=list(column_keys))
        return compiled.string, bool(compiled.positional)

    return _compiled_inserts.get_or_compute(key, compile_once)


# session.info: rows inserted by `insert_returning`, which no Session event sees, for whoever
# must know what a transaction wrote (the rollup's change capture reads and clears it).
DRIVER_INSERTS = "pilot.database.driver_inserts"
_multirow_inserts = ProcessCache("insert_returning", max_entries=64)


def bind_processors(dialect: sa.engine.Dialect, table: sa.Table, keys: Iterable[str]) -> list:
    """Per column, the function SQLAlchemy would pass its values through before the driver, or
    None: the dialect's own implementation of the type (SQLite's DATETIME writes its own text
    format; the generic DateTime has no processor, and sqlite3's default adapter would write another)."""
    return [table.c[key].type.dialect_impl(dialect).bind_processor(dialect) for key in keys]


def insert_returning(session: so.Session, table: sa.Table, index_elements: Iterable[str], rows: list[dict],
                     returning: Iterable[str]) -> list[tuple]:
    """INSERT … ON CONFLICT (index_elements) DO NOTHING RETURNING `returning`, for plain column
    dicts that all have the same keys, handed to the driver as multi-row VALUES statements (no
    Python-side column defaults are applied: each row gives every NOT NULL column).

    A hot path's INSERT through SQLAlchemy spends more CPU building its parameters (a dict
    walked per row, each value through its type's processor) than the database spends storing
    the rows; on SQLite that time is spent holding the file's one write lock. Here each
    column's processor is looked up once and applied only where the type has one. Returns the
    RETURNING rows of the inserted rows (conflicts return nothing), and notes (table name,
    rows, returned rows) in session.info[DRIVER_INSERTS].
    """
    if not rows:
        return []
    connection = session.connection()
    dialect = connection.dialect
    name = dialect_of(dialect)
    keys = tuple(rows[0])
    returning, index_elements = tuple(returning), tuple(index_elements)
    processors = [(position, process) for position, process in enumerate(bind_processors(dialect, table, keys))
                  if process is not None]
    limit = 32_766 if name == SQLITE else 65_535  # bound parameters per statement (SQLite ≥ 3.32)
    chunk = max(1, min(1_000, limit // len(keys)))
    found: list[tuple] = []
    for start in range(0, len(rows), chunk):
        part = rows[start:start + chunk]
        count = len(part)
        sql = _multirow_inserts.get_or_compute(
            (name, dialect.paramstyle, table.fullname, keys, index_elements, returning, count),
            lambda count=count: _multirow_insert_sql(dialect, table, keys, index_elements, returning, count))
        values = []
        for row in part:
            row_values = [row[key] for key in keys]
            for position, process in processors:
                row_values[position] = process(row_values[position])
            values += row_values
        found += [tuple(returned) for returned in connection.exec_driver_sql(sql, tuple(values))]
    session.info.setdefault(DRIVER_INSERTS, []).append((table.name, rows, returning, found))
    return found


def _multirow_insert_sql(dialect: sa.engine.Dialect, table: sa.Table, keys: tuple[str, ...],
                         index_elements: tuple[str, ...], returning: tuple[str, ...], count: int) -> str:
    quote = dialect.identifier_preparer.quote
    width = len(keys)
    if dialect.paramstyle == "numeric_dollar":  # PostgreSQL through psycopg's RawCursor (engine_options)
        groups = ("(" + ", ".join(f"${row * width + column + 1}" for column in range(width)) + ")"
                  for row in range(count))
    elif dialect.paramstyle == "qmark":
        group = "(" + ", ".join("?" * width) + ")"
        groups = (group for _ in range(count))
    else:
        raise RuntimeError(f"insert_returning: parameter style {dialect.paramstyle} is not supported")
    return (f"INSERT INTO {quote(table.name)} ({', '.join(quote(key) for key in keys)}) VALUES {', '.join(groups)} "
            f"ON CONFLICT ({', '.join(quote(key) for key in index_elements)}) DO NOTHING "
            f"RETURNING {', '.join(quote(key) for key in returning)}")


def advisory_xact_lock(session: so.Session, key: str) -> None:
    """Run the rest of this transaction as the only one of its kind, until commit or rollback.

    PostgreSQL: wait for the transaction-scoped advisory lock named `key`, so one such section
    runs at a time across workers. SQLite has one writer per file, but Python's sqlite3 opens a
    transaction only at its first write: reads that decide what to write (is this span's call
    already stored?) could miss another worker's rows committed meanwhile. So take the file's
    write lock now (BEGIN IMMEDIATE, waiting up to the busy timeout) unless this transaction holds
    it already; `key` is not needed, the whole file is the lock."""
    if dialect_of(session) == POSTGRESQL:
        session.execute(sa.text("SELECT pg_advisory_xact_lock(hashtext(:key))"), {"key": key})
        return
    connection = session.connection()  # not session.execute: its autoflush would begin a deferred transaction first
    if not connection.connection.driver_connection.in_transaction:
        connection.exec_driver_sql("BEGIN IMMEDIATE")


def lock_against_writers(session: so.Session, table_name: str) -> bool:
    """PostgreSQL: lock `table_name` against other writers until the transaction ends (SHARE ROW
    EXCLUSIVE: readers go on, writers wait) and return True. SQLite has one writer at a time, so
    there is nothing to lock and nothing committed meanwhile: False."""
    if dialect_of(session) != POSTGRESQL:
        return False
    quoted = session.get_bind().dialect.identifier_preparer.quote(table_name)
    session.execute(sa.text(f"LOCK TABLE {quoted} IN SHARE ROW EXCLUSIVE MODE"))
    return True


def without_index(session: so.Session, column: sa.ColumnElement) -> sa.ColumnElement:
    """`column` as a whole-pilot GROUP BY key that no index should serve.

    On SQLite the planner walks the (pilot, model, latency) or (pilot, user) index to get the
    groups in order, then looks every row up at random: 3 s for a million rows where a plain
    pass with a sort is 0.8 s. A unary `+` (SQLite's documented way to keep an index out of a
    plan) stops it; the value is unchanged. PostgreSQL plans this well already and has no
    unary + for text, so it gets the bare column."""
    if dialect_of(session) != SQLITE:
        return column
    return UnaryExpression(column, operator=operators.custom_op("+"), type_=column.type)


# --- engines and connections ---------------------------------------------------------------

def engine_options(url: str) -> dict:
    """PostgreSQL: SQLAlchemy renders `$n` placeholders and psycopg passes the query through
    (RawCursor) instead of re-parsing `%(name)s` ones; psycopg does not cache that parse for
    long statements, and a 100-row INSERT has 2,600 parameters: half of ingestion's CPU."""
    options: dict = {"pool_pre_ping": True}
    if url.startswith("postgresql"):
        import psycopg

        options.update(paramstyle="numeric_dollar", connect_args={"cursor_factory": psycopg.RawCursor})
    return options


@sa.event.listens_for(sa.engine.Engine, "connect")
def _raw_server_cursors_too(dbapi_connection, connection_record) -> None:
    """engine_options() makes psycopg pass `$n` queries through (RawCursor); a streamed
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
