"""template.yaml keeps the deployment's promises: IAM on the API, one readable secret, no lost
async request, and the configuration the function reads. The bulk queue, the alarms, the
dashboard and deploys have their own files beside this one.

These tests read the YAML only. sam validate, cfn-lint, checkov and sam build need the tools
venv and take seconds: they run in `make check-template` (deploy.mk), not here.
"""

from __future__ import annotations

import ast
import re
from pathlib import Path
from typing import Any

import pytest

from cashout_cancel.credentials import extension
from cashout_cancel.credentials.sources import EXTENSION_MAX_SECONDS
from cashout_cancel.settings import ENV_NAMES
from tests.template.helpers import FUNCTION, actions, if_condition, role_policy

ROOT = Path(__file__).resolve().parents[2]
API_GATEWAY_INTEGRATION_TIMEOUT_S = 29
# What the Parameters and Secrets extension reads (the function reads the port too).
EXTENSION_SETTINGS = {
    extension.PORT_VARIABLE,
    "SECRETS_MANAGER_TIMEOUT_MILLIS",
    "SECRETS_MANAGER_TTL",
}
EXTENSION_MAX_TTL_S = 300  # the extension caps SECRETS_MANAGER_TTL at 5 minutes


# --- API -------------------------------------------------------------------------


def test_api_route_requires_iam_authorization(
    function: dict[str, Any], resources: dict[str, Any]
) -> None:
    event = function["Events"]["CancelApi"]

    assert event["Type"] == "Api"
    assert event["Properties"]["Path"] == "/cashouts/{cashout_id}/cancel"
    assert event["Properties"]["Method"].lower() == "post"
    assert event["Properties"]["Auth"]["Authorizer"] == "AWS_IAM"
    # Callers need execute-api:Invoke only, not lambda:InvokeFunction as well.
    assert event["Properties"]["Auth"]["InvokeRole"] == "NONE"
    api_id = event["Properties"]["RestApiId"]["Ref"]
    assert resources[api_id]["Properties"]["Auth"]["DefaultAuthorizer"] == "AWS_IAM"


def test_api_is_throttled_traced_and_access_logged(resources: dict[str, Any]) -> None:
    api = resources["CancelCashoutApi"]["Properties"]

    assert api["TracingEnabled"] is True
    settings = api["MethodSettings"][0]
    assert settings["ThrottlingRateLimit"] == {"Ref": "ApiThrottlingRateLimit"}
    assert settings["ThrottlingBurstLimit"] == {"Ref": "ApiThrottlingBurstLimit"}
    assert settings["DataTraceEnabled"] is False  # execution logs would record bodies
    log_group = api["AccessLogSetting"]["DestinationArn"]["Fn::GetAtt"][0]
    assert resources[log_group]["Type"] == "AWS::Logs::LogGroup"
    assert "$context.requestId" in api["AccessLogSetting"]["Format"]


# --- IAM -------------------------------------------------------------------------


MERCHANT_SECRETS_ARN = {
    "Fn::Sub": "arn:${AWS::Partition}:secretsmanager:${AWS::Region}:${AWS::AccountId}"
    ":secret:${MerchantSecretPrefix}*"
}


def test_function_may_read_only_its_own_secrets(
    statements: list[dict[str, Any]], function: dict[str, Any], resources: dict[str, Any]
) -> None:
    secret_statements = [
        s for s in statements if any(a.startswith("secretsmanager:") for a in actions(s))
    ]

    # The default secret, and the secrets under the merchant prefix (docs/contract.md section 11)
    assert [s["Resource"] for s in secret_statements] == [
        {"Ref": "D24SecretArn"},
        MERCHANT_SECRETS_ARN,
    ]
    assert all(actions(s) == ["secretsmanager:GetSecretValue"] for s in secret_statements)
    assert if_condition(role_policy(resources, "read-d24-secret")) == "HasDefaultSecret"
    assert function["Environment"]["Variables"]["D24_SECRET_ID"] == {"Ref": "D24SecretArn"}


def test_credentials_never_live_in_the_stack(
    template: dict[str, Any], resources: dict[str, Any]
) -> None:
    assert all(r["Type"] != "AWS::SecretsManager::Secret" for r in resources.values())
    secret = template["Parameters"]["D24SecretArn"]
    assert re.fullmatch(
        secret["AllowedPattern"], "arn:aws:secretsmanager:us-east-1:123456789012:secret:d24-AbCdEf"
    )
    assert not re.fullmatch(secret["AllowedPattern"], "cashout-cancel/d24")


# --- Several merchant accounts (docs/contract.md section 11) ------------------------------


def test_the_merchant_prefix_is_a_parameter_empty_by_default_passed_to_the_function(
    template: dict[str, Any], function: dict[str, Any]
) -> None:
    parameter = template["Parameters"]["MerchantSecretPrefix"]
    variables = function["Environment"]["Variables"]

    assert parameter["Default"] == ""
    assert variables["D24_MERCHANT_SECRET_PREFIX"] == {"Ref": "MerchantSecretPrefix"}
    assert template["Conditions"]["HasMerchantPrefix"] == {
        "Fn::Not": [{"Fn::Equals": [{"Ref": "MerchantSecretPrefix"}, ""]}]
    }


@pytest.mark.parametrize(
    ("prefix", "allowed"),
    [
        ("", True),
        ("cashout-cancel/d24/", True),
        ("d24/", True),
        ("cashout-cancel/d24", False),  # "prefix*" would also grant cashout-cancel/d24-other
        ("d24/*/", False),
        ("*", False),
        ("d24 /", False),
    ],
)
def test_the_merchant_prefix_ends_with_a_slash_and_holds_no_wildcard(
    template: dict[str, Any], prefix: str, allowed: bool
) -> None:
    pattern = template["Parameters"]["MerchantSecretPrefix"]["AllowedPattern"]

    assert bool(re.fullmatch(pattern, prefix)) is allowed


def test_the_secrets_under_the_prefix_are_readable_only_with_a_prefix(
    resources: dict[str, Any],
) -> None:
    policy = role_policy(resources, "read-merchant-secrets")

    # An empty prefix (the default) grants no secret beyond the default one
    assert if_condition(policy) == "HasMerchantPrefix"
    assert policy["Fn::If"][2] == {"Ref": "AWS::NoValue"}
    (statement,) = policy["Fn::If"][1]["PolicyDocument"]["Statement"]
    assert actions(statement) == ["secretsmanager:GetSecretValue"]
    assert statement["Resource"] == MERCHANT_SECRETS_ARN


def test_the_default_secret_is_optional_only_with_a_merchant_prefix(
    template: dict[str, Any],
) -> None:
    secret = template["Parameters"]["D24SecretArn"]
    (rule,) = template["Rules"].values()
    (assertion,) = rule["Assertions"]

    assert secret["Default"] == ""
    assert re.fullmatch(secret["AllowedPattern"], "")
    assert template["Conditions"]["HasDefaultSecret"] == {
        "Fn::Not": [{"Fn::Equals": [{"Ref": "D24SecretArn"}, ""]}]
    }
    assert assertion["Assert"] == {
        "Fn::Or": [
            {"Fn::Not": [{"Fn::Equals": [{"Ref": "D24SecretArn"}, ""]}]},
            {"Fn::Not": [{"Fn::Equals": [{"Ref": "MerchantSecretPrefix"}, ""]}]},
        ]
    }


def test_only_actions_without_resource_level_permissions_use_a_wildcard(
    statements: list[dict[str, Any]],
) -> None:
    eni_actions = {
        "ec2:CreateNetworkInterface",
        "ec2:DescribeNetworkInterfaces",
        "ec2:DescribeSubnets",
        "ec2:DeleteNetworkInterface",
        "ec2:AssignPrivateIpAddresses",
        "ec2:UnassignPrivateIpAddresses",
    }
    wildcard_actions = {action for s in statements if s["Resource"] == "*" for action in actions(s)}

    assert wildcard_actions <= {"xray:PutTraceSegments", "xray:PutTelemetryRecords"} | eni_actions
    assert all("*" not in action for s in statements for action in actions(s))


def test_vpc_attachment_and_its_permissions_only_with_vpc_parameters(
    function: dict[str, Any], resources: dict[str, Any]
) -> None:
    assert if_condition(function["VpcConfig"]) == "HasVpc"
    assert if_condition(role_policy(resources, "vpc-network-interfaces")) == "HasVpc"


def test_kms_decrypt_only_for_a_given_key_and_through_secrets_manager(
    resources: dict[str, Any],
) -> None:
    policy = role_policy(resources, "decrypt-d24-secret")

    assert if_condition(policy) == "HasSecretKmsKey"
    (statement,) = policy["Fn::If"][1]["PolicyDocument"]["Statement"]
    assert actions(statement) == ["kms:Decrypt"]
    assert statement["Resource"] == {"Ref": "D24SecretKmsKeyArn"}
    assert "kms:ViaService" in statement["Condition"]["StringEquals"]


def test_function_writes_logs_only_to_its_own_log_group(
    statements: list[dict[str, Any]], function: dict[str, Any]
) -> None:
    log_statements = [s for s in statements if any(a.startswith("logs:") for a in actions(s))]

    log_group = function["LoggingConfig"]["LogGroup"]["Ref"]
    assert [s["Resource"] for s in log_statements] == [{"Fn::GetAtt": [log_group, "Arn"]}]


# --- Events and async failures ----------------------------------------------------------


def test_rule_forwards_only_cancel_requested_events_from_the_configured_bus(
    function: dict[str, Any],
) -> None:
    rule = function["Events"]["CancelRequested"]

    assert rule["Type"] == "EventBridgeRule"
    assert rule["Properties"]["EventBusName"] == {"Ref": "EventBusName"}
    assert rule["Properties"]["Pattern"] == {"detail-type": ["Cashout Cancel Requested"]}


def test_failed_async_invocations_go_to_the_failure_queue_and_nothing_on_success(
    function: dict[str, Any],
) -> None:
    config = function["EventInvokeConfig"]
    destinations = config["DestinationConfig"]

    assert config["MaximumRetryAttempts"] == 2
    assert config["MaximumEventAgeInSeconds"] == 3600
    assert destinations["OnFailure"] == {
        "Type": "SQS",
        "Destination": {"Fn::GetAtt": ["FailureQueue", "Arn"]},
    }
    # The function publishes each result itself (docs/contract.md section 10): one event, not two.
    assert "OnSuccess" not in destinations


def test_role_may_send_failures_to_the_failure_queue_only(
    statements: list[dict[str, Any]], function: dict[str, Any]
) -> None:
    failure_queue = function["EventInvokeConfig"]["DestinationConfig"]["OnFailure"]["Destination"]
    senders = [s for s in statements if "sqs:SendMessage" in actions(s)]

    assert [s["Resource"] for s in senders] == [failure_queue]


def test_failure_queue_is_encrypted_and_keeps_messages_14_days(resources: dict[str, Any]) -> None:
    queue = resources["FailureQueue"]["Properties"]

    assert queue.get("SqsManagedSseEnabled") is True or "KmsMasterKeyId" in queue
    assert queue["MessageRetentionPeriod"] == 14 * 24 * 3600


def test_undeliverable_events_reach_the_failure_queue(
    function: dict[str, Any], resources: dict[str, Any]
) -> None:
    rule = function["Events"]["CancelRequested"]["Properties"]
    (statement,) = resources["FailureQueuePolicy"]["Properties"]["PolicyDocument"]["Statement"]

    assert rule["DeadLetterConfig"]["Arn"] == {"Fn::GetAtt": ["FailureQueue", "Arn"]}
    assert statement["Principal"] == {"Service": "events.amazonaws.com"}
    assert "aws:SourceArn" in statement["Condition"]["ArnEquals"]  # only our rule may send


# --- Function ----------------------------------------------------------------------------


def test_runtime_is_python_3_12_or_newer_on_arm64(function: dict[str, Any]) -> None:
    runtime = re.fullmatch(r"python3\.(\d+)", function["Runtime"])

    assert runtime is not None
    assert int(runtime.group(1)) >= 12
    assert function["Architectures"] == ["arm64"]


def test_handler_is_the_packaged_lambda_handler(function: dict[str, Any]) -> None:
    module, name = function["Handler"].rsplit(".", 1)
    source = ROOT / function["CodeUri"] / (module.replace(".", "/") + ".py")

    assert function["CodeUri"].rstrip("/") == "src"
    tree = ast.parse(source.read_text())
    defined = {
        node.name for node in tree.body if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef)
    } | {
        target.id
        for node in tree.body
        if isinstance(node, ast.Assign)
        for target in node.targets
        if isinstance(target, ast.Name)
    }
    assert name in defined


def test_environment_carries_the_contract_settings(function: dict[str, Any]) -> None:
    variables = function["Environment"]["Variables"]

    assert {"D24_SECRET_ID", "D24_BASE_URL", "D24_TIMEOUT_SECONDS"} <= variables.keys()
    assert variables["D24_BASE_URL"] == {"Ref": "D24BaseUrl"}
    assert variables["POWERTOOLS_SERVICE_NAME"] == "cashout-cancel"
    assert variables["POWERTOOLS_METRICS_NAMESPACE"] == {"Ref": "MetricsNamespace"}
    assert variables["POWERTOOLS_LOG_LEVEL"] == {"Ref": "LogLevel"}
    # Every other variable is one the function or the secrets extension reads: no typo silently
    # falls back to a default.
    own = {name for name in variables if not name.startswith("POWERTOOLS_")}
    assert own <= set(ENV_NAMES) | EXTENSION_SETTINGS


def test_base_url_defaults_to_staging_and_allows_production(template: dict[str, Any]) -> None:
    parameter = template["Parameters"]["D24BaseUrl"]

    assert parameter["Default"] == "https://api-stg.directa24.com/v3"
    assert set(parameter["AllowedValues"]) == {
        "https://api-stg.directa24.com/v3",
        "https://api.directa24.com/v3",
    }


def test_tracing_is_active(function: dict[str, Any], statements: list[dict[str, Any]]) -> None:
    assert function["Tracing"] == "Active"
    assert any("xray:PutTraceSegments" in actions(s) for s in statements)


def test_timeout_leaves_the_api_the_functions_own_answer(function: dict[str, Any]) -> None:
    variables = function["Environment"]["Variables"]
    one_attempt_s = float(variables["D24_CONNECT_TIMEOUT_SECONDS"]) + float(
        variables["D24_TIMEOUT_SECONDS"]
    )
    margin_s = float(variables["DEADLINE_MARGIN_MS"]) / 1000

    assert function["Timeout"] < API_GATEWAY_INTEGRATION_TIMEOUT_S
    # Room for two full attempts, so a retry is always possible within the deadline.
    assert function["Timeout"] >= 2 * one_attempt_s + margin_s


def test_concurrency_and_log_retention_come_from_parameters(
    function: dict[str, Any], resources: dict[str, Any]
) -> None:
    assert function["ReservedConcurrentExecutions"] == {"Ref": "ReservedConcurrency"}
    log_groups = [r for r in resources.values() if r["Type"] == "AWS::Logs::LogGroup"]
    assert len(log_groups) == 2
    retention = {"Ref": "LogRetentionDays"}
    assert all(g["Properties"]["RetentionInDays"] == retention for g in log_groups)


def test_snapstart_is_a_switch_and_callers_use_the_published_alias(
    template: dict[str, Any], function: dict[str, Any]
) -> None:
    parameter = template["Parameters"]["SnapStart"]

    assert parameter["Default"] == "None"
    assert set(parameter["AllowedValues"]) == {"None", "PublishedVersions"}
    assert function["SnapStart"] == {"ApplyOn": {"Ref": "SnapStart"}}
    assert function["AutoPublishAlias"] == "live"
    assert function["AutoPublishAliasAllProperties"] is True


# --- The secrets extension (docs/contract.md section 5, "Cold starts") ------------------


def test_secrets_extension_layer_is_attached_by_default_through_a_parameter(
    template: dict[str, Any], function: dict[str, Any]
) -> None:
    parameter = template["Parameters"]["SecretsExtensionLayerArn"]
    pattern = parameter["AllowedPattern"]

    # The default is one region's arm64 layer; another region's is accepted, and so is empty
    assert re.fullmatch(pattern, parameter["Default"])
    assert ":layer:AWS-Parameters-and-Secrets-Lambda-Extension-Arm64:" in parameter["Default"]
    eu_west_1 = "arn:aws:lambda:eu-west-1:015030872274:layer:"
    assert re.fullmatch(pattern, eu_west_1 + "AWS-Parameters-and-Secrets-Lambda-Extension-Arm64:11")
    assert re.fullmatch(pattern, "")
    # ...but not the x86_64 layer: the function runs on arm64
    assert not re.fullmatch(pattern, eu_west_1 + "AWS-Parameters-and-Secrets-Lambda-Extension:11")
    assert function["Architectures"] == ["arm64"]
    assert function["Layers"] == {
        "Fn::If": ["UsesSecretsExtension", [{"Ref": "SecretsExtensionLayerArn"}], NO_VALUE]
    }


@pytest.mark.parametrize(
    ("layer", "snapstart", "attached"),
    [
        ("default", "None", True),
        ("", "None", False),  # turned off
        ("default", "PublishedVersions", False),  # SnapStart: no session token, no extension
        ("", "PublishedVersions", False),
    ],
)
def test_the_layer_is_left_off_when_empty_or_under_snapstart(
    template: dict[str, Any], layer: str, snapstart: str, attached: bool
) -> None:
    default = template["Parameters"]["SecretsExtensionLayerArn"]["Default"]
    parameters = {
        "SecretsExtensionLayerArn": default if layer == "default" else layer,
        "SnapStart": snapstart,
    }

    condition = template["Conditions"]["UsesSecretsExtension"]
    assert evaluate(condition, parameters) is attached


def test_extension_settings_fit_the_functions_own(function: dict[str, Any]) -> None:
    variables = function["Environment"]["Variables"]

    # The port the extension listens on is the one the function asks, from the same variable
    assert variables[extension.PORT_VARIABLE] == str(extension.DEFAULT_PORT)
    # Its own Secrets Manager timeout is set (its default, 0, waits forever) and shorter than
    # the function's wait for it, so that it answers an error rather than the function giving up
    timeout_ms = int(variables["SECRETS_MANAGER_TIMEOUT_MILLIS"])
    assert 0 < timeout_ms < EXTENSION_MAX_SECONDS * 1000
    # Its cache is no longer than the function's, and within its own cap
    ttl_s = int(variables["SECRETS_MANAGER_TTL"])
    assert 0 < ttl_s <= min(EXTENSION_MAX_TTL_S, int(variables["SECRET_CACHE_TTL_SECONDS"]))


NO_VALUE = {"Ref": "AWS::NoValue"}


def evaluate(condition: Any, parameters: dict[str, str]) -> Any:
    """A condition's value for the given parameter values (Fn::And, Or, Not, Equals and Ref)."""
    if isinstance(condition, str):
        return condition
    [(function, argument)] = condition.items()
    if function == "Ref":
        return parameters[argument]
    values = [evaluate(item, parameters) for item in argument]
    if function == "Fn::Equals":
        return values[0] == values[1]
    if function == "Fn::Not":
        return not values[0]
    if function == "Fn::And":
        return all(values)
    assert function == "Fn::Or", function
    return any(values)


# --- Outputs and build -------------------------------------------------------------------


def test_outputs_give_api_url_function_queues_and_rule(template: dict[str, Any]) -> None:
    outputs = template["Outputs"]

    assert {
        "ApiUrl",
        "FunctionArn",
        "FailureQueueUrl",
        "CancelQueueUrl",
        "CancelDeadLetterQueueUrl",
        "CancelRequestedRuleArn",
    } <= outputs.keys()
    assert "/cashouts/{cashout_id}/cancel" in outputs["ApiUrl"]["Value"]["Fn::Sub"]


def test_sam_build_runs_the_make_target_from_the_project_root(
    resources: dict[str, Any],
) -> None:
    metadata = resources[FUNCTION]["Metadata"]

    assert metadata["BuildMethod"] == "makefile"
    assert metadata["ContextPath"] == metadata["WorkingDirectory"] == "."
    assert re.search(r"^-?include .*deploy\.mk$", (ROOT / "Makefile").read_text(), re.MULTILINE)
    assert re.search(rf"^build-{FUNCTION}:", (ROOT / "deploy.mk").read_text(), re.MULTILINE)


def test_template_linters_run_in_make_not_in_pytest() -> None:
    recipe = re.search(
        r"^check-template:.*\n((?:\t.*\n)+)", (ROOT / "deploy.mk").read_text(), re.MULTILINE
    )

    assert recipe is not None
    commands = recipe.group(1)
    for tool in (
        "$(SAM) validate --lint",
        "scripts/check_transformed_template.py",
        "cfn-lint template.yaml",
        "checkov",
        "$(SAM) build",
    ):
        assert tool in commands


def test_local_tools_run_the_function_with_the_templates_environment(
    function: dict[str, Any],
) -> None:
    from local.function_env import FUNCTION_ENV

    variables = function["Environment"]["Variables"]
    literal = {name: value for name, value in variables.items() if isinstance(value, str)}
    assert literal == FUNCTION_ENV
