"""pilot.client against the real app over HTTP: rows land once, retries become duplicates.

A lossy proxy between the client and the live server drops the answer to a request the
server has already committed, then answers 503: the client must retry with the same event
ids and the database must still hold every interaction exactly once.
"""
from __future__ import annotations

import http.client
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import urlsplit

import pytest
import sqlalchemy as sa

from pilot.client import PilotClient
from pilot.models import Feedback, Interaction


def stored(db, *where) -> list[Interaction]:
    db.session.rollback()  # see what the server's threads committed
    return db.session.scalars(sa.select(Interaction).where(*where).order_by(Interaction.event_id)).all()


@pytest.fixture()
def make_client():
    clients = []

    def make(url: str, key: str, **options) -> PilotClient:
        settings = {"flush_interval": 0.05, "backoff_base": 0.05, "backoff_max": 0.5}
        settings.update(options)
        client = PilotClient(url, key, **settings)
        clients.append(client)
        return client

    yield make
    for client in clients:
        client.close(timeout=1)


class LossyProxy:
    """Forwards to the live server; `lose` answers are swallowed after the server committed,
    `refuse` requests get a 503 without reaching it."""

    def __init__(self, target: str, lose: int = 0, refuse: int = 0) -> None:
        self.lose, self.refuse, self.forwarded = lose, refuse, 0
        parts = urlsplit(target)
        proxy = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args) -> None:
                pass

            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
                if proxy.refuse:
                    proxy.refuse -= 1
                    self._answer(503, {"Retry-After": "0"}, b'{"error": "busy"}')
                    return
                upstream = http.client.HTTPConnection(parts.hostname, parts.port, timeout=10)
                upstream.request("POST", self.path, body=body, headers=dict(self.headers))
                answer = upstream.getresponse()
                payload = answer.read()
                upstream.close()
                proxy.forwarded += 1
                if proxy.lose:
                    proxy.lose -= 1
                    self.close_connection = True  # committed upstream, answer lost on the way back
                    return
                self._answer(answer.status, {}, payload)

            def _answer(self, status: int, headers: dict, payload: bytes) -> None:
                self.send_response(status)
                for name, value in headers.items():
                    self.send_header(name, value)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(payload)))
                self.end_headers()
                self.wfile.write(payload)

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.server.server_port}"

    def __enter__(self) -> "LossyProxy":
        threading.Thread(target=self.server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True).start()
        return self

    def __exit__(self, *exc) -> None:
        self.server.shutdown()
        self.server.server_close()


def test_interactions_and_feedback_land_in_the_database_exactly_once(db, world, live_server, api_key, make_client):
    client = make_client(live_server, api_key, batch_size=100)
    ids = [client.log_interaction(user="user-1", session="s1", model="claude-sonnet-4-6", input=f"question {i}",
                                  output=f"answer {i}", input_tokens=1000, output_tokens=500, latency_ms=900 + i)
           for i in range(250)]
    assert client.feedback(ids[0], user="user-1", thumbs="down", comment="wrong answer")
    assert client.flush(20)

    rows = stored(db, Interaction.pilot_id == world.pilot.id)
    assert sorted(row.event_id for row in rows) == sorted(ids)
    row = next(r for r in rows if r.event_id == ids[3])
    assert (row.input_text, row.output_text, row.latency_ms, row.source) == ("question 3", "answer 3", 903, "api")
    assert row.membership_id == world.participant_membership.id
    assert row.cost_usd == pytest.approx((1000 * 3 + 500 * 15) / 1e6)  # claude-sonnet-4-6 at 3 / 15 per Mtok
    (feedback,) = db.session.scalars(sa.select(Feedback)).all()
    assert feedback.interaction.event_id == ids[0] and feedback.thumbs == "down"
    assert client.stats.sent == 250 and client.stats.feedback_sent == 1 and client.stats.lost == 0


def test_retries_after_a_lost_answer_and_a_503_are_duplicates_not_second_rows(db, world, live_server, api_key,
                                                                              make_client):
    with LossyProxy(live_server, lose=1, refuse=1) as proxy:
        client = make_client(proxy.url, api_key, batch_size=50)
        ids = [client.log_interaction(user="user-1", output=f"a{i}", id=f"evt-{i:03d}") for i in range(50)]
        assert client.flush(20)

    assert [row.event_id for row in stored(db, Interaction.pilot_id == world.pilot.id)] == sorted(ids)
    assert proxy.forwarded == 2  # the lost one and the retry that found them all stored
    assert client.stats.duplicates == 50 and client.stats.sent == 0 and client.stats.retries >= 1


def test_items_the_server_rejects_are_counted_and_the_rest_stored(db, world, live_server, api_key, make_client):
    client = make_client(live_server, api_key)
    good = client.log_interaction(output="fine", status="ok")
    bad = client.log_interaction(output="nope", status="exploded")
    assert client.flush(10)

    assert [row.event_id for row in stored(db)] == [good]
    assert bad not in {row.event_id for row in stored(db)}
    assert client.stats.sent == 1 and client.stats.rejected == 1


def test_a_wrong_key_is_logged_and_dropped_without_retries(db, world, live_server, make_client, caplog):
    client = make_client(live_server, "pk_not-a-real-key")
    client.log_interaction(output="x")
    assert client.flush(10)

    assert stored(db) == []
    assert client.stats.rejected == 1 and client.stats.retries == 0
    assert any("API key" in record.getMessage() for record in caplog.records if record.name == "pilot.client")


def test_traced_calls_and_failures_reach_the_database(db, world, live_server, api_key, make_client):
    client = make_client(live_server, api_key)

    @client.trace(model="claude-haiku-4-5")
    def answer(question: str, user: str) -> str:
        if "fail" in question:
            raise TimeoutError("model took too long")
        return "sure"

    answer("hello", user="user-1")
    with pytest.raises(TimeoutError):
        answer("please fail", user="user-1")
    assert client.flush(10)

    rows = {row.input_text: row for row in stored(db)}
    assert rows["hello"].status == "ok" and rows["hello"].output_text == "sure"
    assert rows["please fail"].status == "timeout"
    assert rows["please fail"].error_message == "TimeoutError: model took too long"
    assert rows["hello"].latency_ms is not None and rows["hello"].membership_id == world.participant_membership.id
