"""Fixtures: one app and schema per test run (built by the Alembic migrations), emptied after
each test; clients logged in per role. TEST_DATABASE_URL selects PostgreSQL, else SQLite."""
from __future__ import annotations

import os
from typing import Callable

import pytest
import sqlalchemy as sa
from flask import g, has_app_context
from flask.testing import FlaskClient
from flask_migrate import upgrade

from pilot import create_app
from pilot.caches import clear_process_caches
from pilot.config import TestConfig
from pilot.extensions import db as _db
from pilot.extensions import limiter
from pilot.models import ModelPrice, User
from pilot.models.interactions import DEFAULT_PRICES
from tests.factories import World, make_world


def pytest_configure(config) -> None:
    config.addinivalue_line("markers", "openapi_fuzz: schemathesis tests, run without xdist (Makefile)")


def _database_url(tmp_path_factory) -> str:
    url = os.environ.get("TEST_DATABASE_URL")
    if url:
        return url.replace("postgresql://", "postgresql+psycopg://", 1) if url.startswith("postgresql://") else url
    return f"sqlite:///{tmp_path_factory.mktemp('db') / 'test.db'}"


@pytest.fixture(scope="session")
def database_url(tmp_path_factory):
    """Under pytest-xdist each worker gets a PostgreSQL database of its own (SQLite files are
    already per worker, being under tmp_path_factory)."""
    url = _database_url(tmp_path_factory)
    worker = os.environ.get("PYTEST_XDIST_WORKER")
    if not url.startswith("postgresql") or not worker:
        yield url
        return
    base = sa.make_url(url)
    name = f"{base.database}_{worker}"
    admin = sa.create_engine(base, isolation_level="AUTOCOMMIT")
    with admin.connect() as connection:
        connection.execute(sa.text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        connection.execute(sa.text(f'CREATE DATABASE "{name}"'))
    yield base.set(database=name).render_as_string(hide_password=False)
    with admin.connect() as connection:
        connection.execute(sa.text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    admin.dispose()


class FreshRequestClient(FlaskClient):
    """The tests hold an app context open (to use db.session), and Flask reuses it for each
    request, so `g` (and Flask-Login's cached user in it) would leak from one request into
    the next. Empty it before every request, as a real server's fresh context would be."""

    def open(self, *args, **kwargs):
        if has_app_context():
            for name in list(vars(g)):
                delattr(g, name)
        return super().open(*args, **kwargs)


@pytest.fixture(scope="session")
def app(database_url):
    app = create_app(TestConfig(database_url))
    app.test_client_class = FreshRequestClient
    with app.app_context():
        _db.drop_all()
        _db.session.execute(sa.text("DROP TABLE IF EXISTS alembic_version"))
        _db.session.commit()
        upgrade()
    yield app
    with app.app_context():
        _db.session.remove()
        _db.drop_all()
        _db.session.execute(sa.text("DROP TABLE IF EXISTS alembic_version"))
        _db.session.commit()


def _empty_database() -> None:
    """Delete every row, then put back the default price table that migration 0001 seeds."""
    _db.session.rollback()
    tables = [t.name for t in reversed(_db.metadata.sorted_tables)]
    if _db.engine.dialect.name == "postgresql":
        _db.session.execute(sa.text("TRUNCATE " + ", ".join(f'"{t}"' for t in tables) + " RESTART IDENTITY CASCADE"))
    else:
        for table in tables:
            _db.session.execute(sa.text(f'DELETE FROM "{table}"'))
    for model, (input_price, output_price) in DEFAULT_PRICES.items():
        _db.session.add(ModelPrice(model=model, input_per_mtok=input_price, output_per_mtok=output_price))
    _db.session.commit()


@pytest.fixture()
def db(app):
    """The database session, inside an app context, emptied after the test (and the per-process
    caches with it: ids restart, so a later test's pilot must not meet this one's numbers). The
    rate-limit counters go too: the app lives for the whole run, and twenty browser logins from
    127.0.0.1 within a minute would otherwise answer a later test's login with 429."""
    with app.app_context():
        yield _db
        _empty_database()
        _db.session.remove()
        clear_process_caches()
        limiter.reset()


@pytest.fixture()
def client(app, db):
    return app.test_client()


@pytest.fixture()
def runner(app, db):
    return app.test_cli_runner()


@pytest.fixture()
def csrf_on(app):
    """Turn CSRF protection on for one test (it is off in the other tests for brevity)."""
    app.config["WTF_CSRF_ENABLED"] = True
    yield
    app.config["WTF_CSRF_ENABLED"] = False


@pytest.fixture()
def world(db) -> World:
    return make_world()


def login(client, user: User) -> None:
    """Log a test client in as `user` without going through the form."""
    with client.session_transaction() as session:
        session["_user_id"] = str(user.id)
        session["_fresh"] = True


@pytest.fixture()
def client_as(app, world) -> Callable[[str], object]:
    """client_as("lead") → a test client logged in as that member of the world."""

    def make(who: str):
        new_client = app.test_client()
        login(new_client, getattr(world, who))
        return new_client

    return make


@pytest.fixture()
def live_server(app, db):
    """Serve the test app on a free loopback port for one test (real HTTP, threads, sockets)."""
    import threading

    from werkzeug.serving import make_server

    server = make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_port}"
    server.shutdown()
    thread.join(timeout=5)


@pytest.fixture()
def api_key(world) -> str:
    """A live ingestion key for world.pilot (alpha)."""
    from pilot.pilots.services import mint_api_key

    _, secret = mint_api_key(_db.session, world.pilot, world.lead, name="test")
    _db.session.commit()
    return secret
