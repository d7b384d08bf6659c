"""Safe deploys: CodeDeploy shifts the `live` alias gradually, and the alarms that measure what
callers suffer roll it back; the queue alarms do not (a deploy does not fill a queue)."""

from __future__ import annotations

from typing import Any

from tests.template.helpers import alarm_metrics, alarms

QUEUE_NAMESPACE = "AWS/SQS"


def test_deployment_type_is_a_parameter_defaulting_to_a_canary(
    template: dict[str, Any], function: dict[str, Any]
) -> None:
    parameter = template["Parameters"]["DeploymentType"]

    assert function["DeploymentPreference"]["Type"] == {"Ref": "DeploymentType"}
    assert parameter["Default"] == "Canary10Percent5Minutes"
    allowed = set(parameter["AllowedValues"])
    assert "AllAtOnce" in allowed
    assert any(value.startswith("Linear") for value in allowed)
    assert all(value.startswith(("Canary10Percent", "Linear10Percent", "All")) for value in allowed)


def test_deploy_rolls_back_on_every_alarm_of_callers_pain_and_no_queue_alarm(
    resources: dict[str, Any], function: dict[str, Any]
) -> None:
    rollback = [ref["Ref"] for ref in function["DeploymentPreference"]["Alarms"]]
    pain = {
        name
        for name, alarm in alarms(resources).items()
        if all(m["Namespace"] != QUEUE_NAMESPACE for m in alarm_metrics(alarm))
    }

    assert len(rollback) == len(set(rollback))
    assert set(rollback) == pain
    must_roll_back = {
        "ApiServerErrorsAlarm",
        "DurationNearTimeoutAlarm",
        "UpstreamUnavailableShareAlarm",
    }
    assert must_roll_back <= pain


def test_gradual_deploys_shift_the_alias_every_caller_uses(function: dict[str, Any]) -> None:
    assert function["AutoPublishAlias"] == "live"
    assert "DeploymentPreference" in function
