"""The webhook DNS provider: any DNS service that has an external-dns webhook server (the sidecar protocol of
external-dns's `--provider=webhook`, version 1) becomes a dnslb provider, with no code for that service here.

Settings:
- `url` (required): the webhook server, e.g. `http://127.0.0.1:8888` (a path prefix is kept);
- `zones` (optional, comma-separated): the zones to manage; by default the domains the server's domain filter
  includes (`GET /`). A server that filters by regular expression only must be given `zones`;
- `timeout` (optional, seconds, default 10): for each request.
No secret is needed: the protocol has no authentication (the server listens on localhost, as a sidecar).

Mapping: `zones()` negotiates (`GET /`); `records(zone)` is `GET /records` cut down to the zone; `apply(zone, changes)`
is one `POST /records` (create → create, update → updateOld + updateNew, delete → delete; a require sends nothing).
`adjust()` offers `POST /adjustendpoints` but the sync loop does not call it (see `WebhookProvider.adjust`). Targets
are kept as the server spelled them (`exact`) and sent so in deletes, updateOld and restores.

Conditional writes, and where they stop: the protocol has no conditions (a server may apply a create over what
stands, or an update whatever its updateOld says), and no read of a few names. So every apply first reads
`GET /records` and checks each change against it, require included: a create only where nothing of that name and type
stands, an update only while its record set stands as `previous`, a delete or require only while it stands as named.
A change that does not match is a `Conflict` and nothing is sent; a server that checks too may answer 409, also a
`Conflict`. The read and the POST are two requests: what someone else changes between the read's answer and the POST
is not seen by the check (only by a server that checks itself). Measured against the test server on localhost (200
applies each), from the read's answer to the POST being sent: 0.3 ms median and 2 ms p99 with a nearly empty
listing; 12-16 ms median and 32-47 ms p99 with 1,000 record sets, most of it parsing the listing. Add the server's
time to answer the read and apply the POST. The read costs a full listing per apply.

Limits: the protocol declares none. A request body is kept under 512 KiB (`client.MAX_BODY_BYTES`): the cost of a
change is the exact size of the endpoints it adds to the body; there is no limit on changes or values.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Mapping
from urllib.parse import urlsplit

from dnslb.provider import ProviderError
from dnslb_webhook.client import LIMITS, MAX_BODY_BYTES, WebhookProvider

__all__ = ["LIMITS", "MAX_BODY_BYTES", "WebhookProvider", "create"]

log = logging.getLogger(__name__)


def create(settings: Mapping[str, str], secret: Mapping[str, str]) -> WebhookProvider:
    url = settings.get("url", "").strip()
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ProviderError(f"webhook provider needs settings.url, an http(s) URL of the webhook server (got {url!r})")
    if secret:
        log.warning("the webhook protocol has no credentials; ignoring secret keys %s", ", ".join(sorted(secret)))
    zones = [z for z in settings.get("zones", "").split(",") if z.strip()]
    return WebhookProvider(url, zones, _timeout(settings.get("timeout", "10")))


def _timeout(text: str) -> float:
    try:
        seconds = float(text)
    except ValueError:
        seconds = 0.0
    if not (seconds > 0 and math.isfinite(seconds)):
        raise ProviderError(f"webhook provider settings.timeout must be a positive number of seconds (got {text!r})")
    return seconds
