"""Cancel through the IAM-protected API: sign the request with SigV4 (service execute-api).

The caller's role needs only `execute-api:Invoke` on the route. API Gateway answers the
function's result as the body and its statusCode as the HTTP status; an unsigned or wrongly
signed request gets API Gateway's own 403 before the function runs.
"""

from __future__ import annotations

import json
from typing import Any

import requests
from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials


def cancel_cashout(
    api_url: str, cashout_id: int, external_id: str, credentials: Credentials, region: str
) -> tuple[int, dict[str, Any]]:
    """POST {api_url}/cashouts/{cashout_id}/cancel, SigV4-signed; the status and the result.

    `api_url` is the stack's ApiUrl output up to the stage, e.g.
    https://abc123.execute-api.us-east-1.amazonaws.com/v1
    """
    request = signed_request(api_url, cashout_id, external_id, credentials, region)
    # The function answers within 20 s; API Gateway's own limit is 29 s.
    response = requests.post(
        str(request.url), data=request.body, headers=dict(request.headers), timeout=(5, 30)
    )
    return response.status_code, response.json()


def signed_request(
    api_url: str, cashout_id: int, external_id: str, credentials: Credentials, region: str
) -> AWSRequest:
    """The cancel request with its SigV4 Authorization, X-Amz-Date (and token) headers."""
    url = f"{api_url.rstrip('/')}/cashouts/{cashout_id}/cancel"
    body = json.dumps({"external_id": external_id})
    request = AWSRequest("POST", url, data=body, headers={"Content-Type": "application/json"})
    SigV4Auth(credentials, "execute-api", region).add_auth(request)
    return request


if __name__ == "__main__":  # python -m examples.call_api_sigv4 API_URL CASHOUT_ID EXTERNAL_ID
    import sys

    import boto3

    session = boto3.Session()
    credentials = session.get_credentials()
    if credentials is None:
        sys.exit("no AWS credentials found (the AWS CLI's chain: environment, profile, role)")
    status, result = cancel_cashout(
        sys.argv[1], int(sys.argv[2]), sys.argv[3], credentials, session.region_name
    )
    print(status, json.dumps(result, indent=2))
