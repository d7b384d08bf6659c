"""The function's environment in every local run, built one way: template.yaml's values (a test
holds FUNCTION_ENV equal to them), then the caller's own settings, then the local services."""

from __future__ import annotations

import os

from local.lambda_context import REGION

# The template's literal values; the secret, the base URL, the results bus, the namespace and the
# log level come from its parameters and are set by each tool.
FUNCTION_ENV: dict[str, str] = {
    "D24_TIMEOUT_SECONDS": "5",
    "D24_CONNECT_TIMEOUT_SECONDS": "2",
    "D24_MAX_ATTEMPTS": "3",
    "SECRET_CACHE_TTL_SECONDS": "300",
    "DEADLINE_MARGIN_MS": "500",
    "BULK_CONCURRENCY": "8",
    "PARAMETERS_SECRETS_EXTENSION_HTTP_PORT": "2773",
    "SECRETS_MANAGER_TIMEOUT_MILLIS": "800",
    "SECRETS_MANAGER_TTL": "300",
    "POWERTOOLS_SERVICE_NAME": "cashout-cancel",
}


def function_environment(
    *,
    d24_base_url: str,
    secret_id: str,
    results_event_bus: str,
    merchant_secret_prefix: str | None = None,
    aws_endpoint_url: str,
    log_level: str = "INFO",
) -> dict[str, str]:
    """The function's variables against the given services. The caller's settings win over the
    template's, so a bad one is refused as deployed. No tracing; dummy credentials only."""
    from cashout_cancel.settings import ENV_NAMES  # here: the cold-start child must not load it

    caller = {name: os.environ[name] for name in ENV_NAMES if name in os.environ}
    caller.pop("D24_MERCHANT_SECRET_PREFIX", None)  # the local services' accounts only
    return {
        **FUNCTION_ENV,
        **caller,
        "D24_SECRET_ID": secret_id,
        "D24_BASE_URL": d24_base_url,
        "RESULTS_EVENT_BUS": results_event_bus,
        "POWERTOOLS_METRICS_NAMESPACE": "CashoutCancelLocal",
        "POWERTOOLS_LOG_LEVEL": log_level,
        "POWERTOOLS_TRACE_DISABLED": "true",
        "AWS_ENDPOINT_URL": aws_endpoint_url,
        "AWS_DEFAULT_REGION": REGION,
        "AWS_ACCESS_KEY_ID": "local",
        "AWS_SECRET_ACCESS_KEY": "local",
        "AWS_CONFIG_FILE": os.devnull,
        "AWS_SHARED_CREDENTIALS_FILE": os.devnull,
    } | ({"D24_MERCHANT_SECRET_PREFIX": merchant_secret_prefix} if merchant_secret_prefix else {})
