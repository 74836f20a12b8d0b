"""anthropic + openinference-instrumentation-anthropic; who is calling via using_attributes.

`--sdk-spans off` (the instrumentation alone) or `content` (together with the SDK's own spans).
"""
from _anthropic_calls import run_anthropic_calls
from _harness import OWN_FIELD_CALLS, Harness, session_for, user_for
from _sdk_spans import client_options
from openinference.instrumentation import using_attributes
from openinference.instrumentation.anthropic import AnthropicInstrumentor

h = Harness("contract-anthropic-openinference")
AnthropicInstrumentor().instrument(tracer_provider=h.provider)
run_anthropic_calls(h, lambda call: None if call in OWN_FIELD_CALLS
                    else using_attributes(user_id=user_for(call), session_id=session_for(call)), client_options())
h.finish()
