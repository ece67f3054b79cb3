"""The PowerDNS DNS provider: record sets through the PowerDNS Authoritative Server's HTTP API (api/v1).

Settings: `url` (the API's base URL, e.g. `http://127.0.0.1:8081`), `serverID` (default `localhost`), `zones`
(comma-separated zone names to manage; default every zone the server holds, secondaries excepted), `timeout` (seconds
per request, default 10). Secret: `apiKey`, sent as `X-API-Key`.

Every apply is one PATCH of the zone (REPLACE per created or updated record set, DELETE per deleted one), which
PowerDNS applies atomically. Record sets read carry their contents as PowerDNS returned them (`exact`), and a record
set that carries them is written with them, so a restored one is back byte for byte.

Conditional writes, and where they stop: PowerDNS has no conditional PATCH (REPLACE overwrites and DELETE removes
whatever stands). So every apply first reads the record sets its changes name (one `rrset_name` read per name; the
whole zone past `provider.NAME_READS_MAX` names, or when a change is a create: a filtered read leaves out disabled
records, which a create must not replace) and checks every change, require included, against them (see
`preconditions`); a change that does not match is a `Conflict` and nothing is sent. The read and the PATCH are two
requests: a change someone else makes between the read and the PATCH is not seen, and the PATCH overwrites it.
Measured against a local pdns_server 4.7.3 (sqlite, 200 applies each), from the first read's answer to the PATCH
being sent: about 2 ms at the median and 5-9 ms at p99 for an update of one name with a require of its ownership TXT
(two name reads, the second inside the window); 12 ms median and 44 ms p99 for a create in a zone of 1,000 rrsets
(the whole zone is read and parsed). Add the server's time to answer the read and apply the PATCH (5-30 ms there).
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
