"""RFC 2136 dynamic DNS (BIND and friends), signed with TSIG.

Settings: `server` (IP address), `port` (53), `zones` (comma-separated: RFC 2136 cannot list zones, so these are the
zones it serves), `tsigKeyName`, `tsigAlgorithm` (hmac-sha256; or hmac-sha224/384/512, hmac-md5), `timeout` (seconds,
5). Secret: `tsigSecret` (base64). Without a key, updates and transfers go unsigned.

Zones are read by AXFR, a few names (`records_at`) by ANY queries, and changed by one dynamic update message per
`apply`, all over TCP. Every write is conditional on prerequisites the server checks atomically with the update, so
there is no window between check and write: a create requires "RRset does not exist"; an update, a delete and a
require "RRset exists (value dependent)" with the values read (`previous`, or the record set itself). A failed
prerequisite (YXRRSET, NXRRSET) is a `Conflict`, and the server changes nothing.

What a prerequisite cannot see: TTLs (RFC 2136 compares rdata only), so a record set whose TTL alone was changed
behind dnslb's back is updated or deleted anyway. Rdata is compared in wire form, so record sets read carry `exact`
(the rdata as dnspython writes it) and are sent from it: a TXT value someone split into other strings reads as the
same canonical text but differs on the wire.
"""

from __future__ import annotations

from collections.abc import Mapping

from dnslb_rfc2136.provider import Rfc2136Provider
from dnslb_rfc2136.settings import Rfc2136Settings, parse

__all__ = ["Rfc2136Provider", "Rfc2136Settings", "create"]


def create(settings: Mapping[str, str], secret: Mapping[str, str]) -> Rfc2136Provider:
    return Rfc2136Provider(parse(settings, secret))
