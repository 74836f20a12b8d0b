"""The OpenAI calls every OpenAI stack makes, each logged with what was sent and received.

`identity(call)` returns the context manager that says who is calling, the way a user of the
stack would (OpenInference's `using_attributes`, or baggage), or None when the call passes the
OpenAI `user` or `safety_identifier` parameter instead (OWN_FIELD_CALLS).
"""
from __future__ import annotations

import asyncio
import contextlib
import json
import time
from typing import Any, Callable

from _harness import BAD_IDENTIFIERS, PROVIDER_URL, REPEAT, Harness, session_for, user_for

MODEL = "gpt-5.2"
SYSTEM = "You are the help assistant of Northwind Bank. Answer in one sentence."
WEATHER_TOOL = {"type": "function", "function": {
    "name": "get_weather", "description": "Current weather in a city.",
    "parameters": {"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]}}}
RESPONSES_TOOL = {"type": "function", "name": "get_weather", "description": "Current weather in a city.",
                  "parameters": WEATHER_TOOL["function"]["parameters"]}


def _messages_sent(messages: list[dict[str, Any]]) -> list[dict[str, Any]]:
    sent = []
    for m in messages:
        content = m.get("content") or ""
        entry: dict[str, Any] = {"role": m["role"], "text": content if isinstance(content, str) else ""}
        if isinstance(content, list):
            entry["parts"] = [part["text"] for part in content if part.get("type") == "text"]
        if m.get("tool_calls"):
            entry["tool_calls"] = [{"name": c["function"]["name"], "arguments": c["function"]["arguments"]}
                                   for c in m["tool_calls"]]
        sent.append(entry)
    return sent


def _chat_received(record: dict[str, Any], completion: Any) -> None:
    message = completion.choices[0].message
    record["received"].update({
        "id": completion.id, "model": completion.model, "text": message.content or "",
        "tool_calls": [{"name": c.function.name, "arguments": c.function.arguments} for c in message.tool_calls or []],
        "usage": _usage(completion.usage),
    })


def _usage(usage: Any) -> dict[str, int] | None:
    if usage is None:
        return None
    details = getattr(usage, "prompt_tokens_details", None) or getattr(usage, "input_tokens_details", None)
    return {"input": getattr(usage, "prompt_tokens", None) or getattr(usage, "input_tokens", 0),
            "cached": getattr(details, "cached_tokens", 0) or 0, "cache_write": 0,
            "output": getattr(usage, "completion_tokens", None) or getattr(usage, "output_tokens", 0)}


def _consume_chat_stream(record: dict[str, Any], stream: Any, started: float) -> None:
    text, calls, usage, first = [], {}, None, None
    for chunk in stream:
        record["received"]["id"] = chunk.id
        record["received"]["model"] = chunk.model
        if chunk.usage is not None:
            usage = _usage(chunk.usage)
        for choice in chunk.choices:
            delta = choice.delta
            if (delta.content or delta.tool_calls) and first is None:
                first = (time.perf_counter() - started) * 1000
            if delta.content:
                text.append(delta.content)
            for call in delta.tool_calls or []:
                entry = calls.setdefault(call.index, {"name": "", "arguments": ""})
                entry["name"] += call.function.name or ""
                entry["arguments"] += call.function.arguments or ""
    record["received"].update({"text": "".join(text), "tool_calls": list(calls.values()), "usage": usage})
    record["client_ttft_ms"] = first


def run_openai_calls(h: Harness, identity: Callable[[str], Any], *, include: tuple[str, ...] | None = None) -> None:
    from openai import OpenAI

    client = OpenAI(base_url=PROVIDER_URL + "/v1", api_key="sk-fake", max_retries=0)

    def who(call: str):
        manager = identity(call)
        return manager if manager is not None else contextlib.nullcontext()

    def wanted(call: str) -> bool:
        return include is None or call in include

    def chat(call: str, messages: list[dict[str, Any]], *, stream: bool = False, tools=None, **params: Any):
        kwargs: dict[str, Any] = {"model": MODEL, "messages": messages, **params}
        if tools:
            kwargs["tools"] = tools
        if stream:
            kwargs.update(stream=True, stream_options={"include_usage": True})
        own = params.get("user") or params.get("safety_identifier")  # the provider's own field, no context
        user = own or user_for(call)
        session = None if own else session_for(call)
        with who(call), h.call(call, model=MODEL, messages=_messages_sent(messages), stream=stream,
                               tools=[t["function"]["name"] for t in tools or []], user=user,
                               session=session) as record:
            started = time.perf_counter()
            if stream:
                _consume_chat_stream(record, client.chat.completions.create(**kwargs), started)
            else:
                _chat_received(record, client.chat.completions.create(**kwargs))

    system = {"role": "system", "content": SYSTEM}
    if wanted("chat"):
        chat("chat", [system, {"role": "user", "content": "How do I freeze my card?"}])
    if wanted("content_parts"):
        chat("content_parts", [system, {"role": "user", "content": [
            {"type": "text", "text": "First part: my card is blocked."},
            {"type": "text", "text": "Second part: what do I do?"}]}])
    for call in REPEAT:
        if wanted(call):
            chat(call, [system, {"role": "user", "content": "Is the branch open today?"}])
    if wanted(BAD_IDENTIFIERS):
        chat(BAD_IDENTIFIERS, [{"role": "user", "content": "Hello with odd identifiers"}])
    if wanted("chat_stream"):
        chat("chat_stream", [system, {"role": "user", "content": "What is my card limit?"}], stream=True)
    if wanted("tool_call"):
        chat("tool_call", [{"role": "user", "content": "What is the weather in Paris?"}], tools=[WEATHER_TOOL])
    if wanted("tool_result"):
        assistant = {"role": "assistant", "content": None, "tool_calls": [
            {"id": "call_w1", "type": "function",
             "function": {"name": "get_weather", "arguments": json.dumps({"city": "Paris"})}}]}
        tool = {"role": "tool", "tool_call_id": "call_w1", "content": "Sunny, 21 degrees"}
        chat("tool_result", [system, {"role": "user", "content": "What is the weather in Paris?"}, assistant, tool],
             tools=[WEATHER_TOOL])
    if wanted("tool_call_stream"):
        chat("tool_call_stream", [{"role": "user", "content": "Weather in Lyon, streamed?"}], stream=True,
             tools=[WEATHER_TOOL])
    if wanted("responses"):
        _responses(h, client, who, "responses", stream=False)
    if wanted("responses_stream"):
        _responses(h, client, who, "responses_stream", stream=True)
    if wanted("responses_tool_call"):
        _responses(h, client, who, "responses_tool_call", stream=False, tools=[RESPONSES_TOOL])
    if wanted("async_chat") or wanted("async_stream"):
        asyncio.run(_async_calls(h, who, wanted))
    if wanted("rate_limited"):
        chat("rate_limited", [system, {"role": "user", "content": "Too many questions #429"}])
    if wanted("server_error"):
        chat("server_error", [{"role": "user", "content": "Break the server #500"}], stream=True)
    if wanted("user_param"):
        chat("user_param", [{"role": "user", "content": "Who am I?"}], user=user_for("user_param"))
    if wanted("safety_identifier"):
        chat("safety_identifier", [{"role": "user", "content": "Who am I, safely?"}],
             safety_identifier=user_for("safety_identifier"))


def _responses(h: Harness, client: Any, who: Callable, call: str, *, stream: bool, tools=None) -> None:
    instructions = "You are the help assistant of Northwind Bank. Be brief."
    question = "How do I order a new card?" if not stream else "Where is the nearest branch?"
    if tools:
        question = "What is the weather in Paris today?"
    inputs: Any = question if not stream else [{"role": "user", "content": question}]
    extra = {"tools": tools} if tools else {}
    with who(call), h.call(call, model=MODEL, api="responses", stream=stream,
                           messages=[{"role": "system", "text": instructions}, {"role": "user", "text": question}],
                           tools=[t["name"] for t in tools or []], user=user_for(call),
                           session=session_for(call)) as record:
        started = time.perf_counter()
        if not stream:
            response = client.responses.create(model=MODEL, instructions=instructions, input=inputs, **extra)
            calls = [{"name": item.name, "arguments": item.arguments} for item in response.output
                     if item.type == "function_call"]
            record["received"].update({"id": response.id, "model": response.model, "text": response.output_text,
                                       "tool_calls": calls, "usage": _usage(response.usage)})
            return
        text, first, final = [], None, None
        for event in client.responses.create(model=MODEL, instructions=instructions, input=inputs, stream=True):
            if event.type == "response.output_text.delta":
                first = first if first is not None else (time.perf_counter() - started) * 1000
                text.append(event.delta)
            elif event.type == "response.completed":
                final = event.response
        record["received"].update({"id": final.id, "model": final.model, "text": "".join(text), "tool_calls": [],
                                   "usage": _usage(final.usage)})
        record["client_ttft_ms"] = first


async def _async_calls(h: Harness, who: Callable, wanted: Callable[[str], bool]) -> None:
    from openai import AsyncOpenAI

    client = AsyncOpenAI(base_url=PROVIDER_URL + "/v1", api_key="sk-fake", max_retries=0)
    system = {"role": "system", "content": SYSTEM}
    if wanted("async_chat"):
        messages = [system, {"role": "user", "content": "Async: can I pay abroad?"}]
        with who("async_chat"), h.call("async_chat", model=MODEL, messages=_messages_sent(messages), stream=False,
                                       user=user_for("async_chat"), session=session_for("async_chat")) as record:
            _chat_received(record, await client.chat.completions.create(model=MODEL, messages=messages))
    if wanted("async_stream"):
        messages = [system, {"role": "user", "content": "Async stream: what are the fees?"}]
        with who("async_stream"), h.call("async_stream", model=MODEL, messages=_messages_sent(messages), stream=True,
                                         user=user_for("async_stream"),
                                         session=session_for("async_stream")) as record:
            started = time.perf_counter()
            stream = await client.chat.completions.create(model=MODEL, messages=messages, stream=True,
                                                          stream_options={"include_usage": True})
            text, usage, first = [], None, None
            async for chunk in stream:
                if chunk.usage is not None:
                    usage = _usage(chunk.usage)
                for choice in chunk.choices:
                    if choice.delta.content:
                        first = first if first is not None else (time.perf_counter() - started) * 1000
                        text.append(choice.delta.content)
                record["received"]["id"], record["received"]["model"] = chunk.id, chunk.model
            record["received"].update({"text": "".join(text), "tool_calls": [], "usage": usage})
            record["client_ttft_ms"] = first
    await client.close()
