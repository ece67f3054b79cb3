"""The Amazon Route53 DNS provider.

Settings: `region` (default us-east-1), `endpointURL` (another endpoint, e.g. a moto server), `zones` (comma-separated
zone names to manage; default: every hosted zone of the account; a listed name with no hosted zone is not an error,
it is simply not there). Secret: `AWS_ACCESS_KEY_ID` with `AWS_SECRET_ACCESS_KEY` and optionally `AWS_SESSION_TOKEN`;
without them, boto3's default credential chain (environment, web identity / IRSA, instance profile).

Alias and routing-policy record sets are never returned by `records()` and so never changed (see
`records.record_from_route53`). The provider neither paces nor retries (botocore makes one attempt): dnslb's sync
loop paces every request of an account (its `account`: the access key, or the default credential chain) below
Route53's 5 requests per second, reads zones page by page, and backs off when throttled.
"""

from __future__ import annotations

from collections.abc import Mapping

from dnslb_route53.client import route53_client
from dnslb_route53.provider import LIMITS, Route53Provider

__all__ = ["LIMITS", "Route53Provider", "create"]


def create(settings: Mapping[str, str], secret: Mapping[str, str]) -> Route53Provider:
    zones = [z.strip() for z in settings.get("zones", "").split(",") if z.strip()]
    endpoint = settings.get("endpointURL") or "aws"
    account = f"{secret.get('AWS_ACCESS_KEY_ID') or 'default-credentials'}@{endpoint}"
    return Route53Provider(route53_client(settings, secret), zones, account)
