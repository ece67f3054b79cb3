"""The Route53 provider: hosted zones, their record sets, and one ChangeResourceRecordSets call per batch."""

from __future__ import annotations

from collections.abc import Collection, Sequence
from typing import Any

from dnslb.provider import Change, Cost, Limits, RecordSet, Rejected, Zone
from dnslb_route53.errors import route53_errors
from dnslb_route53.rate import RateLimiter
from dnslb_route53.records import change_to_route53, record_from_route53, route53_cost
from dnslb_route53.wire import name_from_route53

# Route53's quotas on one ChangeResourceRecordSets request (UPSERT counted twice, see records.route53_cost) and on
# the request rate of an account
LIMITS = Limits(max_values=1000, max_bytes=32000, requests_per_second=5)

_SHOWN_CHANGES = 3


class Route53Provider:
    def __init__(self, client: Any, managed_zones: Collection[str] = (), limiter: RateLimiter | None = None) -> None:
        """`client` is a boto3 Route53 client; `managed_zones` names the zones to manage (empty: every zone)."""
        self._client = client
        self._managed = frozenset(name.lower().rstrip(".") for name in managed_zones)
        self._limiter = limiter or RateLimiter(int(LIMITS.requests_per_second or 1), 1.0)
        # every HTTP request, pages of a listing included, waits for the limiter
        client.meta.events.register("before-send.route-53", self._before_send)

    @property
    def client(self) -> Any:
        return self._client

    @property
    def limits(self) -> Limits:
        return LIMITS

    def cost(self, change: Change) -> Cost:
        return route53_cost(change_to_route53(change))

    def zones(self) -> list[Zone]:
        found: list[Zone] = []
        with route53_errors("listing hosted zones"):
            for page in self._client.get_paginator("list_hosted_zones").paginate():
                for hosted in page["HostedZones"]:
                    name = name_from_route53(hosted["Name"])
                    if not self._managed or name in self._managed:
                        found.append(Zone(name, _bare_id(hosted["Id"])))
        return sorted(found, key=lambda z: (z.name, z.id))

    def records(self, zone: Zone) -> list[RecordSet]:
        zone_id = self._zone_id(zone)
        found: list[RecordSet] = []
        with route53_errors(f"reading the record sets of zone {zone.name} ({zone_id})"):
            for page in self._client.get_paginator("list_resource_record_sets").paginate(HostedZoneId=zone_id):
                for rrset in page["ResourceRecordSets"]:
                    record = record_from_route53(rrset)
                    if record is not None:
                        found.append(record)
        return sorted(found)

    def apply(self, zone: Zone, changes: Sequence[Change]) -> None:
        if not changes:
            return  # Route53 refuses an empty change batch
        zone_id = self._zone_id(zone)
        batch = {"Changes": [change_to_route53(c) for c in changes]}
        with route53_errors(f"applying {_summary(changes)} to zone {zone.name} ({zone_id})"):
            self._client.change_resource_record_sets(HostedZoneId=zone_id, ChangeBatch=batch)

    def _zone_id(self, zone: Zone) -> str:
        if zone.id:
            return zone.id
        ids = [z.id for z in self.zones() if z.name == zone.name]
        if len(ids) != 1:
            found = "none" if not ids else ", ".join(ids)
            raise Rejected(f"Route53: zone {zone.name} needs exactly one hosted zone of that name (found: {found})")
        return ids[0]

    def _before_send(self, **_: Any) -> None:
        self._limiter.wait()


def _bare_id(hosted_zone_id: str) -> str:
    return hosted_zone_id.rsplit("/", 1)[-1]


def _summary(changes: Sequence[Change]) -> str:
    shown = "; ".join(f"{c.action} {c.record.name} {c.record.type}" for c in changes[:_SHOWN_CHANGES])
    more = len(changes) - _SHOWN_CHANGES
    return f"{len(changes)} change(s) ({shown}{f'; and {more} more' if more > 0 else ''})"
