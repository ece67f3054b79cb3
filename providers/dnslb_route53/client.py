"""The boto3 Route53 client a DNSProvider's settings and Secret describe."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import boto3
from botocore.config import Config

from dnslb.provider import Unauthorized

DEFAULT_REGION = "us-east-1"

# dnslb's sync loop owns retries and backoff, so botocore makes one attempt per call. Not `max_attempts: 1`: that
# counts retries after the first attempt, so it would still retry once (after a sleep) on throttling and 5xx.
_CONFIG = Config(retries={"total_max_attempts": 1, "mode": "standard"}, connect_timeout=10, read_timeout=60)


def route53_client(settings: Mapping[str, str], secret: Mapping[str, str]) -> Any:
    """Explicit keys from the Secret when it has them, else boto3's default credential chain."""
    credentials: dict[str, str] = {}
    key_id, key = secret.get("AWS_ACCESS_KEY_ID"), secret.get("AWS_SECRET_ACCESS_KEY")
    if key_id or key:
        if not (key_id and key):
            missing = "AWS_SECRET_ACCESS_KEY" if key_id else "AWS_ACCESS_KEY_ID"
            raise Unauthorized(f"Route53: the provider's Secret has no {missing} to go with the other key")
        credentials = {"aws_access_key_id": key_id, "aws_secret_access_key": key}
        if secret.get("AWS_SESSION_TOKEN"):
            credentials["aws_session_token"] = secret["AWS_SESSION_TOKEN"]
    session = boto3.session.Session(region_name=settings.get("region") or DEFAULT_REGION, **credentials)
    return session.client("route53", endpoint_url=settings.get("endpointURL") or None, config=_CONFIG)
