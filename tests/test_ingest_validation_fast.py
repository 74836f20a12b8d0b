"""The validation fast paths return only what the full checks would: edge cases on both sides of
each shortcut (printable ASCII, NUL, DEL, non-ASCII, NaN, big numbers, the 64 KB metadata bound)."""
from datetime import datetime

import pytest

from pilot.ingest.validation import MAX_METADATA_BYTES, ItemError, clean_text, validate_item

NOW = datetime(2026, 7, 1, 12)


def check(**fields):
    return validate_item({"input": "q", "output": "a", **fields}, NOW)


def error_of(**fields) -> str:
    with pytest.raises(ItemError) as raised:
        check(**fields)
    return str(raised.value)


def test_identifiers_on_and_off_the_ascii_path():
    assert check(id="abc-1").event_id == "abc-1"
    assert check(user="zoë").external_user_id == "zoë"
    assert error_of(id="a\x7fb") == "id: must not contain control characters (such as NUL, tab or newline)"
    assert error_of(id="a\tb") == "id: must not contain control characters (such as NUL, tab or newline)"
    assert error_of(id="   ") == "id: must not be empty (leave the field out instead)"
    assert error_of(id="") == "id: must not be empty (leave the field out instead)"
    assert error_of(id="x" * 129) == "id: must be at most 128 characters (got 129)"
    assert error_of(user="é\ud800") == "user: must be valid Unicode (it has a lone surrogate)"


def test_free_text_is_cleaned_the_same_with_or_without_ascii():
    assert clean_text("a\x00b") == "a\ufffdb"
    assert clean_text("é\x00\ud800") == "é\ufffd\ufffd"
    assert clean_text("plain") == "plain"
    assert check(output="x\x00y").output_text == "x\ufffdy"


def test_numbers_fast_and_slow():
    assert check(input_tokens=5).input_tokens == 5
    assert check(input_tokens=5.0).input_tokens == 5
    assert error_of(input_tokens=True) == "input_tokens: must be a whole number from 0 to 1,000,000,000, not a boolean"
    assert error_of(input_tokens=-1) == "input_tokens: must be a whole number from 0 to 1,000,000,000 (got -1)"
    latency = check(latency_ms=12).latency_ms
    assert latency == 12.0 and isinstance(latency, float)
    assert error_of(latency_ms=float("nan")) == "latency_ms: must be a number from 0 to 86,400,000 (got nan)"
    assert error_of(latency_ms=10 ** 19).startswith("latency_ms: must be a number from 0 to 86,400,000 (got ")


def test_flat_metadata_and_the_exact_path():
    assert check(metadata={"a\x00": "b\x00", "n": 1, "f": 1.5, "t": True, "z": None}).meta == \
        {"a\ufffd": "b\ufffd", "n": 1, "f": 1.5, "t": True, "z": None}
    assert error_of(metadata={"f": float("inf")}) == "metadata: numbers must be finite"
    # Over the fast path's bound but under the limit: measured exactly, accepted.
    near = "x" * (MAX_METADATA_BYTES - 20)
    assert check(metadata={"k": near}).meta == {"k": near}
    over = "x" * MAX_METADATA_BYTES
    assert error_of(metadata={"k": over}) == \
        f"metadata: must be at most 64 KB as JSON (got {MAX_METADATA_BYTES + 9:,} bytes)"
    assert check(metadata={"n": {"deep": [1, "x\x00"]}}).meta == {"n": {"deep": [1, "x\ufffd"]}}
