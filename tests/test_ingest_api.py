"""POST /api/v1/interactions: the contract's answers for good, bad, duplicate, partial,
oversized, unauthenticated and hostile input."""
from __future__ import annotations

import gzip
import json
import math
import zlib
from datetime import datetime, timedelta

import pytest
import sqlalchemy as sa

from pilot.models import ApiKey, Interaction, Membership, PromptVersion
from pilot.models.base import utcnow

URL = "/api/v1/interactions"


def post(client, body, key, *, raw: bytes | None = None, headers: dict | None = None, content_type="application/json"):
    all_headers = {"Authorization": f"Bearer {key}"} if key else {}
    all_headers.update(headers or {})
    data = raw if raw is not None else json.dumps(body)
    return client.post(URL, data=data, headers=all_headers, content_type=content_type)


def rows(db, **where):
    query = sa.select(Interaction)
    for name, value in where.items():
        query = query.where(getattr(Interaction, name) == value)
    return db.session.scalars(query.order_by(Interaction.id)).all()


def good(event_id: str = "evt-1", **extra) -> dict:
    item = {"id": event_id, "user": "user-1", "session": "s-1", "timestamp": "2026-07-01T12:00:00Z",
            "model": "claude-sonnet-4-6", "prompt_version": "v1", "input": "How do I freeze my card?",
            "output": "Open Cards and tap Freeze.", "input_tokens": 1000, "cached_input_tokens": 0,
            "output_tokens": 500, "latency_ms": 1234.5, "ttft_ms": 300, "status": "ok"}
    item.update(extra)
    return item


# --- good input -------------------------------------------------------------------------

def test_one_object_is_stored_with_every_field(client, db, world, api_key):
    item = good(timestamp="2026-07-01T14:00:00+02:00", metadata={"channel": "ios"})
    response = post(client, item, api_key)
    assert response.status_code == 200
    assert response.get_json() == {"accepted": 1, "duplicates": 0, "rejected": [], "ids": ["evt-1"]}
    (row,) = rows(db)
    assert row.pilot_id == world.pilot.id and row.source == "api"
    assert row.occurred_at == datetime(2026, 7, 1, 12, 0)  # +02:00 converted to naive UTC
    assert row.membership_id == world.participant_membership.id
    assert (row.external_user_id, row.session_id, row.model, row.prompt_version) == ("user-1", "s-1", "claude-sonnet-4-6", "v1")
    assert row.input_text == item["input"] and row.output_text == item["output"]
    assert (row.input_chars, row.output_chars) == (len(item["input"]), len(item["output"]))
    assert (row.input_tokens, row.cached_input_tokens, row.output_tokens, row.tokens_estimated) == (1000, 0, 500, False)
    assert (row.latency_ms, row.ttft_ms, row.status, row.error_message) == (1234.5, 300.0, "ok", None)
    assert row.meta == {"channel": "ios"}
    assert abs(row.received_at - utcnow()) < timedelta(minutes=1)


def test_input_hash_normalises_whitespace_and_case(client, db, api_key):
    post(client, {"interactions": [good("a", input="  How do I\n freeze  MY card? "), good("b", input="how do i freeze my card?")]}, api_key)
    a, b = rows(db)
    assert a.input_hash == b.input_hash and len(a.input_hash) == 64
    post(client, good("c", input="how do i unfreeze my card?"), api_key)
    assert rows(db, event_id="c")[0].input_hash != a.input_hash


def test_missing_id_timestamp_and_status_get_defaults(client, db, api_key):
    before = utcnow()
    response = post(client, {"input": "hi", "output": "hello", "input_tokens": 3, "output_tokens": 4}, api_key)
    after = utcnow()
    (generated,) = response.get_json()["ids"]
    assert len(generated) == 32 and int(generated, 16) >= 0  # uuid4 hex
    (row,) = rows(db)
    assert row.event_id == generated
    assert before - timedelta(seconds=1) <= row.occurred_at <= after + timedelta(seconds=1)
    assert row.status == "ok" and row.external_user_id is None and row.membership_id is None


def test_missing_tokens_are_estimated_and_marked(client, db, api_key):
    post(client, good("e", input="x" * 401, output="y" * 40, input_tokens=None, output_tokens=None,
                      cached_input_tokens=None, model="gpt-5.2"), api_key)
    (row,) = rows(db)
    assert (row.input_tokens, row.output_tokens, row.tokens_estimated) == (101, 10, True)  # ceil(chars / 4)
    assert row.cost_source == "computed"
    assert math.isclose(row.cost_usd, (101 * 10 + 10 * 40) / 1e6, rel_tol=0, abs_tol=1e-12)


def test_one_missing_count_is_estimated_and_the_given_one_kept(client, db, api_key):
    post(client, good("e", output="y" * 40, output_tokens=None), api_key)
    (row,) = rows(db)
    assert (row.input_tokens, row.output_tokens, row.tokens_estimated) == (1000, 10, True)


def test_unenrolled_users_are_kept_without_a_membership(client, db, world, api_key):
    removed = db.session.scalar(sa.select(Membership).where(Membership.external_id == "user-2"))
    removed.status = "removed"
    db.session.commit()
    response = post(client, {"interactions": [good("a", user="stranger"), good("b", user="user-2"), good("c")]}, api_key)
    assert response.get_json()["accepted"] == 3
    by_id = {row.event_id: row for row in rows(db)}
    assert by_id["a"].external_user_id == "stranger" and by_id["a"].membership_id is None
    assert by_id["b"].membership_id is None  # a removed member is no longer enrolled
    assert by_id["c"].membership_id == world.participant_membership.id


def test_unknown_fields_are_ignored(client, db, api_key):
    response = post(client, good(colour="blue", nested={"x": 1}), api_key)
    assert response.get_json()["accepted"] == 1


def test_prompt_versions_are_registered_once(client, db, world, api_key):
    post(client, {"interactions": [good("a", prompt_version="v1"), good("b", prompt_version="v2"), good("c")]}, api_key)
    post(client, good("d", prompt_version="v2"), api_key)
    versions = db.session.scalars(sa.select(PromptVersion.version).where(PromptVersion.pilot_id == world.pilot.id)).all()
    assert sorted(versions) == ["v1", "v2"]


def test_error_status_keeps_its_message(client, db, api_key):
    post(client, good(status="timeout", error="no answer within 30 s", output=""), api_key)
    (row,) = rows(db)
    assert (row.status, row.error_message, row.output_chars) == ("timeout", "no answer within 30 s", 0)


def test_flagging_hook_receives_only_the_new_interactions(client, db, world, api_key, monkeypatch):
    from pilot import flagging

    calls = []
    real = flagging.store_batch

    def spy(session, pending, ids):
        calls.append((pending.ctx.facts.pilot_id,
                      [ix.event_id for ix, row_id in zip(pending.batch, ids) if row_id is not None]))
        return real(session, pending, ids)

    monkeypatch.setattr(flagging, "store_batch", spy)
    post(client, good("a"), api_key)
    post(client, {"interactions": [good("a"), good("b"), good("c")]}, api_key)
    post(client, good("a"), api_key)
    assert calls == [(world.pilot.id, ["a"]), (world.pilot.id, ["b", "c"])]


def test_last_used_time_of_the_key_is_recorded(client, db, api_key):
    key = db.session.scalar(sa.select(ApiKey))
    assert key.last_used_at is None
    post(client, good(), api_key)
    db.session.refresh(key)
    assert key.last_used_at is not None


def test_a_full_batch_of_1000_is_stored_whole(client, db, api_key):
    """The largest batch the API takes is stored in one request. Its speed is measured by
    bench/ingest.py, not here: a wall-clock bound in a test fails on a busy machine."""
    items = [good(f"bulk-{n}", user=f"user-{n % 5}", prompt_version=f"v{n % 3}", input="q" * 300, output="a" * 900)
             for n in range(1000)]
    response = post(client, {"interactions": items}, api_key)
    assert response.get_json()["accepted"] == 1000
    assert db.session.scalar(sa.select(sa.func.count(Interaction.id))) == 1000


# --- costs --------------------------------------------------------------------------------

def test_costs_match_hand_computation_with_cached_tokens(client, db, world, api_key):
    from pilot.models import ModelPrice

    db.session.add(ModelPrice(pilot_id=world.pilot.id, model="claude-sonnet-4-6", input_per_mtok=3.0,
                              cached_input_per_mtok=0.3, output_per_mtok=15.0))
    db.session.add(ModelPrice(pilot_id=world.pilot.id, model="gpt-5.2", input_per_mtok=12.5, output_per_mtok=50.0,
                              effective_from=datetime(2026, 7, 1)))
    db.session.commit()
    items = [
        good("sonnet", model="claude-sonnet-4-6-20260301", input_tokens=12_345, cached_input_tokens=10_000, output_tokens=678),
        good("gpt-before", model="gpt-5.2", timestamp="2026-06-30T23:59:59Z", input_tokens=1_000, cached_input_tokens=250, output_tokens=100),
        good("gpt-after", model="gpt-5.2", timestamp="2026-07-01T00:00:00Z", input_tokens=1_000, cached_input_tokens=250, output_tokens=100),
        good("haiku", model="claude-haiku-4-5", input_tokens=7, output_tokens=3),
        good("reported", model="claude-haiku-4-5", cost_usd=0.125),
        good("mystery", model="acme-finetune-v0"),
        good("no-model", model=None),
    ]
    assert post(client, {"interactions": items}, api_key).get_json()["accepted"] == 7
    cost = {row.event_id: (row.cost_usd, row.cost_source) for row in rows(db)}
    expected = {
        "sonnet": ((2_345 * 3.0 + 10_000 * 0.3 + 678 * 15.0) / 1e6, "computed"),
        "gpt-before": ((750 * 10.0 + 250 * 10.0 + 100 * 40.0) / 1e6, "computed"),  # global row; cached at input price
        "gpt-after": ((750 * 12.5 + 250 * 12.5 + 100 * 50.0) / 1e6, "computed"),  # the pilot's dated row
        "haiku": ((7 * 0.25 + 3 * 1.25) / 1e6, "computed"),
        "reported": (0.125, "reported"),
    }
    for event_id, (usd, source) in expected.items():
        assert cost[event_id][1] == source, event_id
        assert abs(cost[event_id][0] - usd) < 1e-9, event_id
    assert cost["mystery"] == (None, "unknown") and cost["no-model"] == (None, "unknown")


def test_reported_zero_cost_is_kept_as_reported(client, db, api_key):
    post(client, good(cost_usd=0), api_key)
    assert (rows(db)[0].cost_usd, rows(db)[0].cost_source) == (0.0, "reported")


# --- partial batches and bad items --------------------------------------------------------

def test_bad_items_are_rejected_by_index_and_good_ones_kept(client, db, api_key):
    items = [good("ok-1"), good("bad-1", input_tokens=-5), "not an object", good("ok-2"), good("bad-2", status="great")]
    body = post(client, {"interactions": items}, api_key).get_json()
    assert body["accepted"] == 2 and body["ids"] == ["ok-1", "ok-2"] and body["duplicates"] == 0
    assert [r["index"] for r in body["rejected"]] == [1, 2, 4]
    assert body["rejected"][0]["error"].startswith("input_tokens: must be a whole number from 0 to 1,000,000,000")
    assert body["rejected"][1]["error"] == "item: must be a JSON object, not string"
    assert body["rejected"][2]["error"].startswith("status: must be one of ok, error, timeout, rate_limited, fallback")
    assert sorted(r.event_id for r in rows(db)) == ["ok-1", "ok-2"]


@pytest.mark.parametrize("field,value,message", [
    ("id", 123, "id: must be a string, not number"),
    ("id", "", "id: must not be empty"),
    ("id", "x" * 129, "id: must be at most 128 characters"),
    ("id", "a\x00b", "id: must not contain control characters"),
    ("user", ["u"], "user: must be a string, not array"),
    ("session", "s" * 256, "session: must be at most 255 characters"),
    ("model", True, "model: must be a string, not boolean"),
    ("prompt_version", "v" * 101, "prompt_version: must be at most 100 characters"),
    ("timestamp", "yesterday", "timestamp: must be an ISO 8601 date-time"),
    ("timestamp", 1751371200, "timestamp: must be an ISO 8601 date-time string, not a number"),
    ("timestamp", "1999-12-31T23:59:59Z", "timestamp: must not be before 2000-01-01"),
    ("timestamp", "9999-12-31T23:59:59-14:00", "timestamp: is out of range"),
    ("timestamp", "2999-01-01T00:00:00Z", "timestamp: must not be more than 24 hours in the future"),
    ("input", {"text": "hi"}, "input: must be a string, not object"),
    ("input", "x" * 1_000_001, "input: must be at most 1,000,000 characters"),
    ("output", 42, "output: must be a string, not number"),
    ("input_tokens", 12.5, "input_tokens: must be a whole number from 0 to 1,000,000,000 (got 12.5)"),
    ("input_tokens", "12", "input_tokens: must be a whole number from 0 to 1,000,000,000, not a string"),
    ("input_tokens", True, "input_tokens: must be a whole number from 0 to 1,000,000,000, not a boolean"),
    ("output_tokens", 10 ** 30, "output_tokens: must be a whole number from 0 to 1,000,000,000 (got"),
    ("output_tokens", -1, "output_tokens: must be a whole number from 0 to 1,000,000,000 (got -1)"),
    ("output_tokens", 1e308, "output_tokens: must be a whole number from 0 to 1,000,000,000"),
    ("cached_input_tokens", 1001, "cached_input_tokens: must not exceed input_tokens (1,001 > 1,000)"),
    ("latency_ms", -0.5, "latency_ms: must be a number from 0 to 86,400,000 (got -0.5)"),
    ("latency_ms", 86_400_001, "latency_ms: must be a number from 0 to 86,400,000"),
    ("latency_ms", 10 ** 400, "latency_ms: must be a number from 0 to 86,400,000"),
    ("ttft_ms", "fast", "ttft_ms: must be a number from 0 to 86,400,000, not a string"),
    ("ttft_ms", False, "ttft_ms: must be a number from 0 to 86,400,000, not a boolean"),
    ("status", None, None),  # null means the default
    ("status", "OK", "status: must be one of"),
    ("status", 1, "status: must be one of ok, error, timeout, rate_limited, fallback (got a number)"),
    ("error", "e" * 10_001, "error: must be at most 10,000 characters"),
    ("cost_usd", -0.01, "cost_usd: must be a number from 0 to 1,000,000"),
    ("cost_usd", "0.01", "cost_usd: must be a number from 0 to 1,000,000, not a string"),
    ("metadata", ["a"], "metadata: must be an object, not array"),
    ("metadata", "x", "metadata: must be an object, not string"),
    ("metadata", {"blob": "x" * 70_000}, "metadata: must be at most 64 KB as JSON"),
])
def test_each_field_rule_names_the_field(client, db, api_key, field, value, message):
    body = post(client, {"interactions": [good("keep"), good("probe", **{field: value})]}, api_key).get_json()
    if message is None:
        assert body["accepted"] == 2
        return
    assert body["accepted"] == 1 and body["ids"] == ["keep"]
    (rejection,) = body["rejected"]
    assert rejection["index"] == 1
    assert rejection["error"].startswith(message), rejection["error"]


def test_integral_floats_count_as_whole_numbers(client, db, api_key):
    body = post(client, good(input_tokens=1000.0, output_tokens=5e2), api_key).get_json()
    assert body["accepted"] == 1
    assert (rows(db)[0].input_tokens, rows(db)[0].output_tokens) == (1000, 500)


def test_timestamps_without_zone_are_utc_and_other_iso_forms_parse(client, db, api_key):
    items = [good("naive", timestamp="2026-07-01T12:00:00"), good("offset", timestamp="2026-07-01T07:30:00-04:30"),
             good("fraction", timestamp="2026-07-01T12:00:00.123456+00:00"), good("lower", timestamp="2026-07-01t12:00:00z")]
    assert post(client, {"interactions": items}, api_key).get_json()["accepted"] == 4
    stamps = {row.event_id: row.occurred_at for row in rows(db)}
    assert stamps["naive"] == stamps["offset"] == stamps["lower"] == datetime(2026, 7, 1, 12)
    assert stamps["fraction"] == datetime(2026, 7, 1, 12, 0, 0, 123456)


# --- duplicates ---------------------------------------------------------------------------

def test_a_retry_is_a_duplicate_not_a_second_row(client, db, api_key):
    batch = {"interactions": [good("a"), good("b")]}
    assert post(client, batch, api_key).get_json() == {"accepted": 2, "duplicates": 0, "rejected": [], "ids": ["a", "b"]}
    assert post(client, batch, api_key).get_json() == {"accepted": 0, "duplicates": 2, "rejected": [], "ids": []}
    assert len(rows(db)) == 2


def test_repeats_inside_one_batch_are_duplicates(client, db, api_key):
    body = post(client, {"interactions": [good("a"), good("a", output="changed"), good("b"), good("a")]}, api_key).get_json()
    assert (body["accepted"], body["duplicates"], body["ids"]) == (2, 2, ["a", "b"])
    assert rows(db, event_id="a")[0].output_text == good()["output"]  # the first one wins


def test_the_same_id_in_another_pilot_is_not_a_duplicate(client, db, world, api_key):
    from pilot.pilots.services import mint_api_key

    _, beta_key = mint_api_key(db.session, world.other_pilot, world.other_lead)
    db.session.commit()
    assert post(client, good("shared"), api_key).get_json()["accepted"] == 1
    assert post(client, good("shared"), beta_key).get_json()["accepted"] == 1
    assert {row.pilot_id for row in rows(db, event_id="shared")} == {world.pilot.id, world.other_pilot.id}


def test_concurrent_retries_make_exactly_one_row(live_server, db, api_key):
    """Eight clients post the same two events at once, as racing retries would."""
    import threading

    import requests

    body = json.dumps({"interactions": [good("race-1"), good("race-2")]})
    answers: list = []
    barrier = threading.Barrier(8)

    def send():
        barrier.wait()
        response = requests.post(f"{live_server}{URL}", data=body, timeout=30,
                                 headers={"Authorization": f"Bearer {api_key}", "Content-Type": "application/json"})
        answers.append((response.status_code, response.json()))

    threads = [threading.Thread(target=send) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert [status for status, _ in answers] == [200] * 8
    assert sum(body["accepted"] for _, body in answers) == 2
    assert sum(body["duplicates"] for _, body in answers) == 14
    db.session.expire_all()
    assert sorted(row.event_id for row in rows(db)) == ["race-1", "race-2"]


def test_concurrent_retries_at_the_service_level(app, db, world):
    """Same race without HTTP: separate sessions (app contexts) inserting the same ids."""
    import threading

    from pilot.extensions import db as database
    from pilot.ingest.services import ingest_items
    from pilot.models import Pilot

    pilot_id = world.pilot.id
    results, errors = [], []
    barrier = threading.Barrier(6)

    def worker():
        with app.app_context():
            try:
                pilot = database.session.get(Pilot, pilot_id)
                barrier.wait()
                result = ingest_items(database.session, pilot, [good(f"svc-{n}") for n in range(20)])
                database.session.commit()
                results.append(result.accepted)
            except Exception as error:  # pragma: no cover - reported below
                errors.append(repr(error))
            finally:
                database.session.remove()

    threads = [threading.Thread(target=worker) for _ in range(6)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    assert sum(results) == 20
    db.session.expire_all()
    assert len(rows(db)) == 20


# --- whole-request errors -------------------------------------------------------------------

@pytest.mark.parametrize("raw,message", [
    (b"{not json", "The body is not valid JSON"),
    (b"", "The body is not valid JSON"),
    (b"[1, 2]", 'Send one interaction object, or {"interactions": [...]}'),
    (b'"a string"', "Send one interaction object"),
    (b"null", "Send one interaction object"),
    (b'{"interactions": {"id": "x"}}', '"interactions" must be an array'),
    (b'{"interactions": "x"}', '"interactions" must be an array'),
    (b'{"input_tokens": NaN}', "The body is not valid JSON: NaN is not valid JSON"),
    (b'{"latency_ms": Infinity}', "The body is not valid JSON"),
    (b"\xff\xfe{}", "The body is not valid UTF-8 JSON"),
    (b"[" * 100_000 + b"]" * 100_000, "The body is not valid JSON"),
    (b'{"input_tokens": 1' + b"0" * 5000 + b"}", "The body is not valid JSON"),
])
def test_bad_bodies_are_400_with_an_error(client, db, api_key, raw, message):
    response = post(client, None, api_key, raw=raw)
    assert response.status_code == 400
    assert response.get_json()["error"].startswith(message), response.get_json()
    assert rows(db) == []


def test_more_than_1000_items_is_400(client, db, api_key):
    response = post(client, {"interactions": [{"input": "x"}] * 1001}, api_key)
    assert response.status_code == 400
    assert "at most 1,000" in response.get_json()["error"]
    assert rows(db) == []


def test_an_empty_batch_is_fine(client, db, api_key):
    assert post(client, {"interactions": []}, api_key).get_json() == {"accepted": 0, "duplicates": 0, "rejected": [], "ids": []}


@pytest.mark.parametrize("content_type", ["text/plain", "application/x-www-form-urlencoded", "application/xml", ""])
def test_non_json_content_type_is_415(client, db, api_key, content_type):
    response = post(client, good(), api_key, content_type=content_type)
    assert response.status_code == 415
    assert "application/json" in response.get_json()["error"]


def test_json_with_charset_and_vendor_json_types_are_accepted(client, db, api_key):
    assert post(client, good("a"), api_key, content_type="application/json; charset=utf-8").status_code == 200
    assert post(client, good("b"), api_key, content_type="application/vnd.pilot+json").status_code == 200


# --- body size and compression ----------------------------------------------------------------

def test_gzip_and_deflate_bodies_are_accepted(client, db, api_key):
    body = json.dumps({"interactions": [good("gz-1"), good("gz-2")]}).encode()
    response = post(client, None, api_key, raw=gzip.compress(body), headers={"Content-Encoding": "gzip"})
    assert response.get_json()["accepted"] == 2
    response = post(client, None, api_key, raw=zlib.compress(json.dumps(good("df")).encode()),
                    headers={"Content-Encoding": "deflate"})
    assert response.get_json()["accepted"] == 1


def test_corrupt_gzip_is_400_and_unknown_encoding_415(client, db, api_key):
    response = post(client, None, api_key, raw=b"\x1f\x8bnot really gzip", headers={"Content-Encoding": "gzip"})
    assert response.status_code == 400 and "gzip" in response.get_json()["error"]
    truncated = gzip.compress(json.dumps(good()).encode())[:-12]
    assert post(client, None, api_key, raw=truncated, headers={"Content-Encoding": "gzip"}).status_code == 400
    response = post(client, good(), api_key, headers={"Content-Encoding": "br"})
    assert response.status_code == 415 and "Content-Encoding" in response.get_json()["error"]


def test_body_over_10_mb_is_413(client, db, api_key):
    big = json.dumps({"interactions": [good(f"n{n}", input="x" * 600_000) for n in range(18)]}).encode()
    assert len(big) > 10 * 1024 * 1024
    response = post(client, None, api_key, raw=big)
    assert response.status_code == 413
    assert "10 MB" in response.get_json()["error"]
    assert rows(db) == []


def test_gzip_bomb_is_413_on_the_inflated_size(client, db, api_key):
    bomb = gzip.compress(b'{"input": "' + b"a" * (11 * 1024 * 1024) + b'"}')
    assert len(bomb) < 100_000
    response = post(client, None, api_key, raw=bomb, headers={"Content-Encoding": "gzip"})
    assert response.status_code == 413
    assert "after decompression" in response.get_json()["error"]


def test_413_is_answered_from_content_length_without_reading(live_server, db, api_key):
    """A client announcing 50 MB gets 413 although it sends only a few bytes."""
    import socket

    host, port = live_server.removeprefix("http://").split(":")
    with socket.create_connection((host, int(port)), timeout=10) as sock:
        sock.sendall((f"POST {URL} HTTP/1.1\r\nHost: {host}\r\nAuthorization: Bearer {api_key}\r\n"
                      "Content-Type: application/json\r\nContent-Length: 52428800\r\n\r\n{").encode())
        reply = sock.recv(4096).decode(errors="replace")
    assert reply.startswith("HTTP/1.1 413")


def test_chunked_body_over_the_cap_is_413(live_server, db, api_key):
    """No Content-Length (chunked upload): the streamed read stops at the cap."""
    import requests

    def chunks():
        yield b'{"input": "'
        for _ in range(11):
            yield b"a" * (1024 * 1024)
        yield b'"}'

    response = requests.post(f"{live_server}{URL}", data=chunks(), timeout=30,
                             headers={"Authorization": f"Bearer {api_key}", "Content-Type": "application/json"})
    assert response.status_code == 413
    assert rows(db) == []


def test_a_body_just_under_the_cap_is_accepted(client, db, api_key):
    items = [good(f"big-{n}", input="é" * 1_000_000) for n in range(5)]
    raw = json.dumps({"interactions": items}, ensure_ascii=False).encode()
    assert 9 * 1024 * 1024 < len(raw) < 10 * 1024 * 1024
    response = post(client, None, api_key, raw=raw)
    assert response.status_code == 200 and response.get_json()["accepted"] == 5


# --- who may send ----------------------------------------------------------------------------

@pytest.mark.parametrize("header", [None, "Bearer", "Bearer not-a-key", "Basic dXNlcjpwYXNz", "pk_raw-without-scheme"])
def test_missing_or_bad_key_is_401(client, db, world, header):
    headers = {"Authorization": header} if header else {}
    response = client.post(URL, json=good(), headers=headers)
    assert response.status_code == 401
    assert "API key" in response.get_json()["error"]
    assert rows(db) == []


def test_revoked_key_is_401(client, db, world, api_key):
    from pilot.pilots.services import revoke_api_key

    key = db.session.scalar(sa.select(ApiKey))
    revoke_api_key(db.session, world.pilot, key.id, world.lead)
    db.session.commit()
    assert post(client, good(), api_key).status_code == 401
    assert rows(db) == []


def test_a_key_only_reaches_its_own_pilot(client, db, world, api_key):
    from pilot.pilots.services import mint_api_key

    _, beta_key = mint_api_key(db.session, world.other_pilot, world.other_lead)
    db.session.commit()
    post(client, good("beta-1", user="user-1"), beta_key)
    (row,) = rows(db)
    assert row.pilot_id == world.other_pilot.id
    assert row.membership_id is None  # alpha's user-1 is not a member of beta


def test_get_is_not_allowed(client, db, api_key):
    response = client.get(URL, headers={"Authorization": f"Bearer {api_key}"})
    assert response.status_code == 405 and "error" in response.get_json()


# --- hostile input -------------------------------------------------------------------------------

def test_unicode_is_stored_exactly(client, db, api_key):
    text = "Olá 👋🏽 — مرحبا بالعالم ‮evil‬ 漢字 \u200b zero-width, e\u0301 combining"
    post(client, good("uni-😀-id", input=text, output=text[::-1], user="ユーザー", metadata={"emoji": "🚀", "rtl": "שלום"}), api_key)
    (row,) = rows(db)
    assert row.event_id == "uni-😀-id" and row.external_user_id == "ユーザー"
    assert row.input_text == text and row.output_text == text[::-1]
    assert row.input_chars == len(text) and row.meta == {"emoji": "🚀", "rtl": "שלום"}


def test_nul_bytes_and_lone_surrogates_in_text_become_replacement_characters(client, db, api_key):
    raw = (b'{"id": "nul", "input": "a\\u0000b", "output": "x\\ud800y", "error": "e\\u0000",'
           b' "metadata": {"k\\u0000": "v\\udfff"}}')
    body = post(client, None, api_key, raw=raw).get_json()
    assert body["accepted"] == 1, body
    (row,) = rows(db)
    assert row.input_text == "a\ufffdb" and row.output_text == "x\ufffdy" and row.error_message == "e\ufffd"
    assert row.meta == {"k\ufffd": "v\ufffd"}


def test_lone_surrogate_in_an_identifier_is_rejected(client, db, api_key):
    body = post(client, None, api_key, raw=b'{"id": "a\\ud800"}').get_json()
    assert body["rejected"][0]["error"] == "id: must be valid Unicode (it has a lone surrogate)"


def test_one_megabyte_strings_are_stored(client, db, api_key):
    mega = "ab🙂" * 333_333  # 999,999 characters, about 2 MB of UTF-8
    assert post(client, good("mb", input=mega, output=mega), api_key).get_json()["accepted"] == 1
    (row,) = rows(db)
    assert row.input_chars == len(mega) and row.input_text == mega


def test_script_and_formula_text_is_stored_verbatim(client, db, api_key):
    hostile = "<script>alert(1)</script> =HYPERLINK(\"http://x\") '; DROP TABLE interaction; --"
    post(client, good(input=hostile, output=hostile, session=hostile[:100]), api_key)
    (row,) = rows(db)
    assert row.input_text == hostile and row.session_id == hostile[:100]
    assert db.session.scalar(sa.select(sa.func.count(Interaction.id))) == 1


def test_deeply_nested_metadata_is_rejected_not_crashing(client, db, api_key):
    nested: dict = {}
    cursor = nested
    for _ in range(40):
        cursor["x"] = {}
        cursor = cursor["x"]
    body = post(client, good(metadata=nested), api_key).get_json()
    assert body["rejected"][0]["error"] == "metadata: must not nest deeper than 16 levels"


def test_metrics_count_accepted_duplicates_and_rejected(client, db, api_key):
    def value(result):
        text = client.get("/metrics").get_data(as_text=True)
        line = next(row for row in text.splitlines()
                    if row.startswith("pilot_ingest_interactions_total{") and f'result="{result}"' in row
                    and 'source="api"' in row)
        return float(line.rsplit(" ", 1)[1])

    before = {r: value(r) for r in ("accepted", "duplicate", "rejected")}
    post(client, {"interactions": [good("m1"), good("m1"), good("m2", status="nope")]}, api_key)
    assert value("accepted") - before["accepted"] == 1
    assert value("duplicate") - before["duplicate"] == 1
    assert value("rejected") - before["rejected"] == 1


# --- rate limiting -------------------------------------------------------------------------------

@pytest.fixture()
def tiny_rate_limit(app):
    from pilot.extensions import limiter

    app.config["API_RATE_LIMIT"] = "3 per minute"
    limiter.reset()
    yield
    app.config["API_RATE_LIMIT"] = "100000 per minute"
    limiter.reset()


def test_rate_limit_per_key_answers_429_with_retry_after(client, db, world, api_key, tiny_rate_limit):
    from pilot.pilots.services import mint_api_key

    statuses = [post(client, good(f"r{n}"), api_key).status_code for n in range(4)]
    assert statuses == [200, 200, 200, 429]
    limited = post(client, good("r9"), api_key)
    assert limited.status_code == 429
    assert int(limited.headers["Retry-After"]) >= 0
    assert "Rate limit" in limited.get_json()["error"]
    assert len(rows(db)) == 3
    _, fresh = mint_api_key(db.session, world.pilot, world.lead)
    db.session.commit()
    assert post(client, good("other-key"), fresh).status_code == 200  # the budget is per key


# --- a busy SQLite -------------------------------------------------------------------------------

def _locked():
    import sqlite3

    return sa.exc.OperationalError("INSERT …", {}, sqlite3.OperationalError("database is locked"))


def test_a_locked_database_is_retried(client, db, api_key, monkeypatch):
    from pilot.ingest import views

    real, calls = views.ingest_items, []

    def flaky(*args, **kwargs):
        calls.append(1)
        if len(calls) == 1:
            raise _locked()
        return real(*args, **kwargs)

    monkeypatch.setattr(views, "ingest_items", flaky)
    response = post(client, good("after-retry"), api_key)
    assert response.status_code == 200 and response.get_json()["ids"] == ["after-retry"]
    assert len(calls) == 2 and len(rows(db)) == 1


def test_a_database_that_stays_locked_is_503_with_retry_after(client, db, api_key, monkeypatch):
    from pilot.ingest import views

    def always_locked(*args, **kwargs):
        raise _locked()

    monkeypatch.setattr(views, "ingest_items", always_locked)
    response = post(client, good(), api_key)
    assert response.status_code == 503
    assert int(response.headers["Retry-After"]) >= 1 and "retry" in response.get_json()["error"]
    assert rows(db) == []
