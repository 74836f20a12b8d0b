"""A 200 means committed: SIGKILL gunicorn (master and workers) in the middle of a load,
restart it, and check that every batch that was answered 200 is in the database; then send
everything again, as a client retrying after the outage would, and check the retries are
duplicates, not second rows. Runs on the suite's database (SQLite or PostgreSQL), ~10 s.
"""
from __future__ import annotations

import json
import os
import socket
import threading
import time
import urllib.request

import pytest
import sqlalchemy as sa

from bench.harness import Server, gunicorn, json_batches, make_records, post_bodies
from pilot.models import Interaction

BATCH = 50

pytest.importorskip("gunicorn", reason="gunicorn (requirements.txt) serves the app in this test")


def free_port(first: int = 5240, last: int = 5269) -> int:
    """A free loopback port in this project's range."""
    for port in range(first, last + 1):
        with socket.socket() as probe:
            try:
                probe.bind(("127.0.0.1", port))
            except OSError:
                continue
            return port
    raise RuntimeError(f"no free port in {first}-{last}")


def server_for(database_url: str, tmp_path, port: int) -> Server:
    env = dict(os.environ, DATABASE_URL=database_url, PILOT_INSTANCE_PATH=str(tmp_path / "instance"),
               SECRET_KEY="durability", PILOT_API_RATE_LIMIT="100000000 per minute")
    env.pop("PILOT_ENV", None)
    return gunicorn("wsgi:app", port, env, tmp_path / "gunicorn.log", extra=["--graceful-timeout", "1"])


def stored_event_ids(db) -> list[str]:
    db.session.rollback()
    return db.session.scalars(sa.select(Interaction.event_id)).all()


def test_every_acknowledged_batch_survives_a_sigkill_and_retries_are_duplicates(db, world, api_key, database_url,
                                                                              tmp_path):
    records = make_records(6_000, "durable")
    bodies = json_batches(records, BATCH)
    ids_of = [[item["id"] for item in records[start:start + BATCH]] for start in range(0, len(records), BATCH)]
    auth = {"Authorization": f"Bearer {api_key}"}
    db.session.commit()  # hold no transaction (no SQLite lock) while the server writes
    server = server_for(database_url, tmp_path, free_port())
    server.start()
    try:
        stop = threading.Event()
        outcome: dict = {}
        sender = threading.Thread(target=lambda: outcome.update(
            result=post_bodies(server.url, "/api/v1/interactions", bodies, auth, concurrency=3, retry=False,
                               stop=stop, timeout=10)))
        sender.start()
        deadline = time.monotonic() + 30
        while len(stored_event_ids(db)) < 10 * BATCH and time.monotonic() < deadline:
            time.sleep(0.05)
        server.kill()  # SIGKILL to master and workers, mid-load
        stop.set()
        sender.join(timeout=30)
        acknowledged = [index for index, ok in enumerate(outcome["result"].acknowledged) if ok]
        print(f"acknowledged {len(acknowledged)} of {len(bodies)} batches before the kill; errors {outcome['result'].errors}")
        assert len(acknowledged) >= 5, "the load did not get going before the kill"
        assert len(acknowledged) < len(bodies), "the kill came after the load: nothing was interrupted"

        server.start()
        after_restart = set(stored_event_ids(db))
        missing = [event_id for index in acknowledged for event_id in ids_of[index] if event_id not in after_restart]
        assert missing == [], f"{len(missing)} interactions answered 200 are not in the database"

        # The client's retries after the outage: everything again, acknowledged or not.
        resent = post_bodies(server.url, "/api/v1/interactions", bodies, auth, concurrency=3, retry=True)
        assert all(resent.acknowledged)
        final = stored_event_ids(db)
        assert len(final) == len(set(final)) == len(records)
        answer = _post(server.url, bodies[acknowledged[0]], auth)
        assert (answer["accepted"], answer["duplicates"]) == (0, BATCH)
    finally:
        server.stop()


def _post(url: str, body: bytes, headers: dict) -> dict:
    request = urllib.request.Request(url + "/api/v1/interactions", data=body, method="POST",
                                     headers={"Content-Type": "application/json", **headers})
    with urllib.request.urlopen(request, timeout=30) as response:
        return json.loads(response.read())
