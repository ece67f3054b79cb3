"""What a webhook server's answer means for dnslb: the error class for an HTTP status or a failed exchange.

external-dns itself retries 500-510 on the next reconcile (`provider.NewSoftError`) and treats every other non-2xx
answer as permanent. dnslb separates more finely, because its sync loop reacts to each class differently:
429 is Throttled (with Retry-After), 401/403 Unauthorized, 408 and 500-510 Transient, 409 Conflict (a server that
checks what it replaces; the protocol names no status for it), any other 4xx Rejected (webhook servers explain a
refusal in a text body, which goes into the message), and whatever is left (3xx, 511+) a plain ProviderError: the
server is not answering the protocol.
"""

from __future__ import annotations

import email.utils
from datetime import UTC, datetime

import httpx

from dnslb.provider import Conflict, ProviderError, Rejected, Throttled, Transient, Unauthorized

_BODY_SHOWN = 500


def error_for_status(response: httpx.Response) -> ProviderError | None:
    """None for a 2xx answer; otherwise the error that says what went wrong."""
    status = response.status_code
    if 200 <= status < 300:
        return None
    message = _message(response)
    if status == 429:
        return Throttled(message, retry_after(response.headers.get("Retry-After")))
    if status in (401, 403):
        return Unauthorized(message)
    if status == 409:
        return Conflict(message)
    if status == 408 or 500 <= status <= 510:
        return Transient(message)
    if 400 <= status < 500:
        return Rejected(message)
    return ProviderError(message)


def error_for_exchange(request: httpx.Request, failure: httpx.HTTPError) -> ProviderError:
    """A request that got no answer: refused, reset, timed out. All may pass."""
    kind = "timed out" if isinstance(failure, httpx.TimeoutException) else "failed"
    return Transient(f"webhook {request.method} {request.url} {kind}: {failure or type(failure).__name__}")


def retry_after(header: str | None) -> float | None:
    """Seconds to wait from a Retry-After header: delay-seconds or an HTTP date; None when absent or unreadable."""
    if not header:
        return None
    if header.strip().isdigit():
        return float(header.strip())
    try:
        when = email.utils.parsedate_to_datetime(header)
    except (TypeError, ValueError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return max(0.0, (when - datetime.now(UTC)).total_seconds())


def _message(response: httpx.Response) -> str:
    request = response.request
    text = " ".join(response.text.split())
    if len(text) > _BODY_SHOWN:
        text = text[:_BODY_SHOWN] + "…"
    head = f"webhook {request.method} {request.url.path} answered {response.status_code} {response.reason_phrase}"
    return f"{head}: {text}" if text else head
