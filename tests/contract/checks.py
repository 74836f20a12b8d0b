"""The truth for one call: what its stored interaction must hold, field by field (issue #9).

The expectation is what the client sent and received. A value the stack never put on any of its
spans cannot reach Pilot; such a field is a *gap of the stack* (listed in FINDINGS.md with the
attribute a user can add), not checked here, and reported beside the mismatches.
"""
from __future__ import annotations

import json
import math
import re
from typing import Any

import pytest

from pilot.models.interactions import DEFAULT_PRICES
from tests.contract.fake_provider import FIRST_CHUNK_DELAY

ANTHROPIC_CACHE_WRITE_FACTOR = 1.25


def _values(spans: list[dict[str, Any]]) -> list[Any]:
    """Every attribute value of the spans and their events, arrays flattened."""
    found: list[Any] = []
    for span in spans:
        sources = [span["attributes"], *(e["attributes"] for e in span["events"])]
        found.append(span["status"].get("description"))
        for attributes in sources:
            for value in attributes.values():
                found.extend(value if isinstance(value, list) else [value])
    return [v for v in found if v is not None]


def sent_on_spans(spans: list[dict[str, Any]], value: Any) -> bool:
    """Whether `value` (text or a whole number) appears anywhere on the spans: a number as an
    attribute's value or as a value inside an attribute's text."""
    values = _values(spans)
    if isinstance(value, str):
        escaped = json.dumps(value)[1:-1]
        return any(isinstance(v, str) and (value in v or escaped in v) for v in values)
    if isinstance(value, int):
        # Inside text, only as a value: `"output_tokens": 17` (JSON), `'k': 17` (a repr), `k=17`. A bare
        # match would find a token count in a clock time ("22:17:05") or an id and fail by the hour.
        pattern = re.compile(rf"(?:[\"']\s*:\s*|=\s*){value}(?![\d.])")
        return any((isinstance(v, (int, float)) and not isinstance(v, bool) and v == value)
                   or (isinstance(v, str) and pattern.search(v)) for v in values)
    return False


def normalised(identifier: str, limit: int = 255) -> str:
    """Issue #9 (9): a bad identifier is cleaned, never a reason to lose the call."""
    return re.sub(r"[\x00-\x1f\x7f]", "", identifier).strip()[:limit]


def _ttft_sent(spans: list[dict[str, Any]]) -> bool:
    return any(("first" in key or "ttf" in key) for s in spans for key in s["attributes"]) \
        or any(s["events"] for s in spans)


def expected_cost(model: str, usage: dict[str, int]) -> float | None:
    price = next((p for name, p in sorted(DEFAULT_PRICES.items(), key=lambda kv: -len(kv[0]))
                  if model.startswith(name)), None)
    if price is None:
        return None
    input_price, output_price = price
    write_price = input_price * (ANTHROPIC_CACHE_WRITE_FACTOR if model.startswith("claude") else 1)
    uncached = usage["input"] - usage["cached"] - usage["cache_write"]
    return (uncached * input_price + usage["cached"] * input_price + usage["cache_write"] * write_price
            + usage["output"] * output_price) / 1_000_000


def _looks_like_json(text: str) -> bool:
    """Raw JSON (a provider body, a message list) rather than text a person reads."""
    try:
        return isinstance(json.loads(text), (dict, list))
    except ValueError:
        return False


class Comparison:
    """Mismatches (field, expected, got) and stack gaps for one call."""

    def __init__(self) -> None:
        self.mismatches: list[tuple[str, Any, Any]] = []
        self.gaps: list[str] = []

    def expect(self, name: str, ok: bool, expected: Any, got: Any) -> None:
        if not ok:
            self.mismatches.append((name, expected, got))

    def report(self) -> str:
        lines = [f"  {name}: expected {_short(expected)}, got {_short(got)}" for name, expected, got in self.mismatches]
        if self.gaps:
            lines.append("  (not sent by the stack, so not checked: " + "; ".join(self.gaps) + ")")
        return "\n".join(lines)


def _short(value: Any, limit: int = 300) -> str:
    text = repr(value)
    return text if len(text) <= limit else text[:limit] + "…"


def compare_call(run, name: str) -> Comparison:
    """Compare the stored interaction of call `name` of `run` with what the client sent and received."""
    call = run.calls[name]
    spans = run.spans_of(call)
    if not spans:
        pytest.skip(f"{run.stack.name} emits no span for the call {name!r} (the instrumentation does not trace it)")
    rows = run.rows_of(call)
    result = Comparison()
    result.expect("interactions for the call", len(rows) == 1, 1, len(rows))
    if len(rows) != 1:
        result.mismatches.append(("spans of the call", "-", [(s["name"], s["scope"]) for s in spans]))
        if not rows:
            return result
    row = rows[0]
    sent, received = call["sent"], call["received"]
    error = received.get("error")

    for field, value in (("external_user_id", sent.get("user")), ("session_id", sent.get("session")),
                         ("model", sent["model"])):
        if value is None:
            continue
        if sent_on_spans(spans, value):
            expected = normalised(value) if field != "model" else value
            result.expect(field, row[field] == expected, expected, row[field])
        else:
            result.gaps.append(f"{field} {value!r}")

    _compare_input(result, spans, sent, row)
    _compare_output(result, spans, received, row, error)

    result.expect("latency_ms > 0 and within the client's own measure", row["latency_ms"] is not None
                  and 0 < row["latency_ms"] <= call["client_latency_ms"] + 5, f"0 < x <= {call['client_latency_ms']:.1f}",
                  row["latency_ms"])
    if call["stream"] and not error:
        if _ttft_sent(spans):
            # The provider waits FIRST_CHUNK_DELAY before the first chunk; the span starts after the
            # client's own clock did, so its TTFT is at most what the client measured.
            low, high = FIRST_CHUNK_DELAY * 1000 * 0.8, (call.get("client_ttft_ms") or 0) + 5
            ok = row["ttft_ms"] is not None and low <= row["ttft_ms"] <= high
            result.expect("ttft_ms", ok, f"{low:.0f} <= ttft <= {high:.1f} (the client's own measure)", row["ttft_ms"])
        else:
            result.gaps.append("time to first token (no event or attribute for it)")
    elif not call["stream"]:
        result.expect("ttft_ms of a call that did not stream", row["ttft_ms"] is None, None, row["ttft_ms"])

    if error:
        _compare_failure(result, spans, error, row)
    else:
        result.expect("status", row["status"] == "ok", "ok", (row["status"], row["error_message"]))
        _compare_usage(result, spans, received.get("usage"), row, sent["model"])
        # The first harm: an answer that was not empty must not raise a failure flag for
        # being empty, even when the stack did not capture its text (content off).
        answered = bool(received.get("text") or received.get("tool_calls"))
        result.expect("no empty_output flag on a call that answered", not (answered and "empty_output" in row["flags"]),
                      "no empty_output flag", row["flags"])
    return result


def _compare_input(result: Comparison, spans, sent, row) -> None:
    text = row["input_text"] or ""
    messages = sent["messages"]
    carried = []  # (role, piece) of each message text that the stack put on a span
    for message in messages:
        for piece in [message["text"], *message.get("parts", [])]:
            if not piece:
                continue
            if sent_on_spans(spans, piece):
                carried.append((message["role"], piece))
            else:
                result.gaps.append(f"input {message['role']} text {piece[:40]!r} (content not captured)")
    if not carried:
        return
    result.expect("input_text is readable text, not JSON", not _looks_like_json(text), "text", text)
    for role, piece in carried:
        result.expect(f"input_text has the {role} message", piece in text, piece, text)
    for message in messages:
        for call in message.get("tool_calls", []):
            result.expect(f"input_text shows the assistant's tool call {call['name']}", call["name"] in text,
                          call["name"], text)
    roles = {role for role, _ in carried}
    if len(carried) > 1 and len(roles) > 1:
        for role in sorted(roles):
            result.expect(f"input_text names the role {role}", role in text.lower(), role, text)


def _compare_output(result: Comparison, spans, received, row, error) -> None:
    text = row["output_text"] or ""
    if error:
        result.expect("output_text of a failed call", text == "", "", text)
        return
    wanted = [received["text"]] if received.get("text") else []
    for call in received.get("tool_calls", []):
        wanted += [call["name"], *(str(v) for v in json.loads(call["arguments"] or "{}").values())]
    if not any(sent_on_spans(spans, w) for w in wanted):
        result.gaps.append("output (content not captured)")
        return
    result.expect("output_text is readable text, not JSON", not _looks_like_json(text), "text", text)
    for piece in wanted:
        result.expect("output_text has " + ("the answer" if piece == received.get("text") else "the tool call"),
                      piece in text, piece, text)


def _compare_usage(result: Comparison, spans, usage, row, model) -> None:
    if not usage:
        return
    stored = {"input": row["input_tokens"], "cached": row["cached_input_tokens"],
              "cache_write": row["cache_write_input_tokens"], "output": row["output_tokens"]}
    columns = {"input": "input_tokens", "cached": "cached_input_tokens", "cache_write": "cache_write_input_tokens",
               "output": "output_tokens"}
    sent_all = True
    for key, column in columns.items():
        value = usage[key]
        candidates = [value] + ([usage["provider_input_tokens"]] if key == "input" and "provider_input_tokens" in usage
                                else [])
        if value == 0 or any(sent_on_spans(spans, c) for c in candidates):
            result.expect(column, stored[key] == value, value, stored[key])
        else:
            sent_all = False
            result.gaps.append(f"{column} {value}")
    result.expect("tokens_estimated", row["tokens_estimated"] is False or not sent_all, False, row["tokens_estimated"])
    cost = expected_cost(model, usage)
    if cost is not None and sent_all:
        ok = row["cost_source"] == "computed" and row["cost_usd"] is not None and math.isclose(
            row["cost_usd"], cost, rel_tol=1e-9, abs_tol=1e-12)
        result.expect("cost_usd (computed)", ok, cost, (row["cost_usd"], row["cost_source"]))


def _compare_failure(result: Comparison, spans, error, row) -> None:
    status = "rate_limited" if error["status"] == 429 else "error"
    result.expect("status", row["status"] == status, status, row["status"])
    message = error.get("message")
    got = row["error_message"] or ""
    if message and sent_on_spans(spans, message):
        result.expect("error_message is the provider's message", message in got, message, got)
    else:
        result.gaps.append("the provider's error message")
        result.expect("error_message present", bool(got), "some error text", got)
    result.expect("error_message without a Python traceback", "Traceback (most recent call last)" not in got,
                  "no traceback", got)
    billed = (row["input_tokens"] or 0, row["output_tokens"] or 0)
    result.expect("billed tokens of a failed call without usage", billed == (0, 0) and not row["tokens_estimated"],
                  "(0, 0), not estimated", (billed, row["tokens_estimated"]))
    result.expect("cost of a failed call without usage", not row["cost_usd"], "0 or none",
                  (row["cost_usd"], row["cost_source"]))


def assert_call(run, name: str) -> None:
    result = compare_call(run, name)
    if result.mismatches:
        pytest.fail(f"{run.stack.name} ({run.encoding}) call {name!r}: stored interaction differs from the truth\n"
                    + result.report(), pytrace=False)


def assert_no_other_interactions(run) -> None:
    """Every stored interaction belongs to exactly one call of the run (no duplicates, nothing extra)."""
    traces = {t: name for name, call in run.calls.items() for t in call["trace_ids"]}
    stray = [(r["event_id"], r["model"], r["output_text"][:60]) for r in run.rows if r["trace_id"] not in traces]
    traced_calls = [name for name, call in run.calls.items() if call["trace_ids"]]
    per_call = {name: len(run.rows_of(run.calls[name])) for name in traced_calls}
    problems = []
    if stray:
        problems.append(f"interactions from no call: {stray}")
    if any(n != 1 for n in per_call.values()):
        problems.append(f"interactions per call (want 1 each): {per_call}")
    if len(run.rows) != len(traced_calls):
        problems.append(f"{len(run.rows)} interactions for {len(traced_calls)} traced calls")
    if problems:
        pytest.fail(f"{run.stack.name} ({run.encoding}): " + "; ".join(problems), pytrace=False)


def assert_cleaned_identifiers_reported(run) -> None:
    """The call with a bad user and session id is kept, and partial_success says what was changed.

    Only the OTLP/JSON exporter of the harness reads the answer: the stock protobuf exporter
    ignores partial_success, which is why a cleaned identifier must never cost the call.
    """
    messages = " ".join(str(p.get("errorMessage", "")) for p in run.partial_success if isinstance(p, dict))
    call = run.calls["bad_identifiers"]
    kept = run.rows_of(call)
    problems = []
    if len(kept) != 1:
        problems.append(f"interactions kept for the call: {len(kept)}")
    for name in ("user", "session"):
        if name not in messages:
            problems.append(f"partial_success does not mention the cleaned {name}")
    if problems:
        pytest.fail(f"{run.stack.name} ({run.encoding}): " + "; ".join(problems)
                    + f"\n  partial_success: {run.partial_success!r}", pytrace=False)
