"""The calls each stack script makes (tests/contract/stacks/_openai_calls.py and friends), by name."""
OPENAI_CALLS = ['chat', 'chat_stream', 'tool_call', 'tool_result', 'tool_call_stream', 'responses', 'responses_stream', 'async_chat', 'async_stream', 'rate_limited', 'server_error', 'user_param']
ANTHROPIC_CALLS = ['messages', 'messages_stream', 'messages_stream_raw', 'tool_use', 'tool_result', 'async_messages', 'rate_limited', 'server_error', 'user_param']
LANGCHAIN_CALLS = ['chat', 'chat_stream', 'tool_call', 'tool_result', 'async_chat', 'rate_limited', 'server_error', 'user_param']
