"""`dnslb plan`: what the controller would do with these manifests, computed with the same core.

Services that already carry VIPs in their status (as `kubectl get -o yaml` prints them) are restored first, exactly as
the controller does at startup; then the rest get addresses, earlier-created first.

DNS is planned against empty zones, or (`--live`) against each DNSProvider's zones as the provider holds them now,
read with the controller's own reader through a wrapper whose `apply` raises: a plan never writes DNS. Every hostname
that would not be published is listed with the reason the controller would give in its DNSNotPublished Event.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import asdict, dataclass, field, replace
from typing import Any, Literal

import yaml
from kubernetes.client import CoreV1Api
from kubernetes.client.rest import ApiException

from dnslb.adapters.dnssync.plugins import create as create_provider
from dnslb.adapters.dnssync.sync import ProviderSync
from dnslb.adapters.kube.client import api_client
from dnslb.adapters.kube.dnsstate import read_secret
from dnslb.core.bgp.policy import service_attributes
from dnslb.core.config import AddressPool, Config, DNSProvider, is_config, load_config
from dnslb.core.config.resources import DNSProviderSpec
from dnslb.core.diagnostics import (
    ANNOTATION_IGNORED,
    DNS_SHARED,
    INVALID_OBJECT,
    IP_CONFLICT,
    IP_NOT_IN_POOL,
    Diagnostic,
)
from dnslb.core.dns import gate
from dnslb.core.dns.batch import Group, pack
from dnslb.core.dns.changes import zone_changes
from dnslb.core.dns.desired import (
    Claim,
    annotation_ttl,
    claims,
    for_provider,
    granted,
    held,
    ignored_target,
    shares,
)
from dnslb.core.dns.hostnames import service_hostnames
from dnslb.core.ipam import CLASSLESS, ClassFilter, PoolUsage, not_handled_because
from dnslb.core.ipam.decisions import VIPDecisions
from dnslb.core.manifests import Document
from dnslb.core.model import ServiceView, ShapeError, service_view
from dnslb.core.objects import ObjectKey, ObjectRef, service_ref
from dnslb.core.sources.read import (
    DNSENDPOINT,
    INGRESS,
    KIND_OF,
    ROUTE_SOURCES,
    SOURCES,
    SourceObjects,
    SourceSettings,
    SourcesRead,
    read_sources,
)
from dnslb.provider import MAX_NAME_LENGTH, RECORD_TYPES, Change, Cost, Limits, Provider, RecordSet, Zone, default_cost

Status = Literal["allocated", "kept", "refused", "conflict", "ignored"]

ALL_SOURCES = SourceSettings(enabled=frozenset(SOURCES))
_GATEWAY_API = "gateway.networking.k8s.io/"
EXIT_OK, EXIT_NO_VIP, EXIT_INVALID, EXIT_WARNINGS, EXIT_UNREADABLE = 0, 1, 2, 3, 4


@dataclass(frozen=True)
class ServicePlan:
    service: ObjectKey
    status: Status
    pool: str | None = None
    ips: tuple[str, ...] = ()
    hostnames: tuple[str, ...] = ()
    reason: str = ""
    field: str | None = None
    warnings: tuple[str, ...] = ()

    @property
    def got_no_vip(self) -> bool:
        return self.status in ("refused", "conflict")


@dataclass(frozen=True)
class DNSChange:
    provider: str
    zone: str
    change: str
    previous: str | None = None  # the record set an update or delete replaces, as it stands
    after: str = ""  # what the change waits for (the DNS gate): "a node announces 10.0.0.5"


@dataclass(frozen=True)
class TakenOver:
    """A record set nobody owns that takeover would replace (the controller saves it for `dnslb dns rollback`)."""

    provider: str
    zone: str
    record: str


@dataclass(frozen=True)
class SourcePlan:
    """An Ingress, Gateway API route or DNSEndpoint: the names it wants, at which addresses, and what it was told."""

    owner: ObjectRef
    records: tuple[str, ...]  # "hostname -> address,address"
    warnings: tuple[str, ...] = ()


@dataclass(frozen=True)
class Unpublished:
    """A hostname a Service (or a source object) asks for that would not be published, and why."""

    owner: ObjectRef
    hostname: str
    provider: str | None  # None: refused before any provider sees it (a conflicting claim, a bad TTL)
    reason: str


@dataclass(frozen=True)
class Plan:
    services: tuple[ServicePlan, ...]
    usage: tuple[PoolUsage, ...]
    errors: tuple[str, ...] = ()
    notes: tuple[str, ...] = field(default=())
    dns: tuple[DNSChange, ...] = ()
    unpublished: tuple[Unpublished, ...] = ()
    replaced: tuple[TakenOver, ...] = ()
    unreadable: tuple[str, ...] = ()  # DNSProviders that could not be read (--live), one line each
    live: bool = False
    sources: tuple[SourcePlan, ...] = ()

    @property
    def exit_code(self) -> int:
        """The first that applies: 2 invalid input; 4 a DNSProvider could not be read; 1 a Service got no VIP;
        3 warnings (a hostname would not be published, a warning on a Service); else 0."""
        if self.errors:
            return EXIT_INVALID
        if self.unreadable:
            return EXIT_UNREADABLE
        if any(s.got_no_vip for s in self.services):
            return EXIT_NO_VIP
        if self.unpublished or any(s.warnings for s in self.services) or any(s.warnings for s in self.sources):
            return EXIT_WARNINGS
        return EXIT_OK


@dataclass(frozen=True)
class ProviderZones:
    """One DNSProvider's zones and what they hold: read from the provider (--live), or assumed empty."""

    zones: tuple[Zone, ...]
    records: Mapping[str, tuple[RecordSet, ...]] = field(default_factory=dict)
    limits: Limits | None = None  # known only from the provider itself
    cost: Callable[[Change], Cost] = default_cost
    notes: tuple[str, ...] = ()


ReadZones = Callable[[DNSProvider], ProviderZones]  # raises when the provider cannot be read
Secrets = Callable[[str], Mapping[str, str]]  # a Secret's data, by the Secret's name


def make_plan(
    documents: Iterable[Document],
    classes: ClassFilter = CLASSLESS,
    *,
    owner: str = "dnslb",
    read_zones: ReadZones | None = None,
    prune: bool = False,
    namespace: str = "dnslb-system",
    sources: SourceSettings = ALL_SOURCES,
) -> Plan:
    """`owner`: the controller's --owner-id. `read_zones`: where DNS is read (None: every zone empty). `prune`: the
    documents hold every Service, so names of ours that none of them claims are deleted. `namespace`: the
    controller's; config resources elsewhere are ignored, as the controller ignores them."""
    documents = list(documents)
    notes: list[str] = []
    config_documents = []
    for document in (d for d in documents if is_config(d)):
        where = str((document.body.get("metadata") or {}).get("namespace") or namespace)
        if where == namespace:
            config_documents.append(document)
        else:
            notes.append(
                f"{document.where}: skipped {document.kind} in namespace {where}; "
                f"the controller reads its config from {namespace} only"
            )
    config, config_errors = load_config(config_documents)
    errors = [str(e) for e in config_errors]
    invalid_pools = {
        e.subject.key.name: e.describe() for e in config_errors if e.subject and e.subject.kind == "AddressPool"
    }
    services: list[ServiceView] = []
    namespace_labels: dict[str, Mapping[str, str]] = {}
    objects = _SourceDocuments()
    for document in documents:
        if is_config(document):
            continue
        if objects.add(document):
            continue
        if document.api_version == "v1" and document.kind == "Service":
            try:
                services.append(service_view(document.body))
            except ShapeError as exc:
                errors.append(f"{document.where}: Service: {exc}")
        elif document.api_version == "v1" and document.kind == "Namespace":
            metadata = document.body.get("metadata") or {}
            namespace_labels[str(metadata.get("name"))] = metadata.get("labels") or {}
        else:
            kind = f"{document.api_version or '?'} {document.kind or '?'}"
            notes.append(
                f"{document.where}: skipped {kind}; plan reads dnslb.io config, Services, Namespaces, Ingresses, "
                "Gateways, Gateway API routes and DNSEndpoints"
            )
    plans, usage = _plan_services(services, config.pools, namespace_labels, classes)
    plans = [_blame_invalid_pool(p, invalid_pools) for p in plans]
    sourced = read_sources(objects.objects(lambda n: namespace_labels.get(n, {})), sources)
    dns = _plan_dns(config, services, plans, classes, _DNSInputs(owner, read_zones, prune), sourced=sourced)
    return Plan(
        tuple(plans),
        tuple(usage),
        tuple(errors),
        (*notes, *dns.notes),
        dns.changes,
        _in_service_order(dns.unpublished, plans),
        dns.replaced,
        dns.unreadable,
        live=read_zones is not None,
        sources=_source_plans(sourced),
    )


class _SourceDocuments:
    """The source objects among the documents: Ingresses, Gateways, Gateway API routes, DNSEndpoints."""

    def __init__(self) -> None:
        self._by_kind: dict[str, list[Mapping[str, Any]]] = {}
        self._gateways: dict[ObjectKey, Mapping[str, Any]] = {}

    def add(self, document: Document) -> bool:
        """Whether the document is one of them (and kept)."""
        group = document.api_version.rpartition("/")[0]
        if document.kind == "Gateway" and group == _GATEWAY_API[:-1]:
            metadata = document.body.get("metadata") or {}
            key = ObjectKey(str(metadata.get("namespace") or "default"), str(metadata.get("name") or ""))
            self._gateways[key] = document.body
            return True
        known: dict[str, str] = {
            "Ingress": "networking.k8s.io",
            "DNSEndpoint": "externaldns.k8s.io",
            **{kind: _GATEWAY_API[:-1] for kind in ROUTE_SOURCES.values()},
        }
        if known.get(document.kind) != group:
            return False
        self._by_kind.setdefault(document.kind, []).append(document.body)
        return True

    def objects(self, labels: Callable[[str], Mapping[str, str]]) -> SourceObjects:
        return SourceObjects(
            ingresses=self._by_kind.get(KIND_OF[INGRESS], []),
            routes={kind: self._by_kind.get(kind, []) for kind in ROUTE_SOURCES.values()},
            gateways=self._gateways,
            dnsendpoints=self._by_kind.get(KIND_OF[DNSENDPOINT], []),
            namespace_labels=labels,
        )


def _source_plans(sourced: SourcesRead) -> tuple[SourcePlan, ...]:
    records: dict[ObjectRef, list[str]] = {ref: [] for ref in sourced.owners}
    for record in sourced.records:
        values = (*record.addresses, *(f"{r.type} {v}" for r in record.records for v in r.values))
        records.setdefault(record.owner, []).append(f"{record.hostname} -> {','.join(values)}")
    warnings: dict[ObjectRef, list[str]] = {}
    for problem in sourced.problems:
        if problem.subject is not None:
            warnings.setdefault(problem.subject, []).append(problem.describe())
    return tuple(
        SourcePlan(ref, tuple(records.get(ref, ())), tuple(warnings.get(ref, ())))
        for ref in sorted(set(records) | set(warnings))
    )


def _blame_invalid_pool(plan: ServicePlan, invalid: Mapping[str, str]) -> ServicePlan:
    """A Service refused for want of a pool that is there but invalid is told the pool's own error."""
    if plan.status != "refused" or not plan.reason:
        return plan
    for name, error in sorted(invalid.items()):
        if plan.reason == f"no AddressPool '{name}'":
            return replace(plan, reason=f"AddressPool '{name}' is invalid: {error}")
    if plan.reason == "no AddressPool is configured" and invalid:
        shown = "; ".join(f"AddressPool '{n}': {e}" for n, e in sorted(invalid.items()))
        return replace(plan, reason=f"no valid AddressPool ({shown})")
    return plan


@dataclass(frozen=True)
class _DNSInputs:
    owner: str
    read_zones: ReadZones | None
    prune: bool


@dataclass(frozen=True)
class DNSPlan:
    changes: tuple[DNSChange, ...] = ()
    replaced: tuple[TakenOver, ...] = ()
    unpublished: tuple[Unpublished, ...] = ()
    notes: tuple[str, ...] = ()
    unreadable: tuple[str, ...] = ()

    def __add__(self, other: DNSPlan) -> DNSPlan:
        return DNSPlan(
            self.changes + other.changes,
            self.replaced + other.replaced,
            self.unpublished + other.unpublished,
            self.notes + other.notes,
            self.unreadable + other.unreadable,
        )


def _plan_dns(
    config: Config,
    services: list[ServiceView],
    plans: list[ServicePlan],
    classes: ClassFilter,
    given: _DNSInputs,
    *,
    sourced: SourcesRead,
) -> DNSPlan:
    """What each DNSProvider would get, and every hostname that would not be published, as the DNS loop decides."""
    vips = {p.service: p.ips for p in plans}
    with_vips = [replace(s, ingress_ips=vips.get(s.key, ())) for s in services]
    found, skipped = claims(with_vips, classes, sourced.records, [p.spec for p in config.providers], sourced.sharing)
    shared = tuple(f"{d.about}: {d.subject}: {d.message}" for d in skipped if d.reason == DNS_SHARED)
    total = DNSPlan(unpublished=tuple(_claim_refusals(skipped, services)), notes=shared)
    outside: dict[str, frozenset[Claim]] = {}  # by planned provider: the claims no zone of it holds
    unknown: list[DNSProviderSpec] = []  # providers whose zones are not known: they may serve any of their names
    for resource in config.providers:
        try:
            zones = _zones(resource, given.read_zones)
        except Exception as exc:  # a broken plugin, Secret or provider must not stop the others
            total += DNSPlan(unreadable=(f"DNSProvider {resource.name} cannot be read: {_one_line(exc)}",))
            unknown.append(resource.spec)
            continue
        if zones is None:
            note = f"DNSProvider {resource.name} names no zones or domainFilters: plan cannot place its names"
            total += DNSPlan(notes=(note,))
            unknown.append(resource.spec)
            continue
        provider_plan, outside[resource.name] = _plan_provider(resource, found, zones, held(skipped), given)
        total += provider_plan
    return total + DNSPlan(unpublished=tuple(_unserved(found, outside, unknown)))


def _zones(resource: DNSProvider, read_zones: ReadZones | None) -> ProviderZones | None:
    if read_zones is not None:
        return read_zones(resource)
    names = resource.spec.zones or resource.spec.domain_filters
    return ProviderZones(tuple(Zone(z, z) for z in names)) if names else None


def _claim_refusals(skipped: Sequence[Diagnostic], services: Sequence[ServiceView]) -> list[Unpublished]:
    """Claims refused before any provider (conflicts, TTL), one per hostname; bad hostnames are on the Service's row."""
    on_rows = {problem for s in services for problem in service_hostnames(s)[1]}
    hostnames = {s.key: service_hostnames(s)[0] for s in services}
    refused = []
    for skip in skipped:
        if skip in on_rows or skip.subject is None or skip.reason in (INVALID_OBJECT, DNS_SHARED, ANNOTATION_IGNORED):
            continue  # a TTL dnslb cannot use: a warning on the Service's row, its names are published
        if skip.subject.kind != "Service":
            if skip.about:
                refused.append(Unpublished(skip.subject, skip.about, None, _reason(skip)))
            continue
        for hostname in (skip.about,) if skip.about else hostnames.get(skip.subject.key, ()):
            refused.append(Unpublished(skip.subject, hostname, None, _reason(skip)))
    return refused


def _plan_provider(
    resource: DNSProvider, found: Sequence[Claim], zones: ProviderZones, kept: frozenset[ObjectRef], given: _DNSInputs
) -> tuple[DNSPlan, frozenset[Claim]]:
    """One provider, as `ProviderSync.sync` decides: zone by zone, grants, then the zone's changes and refusals; and
    the claims no zone of it holds."""
    spec, name = resource.spec, resource.name
    by_zone, outside = for_provider(found, spec, zones.zones)
    total = DNSPlan(notes=zones.notes)
    unclaimed = 0
    for zone in zones.zones:
        wanted: list[Claim] = []
        for claim in by_zone.get(zone.name, []):
            why = granted(claim, spec)
            if why is None:
                wanted.append(claim)
            else:
                total += DNSPlan(unpublished=(Unpublished(claim.owner, claim.hostname, name, why),))
        result = zone_changes(
            wanted,
            zones.records.get(zone.name, ()),
            spec.owner_id or given.owner,
            policy=spec.policy,
            takeover=spec.takeover,
            held=kept,
            max_name=zones.limits.max_name if zones.limits else MAX_NAME_LENGTH,
            types=zones.limits.record_types if zones.limits else RECORD_TYPES,
        )
        claimed = {c.hostname: c.owner for c in wanted}
        waits = {c.hostname: f"a node announces {', '.join(sorted(gate.vips(c)))}" for c in wanted if c.gated}
        # the only groups at names nobody claims are deletes of ours: planned only when the manifests are everything
        groups = [g for g in result.groups if given.prune or g.name in claimed]
        unclaimed += len(result.groups) - len(groups)
        sent, too_big = _fitted(name, groups, zones, claimed)
        total += too_big + DNSPlan(
            changes=tuple(_changes(name, zone.name, sent, waits if spec.publish_when == "Announced" else {})),
            replaced=tuple(TakenOver(name, zone.name, str(r)) for r in result.replaced),
            unpublished=tuple(_refused(d, name) for d in result.refused),
        )
    if unclaimed:
        owner = spec.owner_id or given.owner
        note = (
            f"DNSProvider {name}: {unclaimed} name(s) owned by {owner} are claimed by no object given; "
            "--prune plans their deletion (give every Service and source object of the cluster)"
        )
        total += DNSPlan(notes=(note,))
    return total, frozenset(outside)


def _fitted(
    name: str, groups: list[Group], zones: ProviderZones, claimed: Mapping[str, ObjectRef]
) -> tuple[list[Group], DNSPlan]:
    """The groups that fit one request of the provider, and why the others are not sent (as the controller says)."""
    if zones.limits is None:
        return groups, DNSPlan()
    _, oversized = pack(groups, zones.limits, zones.cost)
    refused: list[Unpublished] = []
    notes: list[str] = []
    for too_big in oversized:
        reason = f"DNSProvider {name}: the records for this name {too_big.message}; not sent"
        service = claimed.get(too_big.about)
        if service is None:
            notes.append(f"{too_big.about}: {reason}")
        else:
            refused.append(Unpublished(service, too_big.about, name, reason))
    left_out = {o.about for o in oversized}
    return [g for g in groups if g.name not in left_out], DNSPlan(unpublished=tuple(refused), notes=tuple(notes))


def _changes(provider: str, zone: str, groups: Iterable[Group], waits: Mapping[str, str]) -> Iterable[DNSChange]:
    """The changes, each with what it waits for: a name is published once a node announces its VIP (the gate)."""
    for group in groups:
        for change in group.changes:
            if change.action == "require":  # a guard on the ownership record, not a change
                continue
            after = waits.get(group.name, "") if change.action != "delete" else ""
            yield DNSChange(provider, zone, str(change), str(change.previous) if change.previous else None, after)


def _unserved(
    found: Sequence[Claim], outside: Mapping[str, frozenset[Claim]], unknown: Sequence[DNSProviderSpec]
) -> Iterable[Unpublished]:
    """Claims that no zone of any provider holds, reported by each provider as the controller reports them. A claim
    another provider publishes is not reported (the controller reports it from every provider that does not hold
    it), nor one a provider whose zones are unknown (unreadable, unplaceable) may hold."""
    for claim in found:
        if outside and all(claim in o for o in outside.values()) and not any(_may_serve(s, claim) for s in unknown):
            for provider in sorted(outside):
                yield Unpublished(claim.owner, claim.hostname, provider, "no managed zone holds this name")


def _may_serve(spec: DNSProviderSpec, claim: Claim) -> bool:
    roots = (*spec.zones, *spec.domain_filters)
    return not roots or bool(for_provider([claim], spec, [Zone(r, r) for r in roots])[0])


def _refused(diagnostic: Diagnostic, provider: str) -> Unpublished:
    assert diagnostic.subject is not None  # zone_changes refuses claims, and a claim has an owner
    return Unpublished(diagnostic.subject, diagnostic.about, provider, _reason(diagnostic))


def _reason(diagnostic: Diagnostic) -> str:
    return ": ".join(part for part in (diagnostic.field, diagnostic.message) if part)


def _in_service_order(unpublished: Iterable[Unpublished], plans: Sequence[ServicePlan]) -> tuple[Unpublished, ...]:
    position = {service_ref(p.service): i for i, p in enumerate(plans)}

    def order(u: Unpublished) -> tuple[int, ObjectRef, str, str]:
        return (position.get(u.owner, len(position)), u.owner, u.hostname, u.provider or "")

    return tuple(sorted(unpublished, key=order))


class WouldWrite(Exception):
    """A plan tried to write DNS: a bug, never an outcome."""


class Unreadable(Exception):
    """What a DNSProvider needs could not be read; the message is for the operator."""


class ReadOnly:
    """A provider `dnslb plan --live` reads and never writes: `apply` raises before the provider sees it."""

    def __init__(self, provider: Provider) -> None:
        self._provider = provider

    @property
    def limits(self) -> Limits:
        return self._provider.limits

    def cost(self, change: Change) -> Cost:
        return self._provider.cost(change)

    def zones(self) -> list[Zone]:
        return self._provider.zones()

    def records(self, zone: Zone) -> list[RecordSet]:
        return self._provider.records(zone)

    def apply(self, zone: Zone, changes: Sequence[Change]) -> None:
        raise WouldWrite(f"dnslb plan never writes DNS: {len(changes)} changes to {zone.name} not sent")


@dataclass(frozen=True)
class LiveZones:
    """Reads a DNSProvider's zones from the provider with the controller's reader (its zone choice and retries).
    `secrets`: the cluster's Secrets; None when no cluster was given (providers get an empty secret)."""

    secrets: Secrets | None
    owner: str

    def __call__(self, resource: DNSProvider) -> ProviderZones:
        secret, notes = self._secret(resource)
        provider = ReadOnly(create_provider(resource.spec.type, resource.spec.settings, secret))
        reader = ProviderSync(resource.name, resource.spec, provider, self.owner, save_replaced=_never_saved)
        reader.read()
        notes += [f"DNSProvider {resource.name}: zone {z} does not exist" for z in reader.missing_zones]
        zones = tuple(Zone(z, z) for z in reader.zone_names())
        records = {z.name: tuple(reader.records(z.name)) for z in zones}
        return ProviderZones(zones, records, reader.limits, provider.cost, tuple(notes))

    def _secret(self, resource: DNSProvider) -> tuple[Mapping[str, str], list[str]]:
        ref = resource.spec.secret_ref
        if ref is None:
            return {}, []
        if self.secrets is None:
            note = (
                f"DNSProvider {resource.name}: Secret {ref.name} not read (no --kubeconfig or --api-server); "
                "the provider uses its default credentials"
            )
            return {}, [note]
        return self.secrets(ref.name), []


def _never_saved(zone: Zone, records: Sequence[RecordSet]) -> None:
    raise WouldWrite(f"dnslb plan never saves taken-over records ({len(records)} in {zone.name})")


def cluster_secrets(kubeconfig: str | None, api_server: str | None, namespace: str) -> Secrets:
    """DNSProviders' Secrets, read from `namespace` of the cluster when a provider names one."""
    core = CoreV1Api(api_client(kubeconfig, api_server))

    def read(name: str) -> Mapping[str, str]:
        try:
            return read_secret(core, namespace, name)
        except ApiException as exc:
            raise Unreadable(f"Secret {namespace}/{name}: HTTP {exc.status} {exc.reason}") from None

    return read


def _one_line(exc: Exception) -> str:
    text = str(exc) if isinstance(exc, Unreadable) else f"{type(exc).__name__}: {exc}"
    return " ".join(text.split())


def _plan_services(
    services: list[ServiceView],
    pools: tuple[AddressPool, ...],
    namespace_labels: Mapping[str, Mapping[str, str]],
    classes: ClassFilter,
) -> tuple[list[ServicePlan], list[PoolUsage]]:
    """The controller's own decisions (VIPDecisions) at its startup, read back per Service."""
    by_key = {s.key: s for s in services}
    decisions = VIPDecisions(pools, classes, lookup=by_key.get, namespace_labels=lambda n: namespace_labels.get(n, {}))
    notes: dict[ObjectKey, list[str]] = {}
    for action in decisions.start(services):
        if isinstance(action, Diagnostic) and action.reason == IP_NOT_IN_POOL and action.subject is not None:
            notes.setdefault(action.subject.key, []).append(action.describe())
    plans: list[ServicePlan] = []
    for service in sorted(services, key=lambda s: s.order):
        hostnames, hostname_problems = service_hostnames(service)
        _, ttl_problem = annotation_ttl(service.annotations)
        _, share_problem = shares(service.annotations)
        bgp_problems = service_attributes(service)[2]
        warnings = (
            *(p.describe() for p in (*hostname_problems, *bgp_problems)),
            *(": ".join(p) for p in (ttl_problem, share_problem, ignored_target(service.annotations)) if p),
            *notes.get(service.key, ()),
        )
        ignored = not_handled_because(service, classes)
        if ignored is not None:
            plans.append(ServicePlan(service.key, "ignored", hostnames=hostnames, reason=ignored, warnings=warnings))
            continue
        held = decisions.allocator.allocation(service.key)
        ips = tuple(str(ip) for ip in held.ips) if held else ()
        refusal = decisions.refusal(service.key)
        if refusal is None and held is not None:
            status: Status = "kept" if ips == service.ingress_ips else "allocated"
            plans.append(ServicePlan(service.key, status, held.pool, ips, hostnames, warnings=warnings))
            continue
        plans.append(
            ServicePlan(
                service.key,
                "conflict" if refusal is not None and refusal.reason == IP_CONFLICT else "refused",
                held.pool if held else None,
                ips,
                hostnames,
                refusal.message if refusal else "no decision",
                (refusal.field or None) if refusal else None,
                warnings,
            )
        )
    return plans, decisions.allocator.usage()


def to_data(plan: Plan) -> dict[str, Any]:
    return {
        "services": [
            {
                "namespace": s.service.namespace,
                "name": s.service.name,
                **{k: v for k, v in asdict(s).items() if k != "service"},
                "ips": list(s.ips),
                "hostnames": list(s.hostnames),
                "warnings": list(s.warnings),
            }
            for s in plan.services
        ],
        "pools": [asdict(u) for u in plan.usage],
        "dns": [asdict(d) for d in plan.dns],
        "replaced": [asdict(r) for r in plan.replaced],
        "sources": [
            {"object": str(s.owner), "records": list(s.records), "warnings": list(s.warnings)} for s in plan.sources
        ],
        "unpublished": [
            {"object": str(u.owner), **{k: v for k, v in asdict(u).items() if k != "owner"}} for u in plan.unpublished
        ],
        "errors": list(plan.errors),
        "unreadable": list(plan.unreadable),
        "notes": list(plan.notes),
        "live": plan.live,
    }


def render(plan: Plan, output: str) -> str:
    if output == "json":
        return json.dumps(to_data(plan), indent=2)
    if output == "yaml":
        return yaml.safe_dump(to_data(plan), sort_keys=False).rstrip("\n")
    return render_table(plan)


def render_table(plan: Plan) -> str:
    rows = [("SERVICE", "POOL", "VIPS", "HOSTNAMES", "STATUS")]
    for s in plan.services:
        status = s.status if not s.reason else f"{s.status}: {s.reason}"
        if s.field:
            status += f" [{s.field}]"
        rows.append((str(s.service), s.pool or "-", ",".join(s.ips) or "-", ",".join(s.hostnames) or "-", status))
        rows += [("", "", "", "", f"warning: {w}") for w in s.warnings]
    lines = _columns(rows)
    if plan.usage:
        lines.append("")
        lines += _columns(
            [("POOL", "FAMILY", "IN USE", "SIZE")]
            + [(u.pool, u.family, str(u.in_use), str(u.size)) for u in plan.usage]
        )
    lines += _sources_table(plan.sources)
    lines += _dns_table(plan)
    lines += _unpublished_table(plan.unpublished)
    return "\n".join(lines)


def _dns_table(plan: Plan) -> list[str]:
    lines = []
    against = "the zones as read" if plan.live else "empty zones"
    if plan.dns:
        lines += ["", *_columns([("DNS PROVIDER", "ZONE", f"CHANGE (against {against})")] + [
            (d.provider, d.zone, d.change + (f" (was {d.previous.partition(' ')[2]})" if d.previous else ""))
            for d in plan.dns
        ])]  # fmt: skip
        gated = sorted({d.provider for d in plan.dns if d.after})
        lines += [f"DNSProvider {p} writes each name once a node announces its VIP (publishWhen: Announced)"
                  for p in gated]  # fmt: skip
    elif plan.live and not plan.unreadable:
        lines += ["", "DNS: no changes"]
    if plan.replaced:
        lines += ["", *_columns([("DNS PROVIDER", "ZONE", "TAKEN OVER (replaced; saved for dnslb dns rollback)")] + [
            (r.provider, r.zone, r.record) for r in plan.replaced
        ])]  # fmt: skip
    return lines


def _unpublished_table(unpublished: Sequence[Unpublished]) -> list[str]:
    """Per Service, each hostname that would not be published and why (names can be long: no columns)."""
    lines = ["", "NOT PUBLISHED"] if unpublished else []
    owner = None
    for u in unpublished:
        if u.owner != owner:
            owner = u.owner
            lines.append(str(owner) if owner.kind != "Service" else str(owner.key))
        via = f" (DNSProvider {u.provider})" if u.provider else ""
        lines.append(f"  {u.hostname}{via}: {u.reason}")
    return lines


def _sources_table(sources: Sequence[SourcePlan]) -> list[str]:
    if not sources:
        return []
    rows = [("OBJECT", "RECORDS")]
    for s in sources:
        rows += [(str(s.owner) if i == 0 else "", r) for i, r in enumerate(s.records or ("-",))]
        rows += [("", f"warning: {w}") for w in s.warnings]
    return ["", *_columns(rows)]


def _columns(rows: Sequence[tuple[str, ...]]) -> list[str]:
    widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]))]
    return ["  ".join(cell.ljust(w) for cell, w in zip(r, widths, strict=True)).rstrip() for r in rows]
