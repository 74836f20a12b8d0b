"""A fake OpenAI- and Anthropic-compatible provider on 127.0.0.1, for the contract tests.

Deterministic: every answer is derived from the request, so a test knows what was sent and what
came back (only response ids carry a serial number: a provider's ids are unique per call). Markers in the last user message choose the failure: `#429` answers with the
provider's real rate-limit body, `#500` with its real server-error body. A request that offers
tools and carries no tool result yet gets a tool call; one that carries a tool result gets text.
Token counts: input = 1000 + characters of the request's messages ÷ 4; a request with a system
prompt reports cached input (OpenAI `prompt_tokens_details.cached_tokens`, Anthropic
`cache_read_input_tokens` and `cache_creation_input_tokens`). Streams wait FIRST_CHUNK_DELAY
before their first chunk, so a stored time to first token is measurable.

Standard library only: it runs in the test process, while the client stacks run in their venv.
"""
from __future__ import annotations

import hashlib
import itertools
import json
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

FIRST_CHUNK_DELAY = 0.06  # seconds before a stream's first content chunk
CHUNK_DELAY = 0.01
ANSWER_DELAY = 0.03  # seconds before a non-streamed answer
CREATED = 1_780_000_000
OPENAI_CACHED_TOKENS = 512
ANTHROPIC_CACHE_READ = 800
ANTHROPIC_CACHE_WRITE = 200
TOOL_ARGUMENTS = {"city": "Paris"}

OPENAI_RATE_LIMIT_MESSAGE = (
    "Rate limit reached for gpt-5.2 in organization org-fake on tokens per min (TPM): Limit 30000, Used 30000, "
    "Requested 1200. Please try again in 2.4s. Visit https://platform.openai.com/account/rate-limits to learn more."
)
OPENAI_SERVER_ERROR_MESSAGE = "The server had an error while processing your request. Sorry about that!"
ANTHROPIC_RATE_LIMIT_MESSAGE = (
    "This request would exceed the rate limit for your organization (fake-org) of 30,000 input tokens per minute. "
    "For details, refer to: https://docs.claude.com/en/api/rate-limits. You can see the response headers for "
    "current usage. Please reduce the prompt length or the maximum tokens requested, or try again later."
)
ANTHROPIC_SERVER_ERROR_MESSAGE = "Internal server error"


def openai_error(status: int) -> dict[str, Any]:
    if status == 429:
        return {"error": {"message": OPENAI_RATE_LIMIT_MESSAGE, "type": "tokens", "param": None,
                          "code": "rate_limit_exceeded"}}
    return {"error": {"message": OPENAI_SERVER_ERROR_MESSAGE, "type": "server_error", "param": None, "code": None}}


def anthropic_error(status: int) -> dict[str, Any]:
    if status == 429:
        error = {"type": "rate_limit_error", "message": ANTHROPIC_RATE_LIMIT_MESSAGE}
    else:
        error = {"type": "api_error", "message": ANTHROPIC_SERVER_ERROR_MESSAGE}
    return {"type": "error", "error": error, "request_id": "req_fake0123456789"}


_SERIAL = itertools.count(1)


def _digest(body: dict[str, Any]) -> str:
    """The request's hash; response ids add a serial number, unique per request as a provider's are."""
    return hashlib.sha256(json.dumps(body, sort_keys=True).encode()).hexdigest()[:24]


def _response_id(prefix: str, body: dict[str, Any]) -> str:
    return f"{prefix}{_digest(body)[:16]}{next(_SERIAL):08d}"


def _text_of(content: Any) -> str:
    """The text of a message's content: a string, or a list of parts of any provider's shape."""
    if isinstance(content, str):
        return content
    if isinstance(content, list):
        texts = []
        for part in content:
            if isinstance(part, dict):
                if isinstance(part.get("text"), str):
                    texts.append(part["text"])
                elif part.get("type") == "tool_result":
                    texts.append(_text_of(part.get("content")))
                elif isinstance(part.get("output"), str):
                    texts.append(part["output"])
        return " ".join(texts)
    return ""


def _answer(question: str) -> str:
    """The answer to `question`: derived from it, yet never quoting it, so that finding a message's
    text on a span says the stack captured the input, not that the output echoed it."""
    return f"Fake answer {hashlib.sha256(question.encode()).hexdigest()[:10]} to a {len(question)}-character question."


def _failure(text: str) -> int | None:
    if "#429" in text:
        return 429
    if "#500" in text:
        return 500
    return None


def _input_tokens(messages: Any) -> int:
    return 1000 + len(json.dumps(messages, sort_keys=True)) // 4


def _output_tokens(text: str) -> int:
    return 5 + len(text) // 4


def _chunks(text: str, parts: int = 3) -> list[str]:
    size = max(1, -(-len(text) // parts))
    return [text[i:i + size] for i in range(0, len(text), size)]


# --- OpenAI --------------------------------------------------------------------------------------

def _openai_last_user(messages: list[dict[str, Any]]) -> str:
    for message in reversed(messages):
        if message.get("role") == "user":
            return _text_of(message.get("content"))
    return ""


def openai_chat_plan(body: dict[str, Any]) -> dict[str, Any]:
    """What the fake answers to a chat completion request: text or a tool call, and the usage."""
    messages = body.get("messages") or []
    last_user = _openai_last_user(messages)
    tool_results = [m for m in messages if m.get("role") == "tool"]
    has_system = any(m.get("role") in ("system", "developer") for m in messages)
    plan: dict[str, Any] = {"id": _response_id("chatcmpl-", body), "failure": _failure(last_user)}
    if body.get("tools") and not tool_results:
        name = body["tools"][0]["function"]["name"]
        arguments = json.dumps(TOOL_ARGUMENTS)
        plan["tool_call"] = {"id": "call_" + _digest(body)[:20], "name": name, "arguments": arguments}
        plan["text"] = None
        completion = 25
    else:
        basis = _text_of(tool_results[-1].get("content")) if tool_results else last_user
        plan["text"] = _answer(basis)
        plan["tool_call"] = None
        completion = _output_tokens(plan["text"])
    prompt = _input_tokens(messages)
    plan["usage"] = {
        "prompt_tokens": prompt, "completion_tokens": completion, "total_tokens": prompt + completion,
        "prompt_tokens_details": {"cached_tokens": OPENAI_CACHED_TOKENS if has_system else 0, "audio_tokens": 0},
        "completion_tokens_details": {"reasoning_tokens": 0, "audio_tokens": 0, "accepted_prediction_tokens": 0,
                                      "rejected_prediction_tokens": 0},
    }
    return plan


def openai_chat_response(body: dict[str, Any], plan: dict[str, Any]) -> dict[str, Any]:
    message: dict[str, Any] = {"role": "assistant", "content": plan["text"], "refusal": None, "annotations": []}
    if plan["tool_call"]:
        call = plan["tool_call"]
        message["tool_calls"] = [{"id": call["id"], "type": "function",
                                  "function": {"name": call["name"], "arguments": call["arguments"]}}]
    return {
        "id": plan["id"], "object": "chat.completion", "created": CREATED, "model": body.get("model"),
        "choices": [{"index": 0, "message": message, "logprobs": None,
                     "finish_reason": "tool_calls" if plan["tool_call"] else "stop"}],
        "usage": plan["usage"], "service_tier": "default", "system_fingerprint": "fp_fake",
    }


def openai_chat_chunks(body: dict[str, Any], plan: dict[str, Any]) -> list[dict[str, Any]]:
    def chunk(delta: dict[str, Any] | None, finish: str | None = None, usage: Any = None, choices=True):
        data = {"id": plan["id"], "object": "chat.completion.chunk", "created": CREATED, "model": body.get("model"),
                "service_tier": "default", "system_fingerprint": "fp_fake",
                "choices": [{"index": 0, "delta": delta or {}, "logprobs": None, "finish_reason": finish}]
                if choices else []}
        if usage is not None or (body.get("stream_options") or {}).get("include_usage"):
            data["usage"] = usage
        return data

    chunks = [chunk({"role": "assistant", "content": "", "refusal": None})]
    if plan["tool_call"]:
        call = plan["tool_call"]
        chunks.append(chunk({"tool_calls": [{"index": 0, "id": call["id"], "type": "function",
                                             "function": {"name": call["name"], "arguments": ""}}]}))
        for piece in _chunks(call["arguments"]):
            chunks.append(chunk({"tool_calls": [{"index": 0, "function": {"arguments": piece}}]}))
        chunks.append(chunk({}, "tool_calls"))
    else:
        chunks.extend(chunk({"content": piece}) for piece in _chunks(plan["text"]))
        chunks.append(chunk({}, "stop"))
    if (body.get("stream_options") or {}).get("include_usage"):
        chunks.append(chunk(None, usage=plan["usage"], choices=False))
    return chunks


def _responses_input(body: dict[str, Any]) -> tuple[list[Any], str, list[Any]]:
    """The Responses API input as items, the last user text, and the function call outputs."""
    items = body.get("input")
    if isinstance(items, str):
        items = [{"role": "user", "content": items}]
    items = items or []
    last_user = ""
    outputs = []
    for item in items:
        if item.get("type") == "function_call_output":
            outputs.append(item)
        elif item.get("role") == "user":
            last_user = _text_of(item.get("content"))
    return items, last_user, outputs


def responses_plan(body: dict[str, Any]) -> dict[str, Any]:
    items, last_user, outputs = _responses_input(body)
    has_system = bool(body.get("instructions")) or any(i.get("role") in ("system", "developer") for i in items)
    plan: dict[str, Any] = {"id": _response_id("resp_", body), "failure": _failure(last_user)}
    if body.get("tools") and not outputs:
        tool = body["tools"][0]
        plan["tool_call"] = {"id": "fc_" + _digest(body)[:20], "call_id": "call_" + _digest(body)[:20],
                             "name": tool.get("name"), "arguments": json.dumps(TOOL_ARGUMENTS)}
        plan["text"] = None
        completion = 25
    else:
        basis = str(outputs[-1].get("output")) if outputs else last_user
        plan["text"] = _answer(basis)
        plan["tool_call"] = None
        completion = _output_tokens(plan["text"])
    prompt = _input_tokens([body.get("instructions"), items])
    plan["usage"] = {"input_tokens": prompt,
                     "input_tokens_details": {"cached_tokens": OPENAI_CACHED_TOKENS if has_system else 0},
                     "output_tokens": completion, "output_tokens_details": {"reasoning_tokens": 0},
                     "total_tokens": prompt + completion}
    return plan


def _responses_output(plan: dict[str, Any]) -> list[dict[str, Any]]:
    if plan["tool_call"]:
        call = plan["tool_call"]
        return [{"type": "function_call", "id": call["id"], "call_id": call["call_id"], "name": call["name"],
                 "arguments": call["arguments"], "status": "completed"}]
    return [{"type": "message", "id": "msg_" + plan["id"][5:], "status": "completed", "role": "assistant",
             "content": [{"type": "output_text", "text": plan["text"], "annotations": [], "logprobs": []}]}]


def responses_object(body: dict[str, Any], plan: dict[str, Any], *, status: str = "completed",
                     done: bool = True) -> dict[str, Any]:
    return {
        "id": plan["id"], "object": "response", "created_at": CREATED, "status": status, "background": False,
        "error": None, "incomplete_details": None, "instructions": body.get("instructions"),
        "max_output_tokens": body.get("max_output_tokens"), "model": body.get("model"),
        "output": _responses_output(plan) if done else [], "parallel_tool_calls": True,
        "previous_response_id": None, "reasoning": {"effort": None, "summary": None}, "service_tier": "default",
        "store": True, "temperature": 1.0, "text": {"format": {"type": "text"}, "verbosity": "medium"},
        "tool_choice": "auto", "tools": body.get("tools") or [], "top_p": 1.0, "truncation": "disabled",
        "usage": plan["usage"] if done else None, "user": body.get("user"),
        "safety_identifier": body.get("safety_identifier"), "metadata": body.get("metadata") or {},
    }


def responses_events(body: dict[str, Any], plan: dict[str, Any]) -> list[tuple[str, dict[str, Any]]]:
    events: list[tuple[str, dict[str, Any]]] = []

    def add(kind: str, **data: Any) -> None:
        events.append((kind, {"type": kind, "sequence_number": len(events), **data}))

    add("response.created", response=responses_object(body, plan, status="in_progress", done=False))
    add("response.in_progress", response=responses_object(body, plan, status="in_progress", done=False))
    item = _responses_output(plan)[0]
    if plan["tool_call"]:
        add("response.output_item.added", output_index=0, item={**item, "arguments": "", "status": "in_progress"})
        for piece in _chunks(item["arguments"]):
            add("response.function_call_arguments.delta", item_id=item["id"], output_index=0, delta=piece)
        add("response.function_call_arguments.done", item_id=item["id"], output_index=0,
            arguments=item["arguments"], name=item["name"])
        add("response.output_item.done", output_index=0, item=item)
    else:
        add("response.output_item.added", output_index=0, item={**item, "content": [], "status": "in_progress"})
        part = {"type": "output_text", "text": "", "annotations": [], "logprobs": []}
        add("response.content_part.added", item_id=item["id"], output_index=0, content_index=0, part=part)
        for piece in _chunks(plan["text"]):
            add("response.output_text.delta", item_id=item["id"], output_index=0, content_index=0, delta=piece,
                logprobs=[])
        add("response.output_text.done", item_id=item["id"], output_index=0, content_index=0, text=plan["text"],
            logprobs=[])
        add("response.content_part.done", item_id=item["id"], output_index=0, content_index=0,
            part={**part, "text": plan["text"]})
        add("response.output_item.done", output_index=0, item=item)
    add("response.completed", response=responses_object(body, plan))
    return events


# --- Anthropic -----------------------------------------------------------------------------------

def anthropic_plan(body: dict[str, Any]) -> dict[str, Any]:
    messages = body.get("messages") or []
    last_user, tool_result = "", None
    for message in messages:
        if message.get("role") != "user":
            continue
        content = message.get("content")
        results = [p for p in content if isinstance(p, dict) and p.get("type") == "tool_result"] \
            if isinstance(content, list) else []
        if results:
            tool_result = _text_of(results[-1].get("content"))
        else:
            last_user = _text_of(content)
    plan: dict[str, Any] = {"id": _response_id("msg_", body), "failure": _failure(last_user)}
    if body.get("tools") and tool_result is None:
        plan["tool_call"] = {"id": "toolu_" + _digest(body)[:20], "name": body["tools"][0]["name"],
                             "input": TOOL_ARGUMENTS}
        plan["text"] = None
        completion = 25
    else:
        plan["text"] = _answer(tool_result if tool_result is not None else last_user)
        plan["tool_call"] = None
        completion = _output_tokens(plan["text"])
    has_system = bool(body.get("system"))
    plan["usage"] = {
        "input_tokens": _input_tokens([body.get("system"), messages]),
        "cache_creation_input_tokens": ANTHROPIC_CACHE_WRITE if has_system else 0,
        "cache_read_input_tokens": ANTHROPIC_CACHE_READ if has_system else 0,
        "cache_creation": {"ephemeral_5m_input_tokens": ANTHROPIC_CACHE_WRITE if has_system else 0,
                           "ephemeral_1h_input_tokens": 0},
        "output_tokens": completion, "service_tier": "standard",
    }
    return plan


def _anthropic_content(plan: dict[str, Any]) -> list[dict[str, Any]]:
    if plan["tool_call"]:
        call = plan["tool_call"]
        return [{"type": "tool_use", "id": call["id"], "name": call["name"], "input": call["input"]}]
    return [{"type": "text", "text": plan["text"]}]


def anthropic_message(body: dict[str, Any], plan: dict[str, Any]) -> dict[str, Any]:
    return {"id": plan["id"], "type": "message", "role": "assistant", "model": body.get("model"),
            "content": _anthropic_content(plan), "stop_reason": "tool_use" if plan["tool_call"] else "end_turn",
            "stop_sequence": None, "usage": plan["usage"]}


def anthropic_events(body: dict[str, Any], plan: dict[str, Any]) -> list[tuple[str, dict[str, Any]]]:
    """The real event sequence: message_start, content blocks with a ping, message_delta, message_stop."""
    start_usage = {**plan["usage"], "output_tokens": 1}
    start = {**anthropic_message(body, plan), "content": [], "stop_reason": None, "usage": start_usage}
    events: list[tuple[str, dict[str, Any]]] = [("message_start", {"type": "message_start", "message": start})]
    if plan["tool_call"]:
        call = plan["tool_call"]
        block = {"type": "tool_use", "id": call["id"], "name": call["name"], "input": {}}
        events.append(("content_block_start", {"type": "content_block_start", "index": 0, "content_block": block}))
        events.append(("ping", {"type": "ping"}))
        for piece in _chunks(json.dumps(call["input"])):
            events.append(("content_block_delta", {"type": "content_block_delta", "index": 0,
                                                   "delta": {"type": "input_json_delta", "partial_json": piece}}))
    else:
        block = {"type": "text", "text": ""}
        events.append(("content_block_start", {"type": "content_block_start", "index": 0, "content_block": block}))
        events.append(("ping", {"type": "ping"}))
        for piece in _chunks(plan["text"]):
            events.append(("content_block_delta", {"type": "content_block_delta", "index": 0,
                                                   "delta": {"type": "text_delta", "text": piece}}))
    events.append(("content_block_stop", {"type": "content_block_stop", "index": 0}))
    events.append(("message_delta", {"type": "message_delta",
                                      "delta": {"stop_reason": "tool_use" if plan["tool_call"] else "end_turn",
                                                "stop_sequence": None},
                                      "usage": {"output_tokens": plan["usage"]["output_tokens"]}}))
    events.append(("message_stop", {"type": "message_stop"}))
    return events


# --- the server ----------------------------------------------------------------------------------

class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server: "FakeProviderServer"

    def log_message(self, format: str, *args: Any) -> None:  # quiet
        pass

    def _send_json(self, status: int, document: dict[str, Any], headers: dict[str, str] | None = None) -> None:
        data = json.dumps(document).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        for key, value in (headers or {}).items():
            self.send_header(key, value)
        self.end_headers()
        self.wfile.write(data)

    def _send_sse(self, events: list[tuple[str | None, Any]], headers: dict[str, str] | None = None) -> None:
        self.send_response(200)
        self.send_header("Content-Type", "text/event-stream; charset=utf-8")
        self.send_header("Cache-Control", "no-cache")
        self.send_header("Connection", "close")
        for key, value in (headers or {}).items():
            self.send_header(key, value)
        self.end_headers()
        self.close_connection = True
        time.sleep(FIRST_CHUNK_DELAY)
        for kind, data in events:
            payload = data if isinstance(data, str) else json.dumps(data)
            text = (f"event: {kind}\n" if kind else "") + f"data: {payload}\n\n"
            self.wfile.write(text.encode())
            self.wfile.flush()
            time.sleep(CHUNK_DELAY)

    def do_POST(self) -> None:  # noqa: N802 (http.server's name)
        length = int(self.headers.get("Content-Length") or 0)
        try:
            body = json.loads(self.rfile.read(length) or b"{}")
        except ValueError:
            self._send_json(400, {"error": {"message": "bad json", "type": "invalid_request_error"}})
            return
        path = self.path.split("?")[0].rstrip("/")
        self.server.record(path, body, dict(self.headers))
        if path.endswith("/chat/completions"):
            self._openai_chat(body)
        elif path.endswith("/responses"):
            self._openai_responses(body)
        elif path.endswith("/messages"):
            self._anthropic_messages(body)
        else:
            self._send_json(404, {"error": {"message": f"no route {path}", "type": "invalid_request_error"}})

    def _openai_failure(self, failure: int) -> None:
        headers = {"x-request-id": "req_fake", "retry-after": "2", "x-should-retry": "false"}
        self._send_json(failure, openai_error(failure), headers)

    def _openai_chat(self, body: dict[str, Any]) -> None:
        plan = openai_chat_plan(body)
        if plan["failure"]:
            self._openai_failure(plan["failure"])
        elif body.get("stream"):
            self._send_sse([(None, c) for c in openai_chat_chunks(body, plan)] + [(None, "[DONE]")])
        else:
            time.sleep(ANSWER_DELAY)
            self._send_json(200, openai_chat_response(body, plan), {"x-request-id": "req_fake"})

    def _openai_responses(self, body: dict[str, Any]) -> None:
        plan = responses_plan(body)
        if plan["failure"]:
            self._openai_failure(plan["failure"])
        elif body.get("stream"):
            self._send_sse(responses_events(body, plan))
        else:
            time.sleep(ANSWER_DELAY)
            self._send_json(200, responses_object(body, plan))

    def _anthropic_messages(self, body: dict[str, Any]) -> None:
        plan = anthropic_plan(body)
        headers = {"request-id": "req_fake0123456789"}
        if plan["failure"]:
            extra = {"retry-after": "2", "x-should-retry": "false"} if plan["failure"] == 429 else {}
            self._send_json(plan["failure"], anthropic_error(plan["failure"]), {**headers, **extra})
        elif body.get("stream"):
            self._send_sse(anthropic_events(body, plan), headers)
        else:
            time.sleep(ANSWER_DELAY)
            self._send_json(200, anthropic_message(body, plan), headers)


class FakeProviderServer(ThreadingHTTPServer):
    """The fake provider on a free loopback port; `requests` is every request it received."""

    daemon_threads = True

    def __init__(self) -> None:
        super().__init__(("127.0.0.1", 0), _Handler)
        self.requests: list[dict[str, Any]] = []
        self._lock = threading.Lock()
        self._thread = threading.Thread(target=self.serve_forever, daemon=True)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server_port}"

    def record(self, path: str, body: dict[str, Any], headers: dict[str, str]) -> None:
        with self._lock:
            self.requests.append({"path": path, "body": body, "headers": headers})

    def start(self) -> "FakeProviderServer":
        self._thread.start()
        return self

    def stop(self) -> None:
        self.shutdown()
        self.server_close()
        self._thread.join(timeout=5)


if __name__ == "__main__":  # manual use: python tests/contract/fake_provider.py
    server = FakeProviderServer().start()
    print(server.url, flush=True)
    try:
        threading.Event().wait()
    except KeyboardInterrupt:
        server.stop()
