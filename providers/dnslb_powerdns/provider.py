"""The PowerDNS provider: zones and record sets over the authoritative server's HTTP API."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from dnslb.provider import RECORD_TYPES, Change, Conflict, Cost, Limits, RecordSet, Rejected, Zone

from . import preconditions
from .api import PowerDNSAPI
from .content import canonical_name, fqdn, from_content
from .payload import ENVELOPE_BYTES, change_cost, patch_body, writes
from .preconditions import Standing

# PowerDNS refuses a body over webserver-max-bodysize with HTTP 400. That setting counts whole MiB (default 2), so a
# million bytes fits under any server's setting, the lowest (1) included, and still carries ~24,000 A values.
MAX_PATCH_BYTES = 1_000_000
LIMITS = Limits(max_bytes=MAX_PATCH_BYTES - ENVELOPE_BYTES, record_types=RECORD_TYPES)

# zones PowerDNS fills from elsewhere; the API refuses changes to them
READ_ONLY_ZONE_KINDS = frozenset({"slave", "secondary", "consumer"})

# Up to this many names, the check before a PATCH reads each name (a small answer each); past it, the whole zone in
# one request, which keeps the time between the first read and the PATCH short for a large batch.
NAME_READS_MAX = 4
# A read filtered by rrset_name leaves out disabled records (pdns 4.7), so a record set of disabled records only
# would look absent to a create; a batch with a create reads the whole zone, which lists them.
_CREATE = "create"


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
        return sorted(self._read(zone, None).records.values())

    def records_at(self, zone: Zone, names: Sequence[str]) -> list[RecordSet]:
        """One zone read filtered by `rrset_name` per name (which, like `records`, shows enabled records only)."""
        return sorted(self._read_names(zone, names).records.values())

    def apply(self, zone: Zone, changes: Sequence[Change]) -> None:
        if not changes:
            return
        for change in changes:
            if change.action == "update" and change.previous is None:
                record = change.record
                raise Rejected(f"update of {record.name} {record.type}: nothing sent: it does not say what it replaces")
        names = preconditions.names(changes)
        by_name = len(names) <= NAME_READS_MAX and not any(c.action == _CREATE for c in changes)
        standing = self._read_names(zone, names) if by_name else self._read(zone, None)
        problems = preconditions.violations(changes, standing)
        if problems:
            raise Conflict(f"PowerDNS changing zone {zone.name}: nothing sent: {'; '.join(problems)}")
        if writes(changes):
            self._api.patch_zone(_zone_id(zone), patch_body(changes))

    def close(self) -> None:
        self._api.close()

    def _read_names(self, zone: Zone, names: Sequence[str]) -> Standing:
        records: dict[tuple[str, str], RecordSet] = {}
        present: set[tuple[str, str]] = set()
        for name in sorted({canonical_name(n) for n in names}):
            found = self._read(zone, name)
            records.update(found.records)
            present |= found.present
        return Standing(records, frozenset(present))

    def _read(self, zone: Zone, name: str | None) -> Standing:
        """The zone's record sets, or those at `name`."""
        document = self._api.zone(_zone_id(zone), None if name is None else fqdn(name))
        records = {}
        present = set()
        for rrset in document.get("rrsets") or []:
            key = (canonical_name(str(rrset.get("name", ""))), str(rrset.get("type", "")))
            if name is not None and key[0] != name:
                continue  # a server without the rrset_name filter answers every rrset
            if rrset.get("records"):
                present.add(key)
            record = _record_set(rrset)
            if record is not None:
                records[record.key] = record
        return Standing(records, frozenset(present))


def _zone_id(zone: Zone) -> str:
    return zone.id or fqdn(zone.name)


def _record_set(rrset: Mapping[str, Any]) -> RecordSet | None:
    """An API rrset's enabled records as a canonical RecordSet with its contents as `exact`; None when it holds none
    (only disabled records, or only comments)."""
    type_ = str(rrset.get("type", ""))
    contents = [
        str(record.get("content", "")) for record in rrset.get("records") or [] if not record.get("disabled", False)
    ]
    if not contents:
        return None
    values = [from_content(type_, content) for content in contents]
    return RecordSet.of(str(rrset.get("name", "")), type_, int(rrset.get("ttl", 0)), values, exact=contents)
