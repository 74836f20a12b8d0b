"""The calls each stack script makes (stacks/_openai_calls.py, _anthropic_calls.py, langchain_openinference.py)."""
OPENAI_CALLS = ["chat", "content_parts", "repeat_a", "repeat_b", "bad_identifiers", "chat_stream", "tool_call",
                "tool_result", "tool_call_stream", "responses", "responses_stream", "responses_tool_call",
                "async_chat", "async_stream", "rate_limited", "server_error", "user_param", "safety_identifier"]
ANTHROPIC_CALLS = ["messages", "content_parts", "repeat_a", "repeat_b", "messages_stream", "messages_stream_raw",
                   "tool_use", "tool_result", "async_messages", "rate_limited", "server_error", "user_param"]
LANGCHAIN_CALLS = ["chat", "repeat_a", "repeat_b", "bad_identifiers", "chat_stream", "tool_call", "tool_result",
                   "async_chat", "rate_limited", "server_error", "user_param"]
