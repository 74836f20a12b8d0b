"""langchain-openai + openinference-instrumentation-langchain, alone and over openinference-instrumentation-openai."""
import pytest

from tests.contract.checks import assert_call, assert_cleaned_identifiers_reported, assert_no_other_interactions
from tests.contract.conftest import ENCODINGS, Stack
from tests.contract.stacks_calls import LANGCHAIN_CALLS

STACKS = [
    Stack("langchain_openinference", "langchain_openinference.py", ()),
    Stack("langchain_openinference_openai", "langchain_openinference.py", ("--with-openai", "--simple-export", "--export-twice")),
]


@pytest.mark.parametrize("encoding", ENCODINGS)
@pytest.mark.parametrize("stack", STACKS, ids=lambda s: s.name)
@pytest.mark.parametrize("call", LANGCHAIN_CALLS)
def test_call_is_stored_as_the_client_saw_it(contract_run, stack, encoding, call):
    assert_call(contract_run(stack, encoding), call)


@pytest.mark.parametrize("encoding", ENCODINGS)
@pytest.mark.parametrize("stack", STACKS, ids=lambda s: s.name)
def test_one_interaction_per_call_and_nothing_else(contract_run, stack, encoding):
    assert_no_other_interactions(contract_run(stack, encoding))


@pytest.mark.parametrize("stack", STACKS, ids=lambda s: s.name)
def test_cleaned_identifiers_are_reported_in_partial_success(contract_run, stack):
    assert_cleaned_identifiers_reported(contract_run(stack, "json"))
