"""AWS clients for the tool, from the same credentials and region the AWS CLI would use.

What the operator gave is checked before anything is sent, each problem an `OperatorError`: an
unknown profile, no region or one AWS does not have, a region the queue URL contradicts, no
credentials at all. `endpoint_url` points every client at another endpoint (a local moto server,
for a rehearsal); the region is then not checked against AWS's.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import TYPE_CHECKING

import boto3
from botocore.config import Config
from botocore.exceptions import BotoCoreError

from ops.errors import LOGIN_HINT, OperatorError, explain

if TYPE_CHECKING:
    from mypy_boto3_events import EventBridgeClient
    from mypy_boto3_sqs import SQSClient

# No retries inside botocore: after a lost answer it would resend a batch SQS may already hold.
# The tool retries itself, only what AWS said it did not take (ops/retrying.py). (`max_attempts`
# counts retries, not attempts: 1 was one retry; `total_max_attempts` counts the first call.)
CLIENT_CONFIG = Config(retries={"mode": "standard", "total_max_attempts": 1}, read_timeout=20)

# https://sqs.<region>.amazonaws.com/<account>/<name>, the legacy
# https://<region>.queue.amazonaws.com/..., and the .amazonaws.com.cn partition.
_QUEUE_URL_REGION = re.compile(
    r"^https://(?:sqs\.([a-z0-9-]+)|([a-z0-9-]+)\.queue)\.amazonaws\.com"
)


def session(
    profile: str | None,
    region: str | None,
    *queue_urls: str | None,
    endpoint_url: str | None = None,
) -> boto3.Session:
    """boto3's default chain (env, ~/.aws, SSO, instance role) under `profile`, in the region
    the queue URLs name, else `region`, else the profile's; checked as the module says."""
    try:
        found = boto3.Session(profile_name=profile)
    except BotoCoreError as exc:
        raise OperatorError(explain(exc, "the profile")) from None
    chosen = _region(region, queue_urls, found.region_name)
    if endpoint_url is None and chosen not in _aws_regions(found):
        raise OperatorError(
            f"unknown AWS region {chosen!r} (from --region, AWS_DEFAULT_REGION or the profile)"
        )
    found = boto3.Session(profile_name=profile, region_name=chosen)
    try:
        credentials = found.get_credentials()
    except BotoCoreError as exc:
        raise OperatorError(explain(exc, "the credentials")) from None
    if credentials is None:
        raise OperatorError(f"no AWS credentials found: {LOGIN_HINT}")
    return found


def _region(given: str | None, queue_urls: Sequence[str | None], configured: str | None) -> str:
    named = {url: found for url in queue_urls if url and (found := region_of_queue_url(url))}
    if len(set(named.values())) > 1:
        raise OperatorError(f"the queues are in different regions: {', '.join(named)}")
    from_urls = next(iter(named.values()), None)
    if given is not None and from_urls is not None and given != from_urls:
        raise OperatorError(f"--region {given} differs from the queue URL's region, {from_urls}")
    chosen = given or from_urls or configured
    if chosen is None:
        raise OperatorError("no AWS region: give --region (the queue URL names none)")
    return chosen


def _aws_regions(found: boto3.Session) -> set[str]:
    """Every region botocore knows SQS in, in every partition (commercial, China, GovCloud)."""
    return {
        region
        for partition in found.get_available_partitions()
        for region in found.get_available_regions("sqs", partition_name=partition)
    }


def region_of_queue_url(queue_url: str) -> str | None:
    """The region in an SQS queue URL, or None for another shape (a local endpoint)."""
    match = _QUEUE_URL_REGION.match(queue_url)
    return (match.group(1) or match.group(2)) if match else None


def sqs_client(aws: boto3.Session, endpoint_url: str | None = None) -> SQSClient:
    """An SQS client that never retries on its own."""
    return aws.client("sqs", config=CLIENT_CONFIG, endpoint_url=endpoint_url)


def events_client(aws: boto3.Session, endpoint_url: str | None = None) -> EventBridgeClient:
    """An EventBridge client that never retries on its own."""
    return aws.client("events", config=CLIENT_CONFIG, endpoint_url=endpoint_url)
