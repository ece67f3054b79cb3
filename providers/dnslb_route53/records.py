"""dnslb's record sets and changes as Route53 ResourceRecordSets and Changes, and what one change costs."""

from __future__ import annotations

import ipaddress
from collections.abc import Mapping
from typing import Any

from dnslb.provider import Action, Change, Cost, RecordSet
from dnslb_route53.wire import name_from_route53, name_to_route53, txt_from_route53, txt_to_route53

ACTIONS: dict[Action, str] = {"create": "CREATE", "update": "UPSERT", "delete": "DELETE"}

# Route53 counts each ResourceRecord and each character of an UPSERT twice against a request's limits
_UPSERT_WEIGHT = 2


def record_from_route53(rrset: Mapping[str, Any]) -> RecordSet | None:
    """The canonical record set, or None for one dnslb must leave alone.

    Alias records, record sets with a routing policy (weighted, latency, geolocation, failover, multivalue: anything
    with a SetIdentifier) and traffic-policy records have no plain equivalent. They are not returned, so dnslb never
    plans a change to them; a create that collides with one is refused by Route53 and reported as Rejected.
    """
    if any(key in rrset for key in ("AliasTarget", "SetIdentifier", "TrafficPolicyInstanceId")):
        return None
    records = rrset.get("ResourceRecords")
    if not records:
        return None
    type_ = str(rrset["Type"])
    values = [value_from_route53(type_, str(r["Value"])) for r in records]
    return RecordSet.of(name_from_route53(str(rrset["Name"])), type_, int(rrset.get("TTL", 0)), values)


def value_from_route53(type_: str, value: str) -> str:
    if type_ == "TXT":
        return txt_from_route53(value)
    if type_ in ("A", "AAAA"):
        try:
            return ipaddress.ip_address(value).compressed
        except ValueError:
            return value
    if type_ == "CNAME":
        return name_from_route53(value)
    return value


def value_to_route53(type_: str, value: str) -> str:
    return txt_to_route53(value) if type_ == "TXT" else value


def change_to_route53(change: Change) -> dict[str, Any]:
    """Deletes name the record set exactly as given, which must be the record set as it stands."""
    record = change.record
    return {
        "Action": ACTIONS[change.action],
        "ResourceRecordSet": {
            "Name": name_to_route53(record.name),
            "Type": record.type,
            "TTL": record.ttl,
            "ResourceRecords": [{"Value": value_to_route53(record.type, v)} for v in record.values],
        },
    }


def route53_cost(change: Mapping[str, Any]) -> Cost:
    """ResourceRecord elements and characters of Value elements, exactly as in the request."""
    weight = _UPSERT_WEIGHT if change["Action"] == "UPSERT" else 1
    values = [str(r["Value"]) for r in change["ResourceRecordSet"].get("ResourceRecords", [])]
    return Cost(changes=1, values=weight * len(values), bytes=weight * sum(len(v) for v in values))
