"""Change capture for the dashboard's rollup: which (pilot, UTC day)s a transaction wrote.

The write side (ingest, feedback, flagging, review, participants, pricing) knows nothing of the
rollup. Instead, events installed once by the app factory watch every write to the three tables
the rollup reads — interactions, feedback and flags — and append the (pilot, day) of each
affected interaction's day to `rollup_change` in the same transaction (so a rollback takes the
record with it, and a commit cannot land without it):

- ORM unit of work (add, attribute change, delete): noted at `before_flush` from the objects and
  their attribute history, written at `after_flush`;
- statements through `Session.execute` (`do_orm_execute`): Core/ORM INSERTs from their parameter
  rows, bulk UPDATE/DELETE from one SELECT of the days their WHERE clause (or their primary-key
  parameter rows) matches, taken before the statement runs and again after it when it moves
  rows to another day or interaction;
- the flagging engine's precompiled driver-level INSERT (`exec_driver_sql`, no Session event
  sees it): its interaction ids are noted on the connection and resolved at `before_commit`;
- ingestion's driver-level INSERT … RETURNING (`pilot.database.insert_returning`): it notes its
  rows and returned ids in `session.info`, recorded at the next flush or at `before_commit`.

Interactions a transaction only adds — an INSERT whose RETURNING gives their ids, or new ORM
objects — are recorded as id ranges (runs of consecutive ids) instead of days, and the flags and
ratings the same transaction adds to them are not recorded at all: the refresh reads those rows
with their flags and ratings and adds their numbers to the rollup, so a burst costs what the
burst holds, not what its days hold. Every other write records its day, which is recomputed.

The cost is per statement, not per row: one SELECT for the days of a batch's feedback/flag rows
or of a bulk statement, and one multi-row INSERT of the distinct (pilot, day)s or id ranges not
yet recorded in this transaction. pilot.analytics.rollup.refresh consumes the records.
"""
from __future__ import annotations

from datetime import date, datetime, timezone
from typing import Any, Iterable

import sqlalchemy as sa
from sqlalchemy import event
from sqlalchemy import orm as so
from sqlalchemy.engine import Engine

from pilot.database import DRIVER_INSERTS
from pilot.metrics import as_day, day_of
from pilot.models import Feedback, Flag, Interaction, RollupChange

_INTERACTION, _FEEDBACK, _FLAG = Interaction.__table__, Feedback.__table__, Flag.__table__
_TRACKED = {table.name: table for table in (_INTERACTION, _FEEDBACK, _FLAG)}
_BY_INTERACTION_ID = {_FEEDBACK: _FEEDBACK.c.interaction_id, _FLAG: _FLAG.c.interaction_id}
# Columns whose change moves a row to another (pilot, day): the post-image is looked up too.
_MOVING = {"pilot_id", "occurred_at", "interaction_id"}
_RECORDED = "rollup_changes_recorded"  # session.info: keys already written in this transaction
_PENDING = "rollup_changes_pending"  # session.info: (keys, interaction ids) noted before a flush
_DRIVER_IDS = "rollup_changes_flag_interaction_ids"  # connection.info: ids from driver-level flag inserts
_NEW_IDS = "rollup_changes_new_interaction_ids"  # session.info: interactions inserted in this transaction
IN_CHUNK = 900  # bound parameters per IN (SQLite's limit is far above; keeps statements small)

Key = tuple[int, date]
_installed = False


def install() -> None:
    """Register the capture events (idempotent: the app factory may run many times per process)."""
    global _installed
    if _installed:
        return
    event.listen(so.Session, "before_flush", _before_flush)
    event.listen(so.Session, "after_flush", _after_flush)
    event.listen(so.Session, "do_orm_execute", _on_execute)
    event.listen(so.Session, "before_commit", _before_commit)
    event.listen(so.Session, "after_transaction_end", _forget_recorded)
    event.listen(Engine, "before_cursor_execute", _note_driver_insert)
    event.listen(Engine, "rollback", _forget_driver_ids)
    event.listen(Engine, "commit", _forget_driver_ids)
    _installed = True


def day_key(pilot_id: int, occurred_at: datetime | date | str) -> Key:
    """The (pilot, UTC day) a row of that interaction time counts on."""
    if isinstance(occurred_at, datetime) and occurred_at.tzinfo is not None:
        occurred_at = occurred_at.astimezone(timezone.utc).replace(tzinfo=None)
    return int(pilot_id), as_day(occurred_at)


def record(connection: sa.Connection, session: so.Session, keys: Iterable[Key]) -> None:
    """Append the keys not yet recorded in this transaction (one multi-row INSERT)."""
    recorded = session.info.setdefault(_RECORDED, set())
    new = {key for key in keys if key[1] is not None} - recorded
    if new:
        connection.execute(sa.insert(RollupChange.__table__),
                           [{"pilot_id": pilot_id, "day": day} for pilot_id, day in sorted(new)])
        recorded.update(new)


def record_added(connection: sa.Connection, session: so.Session, pilot_id: int, first_day: date,
                 ids: Iterable[int]) -> None:
    """Record interactions this transaction inserted, as runs of consecutive ids (one multi-row
    INSERT; a batch is usually one run). `first_day`: the earliest day among them."""
    ids = sorted({int(i) for i in ids})
    if not ids:
        return
    session.info.setdefault(_NEW_IDS, set()).update(ids)
    runs = [[ids[0], ids[0]]]
    for row_id in ids[1:]:
        if row_id == runs[-1][1] + 1:
            runs[-1][1] = row_id
        else:
            runs.append([row_id, row_id])
    connection.execute(sa.insert(RollupChange.__table__),
                       [{"pilot_id": int(pilot_id), "day": first_day, "first_id": first, "last_id": last}
                        for first, last in runs])


def _not_new(session: so.Session, interaction_ids: Iterable[int]) -> set[int]:
    """The ids that were not inserted by this transaction (whose flags/ratings need their day)."""
    new = session.info.get(_NEW_IDS, set())
    return {int(i) for i in interaction_ids if i is not None and int(i) not in new}


def _interaction_days(connection: sa.Connection, ids: Iterable[int]) -> set[Key]:
    """Distinct (pilot, day)s of these interactions: one grouped SELECT per IN_CHUNK ids."""
    ids = sorted({int(i) for i in ids if i is not None})
    keys: set[Key] = set()
    for start in range(0, len(ids), IN_CHUNK):
        rows = connection.execute(sa.select(_INTERACTION.c.pilot_id, day_of(_INTERACTION.c.occurred_at))
                                  .where(_INTERACTION.c.id.in_(ids[start:start + IN_CHUNK])).distinct())
        keys.update((int(pilot_id), as_day(day)) for pilot_id, day in rows)
    return keys


def _before_flush(session: so.Session, flush_context: Any, instances: Any) -> None:
    """Note the keys of the objects about to be written (before the flush: deleted rows can
    still be read, and previous values are in the attribute history)."""
    keys, interaction_ids, added = session.info.setdefault(_PENDING, (set(), set(), []))
    for obj in (*session.new, *session.dirty, *session.deleted):
        if isinstance(obj, Interaction) and obj in session.new and obj.pilot_id is not None \
                and obj.occurred_at is not None:
            added.append(obj)  # its id, known after the flush, is recorded instead of its day
        elif isinstance(obj, Interaction):
            for pilot_id in _values(obj, "pilot_id"):
                keys.update(day_key(pilot_id, when) for when in _values(obj, "occurred_at"))
        elif isinstance(obj, (Feedback, Flag)):
            interaction_ids.update(_values(obj, "interaction_id"))
            related = sa.inspect(obj).attrs.interaction.loaded_value  # set through the relationship
            if isinstance(related, Interaction):
                if related in session.new:
                    continue  # a rating or flag of an interaction added in this flush: read with it
                if related.id is not None:
                    interaction_ids.add(related.id)
                elif related.pilot_id is not None and related.occurred_at is not None:
                    keys.add(day_key(related.pilot_id, related.occurred_at))


def _record_driver_inserts(session: so.Session) -> None:
    """Record the rows of `pilot.database.insert_returning` (ingestion's INSERT of a batch), which
    no Session event sees: interactions by their returned ids, like an INSERT … RETURNING through
    the Session; rows of the other tracked tables by their interactions' days."""
    inserts = session.info.pop(DRIVER_INSERTS, None)
    if not inserts:
        return
    connection = session.connection()
    for table_name, rows, returning, found in inserts:
        if table_name == _INTERACTION.name:
            keys = {day_key(row["pilot_id"], row["occurred_at"]) for row in rows}
            if "id" in returning and len({pilot_id for pilot_id, _ in keys}) == 1:
                (pilot_id, first_day) = min(keys)
                position = returning.index("id")
                record_added(connection, session, pilot_id, first_day, [row[position] for row in found])
                continue
        elif table_name in _TRACKED:
            keys = _interaction_days(connection, _not_new(session, (row.get("interaction_id") for row in rows)))
        else:
            continue
        record(connection, session, keys)


def _after_flush(session: so.Session, flush_context: Any) -> None:
    _record_driver_inserts(session)
    keys, interaction_ids, added = session.info.pop(_PENDING, (set(), set(), []))
    connection = session.connection() if keys or interaction_ids or added else None
    by_pilot: dict[int, list] = {}
    for obj in added:
        by_pilot.setdefault(int(obj.pilot_id), []).append(obj)
    for pilot_id, objects in by_pilot.items():
        record_added(connection, session, pilot_id, min(day_key(pilot_id, o.occurred_at)[1] for o in objects),
                     [o.id for o in objects])
    interaction_ids = _not_new(session, interaction_ids)
    if keys or interaction_ids:
        record(connection, session, keys | _interaction_days(connection, interaction_ids))


def _values(obj: Any, attribute: str) -> list:
    """The attribute's current value and, if it changed, its previous one (loaded if expired)."""
    history = sa.inspect(obj).attrs[attribute].history
    values = [*history.added, *history.unchanged, *history.deleted] or [getattr(obj, attribute)]
    return [value for value in values if value is not None]


def _on_execute(state: so.ORMExecuteState) -> Any:
    if not (state.is_insert or state.is_update or state.is_delete):
        return None
    table = _TRACKED.get(getattr(getattr(state.statement, "table", None), "name", None))  # ORM statements hold a copy
    if table is None:
        return None
    session = state.session
    rows = state.parameters if isinstance(state.parameters, list) else [state.parameters or {}]
    if state.is_insert:
        result = state.invoke_statement()
        connection = session.connection()
        rows = [row for row in rows if row] or [state.statement.compile().params]
        if table is _INTERACTION:
            keys = {day_key(row["pilot_id"], row["occurred_at"]) for row in rows}
            position = _returned_id(state.statement)
            if position is not None and len({pilot_id for pilot_id, _ in keys}) == 1:
                frozen = result.freeze()  # read the inserted ids, hand the caller an unread copy
                (pilot_id, first_day) = min(keys)
                record_added(connection, session, pilot_id, first_day, [row[position] for row in frozen()])
                return frozen()
        else:
            keys = _interaction_days(connection, _not_new(session, (row.get("interaction_id") for row in rows)))
        record(connection, session, keys)
        return result
    connection = session.connection()
    record(connection, session, _matched_days(connection, state.statement, table, rows))
    result = state.invoke_statement()
    moved = state.is_update and (_MOVING & {_name(column) for column in state.statement._values or {}}
                                 or any(_MOVING & set(row) for row in rows))
    if moved:
        record(connection, session, _matched_days(connection, state.statement, table, rows))
    return result


def _returned_id(statement: Any) -> int | None:
    """Position of the interaction id among the INSERT's RETURNING columns, if it returns it."""
    for position, column in enumerate(getattr(statement, "_returning", ()) or ()):
        if getattr(column, "name", None) == "id" and getattr(column, "table", None) is not None \
                and column.table.name == _INTERACTION.name:
            return position
    return None


def _name(column: Any) -> str:
    return column if isinstance(column, str) else getattr(column, "key", str(column))


def _matched_days(connection: sa.Connection, statement: Any, table: sa.Table, rows: list[dict]) -> set[Key]:
    """The (pilot, day)s of the rows a bulk UPDATE/DELETE touches: by its WHERE clause, or by the
    primary keys of its parameter rows (the ORM's bulk UPDATE by primary key)."""
    ids = [row["id"] for row in rows if "id" in row]
    if table is _INTERACTION and ids:
        return _interaction_days(connection, ids)
    if ids:
        owner = _BY_INTERACTION_ID[table]
        interaction_ids = set()
        for start in range(0, len(ids), IN_CHUNK):
            interaction_ids.update(connection.scalars(sa.select(owner).where(table.c.id.in_(ids[start:start + IN_CHUNK]))
                                                      .distinct()))
        return _interaction_days(connection, interaction_ids)
    query = sa.select(_INTERACTION.c.pilot_id, day_of(_INTERACTION.c.occurred_at)).distinct()
    if table is not _INTERACTION:
        query = query.select_from(_INTERACTION.join(table, _BY_INTERACTION_ID[table] == _INTERACTION.c.id))
    if statement.whereclause is not None:
        query = query.where(statement.whereclause)
    return {(int(pilot_id), as_day(day)) for pilot_id, day in connection.execute(query)}


def _note_driver_insert(connection, cursor, statement: str, parameters, context, executemany) -> None:
    """The flagging engine's precompiled INSERT INTO flag, run with exec_driver_sql: note its
    interaction ids on the connection (resolved to days at before_commit, in one SELECT)."""
    if context is None or context.compiled is not None or not statement.lstrip().upper().startswith("INSERT INTO FLAG "):
        return
    columns = [c.strip().strip('"') for c in statement[statement.index("(") + 1:statement.index(")")].split(",")]
    position = columns.index("interaction_id")
    rows = parameters if executemany else [parameters]
    ids = connection.info.setdefault(_DRIVER_IDS, set())
    ids.update(row["interaction_id"] if isinstance(row, dict) else row[position] for row in rows)


def _before_commit(session: so.Session) -> None:
    if not session.in_transaction():
        return
    _record_driver_inserts(session)
    connection = session.connection()
    ids = _not_new(session, connection.info.pop(_DRIVER_IDS, None) or ())
    if ids:
        record(connection, session, _interaction_days(connection, ids))


def _forget_recorded(session: so.Session, transaction: so.SessionTransaction) -> None:
    session.info.pop(_RECORDED, None)
    if transaction.parent is None:  # a savepoint's end keeps them: its ids stay this transaction's
        session.info.pop(_NEW_IDS, None)
        session.info.pop(DRIVER_INSERTS, None)  # rolled back (a commit has recorded them already)


def _forget_driver_ids(connection) -> None:
    connection.info.pop(_DRIVER_IDS, None)
