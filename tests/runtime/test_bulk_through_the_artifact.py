"""The demo's bulk run through the built artifact (`make demo RUNTIME=lambda`): the local SQS
event source invokes two execution environments, each a runtime process under awslambdaric, and
the run keeps the contract as it does in-process (tests/local/test_bulk_run.py)."""

from __future__ import annotations

from pathlib import Path

import pytest

from local.bulk_demo import run_bulk
from local.function import local_function
from tests.local.bulk_contract import assert_the_run_kept_the_contract


@pytest.mark.slow
def test_a_bulk_cancel_through_the_queue_keeps_the_contract_through_the_artifact(
    lambda_build: Path,
) -> None:
    # Given the built artifact, in as many execution environments as the mapping's maximum
    # concurrency (the first one's, and one more, each through its init before any work)
    with local_function(runtime="lambda", build_dir=lambda_build) as function:
        # When an operator's file of cancels goes through the queue
        run = run_bulk(function, cashouts=20)

        # Then both environments served it, and the run kept the contract
        assert run.environments == 2
        assert_the_run_kept_the_contract(run, function.sandbox.status_of)
