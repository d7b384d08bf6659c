"""What SAM makes of template.yaml: checks on the transformed template (run by check-template).

`sam validate` says the template is valid, not that SAM wired it as meant. This transforms it
with SAM's own translator (in .venv-tools; no AWS account: the one managed policy SAM looks up
is given) and checks what only the transformed template shows:
- every event source mapping and the EventBridge rule invoke the `live` alias, not $LATEST, so a
  canary deploy shifts every caller and SnapStart covers them all;
- the asynchronous invocation config is on the alias and has no on-success destination;
- CodeDeploy's deployment group rolls back on the alarms named in DeploymentPreference;
- the function's role is exactly the one written out: SAM added no policy to it.
Prints one line per check; exit status 1 when any fails.
"""

from __future__ import annotations

import logging
import sys
from pathlib import Path
from typing import Any

from samtranslator.translator.transform import transform
from samtranslator.yaml_helper import yaml_parse

TEMPLATE = Path(__file__).resolve().parent.parent / "template.yaml"
FUNCTION = "CancelCashoutFunction"
CODE_DEPLOY_POLICY = "arn:aws:iam::aws:policy/service-role/AWSCodeDeployRoleForLambda"


class _ManagedPolicies:
    """SAM's managed-policy loader, without calling IAM."""

    def load(self) -> dict[str, str]:
        return {"AWSCodeDeployRoleForLambda": CODE_DEPLOY_POLICY}


def transformed() -> dict[str, Any]:
    """The template as CloudFormation receives it from SAM (CodeUri as if uploaded)."""
    source: dict[str, Any] = yaml_parse(TEMPLATE.read_text(encoding="utf-8"))
    source["Resources"][FUNCTION]["Properties"]["CodeUri"] = "s3://bucket/key"
    result: dict[str, Any] = transform(source, {}, _ManagedPolicies())
    return result


def checks(source: dict[str, Any], resources: dict[str, Any]) -> list[tuple[str, bool]]:
    """(description, passed) for each promise above."""
    (alias,) = [k for k, r in resources.items() if r["Type"] == "AWS::Lambda::Alias"]
    alias_ref = {"Ref": alias}
    mappings = [r for r in resources.values() if r["Type"] == "AWS::Lambda::EventSourceMapping"]
    rules = [r for r in resources.values() if r["Type"] == "AWS::Events::Rule"]
    (invoke_config,) = [
        r for r in resources.values() if r["Type"] == "AWS::Lambda::EventInvokeConfig"
    ]
    (group,) = [r for r in resources.values() if r["Type"] == "AWS::CodeDeploy::DeploymentGroup"]
    preference = source["Resources"][FUNCTION]["Properties"]["DeploymentPreference"]
    role = source["Resources"][FUNCTION]["Properties"]["Role"]["Fn::GetAtt"][0]
    return [
        (f"alias {resources[alias]['Properties']['Name']} exists", True),
        (
            f"{len(mappings)} event source mapping(s) invoke the alias",
            bool(mappings) and all(m["Properties"]["FunctionName"] == alias_ref for m in mappings),
        ),
        (
            "the EventBridge rule invokes the alias",
            all(t["Arn"] == alias_ref for r in rules for t in r["Properties"]["Targets"]),
        ),
        (
            "async config is on the alias, with no on-success destination",
            invoke_config["Properties"]["Qualifier"] == resources[alias]["Properties"]["Name"]
            and "OnSuccess" not in invoke_config["Properties"]["DestinationConfig"],
        ),
        (
            "CodeDeploy rolls back on DeploymentPreference's alarms",
            group["Properties"]["AlarmConfiguration"]["Alarms"]
            == [{"Name": ref} for ref in preference["Alarms"]]
            and "DEPLOYMENT_STOP_ON_ALARM"
            in group["Properties"]["AutoRollbackConfiguration"]["Events"],
        ),
        (
            "SAM added nothing to the function's role",
            resources[role]["Properties"] == source["Resources"][role]["Properties"],
        ),
    ]


def main() -> int:
    """Print each check; 0 when all pass."""
    logging.getLogger("samtranslator").setLevel(logging.ERROR)  # notes on its feature toggles
    source = yaml_parse(TEMPLATE.read_text(encoding="utf-8"))
    results = checks(source, transformed()["Resources"])
    for description, passed in results:
        print(f"{'ok  ' if passed else 'FAIL'} {description}")
    return 0 if all(passed for _, passed in results) else 1


if __name__ == "__main__":
    sys.exit(main())
