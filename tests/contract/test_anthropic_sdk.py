"""The anthropic SDK's own spans (scope com.anthropic.sdk.python) alone: metadata-only and content mode."""
from tests.contract.conftest import Stack
from tests.contract.stacks_calls import ANTHROPIC_CALLS
from tests.contract.suite import contract_tests

STACKS = [
    Stack("anthropic_sdk", "anthropic_sdk.py", ("--sdk-spans", "metadata")),
    Stack("anthropic_sdk_content", "anthropic_sdk.py", ("--sdk-spans", "content")),
]

test_call_is_stored_as_the_client_saw_it, test_one_interaction_per_call_and_nothing_else = contract_tests(
    STACKS, ANTHROPIC_CALLS)
