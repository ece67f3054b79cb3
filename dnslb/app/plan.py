"""`dnslb plan`: what the controller would do with these manifests, computed offline with the same core.

Services that already carry VIPs in their status (as `kubectl get -o yaml` prints them) are restored first, exactly as
the controller does at startup; then the rest get addresses, earlier-created first.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import asdict, dataclass, field, replace
from typing import Any, Literal

import yaml

from dnslb.core.config import AddressPool, Config, is_config, load_config
from dnslb.core.diagnostics import IP_CONFLICT, IP_NOT_IN_POOL, Diagnostic
from dnslb.core.dns.changes import zone_changes
from dnslb.core.dns.desired import claims, for_provider, granted
from dnslb.core.dns.hostnames import service_hostnames
from dnslb.core.ipam import CLASSLESS, ClassFilter, PoolUsage, not_handled_because
from dnslb.core.ipam.decisions import VIPDecisions
from dnslb.core.manifests import Document
from dnslb.core.model import ServiceView, ShapeError, service_view
from dnslb.core.objects import ObjectKey
from dnslb.provider import Zone

Status = Literal["allocated", "kept", "refused", "conflict", "ignored"]


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


@dataclass(frozen=True)
class Plan:
    services: tuple[ServicePlan, ...]
    usage: tuple[PoolUsage, ...]
    errors: tuple[str, ...] = ()
    notes: tuple[str, ...] = field(default=())
    dns: tuple[DNSChange, ...] = ()

    @property
    def exit_code(self) -> int:
        """0 all valid; 1 a Service got no VIP; 2 invalid input."""
        if self.errors:
            return 2
        return 1 if any(s.got_no_vip for s in self.services) else 0


def make_plan(documents: Iterable[Document], classes: ClassFilter = CLASSLESS) -> Plan:
    documents = list(documents)
    config, config_errors = load_config(d for d in documents if is_config(d))
    errors = [str(e) for e in config_errors]
    notes: list[str] = []
    services: list[ServiceView] = []
    namespace_labels: dict[str, Mapping[str, str]] = {}
    for document in documents:
        if is_config(document):
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
            notes.append(f"{document.where}: skipped {kind}; plan reads dnslb.io config, Services and Namespaces")
    plans, usage = _plan_services(services, config.pools, namespace_labels, classes)
    dns, dns_notes = _plan_dns(config, services, plans, classes)
    return Plan(tuple(plans), tuple(usage), tuple(errors), (*notes, *dns_notes), tuple(dns))


def _plan_dns(
    config: Config, services: list[ServiceView], plans: list[ServicePlan], classes: ClassFilter
) -> tuple[list[DNSChange], list[str]]:
    """The records each DNSProvider would get, planned against empty zones (plan reads no live DNS)."""
    vips = {p.service: p.ips for p in plans if p.ips}
    views = [replace(s, ingress_ips=vips[s.key]) for s in services if s.key in vips]
    found, _ = claims(views, classes)
    changes: list[DNSChange] = []
    notes: list[str] = []
    for provider in config.providers:
        zone_names = provider.spec.zones or provider.spec.domain_filters
        if not zone_names:
            notes.append(f"DNSProvider {provider.name} names no zones or domainFilters: plan cannot place its names")
            continue
        by_zone, _ = for_provider(found, provider.spec, [Zone(z, z) for z in zone_names])
        owner = provider.spec.owner_id or "dnslb"
        for zone, zone_claims in sorted(by_zone.items()):
            allowed = [c for c in zone_claims if granted(c, provider.spec) is None]
            zone_plan = zone_changes(allowed, [], owner, policy=provider.spec.policy)
            changes += [DNSChange(provider.name, zone, str(c)) for c in zone_plan.changes]
    return changes, notes


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
        warnings = tuple(p.describe() for p in hostname_problems) + tuple(notes.get(service.key, ()))
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
        "errors": list(plan.errors),
        "notes": list(plan.notes),
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
    if plan.dns:
        lines.append("")
        lines += _columns([("DNS PROVIDER", "ZONE", "CHANGE (against empty zones)")] + [
            (d.provider, d.zone, d.change) for d in plan.dns
        ])  # fmt: skip
    return "\n".join(lines)


def _columns(rows: Sequence[tuple[str, ...]]) -> list[str]:
    widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]))]
    return ["  ".join(cell.ljust(w) for cell, w in zip(r, widths, strict=True)).rstrip() for r in rows]
