"""PowerDNS API failures as dnslb's provider errors: what to retry, what to slow down for, what to give up on."""

from __future__ import annotations

import email.utils
import time

import httpx

from dnslb.provider import ProviderError, Rejected, Throttled, Transient, Unauthorized


def error_for_response(response: httpx.Response, doing: str) -> ProviderError:
    status = response.status_code
    message = f"PowerDNS {doing}: HTTP {status}: {server_error_text(response)}"
    if status in (401, 403):
        return Unauthorized(message)
    if status == 429:
        return Throttled(message, retry_after_seconds(response.headers.get("Retry-After")))
    if status >= 500 or status == 408:
        return Transient(message)
    return Rejected(message)


def error_for_transport(error: httpx.RequestError, doing: str) -> Transient:
    return Transient(f"PowerDNS {doing}: {type(error).__name__}: {error or 'no detail'}")


def server_error_text(response: httpx.Response) -> str:
    """PowerDNS's `error` field where it sends JSON; its plain-text reason otherwise (e.g. 401, 404, 400)."""
    try:
        document = response.json()
    except ValueError:
        document = None
    if isinstance(document, dict) and isinstance(document.get("error"), str):
        return str(document["error"])
    return response.text.strip()[:500] or response.reason_phrase


def retry_after_seconds(header: str | None) -> float | None:
    """Retry-After as seconds from now: delta-seconds or an HTTP date (RFC 9110 §10.2.3)."""
    if not header:
        return None
    try:
        return max(0.0, float(header))
    except ValueError:
        pass
    try:
        when = email.utils.parsedate_to_datetime(header)
    except (TypeError, ValueError):
        return None
    return max(0.0, when.timestamp() - time.time())
