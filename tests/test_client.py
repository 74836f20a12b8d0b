"""pilot.client against a fake server that fails in every way we could think of.

The promises under test: nothing raises into the caller; log_interaction returns in
microseconds whatever the server does; memory stays bounded; flush delivers; a retry carries
the same event ids (a duplicate, not a second row); every loss is counted and logged.
"""
from __future__ import annotations

import asyncio
import json
import logging
import math
import os
import re
import statistics
import subprocess
import sys
import threading
import time
import tracemalloc
from datetime import datetime, timezone
from decimal import Decimal
from pathlib import Path
from types import SimpleNamespace

import pytest

from pilot.client import Call, PilotClient, current_call
from pilot.client.core import _retry_after_seconds
from tests.fake_pilot_server import FakePilotServer, Scripted, unused_port

ROOT = Path(__file__).resolve().parents[1]
KEY = "pk_test"


@pytest.fixture()
def server():
    with FakePilotServer() as fake:
        yield fake


@pytest.fixture()
def make_client():
    """Clients that retry fast and are closed after the test."""
    clients = []

    def make(url: str, **options) -> PilotClient:
        settings = {"flush_interval": 0.05, "backoff_base": 0.02, "backoff_max": 0.2, "timeout": 2.0}
        settings.update(options)
        client = PilotClient(url, KEY, **settings)
        clients.append(client)
        return client

    yield make
    for client in clients:
        client.close(timeout=0.5)


def log_many(client: PilotClient, count: int, **fields) -> list[str]:
    return [client.log_interaction(user="u1", model="claude-sonnet-4-6", input=f"q{i}", output=f"a{i}", **fields)
            for i in range(count)]


# ------------------------------------------------------------------ delivery


def test_flush_delivers_every_interaction_once_with_the_fields_given(server, make_client):
    client = make_client(server.url, batch_size=40, flush_interval=60)  # full batches, then flush() sends the rest
    ids = log_many(client, 100, input_tokens=12, output_tokens=3, latency_ms=850.5, metadata={"feature": "faq"})

    assert client.flush(5)
    assert sorted(server.stored) == sorted(ids)
    assert all(re.fullmatch(r"[0-9a-f]{32}", event_id) for event_id in ids)
    item = server.stored[ids[7]]
    assert item["input"] == "q7" and item["output"] == "a7" and item["user"] == "u1"
    assert item["input_tokens"] == 12 and item["latency_ms"] == 850.5 and item["metadata"] == {"feature": "faq"}
    assert [len(r.ids) for r in server.interaction_requests()] == [40, 40, 20]
    assert server.requests[0].headers["Authorization"] == f"Bearer {KEY}"
    assert client.stats.sent == 100 and client.stats.queued == 0 and client.stats.lost == 0


def test_a_busy_host_sends_full_batches_only(server, make_client):
    client = make_client(server.url, batch_size=50, flush_interval=60)
    for _ in range(20):  # logging in bursts, with the worker free to send between them
        log_many(client, 37)
        time.sleep(0.01)
    assert client.flush(10)

    sizes = [len(r.ids) for r in server.interaction_requests()]
    assert sum(sizes) == 740 and sizes[:-1] == [50] * (len(sizes) - 1)


def test_a_partial_batch_leaves_after_flush_interval_without_a_flush(server, make_client):
    client = make_client(server.url, flush_interval=0.2, batch_size=100)
    event_id = client.log_interaction(user="u1", output="hi")

    deadline = time.monotonic() + 3
    while event_id not in server.stored and time.monotonic() < deadline:
        time.sleep(0.02)
    assert event_id in server.stored


def test_the_timestamp_is_taken_when_logged_not_when_sent(server, make_client):
    client = make_client(server.url, flush_interval=60)
    before = datetime.now(timezone.utc)
    fresh = client.log_interaction(output="x")
    naive = client.log_interaction(output="y", timestamp=datetime(2026, 3, 1, 12, 30))
    time.sleep(0.3)
    assert client.flush(5)

    sent_at = datetime.fromisoformat(server.stored[fresh]["timestamp"])
    assert 0 <= (sent_at - before).total_seconds() < 0.2  # sent 0.3 s later, stamped at the call
    assert server.stored[naive]["timestamp"] == "2026-03-01T12:30:00+00:00"


def test_a_given_id_is_kept_and_unknown_fields_go_to_metadata_with_one_warning(server, make_client, caplog):
    client = make_client(server.url)
    returned = client.log_interaction(id="evt-42", output="x", latency=120, metadata={"a": 1})
    client.log_interaction(output="y", latency=130)
    assert client.flush(5)

    assert returned == "evt-42"
    assert server.stored["evt-42"]["metadata"] == {"a": 1, "latency": 120}
    warnings = [r for r in caplog.records if "latency" in r.getMessage() and r.name == "pilot.client"]
    assert len(warnings) == 1


def test_feedback_follows_the_interaction_it_rates(server, make_client):
    client = make_client(server.url, flush_interval=60)
    event_id = client.log_interaction(user="u1", output="x")
    assert client.feedback(event_id, user="u1", thumbs="down", comment="wrong")
    assert client.feedback(event_id, user="u2", rating=5)
    assert client.flush(5)

    paths = [r.path for r in server.requests]
    assert paths == ["/api/v1/interactions", "/api/v1/feedback", "/api/v1/feedback"]
    assert server.feedback == [{"interaction": event_id, "thumbs": "down", "user": "u1", "comment": "wrong"},
                               {"interaction": event_id, "rating": 5, "user": "u2"}]
    assert client.stats.feedback_sent == 2


@pytest.mark.parametrize("kwargs", [
    {"thumbs": "sideways"}, {"rating": 6}, {"rating": 0}, {"rating": 4.5}, {"rating": True},
    {"thumbs": "up", "rating": 5}, {},
])
def test_invalid_feedback_is_refused_with_a_warning_not_an_exception(server, make_client, caplog, kwargs):
    client = make_client(server.url)
    assert client.feedback("evt-1", user="u1", **kwargs) is False
    assert client.flush(1)
    assert server.requests == []
    assert any("feedback not sent" in r.getMessage() for r in caplog.records)


def test_many_threads_logging_at_once_lose_and_repeat_nothing(server, make_client):
    client = make_client(server.url, batch_size=100)
    results: list[list[str]] = []

    def worker():
        results.append(log_many(client, 500))

    threads = [threading.Thread(target=worker) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert client.flush(10)

    sent = [event_id for request in server.interaction_requests() for event_id in request.ids]
    assert len(sent) == len(set(sent)) == 4000
    assert set(sent) == {event_id for ids in results for event_id in ids}


# ------------------------------------------------------------------ retries


def test_a_5xx_after_commit_is_retried_with_the_same_ids_and_counted_as_duplicates(server, make_client):
    client = make_client(server.url)
    server.script(Scripted(500, store=True))
    ids = log_many(client, 30)
    assert client.flush(5)

    first, second = server.interaction_requests()
    assert first.ids == second.ids == ids
    assert len(server.stored) == 30
    assert client.stats.duplicates == 30 and client.stats.sent == 0 and client.stats.retries == 1


def test_a_lost_answer_is_retried_and_the_retry_is_a_duplicate(server, make_client):
    client = make_client(server.url)
    server.script(Scripted(drop_connection=True, store=True))
    ids = log_many(client, 10)
    assert client.flush(5)

    assert [r.ids for r in server.interaction_requests()] == [ids, ids]
    assert len(server.stored) == 10 and client.stats.duplicates == 10


def test_5xx_backoff_grows_exponentially(server, make_client):
    client = make_client(server.url, backoff_base=0.2, backoff_max=10)
    server.script(Scripted(503), Scripted(502), Scripted(500))
    log_many(client, 1)
    assert client.flush(10)

    times = [r.at for r in server.interaction_requests()]
    gaps = [later - earlier for earlier, later in zip(times, times[1:])]
    assert len(gaps) == 3
    for attempt, gap in enumerate(gaps):  # equal jitter: between half and all of base × 2^attempt
        ceiling = 0.2 * 2 ** attempt
        assert ceiling / 2 - 0.02 <= gap <= ceiling + 0.5, (attempt, gap)


def test_429_waits_for_retry_after(server, make_client):
    client = make_client(server.url, backoff_base=0.01)
    server.script(Scripted(429, headers={"Retry-After": "1"}))
    log_many(client, 5)
    assert client.flush(5)

    first, second = server.interaction_requests()
    assert second.at - first.at >= 0.95
    assert len(server.stored) == 5


def test_retry_after_accepts_seconds_and_http_dates_and_ignores_garbage():
    assert _retry_after_seconds("3") == 3.0
    assert _retry_after_seconds("-5") == 0.0
    assert _retry_after_seconds("Wed, 21 Oct 2015 07:28:00 GMT") == 0.0  # in the past
    assert 50 < _retry_after_seconds(_http_date_in(60)) <= 60
    assert _retry_after_seconds("soon") is None
    assert _retry_after_seconds(None) is None


def _http_date_in(seconds: int) -> str:
    from email.utils import format_datetime

    return format_datetime(datetime.fromtimestamp(time.time() + seconds, timezone.utc), usegmt=True)


def test_retry_after_is_capped_so_a_silly_server_cannot_park_the_client(server, make_client):
    client = make_client(server.url, max_retry_after=0.2)
    server.script(Scripted(429, headers={"Retry-After": "86400"}))
    log_many(client, 1)
    assert client.flush(3)
    assert len(server.stored) == 1


@pytest.mark.parametrize("status", [400, 401, 403, 404, 422])
def test_a_4xx_is_not_retried_but_logged_and_counted(server, make_client, caplog, status):
    client = make_client(server.url)
    server.script(Scripted(status, body=b'{"error": "no"}'))
    log_many(client, 7)
    assert client.flush(5)

    assert len(server.interaction_requests()) == 1
    assert client.stats.rejected == 7 and client.stats.retries == 0
    messages = [r.getMessage() for r in caplog.records if r.name == "pilot.client"]
    if status in (401, 403):
        assert any("API key" in m and r.levelno == logging.ERROR for m, r in zip(messages, caplog.records))
    else:
        assert any(f"HTTP {status}" in m for m in messages)


def test_a_413_splits_the_batch_instead_of_dropping_it(server, make_client):
    client = make_client(server.url, batch_size=10)
    server.script(Scripted(413))
    ids = log_many(client, 10)
    assert client.flush(5)

    assert [len(r.ids) for r in server.interaction_requests()] == [10, 5, 5]
    assert sorted(server.stored) == sorted(ids)


def test_items_the_server_rejects_are_counted_and_named_in_the_log(server, make_client, caplog):
    client = make_client(server.url)
    answer = {"accepted": 1, "duplicates": 0, "rejected": [{"index": 1, "error": "status: must be one of ok, …"}]}
    server.script(Scripted(200, body=json.dumps(answer).encode()))
    ids = log_many(client, 2)
    assert client.flush(5)

    assert client.stats.sent == 1 and client.stats.rejected == 1
    assert any(ids[1] in r.getMessage() and "status" in r.getMessage() for r in caplog.records)


# ------------------------------------------------------------------ a server that misbehaves


@pytest.mark.parametrize("body", [b"<html>Bad Gateway</html>", b"[1, 2]", b'{"accepted": "lots"}', b"", b"\xff\xfe"])
def test_a_200_with_garbage_counts_as_stored_and_does_not_crash_the_worker(server, make_client, body):
    client = make_client(server.url)
    server.script(Scripted(200, body=body))
    log_many(client, 3)
    assert client.flush(5)
    log_many(client, 2)  # the worker survived
    assert client.flush(5)

    assert client.stats.sent == 5
    assert len(server.interaction_requests()) == 2


def test_a_hanging_server_does_not_slow_log_interaction(server, make_client):
    client = make_client(server.url, timeout=30, batch_size=50)
    server.script(Scripted(delay=30))
    log_many(client, 60)  # the worker is now stuck inside a request
    time.sleep(0.2)

    durations = []
    for index in range(2000):
        started = time.perf_counter()
        client.log_interaction(user="u1", input="q", output="a" * 200, input_tokens=index)
        durations.append(time.perf_counter() - started)

    assert statistics.median(durations) < 100e-6, statistics.median(durations)
    assert sum(durations) < 1.0
    assert client.flush(timeout=0.2) is False  # gives up on time, does not wait for the server


def test_a_request_over_the_timeout_is_retried(server, make_client):
    client = make_client(server.url, timeout=0.3)
    server.script(Scripted(delay=3))
    ids = log_many(client, 4)
    assert client.flush(10)

    assert client.stats.retries >= 1
    assert set(ids) <= set(server.stored)


def test_a_dead_server_costs_the_host_nothing_and_flush_and_close_keep_their_timeouts(make_client, caplog):
    client = make_client(f"http://127.0.0.1:{unused_port()}", max_retries=100)
    started = time.perf_counter()
    log_many(client, 500)
    assert time.perf_counter() - started < 0.5

    started = time.perf_counter()
    assert client.flush(timeout=0.5) is False
    assert 0.45 <= time.perf_counter() - started < 1.5

    started = time.perf_counter()
    client.close(timeout=0.3)
    assert time.perf_counter() - started < 2.0
    stats = client.stats
    assert stats.sent == 0 and stats.retries >= 1
    assert stats.dropped_closed == 500
    assert any("ConnectionRefusedError" in r.getMessage() for r in caplog.records)


def test_after_max_retries_the_batch_is_dropped_counted_and_logged(make_client, caplog):
    client = make_client(f"http://127.0.0.1:{unused_port()}", max_retries=2, backoff_base=0.01)
    log_many(client, 5)
    assert client.flush(5)

    assert client.stats.dropped_after_retries == 5 and client.stats.retries == 2
    assert any(r.levelno == logging.ERROR and "after 2 retries" in r.getMessage() for r in caplog.records)


def test_the_queue_is_bounded_and_drops_the_oldest_by_default(server, make_client):
    client = make_client(server.url, max_queue=100, batch_size=10, timeout=30)
    server.script(Scripted(delay=30))
    first = client.log_interaction(output="first")
    time.sleep(0.3)  # the worker takes it and hangs
    ids = log_many(client, 1000)

    stats = client.stats
    assert stats.queued <= 100 + 10
    assert stats.dropped_queue_full == 1000 - 100
    server._release.set()  # end the hang
    assert client.flush(10)
    assert set(ids[-100:]) <= set(server.stored)
    assert not set(ids[:900]) & set(server.stored)
    assert first in server.stored


def test_drop_newest_keeps_what_was_queued_first(server, make_client):
    client = make_client(server.url, max_queue=100, batch_size=10, timeout=30, drop="newest")
    server.script(Scripted(delay=30))
    client.log_interaction(output="first")
    time.sleep(0.3)
    ids = log_many(client, 1000)
    server._release.set()
    assert client.flush(10)

    assert set(ids[:100]) <= set(server.stored)
    assert not set(ids[100:]) & set(server.stored)
    assert client.stats.dropped_queue_full == 900


def test_memory_stays_flat_when_the_server_is_down(make_client):
    client = make_client(f"http://127.0.0.1:{unused_port()}", max_queue=200, max_retries=1000)
    text = "x" * 2000
    log_many(client, 200, metadata={"blob": text})  # fill the queue first
    tracemalloc.start()
    baseline = tracemalloc.take_snapshot()
    for _ in range(20_000):  # 20,000 × ~2 KB = 40 MB if anything were kept
        client.log_interaction(user="u1", input=text, output=text, metadata={"k": "v"})
    grown = sum(stat.size_diff for stat in tracemalloc.take_snapshot().compare_to(baseline, "filename"))
    tracemalloc.stop()

    assert grown < 2 * 1024 * 1024, grown
    assert client.stats.queued <= 200 + 100


# ------------------------------------------------------------------ hostile values


def test_hostile_values_never_raise_and_good_items_in_the_batch_still_arrive(server, make_client):
    client = make_client(server.url, max_batch_bytes=3 * 1024 * 1024)
    loop: dict = {}
    loop["self"] = loop
    ids = {
        "objects": client.log_interaction(metadata={"obj": object(), "when": datetime(2026, 1, 1), "price": Decimal("1.5"),
                                                    "tags": {"a"}, "raw": b"\xffbytes"}),
        "nan": client.log_interaction(latency_ms=math.nan, cost_usd=math.inf, output="ok"),
        "huge_text": client.log_interaction(input="é" * 1_000_000, output="🚀" * 1000),
        "surrogate": client.log_interaction(output="bad \udc80 half"),
        "huge_number": client.log_interaction(input_tokens=10 ** 30),
        "not_a_dict_metadata": client.log_interaction(metadata=["a", "b"]),
        "exception_as_error": client.log_interaction(status="error", error=ValueError("boom")),
        "circular": client.log_interaction(metadata=loop),
        "too_big": client.log_interaction(output="x" * (4 * 1024 * 1024)),
    }
    assert client.flush(10)

    stored = server.stored
    assert set(stored) == set(ids.values()) - {ids["circular"], ids["too_big"]}
    assert stored[ids["nan"]]["latency_ms"] is None and stored[ids["nan"]]["cost_usd"] is None
    assert stored[ids["objects"]]["metadata"]["when"] == "2026-01-01T00:00:00+00:00"
    assert stored[ids["objects"]]["metadata"]["price"] == 1.5
    assert stored[ids["huge_text"]]["input"] == "é" * 1_000_000
    assert stored[ids["surrogate"]]["output"] == "bad ? half"
    assert stored[ids["not_a_dict_metadata"]]["metadata"] == {"value": ["a", "b"]}
    assert stored[ids["exception_as_error"]]["error"] == "ValueError: boom"
    assert client.stats.dropped_unsendable == 2


def test_a_batch_over_the_byte_limit_is_sent_in_several_requests(server, make_client):
    client = make_client(server.url, max_batch_bytes=100_000, batch_size=100)
    ids = log_many(client, 20, metadata={"pad": "p" * 20_000})
    assert client.flush(10)

    requests = server.interaction_requests()
    assert len(requests) >= 4 and all(len(r.body) <= 100_000 for r in requests)
    assert sorted(server.stored) == sorted(ids)


# ------------------------------------------------------------------ lifecycle


def test_without_url_or_key_the_client_is_a_harmless_no_op(caplog, monkeypatch):
    monkeypatch.delenv("PILOT_URL", raising=False)
    monkeypatch.delenv("PILOT_API_KEY", raising=False)
    for client in (PilotClient(None, None), PilotClient("ftp://example.com", KEY), PilotClient("not a url", KEY)):
        event_id = client.log_interaction(output="x")
        assert len(event_id) == 32
        assert client.feedback(event_id, thumbs="up") is False
        assert client.flush(0.1) and client.close(0.1)
        assert client.enabled is False and client.stats.sent == 0
    assert sum("Pilot client disabled" in r.getMessage() for r in caplog.records) == 3


def test_url_and_key_come_from_the_environment(server, monkeypatch):
    monkeypatch.setenv("PILOT_URL", server.url)
    monkeypatch.setenv("PILOT_API_KEY", "pk_env")
    with PilotClient(flush_interval=0.05) as client:
        client.log_interaction(output="x")
        assert client.flush(5)
    assert server.requests[0].headers["Authorization"] == "Bearer pk_env"


def test_logging_after_close_is_counted_not_raised(server, make_client):
    client = make_client(server.url)
    client.close()
    client.close()
    client.log_interaction(output="late")
    assert client.stats.dropped_closed == 1
    assert server.requests == []


def test_a_url_with_a_path_prefix_is_respected(server, make_client):
    client = make_client(server.url + "/pilot/")
    client.log_interaction(output="x")
    assert client.flush(5)
    assert server.requests[0].path == "/pilot/api/v1/interactions"


def _run_python(code: str, timeout: float = 30) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=timeout)


def test_queued_items_are_sent_at_interpreter_exit(server):
    result = _run_python(
        "from pilot.client import PilotClient\n"
        f"client = PilotClient({server.url!r}, 'pk', flush_interval=60)\n"
        "for i in range(30): client.log_interaction(output=str(i))\n"
    )
    assert result.returncode == 0, result.stderr
    assert len(server.stored) == 30


def test_a_dead_server_delays_interpreter_exit_by_at_most_atexit_timeout():
    started = time.perf_counter()
    result = _run_python(
        "from pilot.client import PilotClient\n"
        f"client = PilotClient('http://127.0.0.1:{unused_port()}', 'pk', atexit_timeout=0.5, max_retries=50)\n"
        "for i in range(30): client.log_interaction(output=str(i))\n"
        "print('host done')\n"
    )
    assert result.returncode == 0 and "host done" in result.stdout
    assert time.perf_counter() - started < 8  # interpreter start (~1 s) + 0.5 s + close's 1 s join at most


def test_the_client_imports_without_flask_sqlalchemy_or_requests():
    result = _run_python(
        "import sys\n"
        "class Refuse:\n"
        "    def find_spec(self, name, path=None, target=None):\n"
        "        if name.split('.')[0] in ('flask', 'sqlalchemy', 'werkzeug', 'requests', 'urllib3', 'pandas'):\n"
        "            raise ImportError('not allowed here: ' + name)\n"
        "sys.meta_path.insert(0, Refuse())\n"
        "from pilot.client import PilotClient, current_call\n"
        "print(PilotClient.__name__)\n"
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "PilotClient"


@pytest.mark.skipif(not hasattr(os, "fork"), reason="needs os.fork")
def test_a_forked_child_sends_its_own_items_and_not_its_parents(server, make_client):
    client = make_client(server.url, flush_interval=60)
    parent_ids = log_many(client, 3)
    pid = os.fork()
    if pid == 0:  # child: gunicorn workers are made like this after the app (and client) load
        try:
            child_ids = [client.log_interaction(output=f"child {i}", id=f"child-{i}") for i in range(2)]
            os._exit(0 if client.flush(5) and len(child_ids) == 2 else 1)
        except BaseException:
            os._exit(2)
    _, status = os.waitpid(pid, 0)
    assert os.waitstatus_to_exitcode(status) == 0
    assert client.flush(5)

    sent = [event_id for request in server.interaction_requests() for event_id in request.ids]
    assert sorted(sent) == sorted(parent_ids + ["child-0", "child-1"])


# ------------------------------------------------------------------ trace: context manager and decorator


def test_trace_measures_latency_and_records_what_the_block_sets(server, make_client):
    client = make_client(server.url)
    with client.trace(model="claude-sonnet-4-6", user="u1", session="s1", input="What is 2+2?") as call:
        time.sleep(0.05)
        call.output = "4"
        call.record(input_tokens=20, cached_input_tokens=5, output_tokens=1, prompt_version="v3")
    assert client.flush(5)

    item = server.stored[call.id]
    assert 50 <= item["latency_ms"] < 1000
    assert item["status"] == "ok" and item["output"] == "4" and item["input"] == "What is 2+2?"
    assert (item["input_tokens"], item["cached_input_tokens"], item["output_tokens"]) == (20, 5, 1)
    assert item["user"] == "u1" and item["session"] == "s1" and item["prompt_version"] == "v3"


def test_trace_records_the_error_and_re_raises_the_very_same_exception(server, make_client):
    client = make_client(server.url)
    error = KeyError("model overloaded")

    def call_model():
        raise error

    with pytest.raises(KeyError) as caught:
        with client.trace(model="gpt-5.2", input="q") as call:
            call_model()
    assert caught.value is error
    assert caught.traceback[-1].name == "call_model"  # the original traceback, not ours
    assert client.flush(5)

    item = server.stored[call.id]
    assert item["status"] == "error" and item["error"] == "KeyError: 'model overloaded'"
    assert item["latency_ms"] >= 0


class RateLimitError(Exception):
    pass


class APITimeoutError(Exception):
    pass


@pytest.mark.parametrize("error, status", [
    (TimeoutError("slow"), "timeout"), (APITimeoutError("slow"), "timeout"),
    (RateLimitError("429"), "rate_limited"), (RuntimeError("x"), "error"),
])
def test_trace_names_timeouts_and_rate_limits_as_the_api_does(server, make_client, error, status):
    client = make_client(server.url)
    with pytest.raises(type(error)):
        with client.trace(model="m") as call:
            raise error
    assert client.flush(5)
    assert server.stored[call.id]["status"] == status


def test_trace_keeps_a_status_the_block_chose(server, make_client):
    client = make_client(server.url)
    with client.trace(model="m") as call:
        call.status = "fallback"
        call.error = "primary model down; served the cached answer"
    with client.trace(model="m") as quiet_failure:
        quiet_failure.error = "handled"
    assert client.flush(5)
    assert server.stored[call.id]["status"] == "fallback"
    assert server.stored[quiet_failure.id]["status"] == "error"


def test_nested_traces_each_send_one_interaction_and_current_call_follows(server, make_client):
    client = make_client(server.url)
    with client.trace(model="outer") as outer:
        assert current_call() is outer
        with client.trace(model="inner") as inner:
            assert current_call() is inner
            current_call().record(output_tokens=9)
        assert current_call() is outer
    assert client.flush(5)

    assert server.stored[inner.id]["output_tokens"] == 9 and server.stored[outer.id]["model"] == "outer"
    detached = current_call()
    detached.record(output="nobody hears this")
    assert isinstance(detached, Call) and len(server.stored) == 2


def test_the_decorator_takes_input_user_and_output_from_the_function(server, make_client):
    client = make_client(server.url)

    @client.trace(model="claude-haiku-4-5")
    def answer(question: str, *, user: str, session_id: str | None = None) -> str:
        current_call().record(input_tokens=7, output_tokens=2)
        return question.upper()

    assert answer("hello", user="u9", session_id="s9") == "HELLO"
    assert answer.__name__ == "answer"
    assert client.flush(5)

    (item,) = server.stored.values()
    assert (item["input"], item["output"], item["user"], item["session"]) == ("hello", "HELLO", "u9", "s9")
    assert (item["input_tokens"], item["output_tokens"], item["status"]) == (7, 2, "ok")


def test_the_decorator_on_a_method_with_a_named_input_argument(server, make_client):
    client = make_client(server.url)

    class Bot:
        @client.trace(model="m", input_arg="prompt", user_arg="who")
        def reply(self, who: str, prompt: str) -> str:
            return "ok"

    Bot().reply("u3", prompt="hi there")
    assert client.flush(5)
    (item,) = server.stored.values()
    assert item["input"] == "hi there" and item["user"] == "u3"


def test_the_decorator_re_raises_and_records_failures(server, make_client):
    client = make_client(server.url)

    @client.trace(model="m")
    def broken(question: str) -> str:
        raise ValueError("no answer")

    with pytest.raises(ValueError, match="no answer"):
        broken("q")
    assert client.flush(5)
    (item,) = server.stored.values()
    assert item["status"] == "error" and item["error"] == "ValueError: no answer" and item["input"] == "q"


def test_the_decorator_and_async_with_work_for_coroutines(server, make_client):
    client = make_client(server.url)

    @client.trace(model="m")
    async def answer(question: str, user: str) -> str:
        await asyncio.sleep(0.02)
        return "async " + question

    async def main():
        first = await answer("q1", user="u1")
        async with client.trace(model="m2", input="q2") as call:
            call.output = "a2"
        return first, call

    outcome: dict = {}  # a thread of its own: Playwright's browser tests leave a loop running in this one
    runner = threading.Thread(target=lambda: outcome.update(value=asyncio.run(main())))
    runner.start()
    runner.join(timeout=30)
    first, call = outcome["value"]
    assert first == "async q1"
    assert client.flush(5)
    outputs = {item["output"]: item for item in server.stored.values()}
    assert outputs["async q1"]["latency_ms"] >= 20 and outputs["async q1"]["user"] == "u1"
    assert outputs["a2"]["id"] == call.id


def test_usage_from_reads_anthropic_and_openai_responses(server, make_client):
    client = make_client(server.url)
    anthropic = SimpleNamespace(
        model="claude-sonnet-4-6-20260301",
        content=[SimpleNamespace(type="text", text="Hello "), SimpleNamespace(type="text", text="there")],
        usage=SimpleNamespace(input_tokens=100, output_tokens=20, cache_read_input_tokens=900,
                              cache_creation_input_tokens=0),
    )
    openai = {
        "model": "gpt-5.2",
        "choices": [{"message": {"content": "Hi!"}}],
        "usage": {"prompt_tokens": 1000, "completion_tokens": 30, "prompt_tokens_details": {"cached_tokens": 600}},
    }
    with client.trace(input="q") as first:
        first.usage_from(anthropic)
    with client.trace(input="q") as second:
        second.usage_from(openai)
    with client.trace(input="q") as third:
        third.usage_from(42)  # not a response: ignored, no error

    @client.trace()
    def sdk_call(question: str):
        return anthropic

    sdk_call("q")
    assert client.flush(5)

    one, two, three = (server.stored[c.id] for c in (first, second, third))
    assert (one["model"], one["output"], one["input_tokens"], one["cached_input_tokens"], one["output_tokens"]) == (
        "claude-sonnet-4-6-20260301", "Hello there", 1000, 900, 20)
    assert (two["model"], two["output"], two["input_tokens"], two["cached_input_tokens"], two["output_tokens"]) == (
        "gpt-5.2", "Hi!", 1000, 600, 30)
    assert "input_tokens" not in three and three["status"] == "ok"
    decorated = [item for item in server.stored.values() if item["id"] not in {first.id, second.id, third.id}]
    assert decorated[0]["output"] == "Hello there" and decorated[0]["input_tokens"] == 1000
