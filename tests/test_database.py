"""pilot/database.py (driver-specific statements) and pilot/caches.py (per-process caches), on the
database the suite runs on: SQLite by default, PostgreSQL with TEST_DATABASE_URL."""
from __future__ import annotations

import ast
import sqlite3
import threading
from pathlib import Path
from types import SimpleNamespace

import pytest
import sqlalchemy as sa
from sqlalchemy import orm as so

from pilot import database
from pilot.caches import ProcessCache, clear_process_caches, database_key
from pilot.database import (
    advisory_xact_lock,
    compiled_insert_ignoring_conflicts,
    dialect_of,
    insert_ignoring_conflicts,
    lock_against_writers,
    without_index,
)
from pilot.models import Interaction, Prompt, RollupChange, RollupState
from pilot.models.base import utcnow
from tests.readiness_data import add_interaction

PILOT_DIR = Path(__file__).resolve().parent.parent / "pilot"


@pytest.fixture()
def statements(db):
    """The SQL statements sent to the database while the test runs."""
    sent: list[str] = []

    def record(conn, cursor, statement, parameters, context, executemany):
        sent.append(statement)

    sa.event.listen(db.engine, "before_cursor_execute", record)
    yield sent
    sa.event.remove(db.engine, "before_cursor_execute", record)


def on_postgresql(db) -> bool:
    return db.engine.dialect.name == "postgresql"


# --- dialect_of ---------------------------------------------------------------------------------

def test_dialect_of_a_session_connection_engine_and_dialect(db):
    expected = db.engine.url.get_backend_name()
    with db.engine.connect() as connection:
        assert dialect_of(connection) == expected
    assert dialect_of(db.session) == dialect_of(db.engine) == dialect_of(db.engine.dialect) == expected


def test_dialect_of_another_database_is_refused_by_name():
    with pytest.raises(RuntimeError, match="Pilot supports PostgreSQL and SQLite, not mysql"):
        dialect_of(SimpleNamespace(dialect=SimpleNamespace(name="mysql")))
    with pytest.raises(RuntimeError, match="not default"):
        dialect_of(sa.engine.default.DefaultDialect())


# --- INSERT … ON CONFLICT DO NOTHING ---------------------------------------------------------------

def test_a_conflicting_insert_is_ignored_and_the_first_row_kept(db, world):
    pilot_id = world.pilot.id
    statement = insert_ignoring_conflicts(db.session, Prompt, ["pilot_id", "name"]).returning(Prompt.id)
    first = db.session.execute(statement, {"pilot_id": pilot_id, "name": "triage", "description": "first"}).scalars().all()
    again = db.session.execute(statement, {"pilot_id": pilot_id, "name": "triage", "description": "second"}).scalars().all()
    db.session.commit()
    assert len(first) == 1 and again == []
    assert db.session.scalars(sa.select(Prompt.description).where(Prompt.pilot_id == pilot_id)).all() == ["first"]


def test_without_a_target_any_conflict_is_ignored_and_a_table_is_accepted(db, world):
    """rollup.py's RollupState row: no conflict target (its primary key decides), a Table works too."""
    table = RollupState.__table__
    stamp = utcnow()
    db.session.execute(insert_ignoring_conflicts(db.session, table).values(pilot_id=world.pilot.id, refreshed_at=stamp,
                                                                           updated_at=stamp))
    again = db.session.execute(insert_ignoring_conflicts(db.session, RollupState).values(
        pilot_id=world.pilot.id, refreshed_at=None, updated_at=stamp).returning(RollupState.pilot_id)).all()
    db.session.commit()
    assert again == []
    assert db.session.scalar(sa.select(RollupState.refreshed_at)).replace(tzinfo=None) == stamp.replace(tzinfo=None)


def test_the_compiled_insert_is_cached_per_dialect_and_runs_through_the_driver(db, world):
    table = RollupState.__table__
    connection = db.session.connection()
    dialect = connection.dialect
    columns = ("pilot_id", "refreshed_at", "updated_at")
    sql, positional = compiled_insert_ignoring_conflicts(dialect, table, ["pilot_id"], columns)
    assert compiled_insert_ignoring_conflicts(dialect, table, ("pilot_id",), list(columns)) == (sql, positional)
    assert compiled_insert_ignoring_conflicts(dialect, table, ["pilot_id"], columns)[0] is sql  # not compiled again
    assert "ON CONFLICT (pilot_id) DO NOTHING" in sql
    fewer, _ = compiled_insert_ignoring_conflicts(dialect, table, ["pilot_id"], ("pilot_id", "updated_at"))
    assert "refreshed_at" not in fewer  # keyed by the columns too

    now = table.c.updated_at.type.bind_processor(dialect)
    updated = now(utcnow()) if now else utcnow()
    rows = [(world.pilot.id, None, updated)] * 2 if positional else \
        [{"pilot_id": world.pilot.id, "refreshed_at": None, "updated_at": updated}] * 2
    connection.exec_driver_sql(sql, rows)  # the second row conflicts with the first: ignored
    db.session.commit()
    assert db.session.scalars(sa.select(RollupState.pilot_id)).all() == [world.pilot.id]


def test_insert_returning_stores_typed_values_returns_only_new_rows_and_notes_them(db, world):
    """Ingestion's driver-level multi-row INSERT: datetimes and JSON go through the column types'
    own processors (read back equal through the ORM), a conflict returns nothing, and the rows are
    noted for the rollup's change capture."""
    table = Interaction.__table__
    when = utcnow().replace(microsecond=0)  # a whole second: SQLite's format must still keep ".000000"

    def row(event_id: str, meta: dict) -> dict:
        return {"pilot_id": world.pilot.id, "event_id": event_id, "occurred_at": when, "received_at": when,
                "input_text": "q ☃", "output_text": "a", "input_chars": 3, "output_chars": 1, "cached_input_tokens": 0,
                "status": "ok", "metadata": meta, "tokens_estimated": True, "cost_source": "unknown", "source": "api"}

    first = database.insert_returning(db.session, table, ["pilot_id", "event_id"],
                                      [row("a", {"k": [1, "é"]}), row("b", {})], ["id", "event_id"])
    again = database.insert_returning(db.session, table, ["pilot_id", "event_id"],
                                      [row("b", {}), row("c", {"n": None})], ["event_id"])
    noted = db.session.info.get(database.DRIVER_INSERTS)
    assert [event_id for _, event_id in first] == ["a", "b"] and again == [("c",)]
    assert [(name, len(rows), found) for name, rows, _, found in noted][1] == ("interaction", 2, [("c",)])
    db.session.commit()
    assert database.DRIVER_INSERTS not in db.session.info  # recorded by the change capture at commit
    stored = {ix.event_id: ix for ix in db.session.scalars(sa.select(Interaction))}
    assert stored["a"].meta == {"k": [1, "é"]} and stored["c"].meta == {"n": None}
    assert stored["a"].occurred_at.replace(tzinfo=None) == when.replace(tzinfo=None) and stored["a"].tokens_estimated
    assert db.session.scalar(sa.select(sa.func.count()).select_from(table).where(table.c.occurred_at == when)) == 3
    assert db.session.scalars(sa.select(RollupChange.first_id).where(RollupChange.first_id.is_not(None))).all()


def test_insert_returning_splits_a_batch_wider_than_one_statement(db, world, statements):
    """1,001 rows: two statements (at most 1,000 rows each), every row inserted and returned."""
    when = utcnow()
    rows = [{"pilot_id": world.pilot.id, "event_id": f"e{number:04d}", "occurred_at": when, "received_at": when,
             "input_text": "", "output_text": "", "input_chars": 0, "output_chars": 0, "cached_input_tokens": 0,
             "status": "ok", "metadata": {}, "tokens_estimated": False, "cost_source": "unknown", "source": "api"}
            for number in range(1_001)]
    found = database.insert_returning(db.session, Interaction.__table__, ["pilot_id", "event_id"], rows, ["event_id"])
    db.session.commit()
    inserts = [statement for statement in statements if statement.startswith("INSERT INTO interaction")]
    assert len(inserts) == 2 and sorted(event_id for (event_id,) in found) == [row["event_id"] for row in rows]
    assert db.session.scalar(sa.select(sa.func.count()).select_from(Interaction)) == 1_001


def test_the_flagging_engine_uses_the_shared_compiled_insert(db):
    from pilot.flagging.engine import INSERT_COLUMNS
    from pilot.models import Flag

    dialect = db.engine.dialect
    sql, _ = compiled_insert_ignoring_conflicts(dialect, Flag.__table__, ("interaction_id", "reason"), INSERT_COLUMNS)
    assert "ON CONFLICT (interaction_id, reason) DO NOTHING" in sql


# --- locks ------------------------------------------------------------------------------------------

def test_the_advisory_lock_is_held_until_the_transaction_ends(db, statements):
    key = "pilot-test-lock:1"
    advisory_xact_lock(db.session, key)
    if not on_postgresql(db):
        assert statements == ["BEGIN IMMEDIATE"]  # the file's write lock, taken before any read
        other = sqlite3.connect(db.engine.url.database, timeout=0)
        try:
            with pytest.raises(sqlite3.OperationalError, match="locked"):
                other.execute("BEGIN IMMEDIATE")
            db.session.commit()
            other.execute("BEGIN IMMEDIATE")  # released at commit
            other.rollback()
        finally:
            other.close()
        advisory_xact_lock(db.session, key)
        db.session.execute(sa.text("DELETE FROM rollup_change WHERE 1 = 0"))
        advisory_xact_lock(db.session, key)  # the transaction holds the lock already: no second BEGIN
        assert statements.count("BEGIN IMMEDIATE") == 2
        db.session.commit()
        return
    try_lock = sa.text("SELECT pg_try_advisory_xact_lock(hashtext(:key))")
    with db.engine.connect() as other:
        assert other.execute(try_lock, {"key": key}).scalar() is False  # held by the session
        assert other.execute(try_lock, {"key": "pilot-test-lock:2"}).scalar() is True  # another key is free
        other.rollback()
        db.session.commit()
        assert other.execute(try_lock, {"key": key}).scalar() is True  # released at commit
        other.rollback()


def test_lock_against_writers_blocks_writers_until_the_transaction_ends(db, statements):
    table = RollupChange.__tablename__
    locked = lock_against_writers(db.session, table)
    if not on_postgresql(db):
        assert locked is False and statements == []
        return
    assert locked is True
    mode = db.session.scalar(sa.text("SELECT mode FROM pg_locks WHERE relation = CAST(:t AS regclass) "
                                     "AND pid = pg_backend_pid()"), {"t": table})
    assert mode == "ShareRowExclusiveLock"
    write_lock = sa.text(f"LOCK TABLE {table} IN ROW EXCLUSIVE MODE NOWAIT")  # what an INSERT takes
    with db.engine.connect() as other:
        with pytest.raises(sa.exc.OperationalError, match="could not obtain lock"):
            other.execute(write_lock)
        other.rollback()
        db.session.commit()
        other.execute(write_lock)
        other.rollback()


# --- the SQLite planner hint --------------------------------------------------------------------

def test_without_index_keeps_the_index_out_on_sqlite_and_the_groups_unchanged(db, world):
    for n, model in enumerate(["gpt-4o", "gpt-4o", "claude-haiku-4-5"]):
        add_interaction(db, world.pilot, f"e{n}", model=model)
    db.session.commit()
    key = without_index(db.session, Interaction.model)
    if on_postgresql(db):
        assert key is Interaction.model
    else:
        assert "+interaction.model" in str(key.compile(db.engine)).replace(" ", "")
    rows = db.session.execute(sa.select(key, sa.func.count()).where(Interaction.pilot_id == world.pilot.id)
                              .group_by(key).order_by(key)).all()
    assert [tuple(row) for row in rows] == [("claude-haiku-4-5", 1), ("gpt-4o", 2)]


# --- ProcessCache -----------------------------------------------------------------------------------

def test_the_cache_keeps_the_most_recently_used_entries_within_its_bound():
    cache = ProcessCache("test.lru", max_entries=2)
    cache.put("a", 1)
    cache.put("b", 2)
    assert cache.get("a") == 1  # "a" is now the most recent
    cache.put("c", 3)
    assert "b" not in cache and cache.get("a") == 1 and cache.get("c") == 3 and len(cache) == 2
    assert cache.get("b", "missing") == "missing"
    assert cache.get_or_compute("c", lambda: pytest.fail("computed a stored value")) == 3
    assert cache.get_or_compute("d", lambda: 4) == 4 and "d" in cache and "a" not in cache


def test_a_cache_needs_room_for_one_entry():
    with pytest.raises(ValueError, match="max_entries: must be at least 1, not 0"):
        ProcessCache("test.empty", max_entries=0)


def test_clearing_empties_every_registered_cache(db, world):
    from pilot.analytics.costs import CostInputs, _measured, measurements

    measurements(db.session, world.pilot, CostInputs())
    mine = ProcessCache("test.clear", max_entries=4)
    mine.put("x", 1)
    assert len(_measured) == 1
    clear_process_caches()
    assert len(_measured) == 0 and len(mine) == 0


def test_the_cache_is_safe_to_share_between_threads():
    cache = ProcessCache("test.threads", max_entries=50)

    def fill(offset: int) -> None:
        for n in range(500):
            cache.put((offset, n), n)
            cache.get((offset, n - 1))

    threads = [threading.Thread(target=fill, args=(offset,)) for offset in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(cache) == 50


def test_keys_of_database_values_name_the_database(db):
    first, second = sa.create_engine("sqlite://"), sa.create_engine("sqlite:////tmp/pilot-other.db")
    with so.Session(first) as one, so.Session(second) as other:
        assert database_key(one, 7, "x") == ("sqlite://", 7, "x")
        assert database_key(one, 7) != database_key(other, 7)
    assert database_key(db.session, 7)[0] == db.engine.url.render_as_string(hide_password=True)
    secret = so.Session(sa.create_engine("postgresql+psycopg://pilot:hunter2@localhost/pilot"))
    assert "hunter2" not in database_key(secret)[0]
    first.dispose()
    second.dispose()


def test_the_cost_measurements_are_kept_apart_per_database(db, world):
    from pilot.analytics.costs import CostInputs, _measured, measurements

    value = measurements(db.session, world.pilot, CostInputs())
    (key,) = [key for key in list(_measured._entries)]
    assert key[0] == str(db.engine.url) and key[1] == world.pilot.id
    assert measurements(db.session, world.pilot, CostInputs()) is value


# --- one home for driver-specific code ---------------------------------------------------------

DRIVER_MODULES = ("sqlalchemy.dialects", "psycopg", "psycopg2", "sqlite3")


def driver_specific_lines(source: str) -> list[int]:
    """Lines that import a driver or SQLAlchemy dialect module, or compare a dialect's name."""
    found = []
    for node in ast.walk(ast.parse(source)):
        names: list[str] = []
        if isinstance(node, ast.Import):
            names = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module:
            names = [node.module] + [f"{node.module}.{alias.name}" for alias in node.names]
        if any(name == module or name.startswith(module + ".") for name in names for module in DRIVER_MODULES):
            found.append(node.lineno)
        if isinstance(node, ast.Compare):
            for side in (node.left, *node.comparators):
                if isinstance(side, ast.Attribute) and side.attr == "name" and "dialect" in ast.unparse(side.value):
                    found.append(node.lineno)
    return found


def test_the_scan_sees_what_it_forbids():
    assert driver_specific_lines("from sqlalchemy.dialects import postgresql") == [1]
    assert driver_specific_lines("from sqlalchemy import dialects") == [1]
    assert driver_specific_lines("import psycopg") == [1]
    assert driver_specific_lines("x = 1\nif session.get_bind().dialect.name == 'sqlite':\n    pass") == [2]
    assert driver_specific_lines("ok = 'postgresql' != engine.dialect.name") == [1]
    assert driver_specific_lines("import sqlalchemy as sa\nname = dialect_of(session)") == []


def test_only_pilot_database_holds_driver_specific_code():
    offenders = []
    for path in sorted(PILOT_DIR.rglob("*.py")):
        if path == PILOT_DIR / "database.py":
            continue
        offenders += [f"{path.relative_to(PILOT_DIR.parent)}:{line}" for line in driver_specific_lines(path.read_text())]
    assert not offenders, "driver-specific code outside pilot/database.py:\n  " + "\n  ".join(offenders)


def test_the_connect_hooks_live_in_the_database_module():
    assert database.engine_options("sqlite:///x.db") == {"pool_pre_ping": True}
    options = database.engine_options("postgresql+psycopg://localhost/pilot")
    assert options["paramstyle"] == "numeric_dollar"
