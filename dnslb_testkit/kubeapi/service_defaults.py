"""Service defaulting: what apiserver fills in on create, and keeps or drops on update."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from dnslb_testkit.kubeapi.allocators import ip_family
from dnslb_testkit.kubeapi.errors import bad_request
from dnslb_testkit.kubeapi.service_spec import (
    DEFAULT_AFFINITY_TIMEOUT,
    HEADLESS,
    IP_FAMILIES,
    externally_accessible,
    is_headless,
    is_int,
    needs_health_check_port,
    needs_node_ports,
    other_family,
    service_ports,
)


def apply_defaults(obj: dict[str, Any], old: dict[str, Any] | None, *, single_stack: bool = False) -> None:
    """apiserver's Service defaults (and, on update, what it keeps from the stored object)."""
    spec = obj.setdefault("spec", {})
    check_shape(spec)
    spec.setdefault("type", "ClusterIP")
    if old is not None:
        carry_over(spec, old.get("spec") or {})
    spec.setdefault("sessionAffinity", "None")
    if spec["sessionAffinity"] == "ClientIP":
        config = spec.setdefault("sessionAffinityConfig", {})
        config.setdefault("clientIP", {}).setdefault("timeoutSeconds", DEFAULT_AFFINITY_TIMEOUT)
    if spec["type"] != "ExternalName":
        spec.setdefault("internalTrafficPolicy", "Cluster")
        default_ip_families(spec, single_stack=single_stack)
    if externally_accessible(spec):
        spec.setdefault("externalTrafficPolicy", "Cluster")
    if spec["type"] == "LoadBalancer":
        spec.setdefault("allocateLoadBalancerNodePorts", True)
    for port in service_ports(spec):
        port.setdefault("protocol", "TCP")
        if port.get("targetPort") in (None, 0, ""):
            port["targetPort"] = port.get("port")
    # apiserver always shows `status.loadBalancer` (a struct, so never omitted), even with nothing in it.
    status = obj.setdefault("status", {})
    if isinstance(status, dict):
        status.setdefault("loadBalancer", {})
        for ingress in (status.get("loadBalancer") or {}).get("ingress") or []:
            if isinstance(ingress, dict) and ingress.get("ip") and not ingress.get("ipMode"):
                ingress["ipMode"] = "VIP"


def check_shape(spec: Any) -> None:
    """Wrong JSON types fail decoding in apiserver (400), before validation."""
    if not isinstance(spec, dict):
        raise bad_request("json: cannot unmarshal into Go struct field Service.spec of type v1.ServiceSpec")
    ports = spec.get("ports")
    if ports is not None and not (isinstance(ports, list) and all(isinstance(p, dict) for p in ports)):
        raise bad_request("json: cannot unmarshal into Go struct field ServiceSpec.spec.ports of type []v1.ServicePort")
    for port in ports or []:
        for field in ("port", "nodePort"):
            if port.get(field) is not None and not is_int(port[field]):
                raise bad_request(
                    f"json: cannot unmarshal {type(port[field]).__name__} into Go struct field "
                    f"ServicePort.spec.ports.{field} of type int32"
                )
    for field in ("selector",):
        value = spec.get(field)
        if value is not None and not (isinstance(value, dict) and all(isinstance(v, str) for v in value.values())):
            raise bad_request(f"json: cannot unmarshal into Go struct field ServiceSpec.spec.{field}")
    for field in ("clusterIPs", "ipFamilies", "externalIPs", "loadBalancerSourceRanges"):
        value = spec.get(field)
        if value is not None and not (isinstance(value, list) and all(isinstance(v, str) for v in value)):
            raise bad_request(f"json: cannot unmarshal into Go struct field ServiceSpec.spec.{field} of type []string")


def _drop_if_unchanged(spec: dict[str, Any], old_spec: Mapping[str, Any], field: str) -> None:
    if field in spec and spec[field] == old_spec.get(field):
        del spec[field]


def carry_over(spec: dict[str, Any], old_spec: Mapping[str, Any]) -> None:
    """What apiserver does on update: keep allocated values a client left out, and drop ones the new type
    no longer uses (when the client did not change them itself)."""
    kind = spec["type"]
    if kind == "ExternalName":
        for field in ("clusterIP", "clusterIPs", "ipFamilies", "ipFamilyPolicy"):
            _drop_if_unchanged(spec, old_spec, field)
    elif old_spec.get("type") != "ExternalName":
        if not spec.get("clusterIP") and not spec.get("clusterIPs"):
            spec.pop("clusterIP", None)
            spec.pop("clusterIPs", None)
            if old_spec.get("clusterIP"):
                spec["clusterIP"] = old_spec["clusterIP"]
            if old_spec.get("clusterIPs"):
                spec["clusterIPs"] = list(old_spec["clusterIPs"])
        elif not spec.get("clusterIPs") and spec.get("clusterIP") == old_spec.get("clusterIP"):
            spec["clusterIPs"] = list(old_spec.get("clusterIPs") or [])
        if "ipFamilyPolicy" not in spec and old_spec.get("ipFamilyPolicy"):
            spec["ipFamilyPolicy"] = old_spec["ipFamilyPolicy"]
        if "ipFamilies" not in spec and old_spec.get("ipFamilies"):
            spec["ipFamilies"] = list(old_spec["ipFamilies"])
            if spec.get("ipFamilyPolicy") == "SingleStack":
                spec["ipFamilies"] = spec["ipFamilies"][:1]
                spec["clusterIPs"] = (spec.get("clusterIPs") or [])[:1]
    if needs_node_ports(spec) and needs_node_ports(old_spec):
        old_ports = service_ports(old_spec)
        for port in service_ports(spec):
            if not port.get("nodePort"):
                match = next(
                    (
                        p
                        for p in old_ports
                        if p.get("port") == port.get("port") and p.get("protocol", "TCP") == port.get("protocol", "TCP")
                    ),
                    None,
                )
                if match and match.get("nodePort"):
                    port["nodePort"] = match["nodePort"]
    elif not needs_node_ports(spec):
        old_by_port = {p.get("port"): p.get("nodePort") for p in service_ports(old_spec)}
        for port in service_ports(spec):
            if port.get("nodePort") and port["nodePort"] == old_by_port.get(port.get("port")):
                del port["nodePort"]
    if needs_health_check_port(spec):
        if not spec.get("healthCheckNodePort") and old_spec.get("healthCheckNodePort"):
            spec["healthCheckNodePort"] = old_spec["healthCheckNodePort"]
    else:
        _drop_if_unchanged(spec, old_spec, "healthCheckNodePort")
    if kind != "LoadBalancer":
        _drop_if_unchanged(spec, old_spec, "allocateLoadBalancerNodePorts")
        _drop_if_unchanged(spec, old_spec, "loadBalancerClass")
    if not externally_accessible(spec):
        _drop_if_unchanged(spec, old_spec, "externalTrafficPolicy")


def default_ip_families(spec: dict[str, Any], *, single_stack: bool = False) -> None:
    if is_headless(spec):
        spec["clusterIPs"] = [HEADLESS]
    elif spec.get("clusterIP") and not spec.get("clusterIPs"):
        spec["clusterIPs"] = [spec["clusterIP"]]
    addresses = [a for a in spec.get("clusterIPs") or [] if a != HEADLESS]
    families = list(spec.get("ipFamilies") or [])
    if not families:
        families = [f for f in (ip_family(a) for a in addresses) if f]
    if "ipFamilyPolicy" not in spec or spec["ipFamilyPolicy"] is None:
        if len(families) > 1 or len(addresses) > 1 or (is_headless(spec) and not spec.get("selector")):
            spec["ipFamilyPolicy"] = "RequireDualStack"
        else:
            spec["ipFamilyPolicy"] = "SingleStack"
    if not families:
        families = ["IPv4"]
    # a single-stack cluster gives PreferDualStack its one family (RequireDualStack is refused by validation)
    dual = spec["ipFamilyPolicy"] in ("PreferDualStack", "RequireDualStack") and not single_stack
    if dual and len(families) == 1 and families[0] in IP_FAMILIES:
        families.append(other_family(families[0]))
    spec["ipFamilies"] = families
