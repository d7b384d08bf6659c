"""The demo's bulk run through the built artifact (`make demo RUNTIME=lambda`): the local SQS
event source invokes two execution environments, each a runtime process under awslambdaric, and
every check of the run holds as it does in-process."""

from __future__ import annotations

from pathlib import Path

import pytest

from local.bulk_demo.run import report_lines, run_bulk
from local.demo import RESULTS_BUS, bulk_environments, local_function


@pytest.mark.slow
@pytest.mark.usefixtures("restored_environ")
def test_a_bulk_cancel_through_the_queue_holds_every_check_through_the_artifact(
    lambda_build: Path,
) -> None:
    # Given the built artifact, in as many execution environments as the mapping's maximum
    # concurrency (the demo's own, and one more, through its init before the queue is worked)
    with (
        local_function(runtime="lambda", build_dir=lambda_build) as (sandbox, handler),
        bulk_environments(handler, sandbox, False, lambda_build) as (environments, described),
    ):
        # When an operator's file of cancels goes through the queue
        run = run_bulk(
            sandbox, environments, described=described, results_bus=RESULTS_BUS, cashouts=20
        )

    # Then both environments served it, and every check passed
    assert len(environments) == 2
    assert described.startswith("2 execution environments")
    assert run.passed, "\n".join(report_lines(run))
    assert run.worked.deleted == run.plan.valid_messages
