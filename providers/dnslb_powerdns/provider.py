"""The PowerDNS provider: zones and record sets over the authoritative server's HTTP API."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from dnslb.provider import Change, Cost, Limits, RecordSet, Rejected, Zone

from . import preconditions
from .api import PowerDNSAPI
from .content import canonical_name, fqdn, from_content
from .payload import ENVELOPE_BYTES, change_cost, patch_body

# PowerDNS refuses a body over webserver-max-bodysize with HTTP 400. That setting counts whole MiB (default 2), so a
# million bytes fits under any server's setting, the lowest (1) included, and still carries ~24,000 A values.
MAX_PATCH_BYTES = 1_000_000
LIMITS = Limits(max_bytes=MAX_PATCH_BYTES - ENVELOPE_BYTES)

# zones PowerDNS fills from elsewhere; the API refuses changes to them
READ_ONLY_ZONE_KINDS = frozenset({"slave", "secondary", "consumer"})


class PowerDNSProvider:
    def __init__(self, api: PowerDNSAPI, managed_zones: frozenset[str] | None = None) -> None:
        self._api = api
        self._managed_zones = managed_zones

    @property
    def limits(self) -> Limits:
        return LIMITS

    def cost(self, change: Change) -> Cost:
        return change_cost(change)

    def zones(self) -> list[Zone]:
        found = []
        for listed in self._api.list_zones():
            name = canonical_name(str(listed.get("name", "")))
            if not name or str(listed.get("kind", "")).lower() in READ_ONLY_ZONE_KINDS:
                continue
            if self._managed_zones is None or name in self._managed_zones:
                found.append(Zone(name, str(listed.get("id") or fqdn(name))))
        return sorted(found, key=lambda zone: zone.name)

    def records(self, zone: Zone) -> list[RecordSet]:
        return sorted(self._read(zone, include_disabled=False).values())

    def apply(self, zone: Zone, changes: Sequence[Change]) -> None:
        if not changes:
            return
        if preconditions.needs_check(changes):
            problems = preconditions.violations(changes, self._read(zone, include_disabled=True))
            if problems:
                raise Rejected("; ".join(problems))
        self._api.patch_zone(_zone_id(zone), patch_body(changes))

    def close(self) -> None:
        self._api.close()

    def _read(self, zone: Zone, include_disabled: bool) -> dict[tuple[str, str], RecordSet]:
        document = self._api.zone(_zone_id(zone))
        found = {}
        for rrset in document.get("rrsets") or []:
            record = _record_set(rrset, include_disabled)
            if record is not None:
                found[record.key] = record
        return found


def _zone_id(zone: Zone) -> str:
    return zone.id or fqdn(zone.name)


def _record_set(rrset: Mapping[str, Any], include_disabled: bool) -> RecordSet | None:
    """An API rrset as a canonical RecordSet; None when it holds no (enabled) records, e.g. only comments."""
    type_ = str(rrset.get("type", ""))
    contents = [
        str(record.get("content", ""))
        for record in rrset.get("records") or []
        if include_disabled or not record.get("disabled", False)
    ]
    if not contents:
        return None
    values = [from_content(type_, content) for content in contents]
    return RecordSet.of(str(rrset.get("name", "")), type_, int(rrset.get("ttl", 0)), values)
