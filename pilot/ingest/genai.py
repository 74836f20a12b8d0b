"""What an LLM span says, whoever instrumented it: readable text, user, model, status, error.

The instrumentations disagree on where things go. OpenInference flattens messages into
`llm.input_messages.N.message.*` and keeps the raw provider request/response JSON in
`input.value`/`output.value`; the OpenTelemetry GenAI conventions put JSON message lists in
`gen_ai.input.messages`/`gen_ai.output.messages`/`gen_ai.system_instructions`; OpenLLMetry
flattens them into `gen_ai.prompt.N.*`/`gen_ai.completion.N.*`; LangChain serialises its own
message objects. Each function here reads the structured form first and falls back to parsing
the provider's JSON, so the stored text is what a person would read: "role: text" paragraphs,
the system prompt included, tool calls and tool results shown.

All functions take the span's attribute dict (read once per span) and never touch a database.
"""
from __future__ import annotations

import ast
import json
import re
from typing import Any

Message = tuple[str, str]  # (role, text)

_TRACEBACK = re.compile(r"\n?Traceback \(most recent call last\):.*", re.S)
_EXCEPTION_REPR = re.compile(r"^[A-Za-z_][\w.]*\((['\"])(.*)\1\)$", re.S)  # OpenAIRateLimitError('…')
_STATUS_429 = re.compile(r"\b429\b")  # a whole word: not the "429" inside a request id like req_8f3a429b
_RATE_LIMIT_NAMES = {"ratelimiterror", "ratelimitexceeded", "ratelimited", "toomanyrequests", "429"}
_TIMEOUT_NAMES = {"apitimeouterror", "timeout", "timeouterror", "readtimeout", "connecttimeout", "deadlineexceeded"}


# --- small JSON helpers -------------------------------------------------------------------------

def parse_json(value: Any) -> Any:
    """A JSON string as a Python value; anything else (or broken JSON) as it is."""
    if isinstance(value, str) and value.lstrip()[:1] in ("{", "["):
        try:
            return json.loads(value)
        except (ValueError, RecursionError):
            return value
    return value


def json_object(value: Any) -> dict[str, Any]:
    parsed = parse_json(value)
    return parsed if isinstance(parsed, dict) else {}


def _compact(value: Any) -> str:
    if isinstance(value, str):
        return value
    return json.dumps(value, ensure_ascii=False, default=str, separators=(", ", ": "))


def flattened(attrs: dict[str, Any], prefix: str) -> list[dict[str, Any]]:
    """`prefix.0.a.b = 1, prefix.1.c = 2` → [{"a.b": 1}, {"c": 2}] (in index order)."""
    found: dict[int, dict[str, Any]] = {}
    for key, value in attrs.items():
        if not key.startswith(prefix):
            continue
        index, _, rest = key[len(prefix):].partition(".")
        if index.isascii() and index.isdigit() and len(index) <= 18:  # "²".isdigit(), but int("²") raises
            found.setdefault(int(index), {})[rest] = value
    return [found[index] for index in sorted(found)]


# --- rendering ---------------------------------------------------------------------------------

def render(messages: list[Message]) -> str:
    """One message → its text; several → "role: text" paragraphs (empty ones left out)."""
    messages = [(role, text) for role, text in messages if text]
    if not messages:
        return ""
    if len(messages) == 1:
        return messages[0][1]
    return "\n\n".join(f"{role}: {text}" if role else text for role, text in messages)


def _tool_call(name: Any, arguments: Any) -> str:
    return f"[tool call {name or ''}({_compact(arguments) if arguments not in (None, '') else ''})]"


def _tool_result(text: str, call_id: Any = None) -> str:
    return f"[tool result{' ' + str(call_id) if call_id else ''}] {text}"


def part_text(part: Any) -> str:
    """One content part of any vendor's message (text, tool call, tool result, LangChain)."""
    if isinstance(part, str):
        return part
    if not isinstance(part, dict):
        return "" if part is None else _compact(part)
    kind = part.get("type")
    if kind in ("tool_call", "function_call", "tool_use"):
        return _tool_call(part.get("name"), part.get("arguments", part.get("input")))
    if kind in ("tool_call_response", "tool_result", "function_call_output"):
        body = part.get("response", part.get("content", part.get("output")))
        return _tool_result(content_text(body), part.get("id") or part.get("tool_use_id") or part.get("call_id"))
    for key in ("content", "text", "output_text"):
        if isinstance(part.get(key), str):
            return part[key]
    if isinstance(part.get("content"), list):
        return content_text(part["content"])
    if kind in ("image", "image_url", "input_image", "file", "input_file", "blob", "uri"):
        return f"[{kind}]"
    return ""


def content_text(content: Any) -> str:
    if isinstance(content, list):
        return "\n".join(text for text in (part_text(part) for part in content) if text)
    if isinstance(content, str):
        return content
    return part_text(content)


def message(raw: dict[str, Any]) -> Message:
    """(role, text) of one message in OpenAI, Anthropic, GenAI (`parts`) or LangChain shape."""
    if raw.get("lc") == 1 and isinstance(raw.get("kwargs"), dict):  # LangChain serialised message
        kwargs = raw["kwargs"]
        kind = (raw.get("id") or [""])[-1] if isinstance(raw.get("id"), list) else ""
        role = {"SystemMessage": "system", "HumanMessage": "user", "AIMessage": "assistant",
                "ToolMessage": "tool", "AIMessageChunk": "assistant"}.get(kind, kwargs.get("type") or "")
        return _openai_message({**kwargs, "role": role})
    if raw.get("type") in ("function_call", "function_call_output") and "role" not in raw:  # Responses API items
        return ("assistant" if raw["type"] == "function_call" else "tool", part_text(raw))
    if "parts" in raw:
        return str(raw.get("role") or ""), content_text(raw["parts"])
    return _openai_message(raw)


def _openai_message(raw: dict[str, Any]) -> Message:
    role = str(raw.get("role") or raw.get("type") or "")
    role = {"human": "user", "ai": "assistant"}.get(role, role)
    text = content_text(raw.get("content"))
    calls = raw.get("tool_calls") or []
    if isinstance(calls, list):
        for call in calls:
            if isinstance(call, dict):
                function = call.get("function") if isinstance(call.get("function"), dict) else call
                text = "\n".join(filter(None, [text, _tool_call(function.get("name"),
                                                                function.get("arguments", function.get("args")))]))
    if role == "tool" and (raw.get("tool_call_id") or raw.get("tool_use_id")) and text:
        text = _tool_result(text, raw.get("tool_call_id") or raw.get("tool_use_id"))
    return role, text


def messages_from(value: Any) -> list[Message] | None:
    """A message list (or {"messages": [...]}, LangChain's [[...]] included) → messages; else None."""
    value = parse_json(value)
    if isinstance(value, dict) and isinstance(value.get("messages"), list):
        value = value["messages"]
    if isinstance(value, list) and len(value) == 1 and isinstance(value[0], list):
        value = value[0]  # LangChain: one list of messages per prompt
    if isinstance(value, dict) and ("role" in value or "parts" in value or value.get("lc") == 1):
        value = [value]
    if not isinstance(value, list) or not value or not all(isinstance(m, dict) for m in value):
        return None
    return [message(m) for m in value]


# --- input and output ---------------------------------------------------------------------------

def _openinference_messages(attrs: dict[str, Any], prefix: str) -> list[Message]:
    result = []
    for flat in flattened(attrs, prefix):
        role = str(flat.get("message.role") or "")
        texts = []
        if isinstance(flat.get("message.content"), str):
            texts.append(flat["message.content"])
        for part in flattened(flat, "message.contents."):
            if isinstance(part.get("message_content.text"), str):
                texts.append(part["message_content.text"])
            elif part.get("message_content.type") == "image":
                texts.append("[image]")
        for call in flattened(flat, "message.tool_calls."):
            texts.append(_tool_call(call.get("tool_call.function.name"), call.get("tool_call.function.arguments")))
        text = "\n".join(t for t in texts if t)
        if role == "tool" and text:
            text = _tool_result(text, flat.get("message.tool_call_id"))
        result.append((role, text))
    return result


def _openllmetry_messages(attrs: dict[str, Any], prefix: str) -> list[Message]:
    result = []
    for flat in flattened(attrs, prefix):
        role = str(flat.get("role") or "")
        content = flat.get("content")
        parsed = parse_json(content)
        text = content_text(parsed) if isinstance(parsed, list) else (content if isinstance(content, str) else "")
        calls = [_tool_call(call.get("name"), call.get("arguments")) for call in flattened(flat, "tool_calls.")]
        text = "\n".join(filter(None, [text, *calls]))
        if role == "tool" and text and flat.get("tool_call_id"):
            text = _tool_result(text, flat.get("tool_call_id"))
        result.append((role, text))
    return result


def _system_messages(value: Any) -> list[Message]:
    value = parse_json(value)
    text = content_text(value) if isinstance(value, (list, dict)) else (value if isinstance(value, str) else "")
    return [("system", text)] if text else []


def _request_messages(request: dict[str, Any]) -> list[Message] | None:
    """Messages of a provider request body (OpenAI chat/Responses, Anthropic, LangChain)."""
    found = messages_from(request.get("messages")) if "messages" in request else None
    if found is None and "input" in request:  # Responses API
        raw = request["input"]
        found = [("user", raw)] if isinstance(raw, str) else messages_from(raw)
    if found is None and isinstance(request.get("prompts"), list):  # LangChain completion LLMs
        found = [("user", p) for p in request["prompts"] if isinstance(p, str)]
    if found is None and isinstance(request.get("prompt"), str):
        found = [("user", request["prompt"])]
    if found is None:
        return None
    system = request.get("system", request.get("instructions"))
    if system and not any(role in ("system", "developer") for role, _ in found):
        found = _system_messages(system) + found
    return found


def input_text(attrs: dict[str, Any], request: dict[str, Any]) -> tuple[str | None, str | None]:
    """(readable input, attribute it came from); structured messages before raw JSON."""
    messages = _openinference_messages(attrs, "llm.input_messages.")
    source = "llm.input_messages"
    if not messages and "gen_ai.input.messages" in attrs:
        messages, source = messages_from(attrs["gen_ai.input.messages"]) or [], "gen_ai.input.messages"
    if not messages:
        messages, source = _openllmetry_messages(attrs, "gen_ai.prompt."), "gen_ai.prompt"
    if messages:
        if not any(role == "system" for role, _ in messages):
            system = _system_messages(attrs.get("gen_ai.system_instructions"))
            if not system:
                system = _system_messages(request.get("system", request.get("instructions")))
            messages = system + messages
        return render(messages), source
    if "gen_ai.system_instructions" in attrs:
        return render(_system_messages(attrs["gen_ai.system_instructions"])), "gen_ai.system_instructions"
    for key in ("input.value", "gen_ai.prompt"):
        value = attrs.get(key)
        if value is None or value == "":
            continue
        found = _request_messages(request) if request else messages_from(value)
        if found is not None:
            return render(found), key
        return (value if isinstance(value, str) else _compact(value)), key
    return None, None


def _response_messages(response: dict[str, Any]) -> list[Message] | None:
    """Messages of a provider response body (OpenAI chat/Responses, Anthropic, LangChain)."""
    if isinstance(response.get("choices"), list):
        found = []
        for choice in response["choices"]:
            if isinstance(choice, dict) and isinstance(choice.get("message"), dict):
                found.append(_openai_message({"role": "assistant", **choice["message"]}))
            elif isinstance(choice, dict) and isinstance(choice.get("text"), str):
                found.append(("assistant", choice["text"]))
        return found
    if isinstance(response.get("output"), list):  # Responses API
        found = []
        for item in response["output"]:
            if not isinstance(item, dict):
                continue
            if item.get("type") == "message":
                found.append(("assistant", content_text(item.get("content"))))
            elif item.get("type") in ("function_call", "custom_tool_call"):
                found.append(("assistant", _tool_call(item.get("name"), item.get("arguments", item.get("input")))))
        return found
    if isinstance(response.get("content"), list) and response.get("type") == "message":  # Anthropic
        return [("assistant", content_text(response["content"]))]
    if isinstance(response.get("generations"), list):  # LangChain LLMResult
        found = []
        for generation in (g for row in response["generations"] for g in (row if isinstance(row, list) else [row])):
            if not isinstance(generation, dict):
                continue
            if isinstance(generation.get("message"), dict):
                role, text = message(generation["message"])
                found.append((role or "assistant", text or str(generation.get("text") or "")))
            else:
                found.append(("assistant", str(generation.get("text") or "")))
        return found
    return None


def output_text(attrs: dict[str, Any], response: dict[str, Any]) -> tuple[str | None, str | None]:
    """(readable output, attribute it came from); only the assistant's turn(s), no role prefix."""
    messages = _openinference_messages(attrs, "llm.output_messages.")
    source = "llm.output_messages"
    if not messages and "gen_ai.output.messages" in attrs:
        messages, source = messages_from(attrs["gen_ai.output.messages"]) or [], "gen_ai.output.messages"
    if not messages:
        messages, source = _openllmetry_messages(attrs, "gen_ai.completion."), "gen_ai.completion"
    if not any(text for _, text in messages) and response:
        messages, source = _response_messages(response) or [], "output.value"
    if any(text for _, text in messages):
        return "\n\n".join(text for _, text in messages if text), source
    for key in ("output.value", "gen_ai.completion"):
        value = attrs.get(key)
        if isinstance(value, str) and value and not (key == "output.value" and response):
            found = messages_from(value)
            return (render(found) if found is not None else value), key
    return None, None


def response_id(response: dict[str, Any]) -> str | None:
    """The provider's id of the response: `id` of an OpenAI/Anthropic body, or the one LangChain
    keeps in the message's response_metadata (its own message ids are run ids, not the provider's)."""
    if isinstance(response.get("id"), str) and response["id"]:
        return response["id"]
    for row in response.get("generations") or []:
        for generation in row if isinstance(row, list) else [row]:
            message = generation.get("message") if isinstance(generation, dict) else None
            kwargs = message.get("kwargs") if isinstance(message, dict) else None
            metadata = kwargs.get("response_metadata") if isinstance(kwargs, dict) else None
            if isinstance(metadata, dict) and isinstance(metadata.get("id"), str) and metadata["id"]:
                return metadata["id"]
    return None


# --- who, which model, how it ended -------------------------------------------------------------

def user_from(params: dict[str, Any], request: dict[str, Any], metadata: dict[str, Any]) -> str | None:
    """The end user passed to the provider (`user`, `safety_identifier`, `metadata.user_id`) or
    in OpenInference's `metadata` attribute (LangChain's run metadata `user_id`)."""
    if isinstance(metadata.get("user_id"), str) and metadata["user_id"].strip():
        return metadata["user_id"]
    for source in (params, request):
        for key in ("user", "safety_identifier"):
            if isinstance(source.get(key), str) and source[key].strip():
                return source[key]
        metadata = source.get("metadata")
        if isinstance(metadata, dict) and isinstance(metadata.get("user_id"), str) and metadata["user_id"].strip():
            return metadata["user_id"]
    return None


def session_from(metadata: dict[str, Any]) -> str | None:
    """A session in OpenInference's `metadata` attribute (LangChain run metadata)."""
    for key in ("session_id", "thread_id", "conversation_id"):
        if isinstance(metadata.get(key), str) and metadata[key].strip():
            return metadata[key]
    return None


def model_from(params: dict[str, Any], request: dict[str, Any], response: dict[str, Any]) -> str | None:
    for source in (response, params, request):
        for key in ("model", "model_name"):
            if isinstance(source.get(key), str) and source[key].strip():
                return source[key]
    return None


def _name(value: Any) -> str:
    """"<class 'openai.RateLimitError'>", "openai.RateLimitError", "rate_limit_error" → "ratelimiterror"."""
    text = str(value or "").strip()
    match = re.match(r"<class '([^']*)'>", text)
    text = (match.group(1) if match else text).rsplit(".", 1)[-1]
    return re.sub(r"[^a-z0-9]", "", text.lower())


def failure_status(attrs: dict[str, Any], status_message: str, exceptions: list[dict[str, Any]]) -> str:
    """`rate_limited` for a 429 in any of its disguises, `timeout` for timeouts, else `error`."""
    code = attrs.get("http.response.status_code", attrs.get("http.status_code"))
    names = {_name(attrs.get("error.type"))} | {_name(e.get("exception.type")) for e in exceptions}
    body_types = {_name(error_fields(str(e.get("exception.message") or ""))[1]) for e in exceptions}
    body_types.add(_name(error_fields(status_message)[1]))
    if str(code) == "429" or (names | body_types) & _RATE_LIMIT_NAMES or _STATUS_429.search(status_message or ""):
        return "rate_limited"
    if (names | body_types) & _TIMEOUT_NAMES or str(code) in ("408", "504"):
        return "timeout"
    return "error"


def error_fields(text: str) -> tuple[str | None, str | None]:
    """(message, type) from a provider error text such as
    "Error code: 429 - {'error': {'message': 'Rate limit reached', 'type': 'requests'}}"."""
    if not text:
        return None, None
    start = text.find("{")
    if start < 0:
        return None, None
    body = text[start:]
    parsed: Any = None
    for parse in (json.loads, ast.literal_eval):
        try:
            parsed = parse(body)
            break
        except (ValueError, SyntaxError, RecursionError, MemoryError, TypeError):
            continue
    if not isinstance(parsed, dict):
        return None, None
    inner = parsed.get("error") if isinstance(parsed.get("error"), dict) else parsed
    message = inner.get("message")
    kind = inner.get("type") or inner.get("code")
    return (message if isinstance(message, str) else None), (str(kind) if kind else None)


def _unwrap(text: str) -> str:
    """"OpenAIRateLimitError('Error code: 429 - …')" (LangChain's repr of the exception) → its message."""
    match = _EXCEPTION_REPR.match(text)
    return match.group(2) if match else text


def error_message(attrs: dict[str, Any], status_message: str, exceptions: list[dict[str, Any]]) -> str | None:
    """The provider's own words where they can be found; never a Python traceback."""
    candidates = [_unwrap(_TRACEBACK.sub("", text or "").strip())
                  for text in [status_message] + [str(e.get("exception.message") or "") for e in exceptions]]
    for text in candidates:
        message, kind = error_fields(text)
        if message:
            code = re.match(r"\s*Error code: (\d{3})", text)
            prefix = " ".join(filter(None, [code.group(1) if code else None, kind]))
            return f"{prefix}: {message}" if prefix else message
    for text in candidates:
        if text:
            return text
    kind = attrs.get("error.type") or next((e.get("exception.type") for e in exceptions if e.get("exception.type")), None)
    code = attrs.get("http.response.status_code", attrs.get("http.status_code"))
    return " ".join(str(part) for part in (code, kind) if part not in (None, "")) or None
