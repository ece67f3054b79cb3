"""What DNS should say: the record sets of each hostname — A/AAAA of each Service with VIPs and hostnames, and what
each source (Ingress, Gateway API route: addresses; DNSEndpoint: any type, `dnslb.core.sources`) wants. Pure.

Only the VIPs in a Service's status are published, never node addresses. Two objects claiming one hostname, of any
kinds, in any namespaces: the earlier-created keeps it, the other is told why. Bad annotations skip that hostname
(or Service) with a reason.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Collection, Iterable, Mapping, Sequence
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING

from dnslb.core import annotations as ann
from dnslb.core.config.resources import DNSProviderSpec
from dnslb.core.diagnostics import (
    ANNOTATION_IGNORED,
    DNS_NOT_PUBLISHED,
    DNS_SHARED,
    INVALID_OBJECT,
    PROCESSING_FAILED,
    Diagnostic,
    failed,
)
from dnslb.core.dns.hostnames import service_hostnames
from dnslb.core.grammar import parse_go_duration, parse_ip, parse_uint, show, trim
from dnslb.core.ipam.request import ClassFilter, not_handled_because
from dnslb.core.model import ServiceView
from dnslb.core.objects import ObjectRef, service_ref
from dnslb.provider import RecordSet, Zone

if TYPE_CHECKING:  # sources import this module's TTL bounds
    from dnslb.core.sources.records import SourceRecord

DEFAULT_TTL = 300
_SECONDS = re.compile(r"[0-9]+")
MIN_TTL, MAX_TTL = 1, 604_800


@dataclass(frozen=True)
class Claim:
    """An object's wish for one hostname."""

    hostname: str
    owner: ObjectRef  # a Service, or the source object (Ingress, HTTPRoute, ..., DNSEndpoint) that wants the name
    created: str
    ttl: int
    records: tuple[RecordSet, ...]  # A and/or AAAA; a DNSEndpoint's also other types (never a CNAME beside them)
    gated: bool = True  # points at a dnslb VIP: the DNS gate applies (a source's other addresses pass it)


def claims(
    services: Iterable[ServiceView],
    classes: ClassFilter,
    sourced: Iterable[SourceRecord] = (),
    providers: Sequence[DNSProviderSpec] = (),
    sharing: Collection[ObjectRef] = (),
) -> tuple[list[Claim], list[Diagnostic]]:
    """Every hostname claimed by a Service of ours that has VIPs, or wanted by a source record; the earlier-created
    object wins a hostname claimed twice, whatever the kinds and namespaces (ties by kind, namespace, name). A claim
    a provider's tenant grants refuse (`granted`) takes no part: a namespace cannot hold a name it may not publish
    against the namespace that may. Two objects that both opt in (`dnslb.io/shared-hostnames: "true"` on a Service;
    `sharing`, the source objects that carry it) share a name — its addresses are both's (blue/green) — where they
    are in one namespace or a grant for the name lists both namespaces."""
    found: list[Claim] = []
    skipped: list[Diagnostic] = []
    ours = [s for s in services if not_handled_because(s, classes) is None]
    opted = set(sharing)
    for service in ours:
        try:  # a bug meeting one Service costs its names this pass (they are held, not deleted), not everyone's
            service_claims, problems = _claims_of(service)
            share, problem = shares(service.annotations)
        except Exception as exc:
            skipped.append(failed(service_ref(service.key), exc))
            continue
        found += service_claims
        skipped += problems
        if share:
            opted.add(service_ref(service.key))
        if problem is not None:
            skipped.append(Diagnostic(service_ref(service.key), INVALID_OBJECT, problem[1], field=problem[0]))
    vips = {str(parse_ip(ip)) for s in ours for ip in s.ingress_ips if _is_ip(ip)}
    found += (_sourced_claim(record, any(a in vips for a in record.addresses)) for record in sourced)
    winners: dict[str, Claim] = {}
    for claim in sorted(found, key=_order):
        refusal = next((why for spec in providers if (why := granted(claim, spec)) is not None), None)
        if refusal is not None:
            skipped.append(_not_published(claim.owner, refusal, about=claim.hostname))
            continue
        holder = winners.setdefault(claim.hostname, claim)
        if holder is claim:
            continue
        earlier = f"the earlier {holder.owner.kind} {holder.owner.key}"
        why_not = _why_not_shared(holder, claim, opted, providers)
        if why_not is None:
            winners[claim.hostname] = _together(holder, claim)
            message = f"shared with {earlier}: both carry {SHARED}; the name answers with both's addresses"
            skipped.append(Diagnostic(claim.owner, DNS_SHARED, message, about=claim.hostname, severity="Normal"))
            continue
        field = ann.field(ann.HOSTNAME[0]) if claim.owner.kind == "Service" else ""
        reason = f"hostname is already claimed by {earlier}" + (f" ({why_not})" if why_not else "")
        skipped.append(_not_published(claim.owner, reason, field=field, about=claim.hostname))
    return list(winners.values()), skipped


SHARED = f'{ann.SHARED_HOSTNAMES[0]}: "true"'


def shares(annotations: Mapping[str, str]) -> tuple[bool, tuple[str, str] | None]:
    """Whether the object opts in to sharing its hostnames; and what is wrong with the annotation, as (field,
    message): a value other than "true" or "false" only costs the sharing."""
    found = ann.lookup(annotations, ann.SHARED_HOSTNAMES)
    if found is None or found[1] == "false":
        return False, None
    if found[1] == "true":
        return True, None
    return False, (ann.field(found[0]), f"{show(found[1])} is not true or false; the hostnames are not shared")


def _why_not_shared(
    holder: Claim, claim: Claim, opted: Collection[ObjectRef], providers: Sequence[DNSProviderSpec]
) -> str | None:
    """None when the two may share the name; "" when sharing was not asked for by both; else why not."""
    if holder.owner not in opted or claim.owner not in opted:
        return ""
    if any(r.type not in ("A", "AAAA") for r in (*holder.records, *claim.records)):
        return "only addresses are shared"
    namespaces = {holder.owner.key.namespace, claim.owner.key.namespace}
    if len(namespaces) == 1:
        return None
    grants = [g for spec in providers for g in spec.allowed_namespaces if _within(claim.hostname, g.domain)]
    if any(namespaces <= set(g.namespaces) for g in grants):
        return None
    return "sharing across namespaces needs an allowedNamespaces grant for the name that lists both"


def _together(holder: Claim, claim: Claim) -> Claim:
    """The holder's claim with the other's addresses added (the holder's TTL and ownership)."""
    values: dict[str, set[str]] = {}
    for record in (*holder.records, *claim.records):
        values.setdefault(record.type, set()).update(record.values)
    records = tuple(
        RecordSet.of(holder.hostname, t, holder.ttl, sorted(v, key=parse_ip)) for t, v in sorted(values.items())
    )
    return replace(holder, records=records, gated=holder.gated or claim.gated)


def _order(claim: Claim) -> tuple[bool, str, ObjectRef]:
    """Earlier-created first, not-yet-created last; ties by kind and name, so every process orders claims alike."""
    return (not claim.created, claim.created, claim.owner)


@functools.lru_cache(maxsize=1 << 16)  # a pass makes the same claims as the last, but for what changed
def _sourced_claim(record: SourceRecord, gated: bool) -> Claim:
    ttl = DEFAULT_TTL if record.ttl is None else record.ttl
    v4 = tuple(a for a in record.addresses if ":" not in a)
    v6 = tuple(a for a in record.addresses if ":" in a)
    records = _RecordsFor(ttl, v4, v6)(record.hostname)
    others = tuple(RecordSet.of(record.hostname, r.type, ttl, r.values) for r in sorted(record.records))
    return Claim(record.hostname, record.owner, record.created, ttl, records + others, gated)


def _is_ip(text: str) -> bool:
    try:
        parse_ip(text)
    except ValueError:
        return False
    return True


def held(skipped: Iterable[Diagnostic]) -> frozenset[ObjectRef]:
    """Objects whose claims are unknown this pass (they could not be handled): their names must not be deleted."""
    return frozenset(d.subject for d in skipped if d.reason == PROCESSING_FAILED and d.subject is not None)


def _claims_of(service: ServiceView) -> tuple[list[Claim], list[Diagnostic]]:
    controller = ann.lookup(service.annotations, ann.CONTROLLER)
    if controller is not None and controller[1] != ann.OUR_CONTROLLER:  # another controller's names, as in external-dns
        message = f"skipped: controller annotation names {show(controller[1])}, not {show(ann.OUR_CONTROLLER)}"
        field = ann.field(controller[0])
        return [], [Diagnostic(service_ref(service.key), DNS_NOT_PUBLISHED, message, field=field, severity="Normal")]
    hostnames, problems = service_hostnames(service)
    if not hostnames:
        return [], list(problems)
    ttl, ttl_problem = _ttl(service)
    if ttl_problem is not None:
        problems = (*problems, ttl_problem)
    target = ignored_target(service.annotations)
    if target is not None:
        problems = (*problems, Diagnostic(service_ref(service.key), ANNOTATION_IGNORED, target[1], field=target[0]))
    records_for = _records_of(service, ttl)
    if records_for is None:
        return [], list(problems)  # no VIP yet: nothing to publish
    owner = service_ref(service.key)
    return [Claim(h, owner, service.created, ttl, records_for(h)) for h in hostnames], list(problems)


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
        namespace = claim.owner.key.namespace
        if _within(claim.hostname, grant.domain) and namespace not in grant.namespaces:
            return f"namespace {namespace} may not publish names under {grant.domain}"
    return None


def _within(hostname: str, domain: str) -> bool:
    name = hostname[2:] if hostname.startswith("*.") else hostname
    return name == domain or name.endswith("." + domain) or hostname.endswith("." + domain)


def annotation_ttl(annotations: Mapping[str, str]) -> tuple[int | None, tuple[str, str] | None]:
    """The TTL annotation's seconds (None: none set), and what is wrong with it as (field, message): a value dnslb
    cannot use costs the TTL only (the default applies), never the names."""
    found = ann.lookup(annotations, ann.TTL)
    if found is None:
        return None, None
    name, text = found
    try:  # whole seconds, or a Go duration as external-dns takes it ("90s", "1m30s", "2h"), in whole seconds
        ttl = parse_uint(trim(text), 0, 2**63) if _SECONDS.fullmatch(trim(text)) else int(parse_go_duration(trim(text)))
    except ValueError:
        message = f"TTL {show(text)} is neither whole seconds nor a duration like 1m30s; the default applies"
        return None, (ann.field(name), message)
    if not MIN_TTL <= ttl <= MAX_TTL:
        return None, (ann.field(name), f"TTL {ttl} is outside {MIN_TTL}..{MAX_TTL} seconds; the default applies")
    return ttl, None


def ignored_target(annotations: Mapping[str, str]) -> tuple[str, str] | None:
    """external-dns's target annotation on a Service, as (field, why it is not used): dnslb publishes the VIPs."""
    found = ann.lookup(annotations, ann.TARGET)
    if found is None or not trim(found[1]):
        return None
    return ann.field(found[0]), f"{show(found[1])} is not used: dnslb publishes the Service's VIPs"


def _ttl(service: ServiceView) -> tuple[int, Diagnostic | None]:
    ttl, problem = annotation_ttl(service.annotations)
    if problem is None:
        return (DEFAULT_TTL if ttl is None else ttl), None
    field, message = problem
    return DEFAULT_TTL, Diagnostic(service_ref(service.key), INVALID_OBJECT, message, field=field)


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


def _not_published(owner: ObjectRef, message: str, *, field: str = "", about: str = "") -> Diagnostic:
    return Diagnostic(owner, DNS_NOT_PUBLISHED, message, field=field, about=about)
