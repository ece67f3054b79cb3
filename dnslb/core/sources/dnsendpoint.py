"""DNSEndpoints (externaldns.k8s.io/v1alpha1), as external-dns's `crd` source reads them: each endpoint names a
hostname, a record type, its targets and a TTL.

Types: A, AAAA, CNAME, TXT, NS, MX, SRV, PTR and NAPTR (`dnslb.provider.RECORD_TYPES`, external-dns's but DNAME);
another is reported. Whether a DNSProvider writes a type is the provider's to say (`Limits.record_types`): one that
does not refuses that record set of the name, with the reason, and publishes the rest.

Targets are checked one by one, per type, with dnspython's parser (`dnslb.provider.canonical_value`):
- A, AAAA: an address of that family;
- CNAME, NS, PTR: a hostname (not an address, not the root);
- MX `preference host`, SRV `priority weight port host`, NAPTR `order preference "flags" "service" "regexp" host`;
- TXT: the text as written; a target wholly in double quotes (`"v=spf1 -all"`, as external-dns's Route53 users
  write TXT targets) is read as zone-file strings: quotes and escapes taken off, strings joined.
Every name in a target is absolute, with its trailing dot or without (external-dns wants one after SRV and NAPTR
hosts and refuses one on other types' targets; dnslb takes both, as both mean the same here). A bad target is
reported with its field (`spec.endpoints[i].targets[j]`) and why, and the endpoint's other targets are still
published: each value of a record set stands alone in DNS, as each address of an A record does.

One name, one set of rules (RFC 1034 §3.6.2): a CNAME stands beside nothing else, so when a DNSEndpoint gives one
hostname a CNAME and any other record (an address, a TXT, ...) the CNAME is refused and the others are published —
addresses win, as external-dns's planner prefers them over a CNAME; and a CNAME has exactly one target, so two or more
(in one endpoint or across endpoints) refuse the CNAME. Endpoints of one name and type merge their targets. dnslb
keeps one TTL per hostname: the first endpoint's applies, and a different one is reported.

`setIdentifier` and `providerSpecific`: no DNSProvider type of dnslb has routing policies or provider-specific
properties, so an endpoint with either is refused as a whole, naming the field, never published without them:
that would change what it means (a weighted record becoming the name's only one, an alias a plain record).

Names: as a Service's hostnames, and `_` in labels too (`_sip._tcp.example.com`, `_dmarc.example.com`). Names under
`_dnslb.` (and a first label `_wildcard`) are dnslb's ownership records: refused.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from dnslb.core.diagnostics import Diagnostic
from dnslb.core.dns.desired import MAX_TTL, MIN_TTL
from dnslb.core.dns.hostnames import hostname_problem
from dnslb.core.grammar import parse_ip, show
from dnslb.core.sources.fields import Report, child, entries, read_owner, text
from dnslb.core.sources.records import RecordValues, SourceRecord
from dnslb.provider import RECORD_TYPES, canonical_value

_FAMILY = {"A": 4, "AAAA": 6}
_NAME_TYPES = ("CNAME", "NS", "PTR")  # a target that is one hostname
_SHAPES = {
    "MX": "preference and host, like '10 mail.example.com'",
    "SRV": "priority, weight, port and host, like '10 5 443 sip.example.com.'",
    "NAPTR": "order, preference, flags, service, regexp and replacement, like "
    """'100 10 "S" "SIP+D2U" "" _sip._udp.example.com.'""",
}
_TYPES = "A, AAAA, CNAME, TXT, NS, MX, SRV, PTR and NAPTR"
_RESERVED = {
    "_dnslb": "names under _dnslb. hold dnslb's ownership records",
    "_wildcard": "a first label '_wildcard' names the ownership record of a wildcard",
}
_TXT_RDATA_BYTES = 65_535  # a TXT record's data: its bytes, and a length byte per 255 of them


@dataclass(frozen=True)
class _Endpoint:
    hostname: str
    type: str
    ttl: int | None
    values: tuple[tuple[str, str], ...]  # (canonical value, the field of its target)
    where: str


def dnsendpoint_records(obj: Mapping[str, Any]) -> tuple[list[SourceRecord], list[Diagnostic]]:
    """The records a DNSEndpoint wants: its endpoints, those of one hostname together."""
    owner, report = read_owner(obj, "DNSEndpoint")
    if owner is None:
        return [], report.problems
    spec = child(obj, "spec", "spec", report) or {}
    first: dict[str, _Endpoint] = {}
    wanted: dict[str, dict[str, dict[str, tuple[str, str]]]] = {}  # hostname → type → value → (endpoint, target)
    for i, item in enumerate(entries(spec, "endpoints", "spec.endpoints", report)):
        endpoint = _endpoint(item, f"spec.endpoints[{i}]", report)
        if endpoint is None:
            continue
        earlier = first.setdefault(endpoint.hostname, endpoint)
        if endpoint.ttl != earlier.ttl:
            message = f"TTL {_shown(endpoint.ttl)} differs from {earlier.where}'s; {_shown(earlier.ttl)} applies"
            report.invalid(f"{endpoint.where}.recordTTL", message, about=endpoint.hostname)
        values = wanted.setdefault(endpoint.hostname, {}).setdefault(endpoint.type, {})
        for value, where in endpoint.values:
            values.setdefault(value, (endpoint.where, where))
    records: list[SourceRecord] = []
    for hostname, endpoint in first.items():
        by_type = _one_name(hostname, wanted[hostname], report)
        ips = sorted({parse_ip(a) for t in _FAMILY for a in by_type.pop(t, ())}, key=lambda ip: (ip.version, ip))
        others = tuple(RecordValues(t, tuple(sorted(v))) for t, v in sorted(by_type.items()) if v)
        if ips or others:
            addresses = tuple(str(ip) for ip in ips)
            records.append(SourceRecord(owner.ref, owner.created, hostname, addresses, endpoint.ttl, others))
    return records, report.problems


def name_problem(name: str) -> str | None:
    """Why `name` (lowercase, no trailing dot) is no name a DNSEndpoint may publish, or None: the rules of a
    Service's hostnames, with `_` as good as a letter; and no ownership record's name."""
    if hostname_problem(name.replace("_", "a")) is not None:
        return hostname_problem(name)  # '_' aside it breaks a rule: say which, as for a Service
    return _RESERVED.get(name.split(".", 1)[0])


def _one_name(hostname: str, wanted: dict[str, dict[str, tuple[str, str]]], report: Report) -> dict[str, list[str]]:
    """The values of each type one hostname gets, a CNAME only where it is alone and has one target."""
    by_type = {t: list(values) for t, values in wanted.items() if values}
    cnames = wanted.get("CNAME", {})
    if not cnames:
        return by_type
    del by_type["CNAME"]
    fields = list(cnames.values())
    if by_type:
        others = "/".join(sorted(by_type))
        message = (
            f"a CNAME cannot stand beside other records at one name: the {others} records of this DNSEndpoint are "
            "published, the CNAME is not"
        )
        report.not_published(fields[0][0], message, about=hostname)
    elif len(cnames) > 1:
        shown = ", ".join(show(v) for v in cnames)
        message = f"a CNAME has exactly one target, and {len(cnames)} are given ({shown}): the CNAME is not published"
        report.not_published(fields[1][1], message, about=hostname)
    else:
        by_type["CNAME"] = list(cnames)
    return by_type


def _endpoint(item: object, where: str, report: Report) -> _Endpoint | None:
    if not isinstance(item, Mapping):
        report.invalid(where, f"{show(item)} is not a mapping")
        return None
    if item.get("dnsName") in (None, ""):
        report.invalid(f"{where}.dnsName", "is missing")
        return None
    hostname = _read_name(item["dnsName"], f"{where}.dnsName", report)
    record_type = text(item, "recordType", f"{where}.recordType", report)
    if hostname is None or record_type is None:
        return None
    if record_type not in RECORD_TYPES:
        if record_type:
            message = f"{show(record_type)} records are not published: dnslb publishes {_TYPES}"
            if record_type.upper() in RECORD_TYPES:
                message += f" (in capitals: {record_type.upper()})"
            report.not_published(f"{where}.recordType", message, about=hostname)
        else:
            report.invalid(f"{where}.recordType", "is missing", about=hostname)
        return None
    if not _plain(item, where, hostname, report):
        return None
    values = _targets(item.get("targets"), f"{where}.targets", record_type, hostname, report)
    return _Endpoint(hostname, record_type, _ttl(item.get("recordTTL"), f"{where}.recordTTL", report), values, where)


def _read_name(value: object, where: str, report: Report) -> str | None:
    """`value` as a name, lowercase and without a trailing dot; None, reported, when it is none."""
    if not isinstance(value, str) or not value.isascii():
        # before lowering: str.lower() turns the Kelvin sign into an ASCII 'k'
        report.not_published(where, f"{show(value)} is not an ASCII hostname")
        return None
    name = value.lower().removesuffix(".")
    problem = name_problem(name)
    if problem is not None:
        report.not_published(where, problem)
        return None
    return name


def _plain(item: Mapping[str, Any], where: str, hostname: str, report: Report) -> bool:
    """Whether the endpoint asks for nothing beyond one record set per name and type: no routing policy
    (`setIdentifier`), no provider-specific property. Reported when it does."""
    identifier = text(item, "setIdentifier", f"{where}.setIdentifier", report)
    if identifier is None:
        return False
    if identifier:
        message = (
            f"setIdentifier {show(identifier)}: routing policies (weighted, latency, failover, ...) are not "
            "supported by any DNSProvider type of dnslb, which writes one record set per name and type; the endpoint "
            "is not published, rather than published as the name's only record set"
        )
        report.not_published(f"{where}.setIdentifier", message, about=hostname)
        return False
    properties = item.get("providerSpecific")
    if properties is None or properties == []:
        return True
    if not isinstance(properties, list):
        report.invalid(f"{where}.providerSpecific", f"{show(properties)} is not a list", about=hostname)
        return False
    names = [p.get("name") if isinstance(p, Mapping) else p for p in properties]
    shown = ", ".join(show(n) for n in names[:5]) + (", ..." if len(names) > 5 else "")
    message = (
        f"provider-specific properties ({shown}) are not supported by any DNSProvider type of dnslb; the endpoint is "
        "not published, rather than published without them"
    )
    report.not_published(f"{where}.providerSpecific[0]", message, about=hostname)
    return False


def _targets(
    targets: object, where: str, record_type: str, hostname: str, report: Report
) -> tuple[tuple[str, str], ...]:
    if targets is None or targets == []:
        report.not_published(where, "is empty: nothing to publish", about=hostname)
        return ()
    if not isinstance(targets, list):
        report.invalid(where, f"{show(targets)} is not a list", about=hostname)
        return ()
    values = []
    for j, target in enumerate(targets):
        problem, value = _target(record_type, target)
        if value is None:
            report.invalid(f"{where}[{j}]", problem, about=hostname)
        else:
            values.append((value, f"{where}[{j}]"))
    return tuple(values)


def _target(record_type: str, target: object) -> tuple[str, str | None]:
    """(why not, None) or ("", the canonical value) of one target of a `record_type` endpoint."""
    if record_type in _FAMILY:
        try:
            ip = parse_ip(target)
        except ValueError as exc:
            return str(exc), None
        if ip.version != _FAMILY[record_type]:
            return f"'{ip}' is not an IPv{_FAMILY[record_type]} address, for {record_type}", None
        return "", str(ip)
    if not isinstance(target, str):
        return f"{show(target)} is not a string", None
    if record_type == "TXT":
        return _txt(target)
    if not target.isascii():
        return f"{show(target)} is not ASCII (write an internationalized name in its xn-- form)", None
    if not target.isprintable():
        return f"{show(target)} has a control character (a line break, a tab, ...)", None
    if record_type in _NAME_TYPES:
        return _name_target(record_type, target)
    try:
        return "", canonical_value(record_type, target)
    except ValueError as exc:
        return f"{show(target)} is not an {record_type} target ({_SHAPES[record_type]}): {exc}", None


def _name_target(record_type: str, target: str) -> tuple[str, str | None]:
    try:
        parse_ip(target.removesuffix("."))
    except ValueError:
        pass
    else:
        return f"{show(target)} is an IP address, not a hostname: an address takes an A or AAAA endpoint", None
    try:
        value = canonical_value(record_type, target)
    except ValueError as exc:
        return f"{show(target)} is not a hostname: {exc}", None
    if value == ".":
        return f"the root is no {record_type} target", None
    return "", value


def _txt(target: str) -> tuple[str, str | None]:
    value = target
    if len(target) >= 2 and target[0] == target[-1] == '"':
        try:
            value = canonical_value("TXT", target)
        except ValueError as exc:
            return f"{show(target)} is in quotes but not TXT strings as a zone file writes them: {exc}", None
    try:
        size = len(value.encode())
    except UnicodeEncodeError:
        return f"{show(target)} is not UTF-8 text", None
    if size + -(-size // 255) > _TXT_RDATA_BYTES:
        return f"{size} bytes: more than one TXT record holds", None
    return "", value


def _ttl(value: object, where: str, report: Report) -> int | None:
    if value is None or (type(value) is int and value == 0):
        return None  # as external-dns: 0 is no TTL configured
    if type(value) is int and MIN_TTL <= value <= MAX_TTL:
        return value
    report.invalid(where, f"{show(value)} is not a TTL ({MIN_TTL}..{MAX_TTL} seconds); the default applies")
    return None


def _shown(ttl: int | None) -> str:
    return "the default" if ttl is None else str(ttl)
