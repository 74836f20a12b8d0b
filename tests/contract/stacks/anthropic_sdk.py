"""The anthropic SDK's own spans alone (scope com.anthropic.sdk.python), `--sdk-spans metadata|content`.

Session: the SDK's `conversation_id` option (gen_ai.conversation.id). User: the SDK records none
(not even metadata.user_id), so it comes from baggage (user.id) through the BaggageSpanProcessor.
"""
from _anthropic_calls import run_anthropic_calls
from _harness import OWN_FIELD_CALLS, Harness, baggage_identity, user_for
from _sdk_spans import client_options

h = Harness("contract-anthropic-sdk")
run_anthropic_calls(h, lambda call: None if call in OWN_FIELD_CALLS else baggage_identity(user_for(call), None),
                    client_options())
h.finish()
