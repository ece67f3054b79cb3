"""The Service kind: apiserver's defaulting and validation (see service_defaults, service_validation) plus
cluster IP and node port allocation.

The double is a dual-stack cluster (IPv4 primary): `PreferDualStack` gets both families.
"""

from __future__ import annotations

from collections.abc import Mapping
from functools import partial
from typing import Any

from dnslb_testkit.kubeapi.allocators import AllocationError, RangeFullError, ServiceAllocations, ip_family
from dnslb_testkit.kubeapi.errors import FieldCause, internal, invalid
from dnslb_testkit.kubeapi.kinds import ResourceKind
from dnslb_testkit.kubeapi.names import DNS1035_NAMES
from dnslb_testkit.kubeapi.service_defaults import apply_defaults
from dnslb_testkit.kubeapi.service_spec import (
    HEADLESS,
    SERVICE_TYPES,
    is_headless,
    needs_health_check_port,
    needs_node_ports,
    service_ports,
)
from dnslb_testkit.kubeapi.service_validation import (
    validate_external_name,
    validate_immutable_ips,
    validate_ingress,
    validate_ip_families,
    validate_load_balancer_fields,
    validate_policies,
    validate_ports,
)
from dnslb_testkit.kubeapi.strategic import Path
from dnslb_testkit.kubeapi.strategy import (
    Admission,
    SpecResettingStatus,
    normalize_condition_times,
    validate_meta_conditions,
)


class ServiceStrategy(SpecResettingStatus):
    name_rule = DNS1035_NAMES
    list_strategies: Mapping[Path, str] = {("spec", "ports"): "port", ("status", "conditions"): "type"}

    def __init__(self, kind: ResourceKind, allocations: ServiceAllocations, *, single_stack: bool = False) -> None:
        super().__init__(kind)
        self._allocations = allocations
        self._single_stack = single_stack

    # defaulting

    def normalize(self, obj: dict[str, Any]) -> None:
        status = obj.get("status")
        if isinstance(status, dict):
            normalize_condition_times(status.get("conditions"), "status.conditions", ("lastTransitionTime",))

    def default(self, obj: dict[str, Any], old: dict[str, Any] | None) -> None:
        apply_defaults(obj, old, single_stack=self._single_stack)

    def prepare_for_update(self, obj: dict[str, Any], old: dict[str, Any]) -> None:
        """Load balancer status goes with the type: apiserver clears it when a Service stops being one."""
        spec = obj.get("spec")
        status = obj.get("status")
        if isinstance(spec, dict) and spec.get("type") != "LoadBalancer" and isinstance(status, dict):
            status["loadBalancer"] = {}

    # validation

    def validate(self, obj: dict[str, Any], old: dict[str, Any] | None) -> list[FieldCause]:
        spec = obj["spec"]
        causes: list[FieldCause] = []
        kind = spec.get("type")
        if kind not in SERVICE_TYPES:
            causes.append(FieldCause.not_supported("spec.type", kind, SERVICE_TYPES))
        if kind == "ExternalName":
            causes += validate_external_name(spec)
        elif not is_headless(spec) and not service_ports(spec):
            causes.append(FieldCause.required("spec.ports"))
        causes += validate_ports(spec)
        causes += validate_policies(spec)
        causes += validate_ip_families(spec)
        if self._single_stack and spec.get("ipFamilyPolicy") == "RequireDualStack":
            message = "this cluster is not configured for dual-stack services"
            causes.append(FieldCause.invalid("spec.ipFamilyPolicy", "RequireDualStack", message))
        causes += validate_load_balancer_fields(spec, (old or {}).get("spec"))
        if old is not None:
            causes += validate_immutable_ips(spec, old.get("spec") or {})
        return causes

    def validate_status(self, obj: dict[str, Any], old: dict[str, Any]) -> list[FieldCause]:
        status = obj.get("status") or {}
        causes = []
        ingresses = (status.get("loadBalancer") or {}).get("ingress") or []
        if ingresses and (obj.get("spec") or {}).get("type") != "LoadBalancer":
            # from 1.29: a load balancer status only on a Service of type LoadBalancer
            causes.append(
                FieldCause.forbidden("status.loadBalancer", "may only be used when `spec.type` is 'LoadBalancer'")
            )
        for index, ingress in enumerate(ingresses):
            causes += validate_ingress(f"status.loadBalancer.ingress[{index}]", ingress)
        return causes + validate_meta_conditions(status.get("conditions"), "status.conditions")

    # allocation

    def admit(self, obj: dict[str, Any], old: dict[str, Any] | None) -> Admission:
        admission = Admission()
        spec = obj["spec"]
        old_spec = (old or {}).get("spec") or {}
        causes: list[FieldCause] = []
        held_ips = set(_held_ips(old_spec))
        held_ports = set(_held_node_ports(old_spec))
        try:
            causes += self._admit_cluster_ips(spec, held_ips, admission)
            causes += self._admit_node_ports(spec, held_ports, admission)
        except RangeFullError as full:
            admission.rollback()
            raise internal(str(full)) from None
        if causes:
            admission.rollback()
            meta = obj["metadata"]
            raise invalid("Service", "", meta.get("name", ""), causes)
        for address in held_ips - set(_held_ips(spec)):
            admission.after_commit(partial(self._release_ip, address))
        for port in held_ports - set(_held_node_ports(spec)):
            admission.after_commit(partial(self._allocations.node_ports.release, port))
        return admission

    def release(self, obj: dict[str, Any]) -> None:
        spec = obj.get("spec") or {}
        for address in _held_ips(spec):
            self._release_ip(address)
        for port in _held_node_ports(spec):
            self._allocations.node_ports.release(port)

    def _release_ip(self, address: str) -> None:
        family = ip_family(address)
        if family:
            self._allocations.cluster_ips[family].release(address)

    def _admit_cluster_ips(self, spec: dict[str, Any], held: set[str], admission: Admission) -> list[FieldCause]:
        if spec.get("type") == "ExternalName" or is_headless(spec):
            return []
        addresses: list[str] = list(spec.get("clusterIPs") or [])
        causes = []
        for index, family in enumerate(spec.get("ipFamilies") or []):
            allocator = self._allocations.cluster_ips[family]
            if index < len(addresses):
                address = addresses[index]
                if address in held:
                    continue
                try:
                    allocator.reserve(address)
                except AllocationError as error:
                    causes.append(FieldCause.invalid(f"spec.clusterIPs[{index}]", address, str(error)))
                    continue
            else:
                address = allocator.allocate()
                addresses.append(address)
            admission.undo_with(partial(allocator.release, address))
        spec["clusterIPs"] = addresses
        if addresses:
            spec["clusterIP"] = addresses[0]
        return causes

    def _admit_node_ports(self, spec: dict[str, Any], held: set[int], admission: Admission) -> list[FieldCause]:
        allocator = self._allocations.node_ports
        causes = []
        claimed: set[int] = set()
        wanted: list[tuple[str, dict[str, Any], str]] = []
        if needs_node_ports(spec):
            wanted += [(f"spec.ports[{i}].nodePort", port, "nodePort") for i, port in enumerate(service_ports(spec))]
        if needs_health_check_port(spec):
            wanted.append(("spec.healthCheckNodePort", spec, "healthCheckNodePort"))
        for field, holder, key in wanted:
            number = holder.get(key)
            if number:
                if number in held or number in claimed:
                    continue
                try:
                    allocator.reserve(number)
                except AllocationError as error:
                    causes.append(FieldCause.invalid(field, number, str(error)))
                    continue
            else:
                number = allocator.allocate()
                holder[key] = number
            claimed.add(number)
            admission.undo_with(partial(allocator.release, number))
        return causes


def _held_ips(spec: Mapping[str, Any]) -> list[str]:
    if spec.get("type") == "ExternalName":
        return []
    return [a for a in spec.get("clusterIPs") or [] if a != HEADLESS and ip_family(a)]


def _held_node_ports(spec: Mapping[str, Any]) -> list[int]:
    ports = [p["nodePort"] for p in service_ports(spec) if p.get("nodePort")] if needs_node_ports(spec) else []
    if needs_health_check_port(spec) and spec.get("healthCheckNodePort"):
        ports.append(spec["healthCheckNodePort"])
    return ports
