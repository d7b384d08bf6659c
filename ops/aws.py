"""AWS clients for the tools, from the same credentials and region the AWS CLI would use."""

from __future__ import annotations

import re
from typing import TYPE_CHECKING

import boto3
from botocore.config import Config

if TYPE_CHECKING:
    from mypy_boto3_events import EventBridgeClient
    from mypy_boto3_sqs import SQSClient

# No retries inside botocore: after a lost answer it would resend a batch SQS may already hold.
# The tools retry themselves, only what AWS said it did not take (ops/retrying.py).
CLIENT_CONFIG = Config(retries={"mode": "standard", "max_attempts": 1}, read_timeout=20)

# https://sqs.<region>.amazonaws.com/<account>/<name> (and the .amazonaws.com.cn partition).
_QUEUE_URL_REGION = re.compile(r"^https://sqs\.([a-z0-9-]+)\.amazonaws\.com")


def session(profile: str | None, region: str | None, queue_url: str | None = None) -> boto3.Session:
    """boto3's default chain (env, ~/.aws, SSO, instance role), with the region from the queue
    URL when neither `region` nor the profile names one."""
    found = boto3.Session(profile_name=profile, region_name=region)
    if found.region_name is None and queue_url is not None:
        queue_region = region_of_queue_url(queue_url)
        if queue_region is not None:
            found = boto3.Session(profile_name=profile, region_name=queue_region)
    return found


def region_of_queue_url(queue_url: str) -> str | None:
    """The region in an SQS queue URL, or None for another shape (a local endpoint)."""
    match = _QUEUE_URL_REGION.match(queue_url)
    return match.group(1) if match else None


def sqs_client(aws: boto3.Session) -> SQSClient:
    """An SQS client that never retries on its own."""
    return aws.client("sqs", config=CLIENT_CONFIG)


def events_client(aws: boto3.Session) -> EventBridgeClient:
    """An EventBridge client that never retries on its own."""
    return aws.client("events", config=CLIENT_CONFIG)
