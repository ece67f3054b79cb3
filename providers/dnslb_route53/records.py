"""dnslb's record sets and changes as Route53 ResourceRecordSets and Changes, and what one change costs."""

from __future__ import annotations

import ipaddress
from collections.abc import Mapping
from typing import Any

from dnslb.provider import Action, Change, Cost, RecordSet, absolute_value, canonical_value
from dnslb_route53.wire import name_from_route53, name_to_route53, txt_from_route53, txt_to_route53

ACTIONS: dict[Action, str] = {"create": "CREATE", "update": "UPSERT", "delete": "DELETE"}

# Route53 counts each ResourceRecord and each character of an UPSERT twice against a request's limits
_UPSERT_WEIGHT = 2
_NAME_TYPES = frozenset({"CNAME", "NS", "PTR"})  # a value that is one name
_PRESENTATION_TYPES = frozenset({"MX", "SRV", "NAPTR"})  # several fields, names among them: sent absolute


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
    exact = [str(r["Value"]) for r in records]
    values = [value_from_route53(type_, value) for value in exact]
    return RecordSet.of(name_from_route53(str(rrset["Name"])), type_, int(rrset.get("TTL", 0)), values, exact)


def value_from_route53(type_: str, value: str) -> str:
    if type_ == "TXT":
        return txt_from_route53(value)
    if type_ in ("A", "AAAA"):
        try:
            return ipaddress.ip_address(value).compressed
        except ValueError:
            return value
    if type_ in _NAME_TYPES:
        return name_from_route53(value)
    if type_ in _PRESENTATION_TYPES:
        try:
            return canonical_value(type_, value)
        except ValueError:
            return value
    return value


def value_to_route53(type_: str, value: str) -> str:
    if type_ == "TXT":
        return txt_to_route53(value)
    if type_ in _PRESENTATION_TYPES:
        try:
            return absolute_value(type_, value)
        except ValueError:
            return value  # Route53 says what is wrong with it
    return value


def changes_to_route53(change: Change) -> list[dict[str, Any]]:
    """The Route53 changes that carry out `change`, conditionally: an update is a DELETE of the record set as read
    and a CREATE of the new one (an UPSERT only when there is no `previous` to match); a require deletes and creates
    the same record set, so the batch fails unless it stands as given."""
    if change.action == "update" and change.previous is not None:
        return [_sent("DELETE", change.previous), _sent("CREATE", change.record)]
    if change.action == "require":
        return [_sent("DELETE", change.record), _sent("CREATE", change.record)]
    return [_sent(ACTIONS[change.action], change.record)]


def _sent(action: str, record: RecordSet) -> dict[str, Any]:
    """A record set as sent: its values exactly as Route53 gave them when it came from Route53."""
    values = record.exact or tuple(value_to_route53(record.type, v) for v in record.values)
    return {
        "Action": action,
        "ResourceRecordSet": {
            "Name": name_to_route53(record.name),
            "Type": record.type,
            "TTL": record.ttl,
            "ResourceRecords": [{"Value": v} for v in values],
        },
    }


def route53_cost(change: Mapping[str, Any]) -> Cost:
    """ResourceRecord elements and characters of Value elements, exactly as in the request."""
    weight = _UPSERT_WEIGHT if change["Action"] == "UPSERT" else 1
    values = [str(r["Value"]) for r in change["ResourceRecordSet"].get("ResourceRecords", [])]
    return Cost(changes=1, values=weight * len(values), bytes=weight * sum(len(v) for v in values))
