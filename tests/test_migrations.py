"""The migration chain builds the schema the models describe, and unwinds to nothing,
on whichever database the suite runs against."""
from __future__ import annotations

import contextlib
import uuid

import pytest
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
