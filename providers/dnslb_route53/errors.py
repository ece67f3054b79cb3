"""botocore's exceptions as dnslb's provider errors: throttled, transient, rejected or unauthorized."""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from typing import Any

from botocore import exceptions as botocore_errors
from botocore.exceptions import BotoCoreError, ClientError
from botocore.parsers import ResponseParserError

from dnslb.provider import Conflict, ProviderError, Rejected, Throttled, Transient, Unauthorized

THROTTLING_CODES = frozenset(
    {"Throttling", "ThrottlingException", "PriorRequestNotComplete", "TooManyRequestsException", "RequestLimitExceeded"}
)
UNAUTHORIZED_CODES = frozenset(
    {
        "AccessDenied",
        "AccessDeniedException",
        "InvalidClientTokenId",
        "SignatureDoesNotMatch",
        "UnrecognizedClientException",
        "InvalidAccessKeyId",
        "ExpiredToken",
        "ExpiredTokenException",
        "MissingAuthenticationToken",
        "IncompleteSignature",
    }
)
# what InvalidChangeBatch says when a conditional change found the zone not as it expected
CONFLICT_MESSAGES = ("but it already exists", "but it was not found", "do not match the current values")
# 4xx codes that mean "try again later", not "this request is wrong"
TRANSIENT_CODES = frozenset({"RequestTimeout", "RequestTimeoutException", "ServiceUnavailable", "InternalFailure"})

_TOO_MANY_REQUESTS = 429
_UNAUTHORIZED_STATUSES = (401, 403)
_SERVER_ERRORS = 500


@contextmanager
def route53_errors(doing: str) -> Iterator[None]:
    """Raise what botocore raises inside as a ProviderError whose message starts with `doing`."""
    try:
        yield
    except (ClientError, BotoCoreError, ResponseParserError) as error:
        raise provider_error(error, doing) from error


def provider_error(error: ClientError | BotoCoreError | ResponseParserError, doing: str) -> ProviderError:
    if isinstance(error, ClientError):
        return _from_response(error.response, doing)
    message = f"Route53: {doing} failed: {error}"
    # an unparsable answer is most likely a proxy's or a truncated one
    if isinstance(error, botocore_errors.ConnectionError | botocore_errors.HTTPClientError | ResponseParserError):
        return Transient(message)
    if isinstance(error, botocore_errors.NoCredentialsError | botocore_errors.PartialCredentialsError):
        return Unauthorized(message)
    if isinstance(error, botocore_errors.ParamValidationError):
        return Rejected(message)
    return ProviderError(message)


def _from_response(response: Mapping[str, Any], doing: str) -> ProviderError:
    details = response.get("Error", {})
    metadata = response.get("ResponseMetadata", {})
    code = str(details.get("Code", ""))
    status = int(metadata.get("HTTPStatusCode") or 0)
    message = f"Route53: {doing} failed: {code or 'HTTP ' + str(status)}: {details.get('Message') or 'no message'}"
    if code in THROTTLING_CODES or status == _TOO_MANY_REQUESTS:
        return Throttled(message, _retry_after(metadata.get("HTTPHeaders", {})))
    if code in UNAUTHORIZED_CODES or status in _UNAUTHORIZED_STATUSES:
        return Unauthorized(message)
    if code in TRANSIENT_CODES or status >= _SERVER_ERRORS or status == 0:
        return Transient(message)
    if code == "InvalidChangeBatch" and any(m in message for m in CONFLICT_MESSAGES):
        return Conflict(message)
    return Rejected(message)


def _retry_after(headers: Mapping[str, str]) -> float | None:
    try:
        return max(0.0, float(headers.get("retry-after", "")))
    except ValueError:
        return None
