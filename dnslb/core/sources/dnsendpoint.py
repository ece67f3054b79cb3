"""DNSEndpoints (externaldns.k8s.io/v1alpha1), as external-dns's `crd` source reads them: each A or AAAA endpoint
names a hostname, its addresses and TTL. Other record types are reported: dnslb publishes A and AAAA only.

dnslb keeps one TTL per hostname, so the A and AAAA endpoints of one name share it: the first endpoint's applies.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from dnslb.core.diagnostics import Diagnostic
from dnslb.core.dns.desired import MAX_TTL, MIN_TTL
from dnslb.core.grammar import parse_ip, show
from dnslb.core.sources.fields import Report, child, entries, read_owner, text
from dnslb.core.sources.records import SourceRecord, read_hostname, records_of

_FAMILY = {"A": 4, "AAAA": 6}


@dataclass(frozen=True)
class _Endpoint:
    hostname: str
    ttl: int | None
    addresses: tuple[str, ...]
    where: str


def dnsendpoint_records(obj: Mapping[str, Any]) -> tuple[list[SourceRecord], list[Diagnostic]]:
    """The records a DNSEndpoint wants: its A and AAAA endpoints, those of one hostname together."""
    owner, report = read_owner(obj, "DNSEndpoint")
    if owner is None:
        return [], report.problems
    spec = child(obj, "spec", "spec", report) or {}
    addresses: dict[str, set[str]] = {}
    first: dict[str, _Endpoint] = {}
    for i, item in enumerate(entries(spec, "endpoints", "spec.endpoints", report)):
        endpoint = _endpoint(item, f"spec.endpoints[{i}]", report)
        if endpoint is None:
            continue
        earlier = first.setdefault(endpoint.hostname, endpoint)
        if endpoint.ttl != earlier.ttl:
            message = f"TTL {_shown(endpoint.ttl)} differs from {earlier.where}'s; {_shown(earlier.ttl)} applies"
            report.invalid(f"{endpoint.where}.recordTTL", message, about=endpoint.hostname)
        addresses.setdefault(endpoint.hostname, set()).update(endpoint.addresses)
    records: list[SourceRecord] = []
    for hostname, endpoint in first.items():
        records += records_of(owner, {hostname: addresses[hostname]}, endpoint.ttl)
    return records, report.problems


def _endpoint(item: object, where: str, report: Report) -> _Endpoint | None:
    if not isinstance(item, Mapping):
        report.invalid(where, f"{show(item)} is not a mapping")
        return None
    if item.get("dnsName") in (None, ""):
        report.invalid(f"{where}.dnsName", "is missing")
        return None
    hostname = read_hostname(item["dnsName"], f"{where}.dnsName", report)
    record_type = text(item, "recordType", f"{where}.recordType", report)
    if hostname is None or record_type is None:
        return None
    if record_type not in _FAMILY:
        if record_type:
            message = f"{show(record_type)} records are not published: dnslb publishes A and AAAA"
            report.not_published(f"{where}.recordType", message, about=hostname)
        else:
            report.invalid(f"{where}.recordType", "is missing", about=hostname)
        return None
    identifier = text(item, "setIdentifier", f"{where}.setIdentifier", report)
    if identifier is None:
        return None
    if identifier:
        # one of several record sets at one name under a provider's routing policy: dnslb writes the only one
        message = "routing policies are not published: dnslb writes one record set per name"
        report.not_published(f"{where}.setIdentifier", message, about=hostname)
        return None
    ips = _targets(item.get("targets"), f"{where}.targets", _FAMILY[record_type], hostname, report)
    return _Endpoint(hostname, _ttl(item.get("recordTTL"), f"{where}.recordTTL", report), ips, where)


def _targets(targets: object, where: str, family: int, hostname: str, report: Report) -> tuple[str, ...]:
    if targets is None or targets == []:
        report.not_published(where, "is empty: nothing to publish", about=hostname)
        return ()
    if not isinstance(targets, list):
        report.invalid(where, f"{show(targets)} is not a list", about=hostname)
        return ()
    ips = []
    for j, target in enumerate(targets):
        try:
            ip = parse_ip(target)
        except ValueError as exc:
            report.invalid(f"{where}[{j}]", str(exc), about=hostname)
            continue
        if ip.version == family:
            ips.append(str(ip))
        else:
            record_type = "A" if family == 4 else "AAAA"
            report.invalid(f"{where}[{j}]", f"'{ip}' is not an IPv{family} address, for {record_type}", about=hostname)
    return tuple(ips)


def _ttl(value: object, where: str, report: Report) -> int | None:
    if value is None or (type(value) is int and value == 0):
        return None  # as external-dns: 0 is no TTL configured
    if type(value) is int and MIN_TTL <= value <= MAX_TTL:
        return value
    report.invalid(where, f"{show(value)} is not a TTL ({MIN_TTL}..{MAX_TTL} seconds); the default applies")
    return None


def _shown(ttl: int | None) -> str:
    return "the default" if ttl is None else str(ttl)
