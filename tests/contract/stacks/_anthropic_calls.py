"""The Anthropic calls every Anthropic stack makes, each logged with what was sent and received.

`identity(call)` says who is calling the way a user of the stack would, or None for the call
`user_param`, which passes only the Messages API's own `metadata.user_id`.
Usage is logged in Pilot's terms: input = input_tokens + cache reads + cache writes (all input),
cached = cache_read_input_tokens, cache_write = cache_creation_input_tokens.
"""
from __future__ import annotations

import asyncio
import contextlib
import json
import time
from typing import Any, Callable

from _harness import PROVIDER_URL, REPEAT, Harness, session_for, user_for

MODEL = "claude-sonnet-4-6"
SYSTEM = "You are the help assistant of Northwind Bank. Answer in one sentence."
WEATHER_TOOL = {"name": "get_weather", "description": "Current weather in a city.",
                "input_schema": {"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]}}


def _usage(usage: Any) -> dict[str, int] | None:
    if usage is None:
        return None
    read = usage.cache_read_input_tokens or 0
    write = usage.cache_creation_input_tokens or 0
    return {"input": usage.input_tokens + read + write, "cached": read, "cache_write": write,
            "output": usage.output_tokens, "provider_input_tokens": usage.input_tokens}


def _received(record: dict[str, Any], message: Any) -> None:
    record["received"].update({
        "id": message.id, "model": message.model,
        "text": "".join(b.text for b in message.content if b.type == "text"),
        "tool_calls": [{"name": b.name, "arguments": json.dumps(b.input)} for b in message.content
                       if b.type == "tool_use"],
        "usage": _usage(message.usage)})


def _messages_sent(system: str | None, messages: list[dict[str, Any]]) -> list[dict[str, Any]]:
    sent = [{"role": "system", "text": system}] if system else []
    for m in messages:
        content = m["content"]
        if isinstance(content, str):
            sent.append({"role": m["role"], "text": content})
            continue
        entry = {"role": m["role"], "text": "",
                 "parts": [b["text"] for b in content if b["type"] == "text"]
                 + [b["content"] for b in content if b["type"] == "tool_result"]}
        calls = [{"name": b["name"], "arguments": json.dumps(b["input"])} for b in content if b["type"] == "tool_use"]
        if calls:
            entry["tool_calls"] = calls
        if any(b["type"] == "tool_result" for b in content):
            entry["tool_result"] = True
        sent.append(entry)
    return sent


def run_anthropic_calls(h: Harness, identity: Callable[[str], Any], client_options: dict[str, Any]) -> None:
    from anthropic import Anthropic

    client = Anthropic(base_url=PROVIDER_URL, api_key="sk-ant-fake", max_retries=0, **client_options)

    def who(call: str):
        manager = identity(call)
        return manager if manager is not None else contextlib.nullcontext()

    def create(call: str, messages: list[dict[str, Any]], *, system: str | None = SYSTEM, stream: str | None = None,
               tools=None, cached_system: bool = False, **params: Any) -> None:
        kwargs: dict[str, Any] = {"model": MODEL, "max_tokens": 256, "messages": messages, **params}
        if system:
            # Prompt caching as Anthropic documents it: the system prompt as blocks with cache_control.
            kwargs["system"] = [{"type": "text", "text": system, "cache_control": {"type": "ephemeral"}}] \
                if cached_system else system
        if tools:
            kwargs["tools"] = tools
        from_metadata = "metadata" in params
        with who(call), h.call(call, model=MODEL, messages=_messages_sent(system, messages), stream=bool(stream),
                               tools=[t["name"] for t in tools or []], user=user_for(call),
                               session=None if from_metadata else session_for(call)) as record:
            started = time.perf_counter()
            if stream == "helper":  # the SDK's stream helper, as its README shows
                first = None
                with client.messages.stream(**kwargs) as events:
                    for _ in events.text_stream:
                        first = first if first is not None else (time.perf_counter() - started) * 1000
                    _received(record, events.get_final_message())
                record["client_ttft_ms"] = first
            elif stream == "raw":  # create(stream=True) and the raw events
                _consume_raw_stream(record, client.messages.create(stream=True, **kwargs), started)
            else:
                _received(record, client.messages.create(**kwargs))

    create("messages", [{"role": "user", "content": "How do I freeze my card?"}])
    for call in REPEAT:
        create(call, [{"role": "user", "content": "Is the branch open today?"}])
    create("messages_stream", [{"role": "user", "content": "What is my card limit?"}], stream="helper",
           cached_system=True)
    create("content_parts", [{"role": "user", "content": [
        {"type": "text", "text": "First part: my card is blocked."},
        {"type": "text", "text": "Second part: what do I do?"}]}], cached_system=True)
    create("messages_stream_raw", [{"role": "user", "content": "Can I raise my limit?"}], stream="raw")
    create("tool_use", [{"role": "user", "content": "What is the weather in Paris?"}], system=None,
           tools=[WEATHER_TOOL])
    create("tool_result", [
        {"role": "user", "content": "What is the weather in Paris?"},
        {"role": "assistant", "content": [{"type": "tool_use", "id": "toolu_w1", "name": "get_weather",
                                           "input": {"city": "Paris"}}]},
        {"role": "user", "content": [{"type": "tool_result", "tool_use_id": "toolu_w1",
                                      "content": "Sunny, 21 degrees"}]},
    ], tools=[WEATHER_TOOL])
    asyncio.run(_async_call(h, who, client_options))
    create("rate_limited", [{"role": "user", "content": "Too many questions #429"}])
    create("server_error", [{"role": "user", "content": "Break the server #500"}], system=None, stream="raw")
    create("user_param", [{"role": "user", "content": "Who am I?"}], system=None,
           metadata={"user_id": user_for("user_param")})


def _consume_raw_stream(record: dict[str, Any], stream: Any, started: float) -> None:
    text, calls, usage, first, message = [], [], {}, None, None
    for event in stream:
        if event.type == "message_start":
            message = event.message
            usage = _usage(event.message.usage)
        elif event.type == "content_block_start" and event.content_block.type == "tool_use":
            calls.append({"name": event.content_block.name, "arguments": ""})
        elif event.type == "content_block_delta":
            first = first if first is not None else (time.perf_counter() - started) * 1000
            if event.delta.type == "text_delta":
                text.append(event.delta.text)
            elif event.delta.type == "input_json_delta":
                calls[-1]["arguments"] += event.delta.partial_json
        elif event.type == "message_delta":
            usage["output"] = event.usage.output_tokens
    record["received"].update({"id": message.id, "model": message.model, "text": "".join(text),
                               "tool_calls": calls, "usage": usage})
    record["client_ttft_ms"] = first


async def _async_call(h: Harness, who: Callable, client_options: dict[str, Any]) -> None:
    from anthropic import AsyncAnthropic

    client = AsyncAnthropic(base_url=PROVIDER_URL, api_key="sk-ant-fake", max_retries=0, **client_options)
    messages = [{"role": "user", "content": "Async: can I pay abroad?"}]
    with who("async_messages"), h.call("async_messages", model=MODEL, messages=_messages_sent(SYSTEM, messages),
                                       stream=False, user=user_for("async_messages"),
                                       session=session_for("async_messages")) as record:
        _received(record, await client.messages.create(model=MODEL, max_tokens=256, system=SYSTEM,
                                                       messages=messages))
    await client.close()
