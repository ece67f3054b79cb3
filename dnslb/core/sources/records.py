"""What every source produces — one hostname an object wants, the addresses it should point at and (a DNSEndpoint's
only) record sets of other types — and what every source reads alike: hostnames, targets and TTLs, from annotations
as `core/annotations.py` names them for Services.

An Ingress or a route publishes addresses (A and AAAA) only: a hostname target (a CNAME to external-dns: an Ingress
behind a cloud load balancer, a Gateway with a Hostname address) is reported, never published. A DNSEndpoint says
which types it wants (`dnsendpoint.py`).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass

from dnslb.core import annotations as ann
from dnslb.core.dns.desired import annotation_ttl as ttl_annotation
from dnslb.core.dns.hostnames import hostname_problem
from dnslb.core.grammar import parse_ip, show, trim
from dnslb.core.objects import ObjectRef
from dnslb.core.sources.fields import Owner, Report

ONLY_ADDRESSES = "not published: dnslb publishes this object's addresses (A and AAAA records), not CNAMEs"


@dataclass(frozen=True, order=True)
class RecordValues:
    """A record set of another type than A and AAAA that a source record wants at its hostname."""

    type: str  # CNAME, TXT, NS, MX, SRV, PTR or NAPTR (`dnslb.provider.RECORD_TYPES`)
    values: tuple[str, ...]  # canonical as `dnslb.provider` says, sorted, unique, never empty; a CNAME has one


@dataclass(frozen=True)
class SourceRecord:
    """One hostname an object wants: the addresses it should point at, and the record sets of other types it wants
    there (a DNSEndpoint's only); never neither, and never a CNAME beside anything else."""

    owner: ObjectRef  # kind: Ingress, HTTPRoute, GRPCRoute, TLSRoute, TCPRoute, UDPRoute or DNSEndpoint
    created: str  # the owner's creationTimestamp: the earlier-created wins a hostname, across kinds
    # lowercase, no trailing dot, valid as a Service's (`*.` only as the whole leftmost label); a DNSEndpoint's may
    # also have `_` in its labels (`_sip._tcp.example.com`, `_dmarc.example.com`)
    hostname: str
    addresses: tuple[str, ...]  # canonical IPv4 then IPv6 addresses, each family in numeric order
    ttl: int | None  # None: the provider's default
    records: tuple[RecordValues, ...] = ()  # by type; none of A or AAAA (those are `addresses`)


@dataclass(frozen=True)
class Wanted:
    """A hostname an object asks for, and the field that asked (for a Diagnostic about it)."""

    hostname: str
    field: str


def read_hostname(value: object, where: str, report: Report) -> str | None:
    """`value` as a hostname, lowercase and without a trailing dot; None, reported, when it is none."""
    if not isinstance(value, str) or not value.isascii():
        # before lowering: str.lower() turns the Kelvin sign into an ASCII 'k'
        report.not_published(where, f"{show(value)} is not an ASCII hostname")
        return None
    name = value.lower().removesuffix(".")
    problem = hostname_problem(name)
    if problem is not None:
        report.not_published(where, problem)
        return None
    return name


def annotation_hostnames(owner: Owner, report: Report) -> list[Wanted]:
    """The hostnames in the first hostname annotation present (dnslb's, then external-dns's), as for Services."""
    found = ann.lookup(owner.annotations, ann.HOSTNAME)
    if found is None:
        return []
    field = ann.field(found[0])
    wanted = []
    for raw in found[1].split(","):
        if trim(raw):
            name = read_hostname(trim(raw), field, report)
            if name is not None:
                wanted.append(Wanted(name, field))
    return wanted


def hostname_source(owner: Owner, names: tuple[str, ...], report: Report) -> str:
    """external-dns's `<kind>-hostname-source` annotation: "annotation-only", "defined-hosts-only", or "" (both)."""
    found = ann.lookup(owner.annotations, names)
    if found is None:
        return ""
    value = trim(found[1]).lower() if found[1].isascii() else found[1]
    if value in ("annotation-only", "defined-hosts-only"):
        return value
    report.invalid(ann.field(found[0]), f"{show(found[1])} is not annotation-only or defined-hosts-only; ignored")
    return ""


def annotation_ttl(owner: Owner, report: Report) -> int | None:
    """The TTL annotation's seconds, read as for Services; unusable, it is reported and the default applies."""
    ttl, problem = ttl_annotation(owner.annotations)
    if problem is not None:
        report.invalid(*problem)
    return ttl


def target_override(annotations: Mapping[str, str], report: Report) -> list[str] | None:
    """The IPs of external-dns's target annotation, which replace the object's own addresses; None without one.
    Present but naming only hostnames, it still replaces them: with nothing dnslb publishes."""
    found = ann.lookup(annotations, ann.TARGET)
    if found is None or not trim(found[1]):
        return None  # external-dns ignores an empty one too
    where = ann.field(found[0])
    ips = []
    for raw in found[1].split(","):
        if trim(raw):
            ip = read_target(trim(raw), where, report)
            if ip is not None:
                ips.append(ip)
    return ips


def read_ip(value: object, where: str, report: Report) -> str | None:
    """`value` as a canonical IP address, or None, reported."""
    try:
        return str(parse_ip(value))
    except ValueError as exc:
        report.invalid(where, str(exc))
        return None


def read_target(value: object, where: str, report: Report) -> str | None:
    """`value` as a canonical IP; a hostname (external-dns would make a CNAME of it) or anything else is reported."""
    try:
        return str(parse_ip(value))
    except ValueError:
        pass
    hostname_target(value, where, report)
    return None


def hostname_target(value: object, where: str, report: Report) -> None:
    """Report a target that is a hostname: valid, it is not published; otherwise it is invalid."""
    name = value.lower().removesuffix(".") if isinstance(value, str) and value.isascii() else None
    if name is not None and hostname_problem(name) is None:
        report.not_published(where, ONLY_ADDRESSES, about=name)
    else:
        report.invalid(where, f"{show(value)} is neither an IP address nor a hostname")


def records_of(owner: Owner, wanted: Mapping[str, Iterable[str]], ttl: int | None) -> list[SourceRecord]:
    """One record per hostname with addresses, in `wanted`'s order; a hostname without any yet has none."""
    out = []
    for hostname, addresses in wanted.items():
        ips = sorted({parse_ip(a) for a in addresses}, key=lambda ip: (ip.version, ip))
        if ips:
            out.append(SourceRecord(owner.ref, owner.created, hostname, tuple(str(ip) for ip in ips), ttl))
    return out


def unique(wanted: Iterable[Wanted]) -> list[Wanted]:
    """Each hostname once, where it was first asked for."""
    seen: dict[str, Wanted] = {}
    for item in wanted:
        seen.setdefault(item.hostname, item)
    return list(seen.values())
