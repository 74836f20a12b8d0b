"""The tests every stack file runs, made once: per call, the stored row against the truth; per run,
one interaction per call; and, for stacks that send the bad-identifier call, partial_success.

Each stack keeps a test file of its own so that `--dist loadfile` spreads the stacks over workers.
"""
from __future__ import annotations

from typing import Callable

import pytest

from tests.contract.checks import assert_call, assert_cleaned_identifiers_reported, assert_no_other_interactions
from tests.contract.conftest import ENCODINGS, Stack


def contract_tests(stacks: list[Stack], calls: list[str], *, cleaned_identifiers: bool = False) -> list[Callable]:
    by_stack = pytest.mark.parametrize("stack", stacks, ids=lambda s: s.name)
    by_encoding = pytest.mark.parametrize("encoding", ENCODINGS)

    @by_encoding
    @by_stack
    @pytest.mark.parametrize("call", calls)
    def test_call_is_stored_as_the_client_saw_it(contract_run, stack, encoding, call):
        assert_call(contract_run(stack, encoding), call)

    @by_encoding
    @by_stack
    def test_one_interaction_per_call_and_nothing_else(contract_run, stack, encoding):
        assert_no_other_interactions(contract_run(stack, encoding))

    @by_stack
    def test_cleaned_identifiers_are_reported_in_partial_success(contract_run, stack):
        assert_cleaned_identifiers_reported(contract_run(stack, "json"))

    tests = [test_call_is_stored_as_the_client_saw_it, test_one_interaction_per_call_and_nothing_else]
    return tests + [test_cleaned_identifiers_are_reported_in_partial_success] if cleaned_identifiers else tests
