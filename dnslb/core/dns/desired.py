"""What DNS should say: for each Service with VIPs and hostnames, one A/AAAA record set per hostname. Pure.

Only the VIPs in the Service's status are published, never node addresses. Two Services claiming one hostname: the
earlier-created keeps it, the other is told why. Bad annotations skip that hostname (or Service) with a reason.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from dnslb.core import annotations as ann
from dnslb.core.config.resources import DNSProviderSpec
from dnslb.core.diagnostics import DNS_NOT_PUBLISHED, PROCESSING_FAILED, Diagnostic, failed
from dnslb.core.dns.hostnames import service_hostnames
from dnslb.core.grammar import parse_ip, parse_uint, show, trim
from dnslb.core.ipam.request import ClassFilter, not_handled_because
from dnslb.core.model import ServiceView
from dnslb.core.objects import ObjectKey, service_ref
from dnslb.provider import RecordSet, Zone

DEFAULT_TTL = 300
MIN_TTL, MAX_TTL = 1, 604_800


@dataclass(frozen=True)
class Claim:
    """A Service's wish for one hostname."""

    hostname: str
    service: ObjectKey
    created: str
    ttl: int
    records: tuple[RecordSet, ...]  # A and/or AAAA


def claims(services: Iterable[ServiceView], classes: ClassFilter) -> tuple[list[Claim], list[Diagnostic]]:
    """Every hostname claimed by a Service of ours that has VIPs, earlier-created Services winning duplicates."""
    found: list[Claim] = []
    skipped: list[Diagnostic] = []
    for service in sorted(services, key=lambda s: s.order):
        try:  # a bug meeting one Service costs its names this pass (they are held, not deleted), not everyone's
            service_claims, problems = _claims_of(service, classes)
        except Exception as exc:
            skipped.append(failed(service_ref(service.key), exc))
            continue
        found += service_claims
        skipped += problems
    winners: dict[str, Claim] = {}
    for claim in found:
        holder = winners.setdefault(claim.hostname, claim)
        if holder is not claim:
            field = ann.field(ann.HOSTNAME[0])
            reason = f"hostname is already claimed by the earlier Service {holder.service}"
            skipped.append(_not_published(claim.service, reason, field=field, about=claim.hostname))
    return list(winners.values()), skipped


def held(skipped: Iterable[Diagnostic]) -> frozenset[ObjectKey]:
    """Services whose claims are unknown this pass (they could not be handled): their names must not be deleted."""
    return frozenset(d.subject.key for d in skipped if d.reason == PROCESSING_FAILED and d.subject is not None)


def _claims_of(service: ServiceView, classes: ClassFilter) -> tuple[list[Claim], list[Diagnostic]]:
    if not_handled_because(service, classes) is not None:
        return [], []
    hostnames, problems = service_hostnames(service)
    if not hostnames:
        return [], list(problems)
    ttl, ttl_problem = _ttl(service)
    if ttl_problem is not None:
        return [], [*problems, ttl_problem]
    records_for = _records_of(service, ttl)
    if records_for is None:
        return [], list(problems)  # no VIP yet: nothing to publish
    return [Claim(h, service.key, service.created, ttl, records_for(h)) for h in hostnames], list(problems)


def for_provider(
    all_claims: Sequence[Claim], spec: DNSProviderSpec, zones: Sequence[Zone]
) -> tuple[dict[str, list[Claim]], list[Claim]]:
    """Claims by the zone (of `zones`, allowed by the spec's zones/domainFilters) that holds them; and the claims
    this provider does not serve. Namespace grants are applied by `granted`."""
    allowed_roots = (*spec.zones, *spec.domain_filters)
    by_zone: dict[str, list[Claim]] = {}
    outside: list[Claim] = []
    for claim in all_claims:
        if allowed_roots and not any(_within(claim.hostname, root) for root in allowed_roots):
            outside.append(claim)
            continue
        zone = max((z for z in zones if _within(claim.hostname, z.name)), key=lambda z: len(z.name), default=None)
        if zone is None:
            outside.append(claim)
        else:
            by_zone.setdefault(zone.name, []).append(claim)
    return by_zone, outside


def granted(claim: Claim, spec: DNSProviderSpec) -> str | None:
    """Why the claim's namespace may not use its hostname under the provider's allowedNamespaces, or None."""
    for grant in spec.allowed_namespaces:
        if _within(claim.hostname, grant.domain) and claim.service.namespace not in grant.namespaces:
            return f"namespace {claim.service.namespace} may not publish names under {grant.domain}"
    return None


def _within(hostname: str, domain: str) -> bool:
    name = hostname[2:] if hostname.startswith("*.") else hostname
    return name == domain or name.endswith("." + domain) or hostname.endswith("." + domain)


def _ttl(service: ServiceView) -> tuple[int, Diagnostic | None]:
    found = ann.lookup(service.annotations, ann.TTL)
    if found is None:
        return DEFAULT_TTL, None
    name, text = found
    try:
        ttl = parse_uint(trim(text), 0, 2**63)
    except ValueError:
        return 0, _not_published(
            service.key, f"TTL {show(text)} is not a whole number of seconds", field=ann.field(name)
        )
    if not MIN_TTL <= ttl <= MAX_TTL:
        return 0, _not_published(
            service.key, f"TTL {ttl} is outside {MIN_TTL}..{MAX_TTL} seconds", field=ann.field(name)
        )
    return ttl, None


def _records_of(service: ServiceView, ttl: int) -> _RecordsFor | None:
    v4: list[str] = []
    v6: list[str] = []
    for text in service.ingress_ips:
        try:
            ip = parse_ip(text)
        except ValueError:
            continue
        (v4 if ip.version == 4 else v6).append(str(ip))
    if not v4 and not v6:
        return None
    return _RecordsFor(ttl, tuple(v4), tuple(v6))


@dataclass(frozen=True)
class _RecordsFor:
    ttl: int
    v4: tuple[str, ...]
    v6: tuple[str, ...]

    def __call__(self, hostname: str) -> tuple[RecordSet, ...]:
        out = []
        if self.v4:
            out.append(RecordSet.of(hostname, "A", self.ttl, self.v4))
        if self.v6:
            out.append(RecordSet.of(hostname, "AAAA", self.ttl, self.v6))
        return tuple(out)


def _not_published(service: ObjectKey, message: str, *, field: str = "", about: str = "") -> Diagnostic:
    return Diagnostic(service_ref(service), DNS_NOT_PUBLISHED, message, field=field, about=about)
