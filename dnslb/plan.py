"""`dnslb plan`: what the controller would do with these manifests, computed offline with the same core.

Services that already carry VIPs in their status (as `kubectl get -o yaml` prints them) are restored first, exactly as
the controller does at startup; then the rest get addresses, earlier-created first.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import asdict, dataclass, field
from typing import Any, Literal

import yaml

from dnslb.config import is_config, load_config
from dnslb.dns.hostnames import service_hostnames
from dnslb.ipam import Allocation, Allocator, PoolUsage, not_handled_because
from dnslb.manifests import Document
from dnslb.model import ServiceKey, ServiceShapeError, ServiceView, service_view

Status = Literal["allocated", "kept", "refused", "conflict", "ignored"]


@dataclass(frozen=True)
class ServicePlan:
    service: ServiceKey
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
class Plan:
    services: tuple[ServicePlan, ...]
    usage: tuple[PoolUsage, ...]
    errors: tuple[str, ...] = ()
    notes: tuple[str, ...] = field(default=())

    @property
    def exit_code(self) -> int:
        """0 all valid; 1 a Service got no VIP; 2 invalid input."""
        if self.errors:
            return 2
        return 1 if any(s.got_no_vip for s in self.services) else 0


def make_plan(documents: Iterable[Document], load_balancer_class: str | None = None) -> Plan:
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
            except ServiceShapeError as exc:
                errors.append(f"{document.where}: Service: {exc}")
        elif document.api_version == "v1" and document.kind == "Namespace":
            metadata = document.body.get("metadata") or {}
            namespace_labels[str(metadata.get("name"))] = metadata.get("labels") or {}
        else:
            kind = f"{document.api_version or '?'} {document.kind or '?'}"
            notes.append(f"{document.where}: skipped {kind}; plan reads dnslb.io config, Services and Namespaces")
    allocator = Allocator(config.pools, namespace_labels)
    plans = _plan_services(allocator, services, load_balancer_class)
    return Plan(tuple(plans), tuple(allocator.usage()), tuple(errors), tuple(notes))


def _plan_services(
    allocator: Allocator, services: list[ServiceView], load_balancer_class: str | None
) -> list[ServicePlan]:
    ours = [s for s in services if not_handled_because(s, load_balancer_class) is None]
    restored = allocator.restore(ours)
    conflicts = {c.service for c in restored if c.holder is not None}
    restore_notes = {c.service: c.reason for c in restored if c.holder is None}
    plans: list[ServicePlan] = []
    for service in sorted(services, key=lambda s: s.order):
        hostnames, hostname_problems = service_hostnames(service)
        warnings = tuple(str(p) for p in hostname_problems)
        ignored = not_handled_because(service, load_balancer_class)
        if ignored is not None:
            plans.append(ServicePlan(service.key, "ignored", hostnames=hostnames, reason=ignored, warnings=warnings))
            continue
        before = allocator.allocation(service.key)
        result = allocator.allocate(service)
        if isinstance(result, Allocation):
            status: Status = "kept" if before == result else "allocated"
            note = restore_notes.get(service.key)
            plans.append(
                ServicePlan(
                    service.key,
                    status,
                    result.pool,
                    tuple(str(ip) for ip in result.ips),
                    hostnames,
                    warnings=(*warnings, note) if note else warnings,
                )
            )
            continue
        kept = allocator.allocation(service.key)
        plans.append(
            ServicePlan(
                service.key,
                "conflict" if service.key in conflicts else "refused",
                kept.pool if kept else None,
                tuple(str(ip) for ip in kept.ips) if kept else (),
                hostnames,
                result.reason,
                result.field,
                warnings,
            )
        )
    return plans


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
    return "\n".join(lines)


def _columns(rows: Sequence[tuple[str, ...]]) -> list[str]:
    widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]))]
    return ["  ".join(cell.ljust(w) for cell, w in zip(r, widths, strict=True)).rstrip() for r in rows]
