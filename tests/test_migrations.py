"""The migration chain builds the schema the models describe, and unwinds to nothing,
on whichever database the suite runs against."""
from __future__ import annotations

import contextlib
import uuid

import sqlalchemy as sa
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from flask_migrate import downgrade, upgrade

from pilot import create_app
from pilot.config import TestConfig
from pilot.extensions import db


@contextlib.contextmanager
def scratch_database(database_url: str, tmp_path):
    """A database of its own, so going down to base cannot disturb the suite's schema."""
    if database_url.startswith("sqlite"):
        yield f"sqlite:///{tmp_path / 'migrations.db'}"
        return
    url = sa.make_url(database_url)
    name = f"{url.database}_mig_{uuid.uuid4().hex[:8]}"
    admin = sa.create_engine(url, isolation_level="AUTOCOMMIT")
    with admin.connect() as connection:
        connection.execute(sa.text(f'CREATE DATABASE "{name}"'))
    try:
        yield url.set(database=name).render_as_string(hide_password=False)
    finally:
        with admin.connect() as connection:
            connection.execute(sa.text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


def test_upgrade_matches_models_and_downgrade_empties(database_url, tmp_path):
    with scratch_database(database_url, tmp_path) as url:
        app = create_app(TestConfig(url))
        with app.app_context():
            upgrade()
            with db.engine.connect() as connection:
                diff = compare_metadata(MigrationContext.configure(connection, opts={"compare_type": True}), db.metadata)
                prices = connection.execute(sa.text("SELECT model FROM model_price ORDER BY model")).scalars().all()
            assert diff == [], f"models and migrations disagree: {diff}"
            assert prices == ["claude-haiku-4-5", "claude-sonnet-4-6", "gpt-5.2"]

            downgrade(revision="base")
            remaining = set(sa.inspect(db.engine).get_table_names()) - {"alembic_version"}
            assert remaining == set()

            upgrade()  # and up again: downgrade left nothing behind that blocks it
            assert "interaction" in sa.inspect(db.engine).get_table_names()
            db.session.remove()
            db.engine.dispose()


def test_database_at_the_first_0002_is_levelled_by_0003(database_url, tmp_path):
    """A database stamped at the original 0002 (analytics_state without its two later
    columns) gets them from 0003, and the schema then matches the models."""
    with scratch_database(database_url, tmp_path) as url:
        app = create_app(TestConfig(url))
        with app.app_context():
            upgrade(revision="0002_analytics")
            with op_context() as op:
                with op.batch_alter_table("analytics_state") as batch_op:
                    batch_op.drop_column("fingerprint")
                    batch_op.drop_column("looked_back_from")
            columns = {c["name"] for c in sa.inspect(db.engine).get_columns("analytics_state")}
            assert "fingerprint" not in columns and "looked_back_from" not in columns
            upgrade(revision="0003_analytics_state_level")
            columns = {c["name"] for c in sa.inspect(db.engine).get_columns("analytics_state")}
            assert {"fingerprint", "looked_back_from"} <= columns
            upgrade()  # 0011 drops both again (change capture replaced the look-back): head matches the models
            with db.engine.connect() as connection:
                diff = compare_metadata(MigrationContext.configure(connection, opts={"compare_type": True}), db.metadata)
            assert diff == []
            db.session.remove()
            db.engine.dispose()


@contextlib.contextmanager
def op_context():
    """An Alembic Operations object on the app's engine, for shaping an old schema by hand."""
    from alembic.operations import Operations

    with db.engine.begin() as connection:
        yield Operations(MigrationContext.configure(connection))


KNOWN_EDITS = {
    # Edited after it was committed, before this test existed; 0003 levels databases built from the first version.
    "0002_analytics.py",
    # Changed on its branch between two merges into the integration branch, before main pointed at either.
    "0004_cache_write.py",
}


def test_committed_migrations_are_never_edited():
    """A migration file, once on main, keeps its first committed content: a database already
    at that revision would never see an edit. KNOWN_EDITS are the past exceptions, compared
    with their newest content instead. Skips outside a git checkout."""
    import pathlib
    import shutil
    import subprocess

    root = pathlib.Path(__file__).resolve().parent.parent
    if shutil.which("git") is None or not (root / ".git").exists():
        import pytest

        pytest.skip("not a git checkout: no history to compare migrations with")
    # "On main": a branch may still change its own new migration until the lead merges it.
    has_main = subprocess.run(["git", "rev-parse", "--verify", "-q", "main"], cwd=root,
                              capture_output=True).returncode == 0
    edited = []
    for path in sorted((root / "migrations" / "versions").glob("*.py")):
        relative = path.relative_to(root).as_posix()
        log = subprocess.run(["git", "log", *(["main"] if has_main else []), "--format=%H", "--follow", "--", relative],
                             cwd=root, capture_output=True, text=True, check=True).stdout.split()
        if not log:
            continue  # not committed yet: still free to change
        first = subprocess.run(["git", "show", f"{log[-1]}:{relative}"],
                               cwd=root, capture_output=True, text=True, check=True).stdout
        if path.name in KNOWN_EDITS:
            first = subprocess.run(["git", "show", f"{log[0]}:{relative}"],
                                   cwd=root, capture_output=True, text=True, check=True).stdout
        if path.read_text() != first:
            edited.append(relative)
    assert edited == [], f"committed migrations were edited (add a new migration instead): {edited}"
