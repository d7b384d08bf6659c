"""The function's environment as template.yaml deploys it, for the local tools that run the
handler as Lambda would (`make api`, `make bench`). A test holds it equal to the template."""

from __future__ import annotations

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
