"""The `--sdk-spans off|metadata|content` switch of the Anthropic stacks: the SDK's own spans.

The anthropic SDK traces every call by itself (scope `com.anthropic.sdk.python`) as soon as a
tracer provider is set, in `metadata_only` mode unless told `content`. `off` passes
`open_telemetry=False`, so an instrumentation's spans are seen alone.
"""
import sys

from _harness import session_for


def client_options() -> dict:
    mode = sys.argv[sys.argv.index("--sdk-spans") + 1] if "--sdk-spans" in sys.argv else "metadata"
    if mode == "off":
        return {"open_telemetry": False}
    # The SDK's own session: conversation_id → gen_ai.conversation.id on its spans.
    traces = {"content_mode": "content"} if mode == "content" else {}
    return {"open_telemetry": {"traces": traces, "conversation_id": session_for("any")}}
