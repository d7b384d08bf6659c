"""Small readers of the template's data that the template tests share."""

from __future__ import annotations

from typing import Any

FUNCTION = "CancelCashoutFunction"
ROLE = "CancelCashoutFunctionRole"
ALARM_TYPE = "AWS::CloudWatch::Alarm"


def actions(statement: dict[str, Any]) -> list[str]:
    """A policy statement's actions, always as a list."""
    action = statement["Action"]
    return [action] if isinstance(action, str) else action


def if_condition(value: Any) -> str | None:
    """The condition name of an `Fn::If`, or None when `value` is not one."""
    return value["Fn::If"][0] if isinstance(value, dict) and "Fn::If" in value else None


def role_policy(resources: dict[str, Any], name: str) -> Any:
    """The function role's inline policy `name`, as written (inside its Fn::If if any)."""
    for policy in resources[ROLE]["Properties"]["Policies"]:
        inner = policy["Fn::If"][1] if "Fn::If" in policy else policy
        if inner["PolicyName"] == name:
            return policy
    raise AssertionError(f"no role policy {name}")


def alarms(resources: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """Every CloudWatch alarm of the template, by logical id."""
    return {name: r for name, r in resources.items() if r["Type"] == ALARM_TYPE}


def alarm_metrics(alarm: dict[str, Any]) -> list[dict[str, Any]]:
    """The metrics an alarm watches: its single metric, or each MetricStat of its math."""
    properties = alarm["Properties"]
    if "MetricName" in properties:
        return [
            {
                "Namespace": properties["Namespace"],
                "MetricName": properties["MetricName"],
                "Dimensions": properties.get("Dimensions", []),
            }
        ]
    return [q["MetricStat"]["Metric"] for q in properties["Metrics"] if "MetricStat" in q]
