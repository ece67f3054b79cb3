"""The PowerDNS DNS provider: record sets through the PowerDNS Authoritative Server's HTTP API (api/v1).

Settings: `url` (the API's base URL, e.g. `http://127.0.0.1:8081`), `serverID` (default `localhost`), `zones`
(comma-separated zone names to manage; default every zone the server holds, secondaries excepted), `timeout` (seconds
per request, default 10). Secret: `apiKey`, sent as `X-API-Key`.

Every apply is one PATCH of the zone (REPLACE per created or updated record set, DELETE per deleted one), which
PowerDNS applies atomically. Creates and deletes are first checked against a fresh read of the zone (see
`preconditions`): PowerDNS itself would overwrite or remove whatever stands. The check and the PATCH are two requests,
so a change made between them by someone else is not seen; PowerDNS has no conditional PATCH.
"""

from __future__ import annotations

from collections.abc import Mapping

import httpx

from .api import PowerDNSAPI
from .provider import LIMITS, PowerDNSProvider
from .settings import PowerDNSSettings

__all__ = ["LIMITS", "PowerDNSProvider", "PowerDNSSettings", "create", "provider_for"]


def create(settings: Mapping[str, str], secret: Mapping[str, str]) -> PowerDNSProvider:
    return provider_for(PowerDNSSettings.parse(settings, secret))


def provider_for(settings: PowerDNSSettings, transport: httpx.BaseTransport | None = None) -> PowerDNSProvider:
    """A provider for checked settings; `transport` lets a caller observe or reroute its HTTP (tests do)."""
    client = httpx.Client(
        base_url=settings.url,
        headers={"X-API-Key": settings.api_key, "Accept": "application/json"},
        timeout=settings.timeout,
        transport=transport,
    )
    return PowerDNSProvider(PowerDNSAPI(client, settings.server_id), settings.zones)
