"""langchain-openai + openinference-instrumentation-langchain; `--with-openai` adds
openinference-instrumentation-openai under it (two LLM spans per call, one trace).

Who is calling: OpenInference's using_attributes; call `user_param` instead passes LangChain's
own run metadata (`config={"metadata": {"user_id": …, "session_id": …}}`).
"""
import asyncio
import json
import sys
import time

from _harness import BAD_IDENTIFIERS, PROVIDER_URL, REPEAT, Harness, session_for, user_for
from openinference.instrumentation import using_attributes
from openinference.instrumentation.langchain import LangChainInstrumentor

MODEL = "gpt-5.2"
SYSTEM = "You are the help assistant of Northwind Bank. Answer in one sentence."

h = Harness("contract-langchain-openinference")
LangChainInstrumentor().instrument(tracer_provider=h.provider)
if "--with-openai" in sys.argv:
    from openinference.instrumentation.openai import OpenAIInstrumentor

    OpenAIInstrumentor().instrument(tracer_provider=h.provider)

from langchain_core.messages import AIMessage, HumanMessage, SystemMessage, ToolMessage  # noqa: E402
from langchain_core.tools import tool  # noqa: E402
from langchain_openai import ChatOpenAI  # noqa: E402


@tool
def get_weather(city: str) -> str:
    """Current weather in a city."""
    return "Sunny, 21 degrees"


llm = ChatOpenAI(model=MODEL, base_url=PROVIDER_URL + "/v1", api_key="sk-fake", max_retries=0, stream_usage=True)


def sent(messages):
    roles = {"system": "system", "human": "user", "ai": "assistant", "tool": "tool"}
    out = []
    for m in messages:
        entry = {"role": roles[m.type], "text": m.content or ""}
        if getattr(m, "tool_calls", None):
            entry["tool_calls"] = [{"name": c["name"], "arguments": json.dumps(c["args"])} for c in m.tool_calls]
        out.append(entry)
    return out


def received(record, message):
    usage = message.usage_metadata or {}
    details = usage.get("input_token_details") or {}
    record["received"].update({
        "id": message.id, "model": (message.response_metadata or {}).get("model_name"),
        "text": message.content if isinstance(message.content, str) else "",
        "tool_calls": [{"name": c["name"], "arguments": json.dumps(c["args"])} for c in message.tool_calls],
        "usage": {"input": usage.get("input_tokens"), "cached": details.get("cache_read", 0) or 0,
                  "cache_write": 0, "output": usage.get("output_tokens")} if usage else None})


def call(name, messages, *, runnable=llm, stream=False, config=None, tools=()):
    identity = using_attributes(user_id=user_for(name), session_id=session_for(name)) if config is None else None
    with (identity or _null()), h.call(name, model=MODEL, messages=sent(messages), stream=stream,
                                       tools=list(tools), user=user_for(name), session=session_for(name)) as record:
        started = time.perf_counter()
        if stream:
            total, first = None, None
            for chunk in runnable.stream(messages, config=config):
                if chunk.content and first is None:
                    first = (time.perf_counter() - started) * 1000
                total = chunk if total is None else total + chunk
            received(record, total)
            record["client_ttft_ms"] = first
        else:
            received(record, runnable.invoke(messages, config=config))


class _null:
    def __enter__(self):
        return None

    def __exit__(self, *exc):
        return False


system = SystemMessage(SYSTEM)
call("chat", [system, HumanMessage("How do I freeze my card?")])
for name in REPEAT:
    call(name, [system, HumanMessage("Is the branch open today?")])
call(BAD_IDENTIFIERS, [HumanMessage("Hello with odd identifiers")])
call("chat_stream", [system, HumanMessage("What is my card limit?")], stream=True)
call("tool_call", [HumanMessage("What is the weather in Paris?")], runnable=llm.bind_tools([get_weather]),
     tools=["get_weather"])
call("tool_result", [system, HumanMessage("What is the weather in Paris?"),
                     AIMessage("", tool_calls=[{"name": "get_weather", "args": {"city": "Paris"}, "id": "call_w1"}]),
                     ToolMessage("Sunny, 21 degrees", tool_call_id="call_w1")],
     runnable=llm.bind_tools([get_weather]), tools=["get_weather"])


async def async_chat():
    messages = [system, HumanMessage("Async: can I pay abroad?")]
    with using_attributes(user_id=user_for("async_chat"), session_id=session_for("async_chat")), \
            h.call("async_chat", model=MODEL, messages=sent(messages), stream=False, user=user_for("async_chat"),
                   session=session_for("async_chat")) as record:
        received(record, await llm.ainvoke(messages))


asyncio.run(async_chat())
call("rate_limited", [system, HumanMessage("Too many questions #429")])
call("server_error", [HumanMessage("Break the server #500")])
call("user_param", [HumanMessage("Who am I?")],
     config={"metadata": {"user_id": user_for("user_param"), "session_id": session_for("user_param")}})
h.finish()
