"""Bulk cancels through SQS (docs/contract.md section 9) and result events (section 10), as
deployed: the queue and its dead-letter queue, the event source on the `live` alias, and a role that
may touch exactly those resources and the results bus.

`make check-template` also transforms the template with SAM and checks that the event source
mapping really targets the alias (scripts/check_transformed_template.py).
"""

from __future__ import annotations

from typing import Any

from tests.template.helpers import actions

SQS_MAX_BATCH_WITHOUT_WINDOW = 10
SQS_MIN_MAXIMUM_CONCURRENCY = 2
VISIBILITY_TO_TIMEOUT_RATIO = 6  # AWS's advice for queues that feed a Lambda function
FOURTEEN_DAYS = 14 * 24 * 3600


def _bulk_source(function: dict[str, Any]) -> dict[str, Any]:
    source: dict[str, Any] = function["Events"]["BulkCancels"]
    return source


def test_cancel_queue_is_encrypted_and_redrives_to_its_dead_letter_queue_after_a_parameter(
    template: dict[str, Any], resources: dict[str, Any]
) -> None:
    queue = resources["CancelQueue"]["Properties"]

    assert queue["SqsManagedSseEnabled"] is True
    assert "FifoQueue" not in queue  # standard: Lambda's partial batch responses, any order
    assert queue["RedrivePolicy"] == {
        "deadLetterTargetArn": {"Fn::GetAtt": ["CancelDeadLetterQueue", "Arn"]},
        "maxReceiveCount": {"Ref": "BulkMaxReceiveCount"},
    }
    assert template["Parameters"]["BulkMaxReceiveCount"]["Default"] == 5


def test_cancel_queue_hides_a_batch_for_at_least_six_function_timeouts(
    resources: dict[str, Any], function: dict[str, Any]
) -> None:
    visibility = resources["CancelQueue"]["Properties"]["VisibilityTimeout"]
    window = _bulk_source(function)["Properties"].get("MaximumBatchingWindowInSeconds", 0)

    assert visibility >= VISIBILITY_TO_TIMEOUT_RATIO * function["Timeout"] + window


def test_dead_letter_queue_is_encrypted_and_outlives_the_cancel_queue(
    resources: dict[str, Any],
) -> None:
    dead_letters = resources["CancelDeadLetterQueue"]["Properties"]
    queue = resources["CancelQueue"]["Properties"]

    assert dead_letters["SqsManagedSseEnabled"] is True
    assert dead_letters["MessageRetentionPeriod"] == FOURTEEN_DAYS
    # A moved message keeps its first enqueue time: a shorter retention would drop it early.
    assert queue["MessageRetentionPeriod"] < dead_letters["MessageRetentionPeriod"]


def test_bulk_event_source_reports_batch_item_failures_with_parameter_batch_and_concurrency(
    template: dict[str, Any], function: dict[str, Any]
) -> None:
    source = _bulk_source(function)
    properties = source["Properties"]
    parameters = template["Parameters"]

    assert source["Type"] == "SQS"
    assert properties["Queue"] == {"Fn::GetAtt": ["CancelQueue", "Arn"]}
    assert properties["FunctionResponseTypes"] == ["ReportBatchItemFailures"]
    assert properties["BatchSize"] == {"Ref": "BulkBatchSize"}
    assert parameters["BulkBatchSize"]["Default"] == 10
    assert properties["ScalingConfig"] == {"MaximumConcurrency": {"Ref": "BulkMaximumConcurrency"}}
    assert parameters["BulkMaximumConcurrency"]["Default"] == 2
    assert parameters["BulkMaximumConcurrency"]["MinValue"] == SQS_MIN_MAXIMUM_CONCURRENCY


def test_bulk_batch_size_cannot_exceed_what_needs_no_batching_window(
    template: dict[str, Any], function: dict[str, Any]
) -> None:
    # Lambda refuses a batch size above 10 from SQS without a batching window of >= 1 s.
    window = _bulk_source(function)["Properties"].get("MaximumBatchingWindowInSeconds", 0)

    assert window >= 1 or (
        template["Parameters"]["BulkBatchSize"]["MaxValue"] <= SQS_MAX_BATCH_WITHOUT_WINDOW
    )


def test_bulk_cancels_leave_room_for_the_other_callers_by_default(
    template: dict[str, Any],
) -> None:
    parameters = template["Parameters"]

    bulk = parameters["BulkMaximumConcurrency"]["Default"]
    assert bulk < parameters["ReservedConcurrency"]["Default"]


def test_bulk_event_source_reaches_the_live_alias(function: dict[str, Any]) -> None:
    # With AutoPublishAlias, SAM attaches every event source to the alias (checked on the
    # transformed template by `make check-template`), so a canary deploy shifts SQS too.
    assert function["AutoPublishAlias"] == "live"
    assert "BulkCancels" in function["Events"]


def test_role_may_consume_the_cancel_queue_and_no_other(statements: list[dict[str, Any]]) -> None:
    consuming = {"sqs:ReceiveMessage", "sqs:DeleteMessage", "sqs:GetQueueAttributes"}
    consumers = [s for s in statements if consuming & set(actions(s))]

    assert len(consumers) == 1
    (statement,) = consumers
    assert set(actions(statement)) == consuming
    assert statement["Resource"] == {"Fn::GetAtt": ["CancelQueue", "Arn"]}


def test_function_may_put_events_only_on_the_bus_it_publishes_results_to(
    statements: list[dict[str, Any]], function: dict[str, Any]
) -> None:
    publishers = [s for s in statements if any(a.startswith("events:") for a in actions(s))]

    assert len(publishers) == 1
    (statement,) = publishers
    assert actions(statement) == ["events:PutEvents"]
    assert statement["Resource"] == function["Environment"]["Variables"]["RESULTS_EVENT_BUS"]


def test_results_bus_defaults_to_the_requests_bus(function: dict[str, Any]) -> None:
    arn, variables = function["Environment"]["Variables"]["RESULTS_EVENT_BUS"]["Fn::Sub"]

    assert arn.endswith(":event-bus/${Bus}")
    assert variables["Bus"] == {
        "Fn::If": ["HasOwnResultsBus", {"Ref": "ResultsEventBusName"}, {"Ref": "EventBusName"}]
    }


def test_result_events_cannot_trigger_the_cancel_rule(function: dict[str, Any]) -> None:
    pattern = function["Events"]["CancelRequested"]["Properties"]["Pattern"]

    # docs/contract.md section 10: results are "Cashout Cancel Completed", which this pattern
    # refuses.
    assert pattern == {"detail-type": ["Cashout Cancel Requested"]}
    assert "Cashout Cancel Completed" not in pattern["detail-type"]


def test_bulk_concurrency_is_set_for_the_function(function: dict[str, Any]) -> None:
    assert function["Environment"]["Variables"]["BULK_CONCURRENCY"] == "8"


def test_every_statement_names_one_resource(statements: list[dict[str, Any]]) -> None:
    assert all(not isinstance(s["Resource"], list) for s in statements)
