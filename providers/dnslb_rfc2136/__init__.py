"""RFC 2136 dynamic DNS (BIND and friends), signed with TSIG.

Settings: `server` (IP address), `port` (53), `zones` (comma-separated: RFC 2136 cannot list zones, so these are the
zones it serves), `tsigKeyName`, `tsigAlgorithm` (hmac-sha256; or hmac-sha224/384/512, hmac-md5), `timeout` (seconds,
5). Secret: `tsigSecret` (base64). Without a key, updates and transfers go unsigned.

Zones are read by AXFR and changed by one dynamic update message per `apply`, both over TCP. A create requires that the
record set does not exist, a delete that it exists with exactly the values named; an update replaces the set.
"""

from __future__ import annotations

from collections.abc import Mapping

from dnslb_rfc2136.provider import Rfc2136Provider
from dnslb_rfc2136.settings import Rfc2136Settings, parse

__all__ = ["Rfc2136Provider", "Rfc2136Settings", "create"]


def create(settings: Mapping[str, str], secret: Mapping[str, str]) -> Rfc2136Provider:
    return Rfc2136Provider(parse(settings, secret))
