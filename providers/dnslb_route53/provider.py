"""The Route53 provider: hosted zones, their record sets page by page, and one ChangeResourceRecordSets per batch.

Writes are conditional: an update is a DELETE of the record set exactly as read (its `exact` values) and a CREATE of
the new one in the same atomic batch — the same cost as an UPSERT, and a record set changed since dnslb read it makes
the batch fail instead of being overwritten. A `require` is a DELETE and CREATE of the same record set.
"""

from __future__ import annotations

import json
from collections.abc import Collection, Iterator, Sequence
from typing import Any

from dnslb.provider import RECORD_TYPES, Change, Cost, Limits, Page, RecordSet, Rejected, Zone
from dnslb_route53.errors import route53_errors
from dnslb_route53.records import changes_to_route53, record_from_route53, route53_cost
from dnslb_route53.wire import name_from_route53, name_to_route53

# Route53's quotas on one ChangeResourceRecordSets request (UPSERT counted twice, see records.route53_cost) and on
# the request rate of an account
# Route53 holds every type dnslb publishes (and CAA, DS, HTTPS, SPF, SSHFP, SVCB, TLSA besides)
LIMITS = Limits(max_values=1000, max_bytes=32000, requests_per_second=5, record_types=RECORD_TYPES)

PAGE_SIZE = 300  # the most ListResourceRecordSets returns in one page
_AT_A_NAME = 20  # record sets asked for when reading one name (more come in further pages)
_SHOWN_CHANGES = 3


class Route53Provider:
    def __init__(self, client: Any, managed_zones: Collection[str] = (), account: str = "") -> None:
        """`client` is a boto3 Route53 client; `managed_zones` names the zones to manage (empty: every zone);
        `account` names the AWS account's credentials, so DNSProviders on one account share its request rate."""
        self._client = client
        self._managed = frozenset(name.lower().rstrip(".") for name in managed_zones)
        self.account = account

    @property
    def client(self) -> Any:
        return self._client

    @property
    def limits(self) -> Limits:
        return LIMITS

    def cost(self, change: Change) -> Cost:
        total = Cost()
        for sent in changes_to_route53(change):
            total = total + route53_cost(sent)
        return total

    def zones(self) -> list[Zone]:
        found: list[Zone] = []
        with route53_errors("listing hosted zones"):
            for page in self._client.get_paginator("list_hosted_zones").paginate():
                for hosted in page["HostedZones"]:
                    name = name_from_route53(hosted["Name"])
                    if not self._managed or name in self._managed:
                        found.append(Zone(name, _bare_id(hosted["Id"])))
        return sorted(found, key=lambda z: (z.name, z.id))

    def records_page(self, zone: Zone, start: str | None) -> Page:
        zone_id = self._zone_id(zone)
        request = {"HostedZoneId": zone_id, "MaxItems": str(PAGE_SIZE), **(json.loads(start) if start else {})}
        with route53_errors(f"reading the record sets of zone {zone.name} ({zone_id})"):
            answer = self._client.list_resource_record_sets(**request)
        found = [r for r in (record_from_route53(rrset) for rrset in answer["ResourceRecordSets"]) if r is not None]
        return Page(tuple(found), _next_start(answer))

    def records(self, zone: Zone) -> list[RecordSet]:
        found: list[RecordSet] = []
        start: str | None = None
        while True:
            page = self.records_page(zone, start)
            found += page.records
            if page.next is None:
                return sorted(found)
            start = page.next

    def records_at(self, zone: Zone, names: Sequence[str]) -> list[RecordSet]:
        zone_id = self._zone_id(zone)
        found: list[RecordSet] = []
        for name in sorted(set(names)):
            with route53_errors(f"reading the record sets at {name} in zone {zone.name} ({zone_id})"):
                found += self._at(zone_id, name)
        return sorted(found)

    def apply(self, zone: Zone, changes: Sequence[Change]) -> None:
        if not changes:
            return  # Route53 refuses an empty change batch
        zone_id = self._zone_id(zone)
        batch = {"Changes": [sent for c in changes for sent in changes_to_route53(c)]}
        with route53_errors(f"applying {_summary(changes)} to zone {zone.name} ({zone_id})"):
            self._client.change_resource_record_sets(HostedZoneId=zone_id, ChangeBatch=batch)

    def _at(self, zone_id: str, name: str) -> Iterator[RecordSet]:
        """The record sets named exactly `name`: listing starts there and stops at the first other name."""
        request: dict[str, str] = {"StartRecordName": name_to_route53(name)}
        while True:
            answer = self._client.list_resource_record_sets(HostedZoneId=zone_id, MaxItems=str(_AT_A_NAME), **request)
            for rrset in answer["ResourceRecordSets"]:
                if name_from_route53(str(rrset["Name"])) != name:
                    return
                record = record_from_route53(rrset)
                if record is not None:
                    yield record
            following = _next_start(answer)
            if following is None:
                return
            request = json.loads(following)

    def _zone_id(self, zone: Zone) -> str:
        if zone.id:
            return zone.id
        ids = [z.id for z in self.zones() if z.name == zone.name]
        if len(ids) != 1:
            found = "none" if not ids else ", ".join(ids)
            raise Rejected(f"Route53: zone {zone.name} needs exactly one hosted zone of that name (found: {found})")
        return ids[0]


def _next_start(answer: dict[str, Any]) -> str | None:
    """Where the next page starts, as the request parameters that ask for it (an opaque cursor for dnslb)."""
    if not answer.get("IsTruncated"):
        return None
    start = {"StartRecordName": answer["NextRecordName"]}
    if answer.get("NextRecordType"):
        start["StartRecordType"] = answer["NextRecordType"]
    if answer.get("NextRecordIdentifier"):
        start["StartRecordIdentifier"] = answer["NextRecordIdentifier"]
    return json.dumps(start, sort_keys=True)


def _bare_id(hosted_zone_id: str) -> str:
    return hosted_zone_id.rsplit("/", 1)[-1]


def _summary(changes: Sequence[Change]) -> str:
    shown = "; ".join(f"{c.action} {c.record.name} {c.record.type}" for c in changes[:_SHOWN_CHANGES])
    more = len(changes) - _SHOWN_CHANGES
    return f"{len(changes)} change(s) ({shown}{f'; and {more} more' if more > 0 else ''})"
