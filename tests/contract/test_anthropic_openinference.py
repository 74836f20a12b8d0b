"""anthropic + openinference-instrumentation-anthropic, alone and over the SDK's own spans (content mode)."""
import pytest

from tests.contract.checks import assert_call, assert_no_other_interactions
from tests.contract.conftest import ENCODINGS, Stack
from tests.contract.stacks_calls import ANTHROPIC_CALLS

STACKS = [
    Stack("anthropic_openinference", "anthropic_openinference.py", ("--sdk-spans", "off")),
    Stack("anthropic_openinference_sdk", "anthropic_openinference.py", ("--sdk-spans", "content", "--simple-export", "--export-twice")),
]


@pytest.mark.parametrize("encoding", ENCODINGS)
@pytest.mark.parametrize("stack", STACKS, ids=lambda s: s.name)
@pytest.mark.parametrize("call", ANTHROPIC_CALLS)
def test_call_is_stored_as_the_client_saw_it(contract_run, stack, encoding, call):
    assert_call(contract_run(stack, encoding), call)


@pytest.mark.parametrize("encoding", ENCODINGS)
@pytest.mark.parametrize("stack", STACKS, ids=lambda s: s.name)
def test_one_interaction_per_call_and_nothing_else(contract_run, stack, encoding):
    assert_no_other_interactions(contract_run(stack, encoding))
